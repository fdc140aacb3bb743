"""Planning time and job count of the paper configs (config/paper/*.yaml) with `snakemake -n`.

Each config is dry-run in a scratch copy of the workflow, with the invocation the tests use
(`snakemake --profile profiles/local --configfile <cfg> -n`), offline (HF_HUB_OFFLINE and
HF_DATASETS_OFFLINE set: the models and datasets are hub ids that are not on this machine). The
figure is the median wall time of `--repeats` runs, against the target of 5 seconds (issue 22; it
was 10); the job count (Snakemake's job stats) and the sbatch submissions profiles/slurm makes of them (its
group-components) are set against the number of sample blocks ttscale.plan computes.

Snakemake's fixed start-up cost is in every figure: imports, and the SLURM executor plugin, which
runs `scontrol show config` (timeout 10 s) when it is imported. Where slurm-wlm is installed but no
controller answers (a stale /etc/slurm/slurm.conf), that probe alone waits up to 10 s; it is timed
separately and printed, as is a dry run of the small embedded default config.

    flock /tmp/ttscale-heavy.lock .venv/bin/python benchmarks/planning.py [--repeats 3] [--configs monkeys snell liu]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from conftest import make_workdir

from ttscale.config import check, validate
from ttscale.plan import runs

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TARGET_S = 5.0  # issue 22: every paper config plans in under 5 s
_STAT = re.compile(r"^(\w+)\s+(\d+)$")


def workdir() -> Path:
    """A scratch copy of the workflow, as the tests make it."""
    return make_workdir(Path(tempfile.mkdtemp(prefix="ttscale-bench-plan-")))


def job_stats(text: str) -> dict[str, int]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Job stats:"):
            out = {}
            for row in lines[i + 3:]:
                if not (m := _STAT.match(row.strip())):
                    break
                out[m.group(1)] = int(m.group(2))
            return out
    return {}


CPU_SECONDS: dict[Path | None, list[float]] = {}  # configfile -> CPU seconds (user + system) of each dry run


def dry_run(wd: Path, configfile: Path | None) -> tuple[float, dict[str, int]]:
    """Wall seconds and job stats of one dry run; its CPU seconds go to CPU_SECONDS (on a shared,
    loaded machine the CPU time is the steadier figure: wall time also counts waiting for a core)."""
    cmd = [SNAKEMAKE, "--profile", "profiles/local", *(["--configfile", str(configfile)] if configfile else []), "-n"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.setdefault(configfile, []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"snakemake -n failed in {wd}:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return seconds, job_stats(proc.stdout + proc.stderr)


def rule_groups() -> dict[str, str]:
    """rule -> its `group:` in workflow/rules/*.smk."""
    out = {}
    for f in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for rule, group in re.findall(r"^rule (\w+):\n(?:(?!^rule ).*\n)*?\s+group:\n\s+\"(\w+)\"", f.read_text(),
                                      flags=re.M):
            out[rule] = group
    return out


def slurm_submissions(stats: dict[str, int]) -> int:
    """sbatch submissions of a run with profiles/slurm: jobs outside groups one each; a group's
    jobs bundled `group-components` at a time (aggregate and analyze of a run are one component)."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    components = {k: int(v) for k, v in (item.split("=") for item in profile.get("group-components", []))}
    groups = rule_groups()
    per_group: dict[str, int] = {}
    total = 0
    for rule, n in stats.items():
        if rule in ("all", "total"):
            continue
        group = groups.get(rule)
        if group is None:
            total += n
        else:  # a connected chain within a group (aggregate -> analyze) is one component
            per_group[group] = max(per_group.get(group, 0), n)
    for group, n in per_group.items():
        total += -(-n // components.get(group, 1))
    return total


def slurm_probe() -> str:
    """How long the SLURM plugin's import-time `scontrol show config` takes here (it allows 10 s)."""
    if not shutil.which("scontrol"):
        return "no scontrol on PATH (the probe fails at once)"
    start = time.perf_counter()
    try:
        rc = subprocess.run(["scontrol", "show", "config"], capture_output=True, timeout=10).returncode
        what = "answered" if rc == 0 else f"failed (exit {rc})"
    except subprocess.TimeoutExpired:
        what = "timed out"
    return f"{what} in {time.perf_counter() - start:.2f}s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--configs", nargs="+", default=["monkeys", "snell", "liu"])
    args = ap.parse_args()

    wd = workdir()
    results = []
    try:
        print(f"SLURM plugin probe (scontrol show config): {slurm_probe()}", flush=True)
        base, base_jobs = dry_run(wd, None)
        print(f"start-up reference: the embedded default config, {base_jobs.get('total', 0)} jobs, "
              f"planned in {base:.2f}s ({CPU_SECONDS[None][0]:.2f} s of CPU)", flush=True)
        for name in args.configs:
            cfg = wd / "config" / "paper" / f"{name}.yaml"
            config = validate(yaml.safe_load(cfg.read_text()), str(cfg))
            check(config, str(cfg), wd)
            planned = runs(config, wd)
            blocks = sum(len(r.blocks) for r in planned)
            samples = sum(r.n_samples for r in planned)
            times, stats = [], {}
            for _ in range(args.repeats):
                seconds, stats = dry_run(wd, cfg)
                times.append(seconds)
            jobs = stats.get("total", 0)
            median = statistics.median(times)
            detail = ", ".join(f"{k}={v}" for k, v in stats.items() if k not in ("all", "total"))
            print(f"{name}: {len(planned)} runs, {blocks} sample blocks, {samples:,} samples -> {jobs} jobs "
                  f"({detail}); snakemake -n {', '.join(f'{t:.2f}' for t in times)} s (median {median:.2f} s)",
                  flush=True)
            subs = slurm_submissions(stats)
            print(f"{name}: with profiles/slurm's groups, {subs} sbatch submissions", flush=True)
            cpu = statistics.median(CPU_SECONDS[cfg])
            print(f"{name}: CPU time of the dry runs {', '.join(f'{t:.2f}' for t in CPU_SECONDS[cfg])} s "
                  f"(median {cpu:.2f} s)", flush=True)
            results.append((name, median, jobs, blocks, subs, cpu))
        print(f"SLURM plugin probe after the runs: {slurm_probe()}")
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    for name, median, *_ in results:
        print(f"RESULT planning_{name} ours={median:.2f} s baseline={TARGET_S:g} s ratio={median / TARGET_S:.3f}")
    for name, *_, cpu in results:
        print(f"RESULT planning_cpu_{name} ours={cpu:.2f} s baseline={TARGET_S:g} s ratio={cpu / TARGET_S:.3f}")
    for name, _, jobs, blocks, *_ in results:
        print(f"RESULT jobs_{name} ours={jobs} jobs baseline={blocks} blocks ratio={jobs / blocks:.3f}")
    for name, _, _, blocks, subs, _ in results:
        print(f"RESULT submissions_{name} ours={subs} submissions baseline={blocks} blocks ratio={subs / blocks:.3f}")


if __name__ == "__main__":
    main()
