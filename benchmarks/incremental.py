"""Incremental rerun against a full run: raising samples_per_problem by 10 % on the default workflow.

Baseline: the whole default workflow from scratch with the larger sample count (every stage that
exists, through the report). Ours: the same workflow run once at the default size (not timed),
then rerun after raising every dataset's samples_per_problem by 10 %: only the new blocks are
generated, verified and scored; aggregation, analysis and the report rerun. Both in scratch copies
of the workflow that share the built embedded model. With `--grow problems`, every dataset gets
10 % more problems instead (a generated dataset's size, a listed dataset's `ids`): each dataset's
one problem block grows and is renamed, and its old samples, verdicts and scores are reused
(ttscale.generate.reusable_results, ttscale.reuse).

Two modes, each with both sides: `warm`, the local profile as it is (engine jobs run in the
folder's warm worker, ttscale.warm: the full run starts its worker from nothing, the rerun finds
the one its default run left), and `cold` (TTSCALE_WARM=0: every job in a process of its own, as
on a cluster).

    .venv/bin/python benchmarks/incremental.py [--raise 0.10] [--modes warm,cold] [--grow samples|problems]
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from conftest import make_workdir

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
MODEL = REPO / "resources" / "models" / "smollm2-135m-instruct"


def workdir(name: str) -> Path:
    """A scratch copy of the workflow sharing the built embedded model, as the tests make it."""
    return make_workdir(Path(tempfile.mkdtemp(prefix=f"ttscale-bench-{name}-")))


def run(wd: Path, config: dict, warm: str | None = None) -> float:
    """Seconds of one `snakemake --profile profiles/local` run in wd (TTSCALE_WARM=warm if given)."""
    cfg = wd / "bench.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    # tests/conftest.py (imported for make_workdir) shortens the warm worker's idle time: undo it
    env = {k: v for k, v in os.environ.items() if k != "TTSCALE_WARM"}
    if warm is not None:
        env["TTSCALE_WARM"] = warm
    start = time.perf_counter()
    proc = subprocess.run([SNAKEMAKE, "--profile", "profiles/local", "--configfile", str(cfg)], cwd=wd,
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"snakemake failed in {wd}:\n{(proc.stdout + proc.stderr)[-4000:]}")
    jobs = sum(1 for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("Finished jobid"))
    print(f"  {wd.name}: {jobs} jobs in {seconds:.1f}s", flush=True)
    return seconds


def raised(config: dict, fraction: float) -> dict:
    c = copy.deepcopy(config)
    base = c.get("samples_per_problem", 32)
    c["samples_per_problem"] = math.ceil(base * (1 + fraction))
    for ds in c["datasets"].values():
        if ds.get("samples_per_problem"):
            ds["samples_per_problem"] = math.ceil(ds["samples_per_problem"] * (1 + fraction))
    return c


def more_problems(config: dict, fraction: float) -> dict:
    """10 % more problems per dataset: a larger `size` for generated datasets; for datasets that
    list `ids`, the dataset's next ids in its own order."""
    from ttscale.problems import make_loader

    c = copy.deepcopy(config)
    for name, ds in c["datasets"].items():
        if ds.get("ids"):
            spec = {k: v for k, v in ds.items() if k != "ids"}
            listed = set(ds["ids"])
            extra = [p.problem_id for p in make_loader(name, spec, REPO).load() if p.problem_id not in listed]
            ds["ids"] = list(ds["ids"]) + extra[: math.ceil(len(ds["ids"]) * fraction)]
        else:
            ds["args"]["size"] = math.ceil(ds["args"]["size"] * (1 + fraction))
    return c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raise", dest="fraction", type=float, default=0.10)
    ap.add_argument("--modes", default="warm,cold", help="warm (the local profile as it is), cold (TTSCALE_WARM=0)")
    ap.add_argument("--grow", default="samples", choices=["samples", "problems"], help="what the rerun adds")
    args = ap.parse_args()
    if not (MODEL / "config.json").exists():
        from ttscale.models.build import build

        build("smollm2_gguf", MODEL)
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    base["experiment"] = "bench"
    if args.grow == "samples":
        bigger = raised(base, args.fraction)
        sizes = {d: s.get("samples_per_problem") or base["samples_per_problem"] for d, s in base["datasets"].items()}
        more = {d: s.get("samples_per_problem") or bigger["samples_per_problem"] for d, s in bigger["datasets"].items()}
        print(f"samples per problem: {sizes} -> {more}", flush=True)
    else:
        bigger = more_problems(base, args.fraction)
        print("problems: " + ", ".join(f"{d} {len(s['ids']) if s.get('ids') else s['args']['size']} -> "
                                       f"{len(b['ids']) if b.get('ids') else b['args']['size']}"
                                       for (d, s), b in zip(base["datasets"].items(), bigger["datasets"].values(),
                                                            strict=True)), flush=True)

    for mode in args.modes.split(","):
        warm = {"warm": None, "cold": "0"}[mode]
        name = "incremental_rerun" + ("" if args.grow == "samples" else "_problems") + (
            "" if mode == "warm" else "_cold")
        print(f"[{mode}] baseline: full run from scratch of the larger config", flush=True)
        full_wd = workdir(f"full-{mode}")
        full = run(full_wd, bigger, warm)
        stop_warm(full_wd)
        print(f"[{mode}] ours: default run (untimed), then the rerun with more {args.grow}", flush=True)
        wd = workdir(f"incr-{mode}")
        run(wd, base, warm)
        incremental = run(wd, bigger, warm)
        stop_warm(wd)
        print(f"RESULT {name} ours={incremental:.1f} s baseline={full:.1f} s ratio={incremental / full:.3f}",
              flush=True)


def stop_warm(wd: Path) -> None:
    """Stop the folder's warm worker (its engines would hold memory through the next runs)."""
    from ttscale import warm

    warm.stop(wd)


if __name__ == "__main__":
    main()
