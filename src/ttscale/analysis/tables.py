"""The analysis's tables: their names and schemas, defined once.

The workflow's analyze and compare rules, `ttscale analyze` (ttscale.importers.analyze), the
builders (ttscale.analysis.run, .experiment, .strategies) and the tests all take the names from
here, so adding a table is one edit.
"""

from __future__ import annotations

import pyarrow as pa

CURVES = pa.schema([
    ("metric", pa.string()), ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()),
    ("selector", pa.string()), ("scheme", pa.string()), ("bin", pa.string()), ("k", pa.float64()),
    ("value", pa.float64()), ("ci_lo", pa.float64()), ("ci_hi", pa.float64()), ("mc_se", pa.float64()),
    ("n_problems", pa.int64()), ("flops", pa.float64()), ("dollars", pa.float64()),
])

VALUES = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("selector", pa.string()),
    ("k", pa.int64()), ("problem_id", pa.string()), ("value", pa.float64()), ("mc_se", pa.float64()),
    ("flops", pa.float64()), ("dollars", pa.float64()),
])

COSTS = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("problem_id", pa.string()),
    ("level", pa.string()), ("n", pa.int64()), ("n_correct", pa.int64()), ("prompt_tokens", pa.float64()),
    ("completion_tokens", pa.float64()), ("prompt_flops", pa.float64()), ("decode_flops", pa.float64()),
    ("prompt_dollars", pa.float64()), ("decode_dollars", pa.float64()),
    # for comparing strategies at equal compute: every token a search sent and generated (NaN for
    # repeated sampling), and the FLOPs per token processed (2 x parameters)
    ("search_tokens", pa.float64()), ("flops_per_token", pa.float64()),
    # what else the run's answers cost (docs/analysis.md, "Cost"): per sample, the tokens each
    # model-based scorer (reward model, PRM, judge) reads and all of their FLOPs, per scorer in
    # `scorer_flops`; per problem, a search's policy FLOPs over every token it sent and generated
    # (rollouts and pruned beams included) and its step scorer's tokens and FLOPs
    ("score_tokens", pa.float64()), ("score_flops", pa.float64()),
    ("search_flops", pa.float64()), ("search_scored_tokens", pa.float64()), ("search_scorer_flops", pa.float64()),
    # a reasoning model's samples (models.<m>.reasoning), per sample on average: thinking and answer
    # apart (the answer attends to the thinking); NaN for other models
    ("thinking_tokens", pa.float64()), ("answer_tokens", pa.float64()), ("thinking_flops", pa.float64()),
    ("answer_flops", pa.float64()), ("thinking_dollars", pa.float64()), ("answer_dollars", pa.float64()),
    ("scorer_flops", pa.map_(pa.string(), pa.float64())),
])

FITS = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("fit_on", pa.string()),
    ("m", pa.int64()), ("n", pa.int64()), ("n_problems", pa.int64()),
    ("a", pa.float64()), ("a_lo", pa.float64()), ("a_hi", pa.float64()),
    ("b", pa.float64()), ("b_lo", pa.float64()), ("b_hi", pa.float64()),
    ("r2", pa.float64()), ("rmse", pa.float64()), ("n_points", pa.int64()),
    ("alpha", pa.float64()), ("alpha_lo", pa.float64()), ("alpha_hi", pa.float64()),
    ("beta", pa.float64()), ("beta_lo", pa.float64()), ("beta_hi", pa.float64()),
    ("beta_rmse", pa.float64()), ("note", pa.string()),
])

EXTRAPOLATION = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("predictor", pa.string()),
    ("m", pa.int64()), ("n", pa.int64()), ("k", pa.int64()), ("observed", pa.float64()),
    ("observed_lo", pa.float64()), ("observed_hi", pa.float64()), ("predicted", pa.float64()),
    ("error", pa.float64()),
])

OPTIMAL = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("scheme", pa.string()),
    ("k", pa.int64()), ("per_bin", pa.float64()), ("single", pa.float64()), ("gain", pa.float64()),
    ("gain_lo", pa.float64()), ("gain_hi", pa.float64()), ("choices", pa.string()),
    ("single_choice", pa.string()), ("in_sample", pa.string()), ("strategies", pa.int64()),
])

SUMMARY = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("problems", pa.int64()),
    ("n", pa.int64()), ("pass_at_1", pa.float64()), ("coverage_at_n", pa.float64()),
    ("coverage_lo", pa.float64()), ("coverage_hi", pa.float64()), ("best_selector", pa.string()),
    ("best_selector_at_n", pa.float64()), ("vote_at_n", pa.float64()), ("prompt_tokens", pa.float64()),
    ("completion_tokens", pa.float64()), ("flops_per_sample", pa.float64()), ("dollars_per_sample", pa.float64()),
])

MATCHED = pa.schema([
    ("dataset", pa.string()), ("unit", pa.string()), ("reference", pa.string()), ("reference_k", pa.int64()),
    ("budget", pa.float64()), ("model", pa.string()), ("sampling", pa.string()), ("k", pa.int64()),
    ("cost", pa.float64()), ("coverage", pa.float64()), ("coverage_lo", pa.float64()),
    ("coverage_hi", pa.float64()), ("best_selector", pa.string()), ("selector_k", pa.int64()),
    ("selector_accuracy", pa.float64()),
])

STRATEGIES = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("scheme", pa.string()), ("bin", pa.string()),
    ("budget", pa.int64()), ("n_problems", pa.int64()), ("optimal", pa.float64()), ("best_of_n", pa.float64()),
    ("gain", pa.float64()), ("gain_lo", pa.float64()), ("gain_hi", pa.float64()), ("efficiency", pa.float64()),
    ("optimal_flops", pa.float64()), ("best_of_n_flops", pa.float64()), ("choices", pa.string()),
    ("best_of_n_choice", pa.string()), ("candidates", pa.int64()),
    # the scorers' part of the two FLOPs columns (reward models, PRMs, judges; ttscale.analysis.strategies)
    ("optimal_scorer_flops", pa.float64()), ("best_of_n_scorer_flops", pa.float64()),
])

# one row per candidate family (best-of-N or a strategy), bin and budget: its best selector (in sample)
STRATEGY_POINTS = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("scheme", pa.string()), ("bin", pa.string()),
    ("family", pa.string()), ("selector", pa.string()), ("budget", pa.int64()), ("value", pa.float64()),
    ("ci_lo", pa.float64()), ("ci_hi", pa.float64()), ("flops", pa.float64()), ("n_problems", pa.int64()),
])

# per run: R/analysis/<partition>/<name>.parquet
RUN_SCHEMAS = {"values": VALUES, "curves": CURVES, "costs": COSTS, "fits": FITS, "extrapolation": EXTRAPOLATION,
               "optimal": OPTIMAL}
RUN_TABLES = tuple(RUN_SCHEMAS)
# the run tables the experiment concatenates over runs (values stay per run)
COMBINED = ("curves", "fits", "extrapolation", "optimal", "costs")
# per experiment: R/analysis/<name>.parquet
EXP_SCHEMAS = {**{t: RUN_SCHEMAS[t] for t in COMBINED}, "summary": SUMMARY, "matched": MATCHED,
               "strategies": STRATEGIES, "strategy_points": STRATEGY_POINTS}
EXP_TABLES = ("curves", "fits", "extrapolation", "optimal", "costs", "summary", "matched", "strategies",
              "strategy_points")
