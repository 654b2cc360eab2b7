"""Benchmarks behind `make bench-*`: medians and ratios against a same-run baseline."""
