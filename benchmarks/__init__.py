"""Benchmarks: each module's `run(quick)` returns records with a `ratio` against a baseline
measured in the same run. `python -m benchmarks [--quick] [NAME ...]` prints one JSON line each."""
