"""Importing a Large Language Monkeys dump of 1 million samples, against the same import with the
pure-Python YAML loader in one process (the importer as it was).

A GSM8K-style dump (1,000 problems x 1,000 samples of few-shot-length completions, `is_corrects`
as LLMonk's evaluator adds them) is written once, untimed, as LLMonk's `save_yaml` writes it
(`yaml.dump(..., sort_keys=True)`; with libyaml's emitter to save time, the same YAML). Then, in
this one process:

- ours: `import_samples("llmonk", ...)` with libyaml's C loader, files parsed by a process pool;
- baseline: the same call with `loader="pure", workers=1` (pyyaml's Python loader, one process).

Both imports must write the same sample and verdict rows (checked). Target: ours < 60 s for 1M.

    flock /tmp/ttscale-heavy.lock .venv/bin/python benchmarks/import_llmonk.py [--problems 1000 --samples 1000]
    [--baseline-problems 100]  # the baseline runs on the first N problems and its time is scaled up
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from ttscale.importers import import_samples


def write_dump(folder: Path, problems: int, samples: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    dumper = getattr(yaml, "CDumper", yaml.Dumper)
    for p in range(problems):
        answer = rng.randint(1, 500)
        texts, labels = [], []
        for _ in range(samples):
            got = answer if rng.random() < 0.4 else rng.randint(1, 500)
            texts.append(f"She buys {rng.randint(2, 9)} packs of {rng.randint(2, 20)} pens, so she has "
                         f"{rng.randint(10, 200)} pens in all. She gives away {rng.randint(1, 9)} of them.\n"
                         f"#### {got}")
            labels.append(got == answer)
        data = {"prompt": "Question: ...\nAnswer:", "question": f"q{p}", "samples": texts,
                "gt_answer": f"Because ...\n#### {answer}", "is_corrects": labels}
        with open(folder / f"{p}.yaml", "w") as f:
            yaml.dump(data, f, Dumper=dumper, sort_keys=True)


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (the parse pool's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed_import(src: Path, exp: Path, **options) -> tuple[float, float, dict]:
    t0, c0 = time.perf_counter(), cpu_s()
    out = import_samples("llmonk", src, exp, "m", "gsm8k", options=options)
    return time.perf_counter() - t0, cpu_s() - c0, out


def rows(exp: Path, kind: str, limit: set[str] | None = None) -> list[tuple]:
    cols = ["problem_id", "sample_index"] + (["text"] if kind == "samples" else ["correct", "answer_key"])
    out = []
    for f in sorted((exp / kind).rglob("*.parquet")):
        out += [tuple(r.values()) for r in pq.read_table(f, columns=cols).to_pylist()
                if limit is None or r["problem_id"] in limit]
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--baseline-problems", type=int, default=100,
                    help="problems the baseline imports (its time is scaled to all of them)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="ttscale-import-bench-"))
    try:
        t0 = time.perf_counter()
        write_dump(tmp / "dump", args.problems, args.samples)
        size = sum(f.stat().st_size for f in (tmp / "dump").iterdir())
        print(f"dump: {args.problems} problems x {args.samples} samples, {size / 1e6:.0f} MB of YAML, "
              f"written in {time.perf_counter() - t0:.0f} s; load average {os.getloadavg()[0]:.1f}")
        ours, ours_cpu, out = timed_import(tmp / "dump", tmp / "ours")
        total = args.problems * args.samples
        assert out["samples"] == total, out
        print(f"ours: {total} samples in {ours:.1f} s wall, {ours_cpu:.1f} s CPU ({total / ours:,.0f} samples/s); "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        nb = min(args.baseline_problems, args.problems)
        (tmp / "part").mkdir()
        for p in range(nb):
            os.link(tmp / "dump" / f"{p}.yaml", tmp / "part" / f"{p}.yaml")
        base, base_cpu, bout = timed_import(tmp / "part", tmp / "base", loader="pure", workers=1)
        scale = args.problems / nb
        print(f"baseline: {bout['samples']} samples in {base:.1f} s wall, {base_cpu:.1f} s CPU "
              f"({bout['samples'] / base:,.0f} samples/s), scaled to {total}: {base * scale:.0f} s wall, "
              f"{base_cpu * scale:.0f} s CPU; load average {os.getloadavg()[0]:.1f}", flush=True)
        ids = {str(p) for p in range(nb)}
        for kind in ("samples", "verdicts"):
            assert rows(tmp / "ours", kind, ids) == rows(tmp / "base", kind), f"{kind} differ"
        print("same sample and verdict rows on the baseline's problems", flush=True)
        print(f"RESULT import_llmonk ours={ours:.1f} s baseline={base * scale:.1f} s ratio={ours / (base * scale):.3f}",
              flush=True)
        print(f"RESULT import_llmonk_cpu ours={ours_cpu:.1f} s baseline={base_cpu * scale:.1f} s "
              f"ratio={ours_cpu / (base_cpu * scale):.3f}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
