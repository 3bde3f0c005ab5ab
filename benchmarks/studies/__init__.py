"""The research studies: budget curves, quality, the judge, stage 1, the recipe (benchmarks/studies/README.md)."""
