"""A warm worker per workflow folder: engine jobs run in one long-lived process that keeps its engines.

Every job that loads a model pays a start-up before its first token: a new Python process imports
torch, transformers and vLLM and builds the engine (about 20 s on 2 CPU cores for a 135M model),
which dwarfs the work of a small job, such as the few new samples of a rerun. On one machine the
engine jobs of a run are serialised anyway (the `engine` resource of profiles/local), so they can
run, one after the other, in one process that has everything imported and keeps up to two engines
(the sampler and the judge) between jobs. That is this worker, the way a Gradle daemon keeps a warm
JVM between builds: the Snakemake job stays a process of its own (its own log, exit code and
timing) but only sends its call here and waits for the answer.

- Enabled per rule by the profile resource `warm_s` (profiles/local: generate and score): the
  seconds a worker stays alive with nothing to do. The environment variable `TTSCALE_WARM`
  overrides it: `TTSCALE_WARM=0` runs every job in its own process, as on a cluster (the SLURM
  profile never sets `warm_s`: a job there has a node of its own), and a number of seconds replaces
  the profile's (the test suite uses a short one).
- One worker per workflow folder and code version: the state lives in `.snakemake/ttscale-warm/`;
  a worker started from other code (an edited package, another virtual environment) is stopped and
  replaced, never used.
- Samples do not depend on it: a kept engine's prefix cache is emptied before it is lent again, and
  per-request seeds make sampling independent of what the engine ran before (tests/test_warm.py
  compares a warm and a cold run).
- Failures stay honest: a user error (ttscale.errors) fails the job with its one-line message, any
  other error with its traceback, both also in the job's log; a worker that dies fails the job that
  was using it, and the next job starts a new one. A job cancelled by Snakemake stops the worker,
  so no output appears after its job was given up.

`ttscale warm status` and `ttscale warm stop` show and stop the worker of the current folder.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

from ttscale import console
from ttscale.cli import COMMANDS
from ttscale.errors import TtscaleError
from ttscale.joblog import run_logged, setup_logging

log = logging.getLogger(__name__)

STATE = Path(".snakemake") / "ttscale-warm"
START_TIMEOUT_S = 120.0


def keep_alive(warm_s: int | float | None) -> float:
    """Idle seconds of the warm worker for a job with resource warm_s; 0 runs the job in its own
    process. The environment variable TTSCALE_WARM overrides it: 0 turns the worker off, a number
    of seconds replaces the profile's."""
    env = os.environ.get("TTSCALE_WARM", "").strip()
    if not warm_s or float(warm_s) <= 0:
        return 0.0
    if env:
        try:
            return max(0.0, float(env))
        except ValueError:
            raise TtscaleError(f"TTSCALE_WARM={env!r}: give seconds (0 turns the warm worker off)") from None
    return float(warm_s)


def fingerprint() -> str:
    """The code a worker runs: this Python and every module of the package (path, size, mtime).

    A worker whose fingerprint differs from the client's is stale and is replaced."""
    h = hashlib.sha256(sys.executable.encode())
    pkg = Path(__file__).resolve().parent
    for f in sorted(pkg.rglob("*.py")):
        st = f.stat()
        h.update(f"{f.relative_to(pkg)}:{st.st_size}:{st.st_mtime_ns}".encode())
    with contextlib.suppress(OSError):
        h.update(str((Path(sys.prefix) / "pyvenv.cfg").stat().st_mtime_ns).encode())
    return h.hexdigest()[:16]


def state_dir(root: Path) -> Path:
    d = root / STATE
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def _address(root: Path) -> str:
    # Linux's abstract socket namespace: no socket file, so no path-length limit; the authkey
    # (a 0600 file) keeps other users out.
    return "\0ttscale-warm-" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:24]


def _authkey(root: Path) -> bytes:
    f = state_dir(root) / "authkey"
    if not f.exists():
        tmp = f.with_name(f".authkey.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        tmp.replace(f)
    return f.read_text().strip().encode()


def _read_info(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / STATE / "worker.json").read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """Whether pid is a warm worker (a recycled pid running something else is not)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"ttscale.warm" in cmd


def status(root: Path) -> dict[str, Any] | None:
    """The live worker of root (its worker.json), or None."""
    info = _read_info(root)
    return info if info and _alive(int(info["pid"])) else None


def stop(root: Path, timeout: float = 10.0) -> int | None:
    """Stop root's worker (SIGTERM, then SIGKILL); returns its pid, or None if none was running."""
    info = status(root)
    if not info:
        return None
    pid = int(info["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        if (_read_info(root) or {}).get("pid") == pid:
            (root / STATE / "worker.json").unlink()
    return pid


def note(root: Path) -> str:
    """What a finished run prints about root's worker ("" when there is none)."""
    info = status(root)
    if not info:
        return ""
    return (f"ttscale: a warm worker (pid {info['pid']}) keeps the engines loaded for the next run and exits "
            f"after {float(info.get('keep_alive', 0)):.0f} s without jobs; `ttscale warm stop` ends it now")


def _plain(value: Any) -> Any:
    """Snakemake's str and list subclasses (IOFile, Namedlist) as builtins, so a call pickles
    without Snakemake on the other side."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


@contextlib.contextmanager
def _lock(root: Path, blocking: bool = True) -> Iterator[bool]:
    """root's worker lock: a client holds it from finding the worker to getting its answer, and an
    idle worker exits only while holding it, so no job ever meets a worker on its way out."""
    import fcntl

    with open(state_dir(root) / "worker.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


def _connect(root: Path, keep_alive: float):
    """A connection to root's worker, starting one (or replacing a stale one); under _lock."""
    from multiprocessing import AuthenticationError
    from multiprocessing.connection import Client

    key = _authkey(root)
    want = fingerprint()
    info = status(root)
    if info and info.get("fingerprint") != want:
        log.info("warm worker %s runs other code; replacing it", info["pid"])
        stop(root)
        info = None
    if info:
        try:
            return Client(info["address"], family="AF_UNIX", authkey=key), info
        except (OSError, EOFError, AuthenticationError):
            stop(root)
    info = _spawn(root, want, keep_alive)
    return Client(info["address"], family="AF_UNIX", authkey=key), info


def _spawn(root: Path, want: str, keep_alive: float) -> dict[str, Any]:
    logfile = state_dir(root) / "worker.log"
    with contextlib.suppress(OSError):
        (root / STATE / "worker.json").unlink()
    # the worker imports this very package (a checkout that is not installed included)
    pkg_parent = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [pkg_parent, os.environ.get("PYTHONPATH")]))}
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ttscale.warm", str(root.resolve()), want, str(keep_alive)],
            cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    log.info("started a warm worker, pid %d (log: %s)", proc.pid, logfile)
    end = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < end:
        info = _read_info(root)
        if info and info.get("pid") == proc.pid:
            return info
        if proc.poll() is not None:
            tail = logfile.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the warm worker exited with code {proc.returncode} before it was ready; "
                               f"{logfile} ends with:\n{tail}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the warm worker did not start within {START_TIMEOUT_S:.0f} s; see {logfile}")


def call(root: Path, fn: Callable[..., Any], kwargs: dict[str, Any], *, logfile: str | None, rule: str,
         wildcards: dict[str, str], keep_alive: float) -> None:
    """Run fn(**kwargs) as the job `rule` in root's warm worker; a user error raises TtscaleError,
    anything else RuntimeError with the worker's traceback."""
    with _lock(root):
        conn, info = _connect(root, keep_alive)
        log.info("running in warm worker pid %s", info["pid"])
        with conn:
            offset = console.log_size(logfile)
            conn.send({"fn": f"{fn.__module__}:{fn.__qualname__}", "kwargs": _plain(kwargs), "logfile": logfile,
                       "rule": rule, "wildcards": _plain(wildcards), "keep_alive": keep_alive})
            try:
                # the job's progress lines go to its log file in the worker: show them here too
                while not conn.poll(1.0):
                    offset = console.relay(logfile, offset)
                kind, message = conn.recv()
                console.relay(logfile, offset)
            except (EOFError, OSError):
                raise RuntimeError(f"the warm worker (pid {info['pid']}) died during the job; see "
                                   f"{root / STATE / 'worker.log'}") from None
    if kind == "user_error":
        raise TtscaleError(message)
    if kind == "error":
        raise RuntimeError(f"rule {rule} failed in the warm worker (pid {info['pid']}):\n{message}")


def _cli_args(p: Any) -> None:
    p.add_argument("action", choices=["status", "stop"], help="show or stop the warm worker")
    p.add_argument("--directory", default=".", help="the workflow folder (default: the current one)")


def _cli(args: Any) -> int:
    root = Path(args.directory).resolve()
    if args.action == "stop":
        pid = stop(root)
        print(f"stopped the warm worker, pid {pid}" if pid else "no warm worker is running here")
        return 0
    info = status(root)
    if not info:
        print("no warm worker is running here")
        return 0
    up = time.time() - float(info["started"])
    print(f"warm worker pid {info['pid']}, up {up:.0f} s, log {root / STATE / 'worker.log'}")
    return 0


COMMANDS.register("warm")(("show or stop the warm worker that keeps engines between jobs", _cli_args, _cli))


# --- the worker ---------------------------------------------------------------------------------


class _Worker:
    def __init__(self, root: Path, want: str, keep_alive: float) -> None:
        self.root, self.want, self.keep_alive = root, want, keep_alive
        self.busy = False
        self.last = time.monotonic()
        self.jobs = 0

    def _watch_idle(self) -> None:
        while True:
            time.sleep(1.0)
            if self.busy or time.monotonic() - self.last <= self.keep_alive:
                continue
            with _lock(self.root, blocking=False) as free:
                if free and not self.busy:  # no client is on its way in
                    log.info("idle for %.0f s after %d jobs; exiting", self.keep_alive, self.jobs)
                    self._exit(0)

    def _exit(self, code: int) -> None:
        with contextlib.suppress(OSError):
            if (_read_info(self.root) or {}).get("pid") == os.getpid():
                (self.root / STATE / "worker.json").unlink()
        logging.shutdown()
        os._exit(code)

    @staticmethod
    def _watch_client(conn: Any, done: threading.Event) -> None:
        """The client closes its end only by dying (Snakemake cancelled the job): stop with it."""
        while not done.is_set():
            try:
                if conn.poll(0.5) and not done.is_set():
                    conn.recv()
            except (EOFError, OSError):
                if not done.is_set():
                    log.warning("the job's process went away; stopping the worker with it")
                    os._exit(3)

    def serve(self) -> None:
        from multiprocessing.connection import Listener

        from ttscale import engine

        engine.keep_engines(2)
        address = _address(self.root)
        listener = Listener(address, family="AF_UNIX", authkey=_authkey(self.root))
        info = {"pid": os.getpid(), "address": address, "fingerprint": self.want, "root": str(self.root),
                "started": time.time(), "keep_alive": self.keep_alive}
        tmp = self.root / STATE / f".worker.json.{os.getpid()}"
        tmp.write_text(json.dumps(info))
        tmp.replace(self.root / STATE / "worker.json")
        signal.signal(signal.SIGTERM, lambda *_: self._exit(0))
        threading.Thread(target=self._watch_idle, daemon=True).start()
        log.info("warm worker pid %d serving %s", os.getpid(), self.root)
        while True:
            try:
                conn = listener.accept()
            except Exception:  # a client that failed the authkey handshake, or went away
                log.warning("refused a connection:\n%s", traceback.format_exc())
                continue
            self.busy = True
            try:
                self._one(conn)
            finally:
                conn.close()
                gc.collect()  # what the job left behind, and its freed heap back to the OS
                engine.trim_heap()
                self.jobs += 1
                self.last = time.monotonic()
                self.busy = False

    def _one(self, conn: Any) -> None:
        try:
            req = conn.recv()
        except (EOFError, OSError):
            return
        self.keep_alive = float(req.get("keep_alive") or self.keep_alive)
        done = threading.Event()
        threading.Thread(target=self._watch_client, args=(conn, done), daemon=True).start()
        try:
            run_logged(lambda: _resolve(req["fn"])(**req["kwargs"]), logfile=req["logfile"], rule=req["rule"],
                       wildcards=req["wildcards"], where=f" (warm worker pid {os.getpid()}, job {self.jobs + 1})")
            answer = ("ok", None)
        except TtscaleError as exc:
            answer = ("user_error", str(exc))
        except BaseException as exc:  # a job's SystemExit must not end the worker
            if not isinstance(exc, Exception):  # run_logged logs only Exceptions
                logging.getLogger("ttscale").exception("rule %s failed", req["rule"])
            answer = ("error", "".join(traceback.format_exception(exc)))
        finally:
            done.set()
            setup_logging(None)  # close the job's log file
        with contextlib.suppress(OSError, BrokenPipeError):
            conn.send(answer)


def _resolve(target: str) -> Callable[..., Any]:
    """The function named `module:qualname`."""
    module, name = target.split(":")
    fn: Any = import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
    return fn


def main(argv: list[str]) -> None:
    root, want, keep_alive = Path(argv[0]), argv[1], float(argv[2])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.chdir(root)
    _Worker(root, want, keep_alive).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
