"""The `swebench` verifier: a repository task's patch applied and tested in the instance's own image,
graded by the swebench package's log parsers and report functions (the official "resolved").

Each distinct (instance, normalized patch) of a block runs once. The patches of one instance run
one after another in a container started once (ttscale.verify.repo_containers), the repository reset
to its base commit between them; `per_patch: true` starts a container per patch instead (the
official harness's way; benchmarks/repository.py compares the two). Per patch, as
swebench.harness.run_evaluation does: `git apply --verbose`, then `--3way`, `--reject` and
`patch --batch --forward --fuzz=5 -p1` on a clean tree, then the instance's eval script (which
checks out the test files, applies the test patch and runs the tests) under a wall-time limit; the
log is graded with swebench.harness.grading.get_eval_report on swebench.harness.utils.make_test_spec.

Statuses: passed (resolved), failed (applied, not resolved, or no parseable test output), timeout
(the eval script ran past `wall_s`), patch_failed (no apply command took it), patch_rejected (unsafe
to run: ttscale.patches.patch_problem), no_answer (no patch in the response), sandbox_error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ttscale.patches import extract_patch, patch_problem
from ttscale.verify.repo_containers import (
    KILL_ALL,
    REPO_BACKENDS,
    STAGE,
    RepoBackend,
    RepoBox,
    reset_body,
    reset_script,
)
from ttscale.verify.verifiers import KEPT_ANSWER, VERIFIERS, Verifier, response, verdict

log = logging.getLogger(__name__)

REPOSITORY = {
    "backend": None,  # a REPO_BACKENDS name; None: verify.backend
    "wall_s": 1800.0,  # the eval script of one patch (the official harness's default timeout)
    "max_patch_bytes": 500_000,
    "max_log_bytes": 16_000_000,  # test output kept for grading; the rest is cut
    "memory_mb": 4096,
    "pids": 1024,
    "cpus": 1.0,
    "tmpfs_mb": 1024,
    "per_patch": False,
    "pull": False,
    "keep_logs": None,  # a folder: each graded log as <instance>/<patch sha>.log (with the patch as .diff)
}
APPLY = ("git apply --verbose", "git apply --verbose --3way", "git apply --verbose --reject",
         "patch --batch --forward --fuzz=5 -p1 -i")  # swebench.harness.run_evaluation.GIT_APPLY_CMDS
APPLIED, NOT_APPLIED, TIMED_OUT = 0, 3, 4
RESET_FAILED = 100  # added to the step's code when the reset after it failed (the box is replaced)


def step_script(wall_s: float, max_log: int) -> str:
    """Apply the staged patch as the official harness does, then run the eval script under a time limit;
    exit 3 if the patch does not apply, 4 if the tests ran out of time; the test log is STAGE/log."""
    tries = []
    for i, cmd in enumerate(APPLY):
        reset = "git checkout -q -- . ; git clean -qfd ; " if i else ""
        tries.append(f"if [ $ok = 0 ]; then {reset}{cmd} {STAGE}/patch.diff && ok=1; fi")
    return "\n".join([
        f"cd /testbed; ok=0; exec 3>&1 >{STAGE}/apply.log 2>&1", *tries,
        f"if [ $ok = 0 ]; then git apply --check --reverse {STAGE}/patch.diff && ok=1; fi",
        f"if [ $ok = 0 ]; then exec 1>&3; tail -c 4000 {STAGE}/apply.log; exit {NOT_APPLIED}; fi",
        # the tests' output goes to a file, so a process the tests leave behind cannot hold the exec open
        f"timeout -s KILL {float(wall_s)} bash {STAGE}/eval.sh > {STAGE}/log 2>&1; rc=$?",
        f"exec 1>&3; head -c {int(max_log)} {STAGE}/log",
        f"[ $rc = 137 ] && exit {TIMED_OUT}; exit 0",
    ])


def grade(meta: dict[str, Any], patch: str, log_text: str) -> dict[str, Any]:
    """The official report of one instance's log: swebench's make_test_spec and get_eval_report."""
    from swebench.harness.grading import get_eval_report
    from swebench.harness.utils import make_test_spec

    spec = make_test_spec(meta)
    with tempfile.NamedTemporaryFile("w", suffix=".log", encoding="utf-8") as fh:
        fh.write(log_text)
        fh.flush()
        report = get_eval_report(spec, {"instance_id": meta["instance_id"], "model_patch": patch,
                                        "model_name_or_path": "ttscale"}, fh.name, include_tests_status=True)
    return report[meta["instance_id"]]


def eval_script(meta: dict[str, Any]) -> str:
    """The instance's eval script as the official harness runs it (test exit code recorded)."""
    from swebench.harness.utils import make_test_spec

    return make_test_spec(meta).eval_script


class InstanceRunner:
    """Runs the distinct patches of one instance in boxes of its image, reusing a box between patches."""

    def __init__(self, backend: RepoBackend, meta: dict[str, Any], settings: dict[str, Any]) -> None:
        self.backend, self.meta, self.s = backend, meta, settings
        self.script = eval_script(meta).encode()
        self.step = step_script(settings["wall_s"], settings["max_log_bytes"]).encode()
        self.box: RepoBox | None = None
        self.baseline: set[str] = set()
        self.reset = ""
        self.after_step = ""  # the reset, run by the same exec as the patch (one engine round trip less)
        self.starts = 0

    def _open(self) -> RepoBox:
        box = self.backend.start(self.meta["image"])
        self.starts += 1
        try:
            _, out = box.exec(f"mkdir -p {STAGE}; cat ~/.gitconfig 2>/dev/null; true")
            gitconfig = out.decode("utf-8", "replace") if out else None
            _, out = box.exec("git ls-files -z --others --ignored --exclude-standard --directory")
            keep = [p for p in out.decode("utf-8", "replace").split("\0") if p]
            self.reset = reset_script(self.meta["base_commit"], gitconfig, keep)
            body = reset_body(self.meta["base_commit"], gitconfig, keep)
            self.after_step = f"{KILL_ALL}\n( {body} ) >/dev/null 2>&1 || rc=$((rc + {RESET_FAILED}))\n"
            self._clean(box)
            self.baseline = box.changes()
        except Exception:
            box.close()
            raise
        return box

    def _clean(self, box: RepoBox) -> None:
        rc, out = box.exec(self.reset)
        if rc != 0:
            raise RuntimeError(f"resetting the repository failed ({rc}): {out.decode(errors='replace')[-300:]}")

    def run(self, patch: str) -> dict[str, Any]:
        """One patch: apply, test, grade; the box is reset (or replaced) for the next."""
        start = time.monotonic()
        try:
            if self.box is None:
                self.box = self._open()
            self.box.put({"patch.diff": patch.encode(), "eval.sh": self.script, "step.sh": self.step})
            reset = "" if self.s["per_patch"] else self.after_step
            rc, out = self.box.exec(f"bash {STAGE}/step.sh; rc=$?\n{reset}exit $rc")
        except Exception as exc:
            self.close()
            return {"status": "sandbox_error", "tail": f"{type(exc).__name__}: {exc}"[-500:],
                    "duration": time.monotonic() - start}
        text = out.decode("utf-8", "replace")
        reset_ok = rc < RESET_FAILED
        rc = rc if reset_ok else rc - RESET_FAILED
        self.after(reset_ok)
        took = time.monotonic() - start
        if rc == NOT_APPLIED:
            return {"status": "patch_failed", "tail": text, "duration": took}
        if rc == TIMED_OUT:
            return {"status": "timeout", "tail": text + f"\nthe tests ran past wall_s={self.s['wall_s']}",
                    "duration": took, "log": text}
        if rc != APPLIED:
            return {"status": "sandbox_error", "tail": f"the patch step ended with {rc}: {text[-500:]}",
                    "duration": took}
        report = grade(self.meta, patch, text)
        tests = report.get("tests_status") or {}
        passed = sum(len(tests.get(k, {}).get("success", [])) for k in ("FAIL_TO_PASS", "PASS_TO_PASS"))
        total = len(self.meta["FAIL_TO_PASS"]) + len(self.meta["PASS_TO_PASS"])
        return {"status": "passed" if report["resolved"] else "failed", "tail": text, "duration": took,
                "passed": passed, "total": total, "log": text, "report": report}

    def after(self, reset_ok: bool) -> None:
        """The box was reset by the patch's own exec: replace it if that failed or if the run changed
        files outside the repository."""
        if self.box is None:
            return
        if self.s["per_patch"] or not reset_ok:
            if not reset_ok:
                log.warning("%s: resetting the container failed; starting a new one", self.meta["instance_id"])
            self.close()
            return
        try:
            changed = self.box.changes() - self.baseline
        except Exception as exc:
            log.warning("%s: resetting the container failed (%s); starting a new one", self.meta["instance_id"], exc)
            self.close()
            return
        if changed:
            log.info("%s: the last patch changed %s outside the repository; starting a new container",
                     self.meta["instance_id"], sorted(changed)[:5])
            self.close()

    def close(self) -> None:
        if self.box is not None:
            self.box.close()
            self.box = None


def run_patches(jobs: list[tuple[dict[str, Any], str]], settings: dict[str, Any], backend: str = "docker",
                workers: int = 1) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Results of (instance metadata, patch) jobs, in order; the jobs of an instance share boxes.

    With fewer instances than workers an instance's patches are split over several boxes.
    """
    s = {**REPOSITORY, **settings}
    box_backend = REPO_BACKENDS.get(backend, "verify.backend")(s)
    by_instance: dict[str, list[int]] = defaultdict(list)
    for i, (meta, _) in enumerate(jobs):
        by_instance[meta["instance_id"]].append(i)
    for ids in by_instance.values():
        box_backend.check(jobs[ids[0]][0]["image"])
    split = max(1, -(-workers // max(1, len(by_instance))))
    units = []
    for ids in by_instance.values():
        n = min(split, len(ids))
        units += [ids[k::n] for k in range(n)]
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    starts = [0]
    lock = threading.Lock()

    def work(ids: list[int]) -> None:
        runner = InstanceRunner(box_backend, jobs[ids[0]][0], s)
        try:
            for i in ids:
                results[i] = runner.run(jobs[i][1])
        finally:
            runner.close()
            with lock:
                starts[0] += runner.starts

    with ThreadPoolExecutor(max(1, min(workers, len(units)))) as pool:
        for f in [pool.submit(work, u) for u in units]:
            f.result()
    return results, {"patches": len(jobs), "containers": starts[0]}  # type: ignore[return-value]


def _keep_log(folder: str, instance: str, patch: str, log_text: str) -> None:
    d = Path(folder) / instance
    d.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(patch.encode()).hexdigest()[:16]
    (d / f"{sha}.diff").write_text(patch, encoding="utf-8")
    (d / f"{sha}.log").write_text(log_text, encoding="utf-8")


@VERIFIERS.register("swebench")
class SWEbenchVerifier(Verifier):
    """Repository tasks (task `repo`): patches from responses, graded by the official SWE-bench functions."""

    def verify(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        s = {**REPOSITORY, **(self.settings.get("repository") or {})}
        out: list[dict[str, Any] | None] = [None] * len(items)
        job_of: dict[tuple[str, str], int] = {}
        jobs: list[tuple[dict[str, Any], str]] = []
        pending: list[tuple[int, int, str]] = []
        for i, it in enumerate(items):
            meta = json.loads(it.get("metadata") or "{}").get("swebench")
            if not meta:
                out[i] = verdict("sandbox_error", tail=f"problem {it['problem_id']} is not a SWE-bench instance")
                continue
            patch, how = extract_patch(response(it), meta.get("files") or {})
            if patch is None:
                out[i] = verdict("no_answer", tail=how)
                continue
            key = "patch:" + hashlib.sha256(patch.encode()).hexdigest()[:16]
            problem = patch_problem(patch, int(s["max_patch_bytes"]))
            if problem:
                out[i] = verdict("patch_rejected", answer=patch[:KEPT_ANSWER], key=key, tail=problem)
                continue
            jk = (meta["instance_id"], patch)
            if jk not in job_of:
                job_of[jk] = len(jobs)
                jobs.append((meta, patch))
            pending.append((i, job_of[jk], key))
        if jobs:
            log.info("verifying %d distinct patches of %d samples over %d instances", len(jobs), len(items),
                     len({m["instance_id"] for m, _ in jobs}))
            results, counts = run_patches(jobs, s, s.get("backend") or self.settings.get("backend", "docker"),
                                          int(self.settings.get("workers") or 1))
            log.info("%d patches in %d containers", counts["patches"], counts["containers"])
            if s.get("keep_logs"):
                for (meta, patch), r in zip(jobs, results, strict=True):
                    if "log" in r:
                        _keep_log(s["keep_logs"], meta["instance_id"], patch, r["log"])
        for i, j, key in pending:
            r = results[j]
            out[i] = verdict(r["status"], r["status"] == "passed", answer=jobs[j][1][:KEPT_ANSWER], key=key,
                             passed=int(r.get("passed", 0)), total=int(r.get("total", 1)),
                             duration=float(r.get("duration", 0.0)), tail=r.get("tail", ""))
        return out  # type: ignore[return-value]

