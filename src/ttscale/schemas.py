"""Arrow schemas of the files that stages hand to each other (see docs/architecture.md)."""

from __future__ import annotations

import pyarrow as pa

PROBLEMS = pa.schema(
    [
        ("problem_id", pa.string()),
        ("position", pa.int32()),
        ("dataset", pa.string()),
        ("task", pa.string()),
        ("question", pa.string()),
        ("prompt_mode", pa.string()),
        ("messages", pa.string()),
        ("completion_prompt", pa.string()),
        ("assistant_prefix", pa.string()),
        ("stop", pa.list_(pa.string())),
        ("answer", pa.string()),
        ("tests", pa.string()),
        ("test_style", pa.string()),
        ("entry_point", pa.string()),
        ("solution", pa.string()),
        ("level", pa.string()),
        ("metadata", pa.string()),
    ]
)

SAMPLES = pa.schema(
    [
        ("problem_id", pa.string()),
        ("sample_index", pa.int32()),
        ("seed", pa.int64()),
        ("prompt", pa.string()),
        ("text", pa.string()),
        ("finish_reason", pa.string()),
        ("prompt_tokens", pa.int32()),
        ("completion_tokens", pa.int32()),
        ("cumulative_logprob", pa.float64()),
        ("latency_s", pa.float64()),
    ]
)

VERDICT_STATUSES = (
    "passed",
    "failed",
    "timeout",
    "memory",
    "crashed",
    "syntax_error",
    "no_answer",
    "sandbox_error",
    "patch_failed",  # repository tasks: no apply command took the patch
    "patch_rejected",  # repository tasks: unsafe to run (paths outside the repository, binary, test hooks, size)
)

VERDICTS = pa.schema(
    [
        ("problem_id", pa.string()),
        ("sample_index", pa.int32()),
        ("extracted_answer", pa.string()),
        ("answer_key", pa.string()),
        ("correct", pa.bool_()),
        ("status", pa.string()),
        ("tests_passed", pa.int32()),
        ("tests_total", pa.int32()),
        ("duration_s", pa.float64()),
        ("output_tail", pa.string()),
        # null where the problem has no extended tests (ttscale.verify.extended); false where the base failed.
        # Optional: shards written before it existed read with nulls (ttscale.io.read_table).
        pa.field("correct_extended", pa.bool_(), metadata={"optional": "true"}),
    ]
)

# Extended tests of a dataset, one row per problem (ttscale.verify.extended): `call` inputs are reprs of
# argument tuples and outputs reprs of return values; `stdio` inputs are stdin texts and outputs stdout.
EXTENDED = pa.schema(
    [
        ("problem_id", pa.string()),
        ("source", pa.string()),  # mutation, evalplus, none
        ("kind", pa.string()),  # call, stdio
        ("inputs", pa.list_(pa.string())),
        ("outputs", pa.list_(pa.string())),
        ("atol", pa.float64()),
        ("seeds", pa.int32()),
        ("candidates", pa.int32()),
        ("note", pa.string()),
    ]
)

SCORE_STATUSES = ("ok", "too_long", "empty", "error")

SCORES = pa.schema(
    [
        ("problem_id", pa.string()),
        ("sample_index", pa.int32()),
        ("score", pa.float64()),
        ("status", pa.string()),
        ("step_scores", pa.list_(pa.float64())),
        ("step_ends", pa.list_(pa.int32())),
        ("score_last", pa.float64()),
        ("score_min", pa.float64()),
        ("score_prod", pa.float64()),
        ("score_mean", pa.float64()),
    ]
)

# the gold audit of a dataset's reference solutions (ttscale.verify.audit), one row per problem
AUDIT = pa.schema([
    ("problem_id", pa.string()),
    ("runs", pa.int32()),
    ("passes", pa.int32()),
    ("verdict", pa.string()),  # ok, broken, flaky, no_solution
    ("statuses", pa.string()),
    ("first_error", pa.string()),
    ("ref_cpu_s", pa.float64()),  # the reference solution's CPU time (median of passing runs; ttscale.verify.reference)
])
