"""liqwatch benchmarks: `python bench/run.py [--quick]`. Never part of the test suite."""
