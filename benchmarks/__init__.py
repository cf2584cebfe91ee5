"""Benchmarks (a package so `python -m benchmarks.<name>` wins over pysbd's top-level `benchmarks`)."""
