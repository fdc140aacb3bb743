"""The analyze (aggregate, judgement, per-run analysis) -> compare -> report rules in real Snakemake,
and `snakemake --report`.

(Targets the `report` rule: the gold audit of issue 4 is not part of what this test is about.)

Synthetic shards are written exactly where the planner expects the generate, verify and score stages
to put them, so only the analysis rules run (no engine needed); the HTML report must then build.
"""

from __future__ import annotations

import json

from workflow_utils import planned, snakemake, write_config

from ttscale.config import validate
from ttscale.plan import runs
from ttscale.testing.synthetic import SyntheticSpec, write_run

ANALYSIS_RULES = {"analyze", "compare", "report"}


def test_analysis_rules_and_html_report(workdir):
    (workdir / "models" / "tiny").mkdir(parents=True)
    (workdir / "models" / "tiny" / "config.json").write_text(json.dumps(
        {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
         "vocab_size": 100}))
    rows = [{"id": f"arith/{i}", "question": f"q{i}", "answer": str(i), "level": str(1 + i % 3)} for i in range(12)]
    (workdir / "problems.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config = {
        "experiment": "wf", "samples_per_problem": 32, "block_size": 16,
        "models": {"tiny": {"path": "models/tiny", "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.2}}},
        "datasets": {"arith": {"loader": "jsonl", "task": "math", "exclude": ["arith/11"],
                               "args": {"path": "problems.jsonl",
                                        "columns": {"problem_id": "id", "answer": "answer", "level": "level"}}}},
        "sampling": {"default": {"temperature": 0.8, "max_tokens": 32}},
        "scorers": {"orm": {"kind": "logprob"}},
        "analysis": {"bootstrap": 100, "fit": {"bootstrap": 20}},
    }
    cfg = write_config(workdir, config)
    (run,) = runs(validate(json.loads(json.dumps(config))), workdir)
    write_run(workdir / "results" / "wf", SyntheticSpec(n_problems=12, samples=32, block_size=16, model="tiny",
                                                       dataset="arith", sampling=run.key, scorers=("orm",)))
    jobs = planned(workdir, cfg, "report")
    assert set(jobs) == ANALYSIS_RULES, jobs  # the shards are there: nothing upstream runs

    snakemake(workdir, cfg, "report")
    report = workdir / "results" / "wf" / "report"
    assert (report / "figures" / "coverage_arith.png").stat().st_size > 20_000
    summary = (report / "tables" / "summary.csv").read_text().splitlines()
    assert summary[1].split(",")[3] == "11"  # 12 problems, one excluded
    assert planned(workdir, cfg, "report") == {}

    snakemake(workdir, cfg, "report", "--report", "report.html")
    html = (workdir / "report.html").read_text(encoding="utf-8", errors="replace")
    assert len(html) > 200_000 and "coverage_arith.png" in html and "compute_matched.csv" in html

    # changing an analysis setting reruns each run's analyze job (its aggregation with it) and what follows
    config["analysis"]["bootstrap"] = 120
    cfg = write_config(workdir, config)
    assert set(planned(workdir, cfg, "report")) == {"analyze", "compare", "report"}
