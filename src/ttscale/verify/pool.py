"""The pool that feeds the sandboxes: workers pull tasks from one queue, each through its own sandbox.

Every task gets exactly one result. A worker claims a machine-wide slot (and so a uid) for its
sandboxes, keeps a window of tasks in flight, and when its sandbox dies, works out which sample
took it down and gives the others back to the queue (docs/verification.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ttscale.errors import TtscaleError
from ttscale.verify.sandbox import BASE_UID, LIMITS, SANDBOXES, Sandbox, SandboxUnavailable

log = logging.getLogger(__name__)

SLOTS = 1024  # uids BASE_UID .. BASE_UID + SLOTS - 1
SLOT_LOCKS = Path(tempfile.gettempdir()) / "ttscale-sandbox-slots"
WINDOW = 32  # tasks in flight per sandbox: hides the round trip through the container engine
REFILL = 16  # tasks sent together (the runner answers in batches of up to ttscale.verify.runner.BATCH)
NOT_READY = object()  # what _Pool.take gives while the next task waits for another task's result


@contextlib.contextmanager
def claimed_slot():
    """A sandbox slot (and so a uid) no other sandbox on this machine is using, held until exit.

    Samples count against their uid's process limit machine-wide, so two verifications running at
    once (two jobs on one node, say) must not share a uid: one's fork bomb would leave the other
    unable to start its samples. Slots are claimed with flock on a file per slot, which the kernel
    releases when the holder exits, however it exits.
    """
    if not SLOT_LOCKS.is_dir():
        SLOT_LOCKS.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            SLOT_LOCKS.chmod(0o1777)  # every user's verifications claim slots here
    for slot in range(SLOTS):
        fd = os.open(SLOT_LOCKS / str(BASE_UID + slot), os.O_CREAT | os.O_RDONLY, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield slot
        finally:
            os.close(fd)
        return
    raise TtscaleError(f"all {SLOTS} sandbox slots are in use (locks in {SLOT_LOCKS})")


def run_tasks(tasks: list[dict], backend: str, limits: dict | None = None, workers: int = 1,
              settings: dict[str, Any] | None = None,
              prepare: Callable[[dict, dict], dict] | None = None) -> dict[int, dict]:
    """Run tasks in `workers` sandboxes that pull from one queue; every task gets exactly one result.

    A task with `after` (the id of an earlier task) waits in the queue until that task's result is
    in, and is then sent as prepare(the task without `after`, that result): the CLI runs the
    reference solutions and the samples whose CPU limits they set in one pool this way, so the
    samples start as soon as their own problem's reference is timed, in sandboxes already running.

    Each sandbox has at most WINDOW tasks in flight, so a slow sample holds up a few tasks of
    one worker, not a fixed share of the work; tasks go out REFILL at a time and answers come
    back in batches, which spares the container engine most of its per-message work. Queued
    tasks cannot be touched by the running sample: the runner starts each only after the
    previous one and everything it started are gone (a sample may see queued tasks' text in the
    memory it inherits; see docs/verification.md). If a sandbox dies (a sample took down its
    runner), its unanswered tasks go back to the queue marked `flush`, which makes the runner
    answer each of them at once: the sample it was running cannot be told from finished ones
    whose answers were still batched. When a sandbox dies with such a task first in line, that
    is the sample it was running: it is `crashed`, the tasks behind it go back to the queue and
    a new sandbox takes over; if new sandboxes die before answering anything twice in a row, the
    remaining tasks are `sandbox_error`.
    """
    limits = {**LIMITS, **(limits or {})}
    box = SANDBOXES.get(backend, "verify.backend")(settings)
    box.check()
    pool = _Pool(tasks, box, backend, limits, prepare)
    threads = [threading.Thread(target=pool.work) for _ in range(max(1, min(workers, len(tasks))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if pool.errors:
        raise pool.errors[0]
    missing = [t["id"] for t in tasks if t["id"] not in pool.results]
    if missing:
        raise TtscaleError(f"verification lost {len(missing)} tasks: {missing[:5]}")
    return pool.results


class _Pool:
    """The queue, the results and the first error, shared by the workers under one lock."""

    def __init__(self, tasks: list[dict], box: Sandbox, backend: str, limits: dict,
                 prepare: Callable[[dict, dict], dict] | None = None) -> None:
        self.box, self.backend, self.limits, self.prepare = box, backend, limits, prepare
        if prepare is None and any("after" in t for t in tasks):
            raise TtscaleError("run_tasks: tasks with `after` need a `prepare` function")
        self.queue: list[dict] = list(reversed(tasks))
        self.results: dict[int, dict] = {}
        self.errors: list[Exception] = []
        self.lock = threading.Lock()
        self.answered = threading.Condition(self.lock)  # a result came in: a waiting task may be ready
        # the runner answers within one task's limits of the previous answer (it flushes a batch that waited)
        self.per_task = max(float(limits["wall_s"]), float(limits["task_wall_s"])) + 30.0

    def take(self) -> dict | object | None:
        """The next task (prepared, if it waited for another's result), None when the queue is empty,
        or NOT_READY when the next task still waits for a result."""
        with self.lock:
            if not self.queue:
                return None
            after = self.queue[-1].get("after")
            if after is None:
                return self.queue.pop()
            if after not in self.results:
                return NOT_READY
            task = {k: v for k, v in self.queue.pop().items() if k != "after"}  # given back, it waits no more
            return self.prepare(task, self.results[after])  # type: ignore[misc]

    def wait_for_answer(self) -> None:
        """Wait until another worker puts a result (the next task may wait for it), at most a second."""
        with self.answered:
            self.answered.wait(timeout=1.0)

    def give_back(self, items: list[dict]) -> None:
        with self.lock:
            self.queue.extend(reversed(items))

    def put(self, task_id: int, result: dict) -> None:
        with self.lock:
            self.results[task_id] = result
            self.answered.notify_all()

    def pending(self) -> bool:
        with self.lock:
            return bool(self.queue)

    def work(self) -> None:
        """One worker: sandboxes in its own slot until the queue is empty."""
        try:
            with claimed_slot() as slot:
                self.run_sandboxes(slot)
        except Exception as exc:  # raised by run_tasks, in the caller's thread; the other workers stop too
            with self.lock:
                self.errors.append(exc)
                self.queue.clear()

    def run_sandboxes(self, slot: int) -> None:
        failures = 0
        while self.pending():
            try:
                session = self.box.open(self.pinned(slot), slot)
            except Exception as exc:
                failures += 1
                if failures >= 2:
                    task = self.take()
                    if task is not None:
                        self.put(task["id"], _lost(task, f"cannot start a {self.backend} sandbox: {exc}"))
                continue
            inflight: list[dict] = []
            died = False
            try:
                answered, died = self.feed(session, inflight)
            finally:
                err = session.close(clean=not died and not inflight)
            if not died:
                return
            failures = 0 if answered else failures + 1
            self.after_death(inflight, failures, err)

    def pinned(self, slot: int) -> dict:
        """The limits for a sandbox in `slot`: with the CPU its runner keeps to (runner._pin), one of this
        process's CPUs, a different one for each slot while there are enough; unpinned with
        `pin_cpus: false` in the backend's settings."""
        if not self.box.settings.get("pin_cpus", True) or not hasattr(os, "sched_getaffinity"):
            return self.limits
        cpus = sorted(os.sched_getaffinity(0))
        return {**self.limits, "cpu": cpus[slot % len(cpus)]}

    def feed(self, session: Any, inflight: list[dict]) -> tuple[int, bool]:
        """Keep the session's window full until the queue is empty and every answer is in; returns
        (answers received, whether the sandbox died). `inflight` holds the unanswered tasks."""
        answered = 0
        try:
            while True:
                if len(inflight) <= WINDOW - REFILL:
                    batch = []
                    while len(inflight) + len(batch) < WINDOW and isinstance(task := self.take(), dict):
                        batch.append(task)
                    if batch:
                        inflight += batch  # before sending: a failed send must not lose them
                        session.send(*batch)
                if not inflight:
                    if self.pending():  # the next task waits for a result another worker has in flight
                        self.wait_for_answer()
                        continue
                    return answered, False
                try:
                    res = session.recv(self.per_task)
                except TimeoutError:  # no answer long after the sample's own limits: it is stuck
                    res = None
                if res is not None and "fatal" in res:  # the runner refused to run anything here
                    raise SandboxUnavailable(f"verify.backend {self.backend}: {res['fatal']}")
                if res is None or res.get("id") != inflight[0]["id"]:
                    return answered, True
                self.put(inflight.pop(0)["id"], res)
                answered += 1
        except OSError:  # the sandbox's pipe or socket broke: it is gone
            return answered, True

    def after_death(self, inflight: list[dict], failures: int, err: str) -> None:
        """A sandbox died with `inflight` unanswered: rerun them one by one, or charge the first."""
        if not inflight[0].get("flush"):  # answers may have been batched: rerun them one by one
            for task in inflight:
                task["flush"] = True
            self.give_back(inflight)
            log.warning("%s sandbox ended with %d tasks unanswered; running them again", self.backend,
                        len(inflight))
            return
        victim, rest = inflight[0], inflight[1:]
        self.give_back(rest)
        if failures >= 2:
            self.put(victim["id"], _lost(victim, f"the sandbox failed twice: {err[-300:]}"))
        else:
            self.put(victim["id"], {"id": victim["id"], "status": "crashed", "duration": 0.0, "tail": "",
                                    "error": f"the sandbox ended while running this sample {err[-300:]}"})
        log.warning("%s sandbox ended during task %s; starting a new one", self.backend, victim["id"])


def _lost(task: dict, why: str) -> dict:
    return {"id": task["id"], "status": "sandbox_error", "duration": 0.0, "tail": "", "error": why}
