"""Helpers for tests and benchmarks, not used by the workflow: synthetic runs written in the real
file formats (ttscale.testing.synthetic), so aggregation, analysis and report run on known data."""
