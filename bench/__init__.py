"""Benchmarks: run with `./run.sh bench`; results go to bench/results/."""
