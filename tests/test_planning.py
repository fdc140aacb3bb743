"""A paper-scale config plans quickly and coarsely (5 models x 4 datasets x 500 problems x 10,000 samples).

Planning only (`snakemake -n`): models are hub ids that need not be present to plan. The test
checks the job counts against the block grid and prints the planning time (no timing assertion:
machines are shared; benchmarks/planning.py measures it).
"""

from __future__ import annotations

import time

from test_paper_configs import dry_run
from workflow_utils import write_config

from ttscale.config import validate
from ttscale.plan import runs

MODELS = ["meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-70B-Instruct", "google/gemma-2-9b-it",
          "Qwen/Qwen2.5-7B-Instruct", "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct"]


def paper_scale() -> dict:
    return {
        "experiment": "paperscale",
        "samples_per_problem": 10_000,
        "block_size": 500,
        "problems_per_block": 500,
        "models": {f"m{i}": {"path": p, "backend": "vllm", "dtype": "bfloat16"} for i, p in enumerate(MODELS)},
        "datasets": {
            name: {"loader": "reasoning_gym", "args": {"task": task, "size": 500, "seed": 1}}
            for name, task in [("gsm", "gsm_symbolic"), ("arith", "basic_arithmetic"),
                               ("chain", "chain_sum"), ("eq", "simple_equations")]
        },
        "sampling": {"t06": {"temperature": 0.6, "max_tokens": 1024}},
    }


def test_paper_scale_plans_coarse_jobs(workdir, capsys):
    cfg = write_config(workdir, paper_scale())
    expected = runs(validate(paper_scale()), workdir)
    blocks = sum(len(r.blocks) for r in expected)
    assert blocks == 5 * 4 * 20 and sum(r.n_samples for r in expected) == 100_000_000
    start = time.time()
    outputs, counts, _ = dry_run(workdir, cfg)
    seconds = time.time() - start
    assert len(outputs["generate"]) == counts["generate"] == blocks
    assert counts["analyze"] == len(expected)  # one job per run after the per-block stages
    with capsys.disabled():
        detail = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if k not in ("all", "total"))
        print(f"\npaper-scale dry run: {counts['total']} jobs ({detail}) for {blocks} sample blocks "
              f"of 100,000,000 samples, planned in {seconds:.1f}s")


def test_planning_imports_no_matplotlib(workdir):
    """The rule files read the report's file lists while planning; matplotlib (about 1 s to import, per
    `snakemake` start) belongs to the report jobs alone."""
    import subprocess
    import sys
    from pathlib import Path

    snakemake_bin = Path(sys.executable).with_name("snakemake")
    proc = subprocess.run([sys.executable, "-X", "importtime", str(snakemake_bin), "--profile", "profiles/local",
                           "-n", "--quiet", "rules"], cwd=workdir, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "ttscale.report.imperfect" in imported  # the rule files did read the report's file lists
    assert not {m for m in imported if m.split(".")[0] == "matplotlib"}
