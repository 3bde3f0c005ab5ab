"""Quality and speed benchmarks (``python -m benchmarks.product.speed``, ``python -m benchmarks.studies.quality``).

Not part of the installed package: run from the repository root with ``PYTHONPATH=src``.
Results are committed as Markdown tables under ``benchmarks/results/``.
"""
