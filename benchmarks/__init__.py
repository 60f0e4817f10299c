"""Side-by-side speed and memory measurements (not part of the test suite).

Each ``benchmarks/<name>.py`` is a script that prints its figures with a ratio against a
baseline measured in the same process and writes ``benchmarks/results/<name>.json``;
``python -m benchmarks`` runs them all (see :mod:`benchmarks.__main__` and README.md).
"""
