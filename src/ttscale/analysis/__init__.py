"""Analysis: estimators over k, scaling-law fits, cost and difficulty (see docs/analysis.md)."""
