"""Benchmarks: judgement quality, position bias and cost."""
