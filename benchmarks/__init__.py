"""Benchmarks: what measures the product (``benchmarks.product``) and the research studies
(``benchmarks.studies``); ``benchmarks/README.md`` is the floor plan.

Not part of the installed package: run from the repository root with ``PYTHONPATH=src:.``.
Results are committed under ``benchmarks/results/product/`` and ``benchmarks/results/studies/``.
"""
