"""Repository-task verification: patches verified per second by our container pool (one container per
instance and worker, the repository reset between patches) against one container per patch.

The instances are the offline test repository's (tests/toy_swebench.py: a pure-Python package with
a pytest suite, two SWE-bench-format instances, an instance image built from the offline base
image). The patches are distinct right and wrong fixes of each instance (each variant adds its own
comment line, so none is deduplicated away). Two baselines on the same patches, same workers:

- `official`: the swebench package's own harness, swebench.harness.run_evaluation.run_instance,
  called once per patch as its run_instances does (a container per patch: create, start, copy, apply,
  run the eval script, grade, then `docker stop --time=15` and remove). Its verdicts are compared
  with ours (RESULT repository_verification).
- `fresh`: our verifier with `per_patch: true` (a container per patch, removed at once with a kill):
  what the pool saves besides the official harness's graceful stop (RESULT repository_verification_fresh).

    .venv/bin/python benchmarks/repository.py [--patches 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from toy_swebench import FILES, ISSUES, _diff, build_all

from ttscale.verify.repository import run_patches


def variants(repo: Path, n: int) -> list[tuple[str, str]]:
    """n distinct patches per instance, alternating right and wrong fixes: (instance id, patch)."""
    out = []
    for iid, (_, fix, _tests, _f2p, _p2p) in ISSUES.items():
        path, fixed = next(iter(fix.items()))
        for i in range(n):
            text = fixed if i % 2 == 0 else FILES[path].replace("return", "return 0 and", 1)
            out.append((iid, _diff(repo, {path: text + f"# variant {i}\n"})))
    return out


def official(instances: dict[str, dict], jobs: list[tuple[str, str]], workers: int, logs: Path) -> list[bool]:
    """swebench's run_instance per patch, `workers` at a time (as swebench's run_instances runs them)."""
    import docker
    from swebench.harness.run_evaluation import run_instance
    from swebench.harness.utils import make_test_spec

    client = docker.from_env()
    cwd = os.getcwd()
    os.chdir(logs)  # it writes logs/run_evaluation/<run id>/<model>/<instance>/ under the working directory
    try:
        def one(k: int) -> bool:
            iid, patch = jobs[k]
            pred = {"instance_id": iid, "model_name_or_path": f"p{k}", "model_patch": patch}
            # a run id per patch: the harness names its container after instance and run id, and removes a
            # container of that name it finds, so two patches of one instance at once would kill each other
            res = run_instance(make_test_spec(instances[iid]), pred, client, f"bench{k}", timeout=600)
            return bool(res and res[1][iid]["resolved"])

        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, range(len(jobs))))
    finally:
        os.chdir(cwd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patches", type=int, default=8, help="distinct patches per instance")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        repo, instances, _ = build_all(folder)
        metas = {}
        for inst in instances:
            metas[inst["instance_id"]] = {**inst, "FAIL_TO_PASS": json.loads(inst["FAIL_TO_PASS"]),
                                          "PASS_TO_PASS": json.loads(inst["PASS_TO_PASS"])}
        jobs = variants(repo, args.patches)
        ours_jobs = [(metas[iid], patch) for iid, patch in jobs]
        settings = {"wall_s": 600}
        run_patches(ours_jobs[:1], settings)  # warm the image's pages, as for every side below

        t0 = time.perf_counter()
        pooled, counts = run_patches(ours_jobs, settings, workers=args.workers)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        fresh, fresh_counts = run_patches(ours_jobs, {**settings, "per_patch": True}, workers=args.workers)
        t_fresh = time.perf_counter() - t0
        logs = folder / "official"
        logs.mkdir()
        t0 = time.perf_counter()
        theirs = official({i["instance_id"]: i for i in instances}, jobs, args.workers, logs)
        t_official = time.perf_counter() - t0

    ours_ok = [r["status"] == "passed" for r in pooled]
    n = len(jobs)
    print(f"{n} patches ({args.patches} per instance, {sum(ours_ok)} resolved), {args.workers} workers")
    print(f"pool: {t_ours:.1f} s in {counts['containers']} containers; fresh: {t_fresh:.1f} s in "
          f"{fresh_counts['containers']}; official run_instance: {t_official:.1f} s")
    same_fresh = ours_ok == [r["status"] == "passed" for r in fresh]
    same_official = ours_ok == theirs
    print(f"verdicts identical: fresh {same_fresh}, official {same_official}")
    if not (same_fresh and same_official):
        raise SystemExit(f"verdicts differ: ours {ours_ok}, fresh {[r['status'] for r in fresh]}, official {theirs}")
    ours, base, fresh_rate = n / t_ours, n / t_official, n / t_fresh
    print(f"RESULT repository_verification ours={ours:.3f} patches/s baseline={base:.3f} patches/s "
          f"ratio={ours / base:.2f}")
    print(f"RESULT repository_verification_fresh ours={ours:.3f} patches/s baseline={fresh_rate:.3f} patches/s "
          f"ratio={ours / fresh_rate:.2f}")


if __name__ == "__main__":
    main()
