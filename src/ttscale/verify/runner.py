"""The program that runs inside the sandbox and executes untrusted samples, one fresh process each.

It is started as PID 1 of its own PID namespace (a container, or bubblewrap --as-pid-1), which makes
it immune to SIGKILL from the samples it runs, and it uses only the standard library of the image's
Python. Protocol: stdin carries JSON lines, first the limits, then one task per line, and the runner
answers each task with one JSON line on stdout, in order. The host keeps a few tasks in flight
(ttscale.verify.pool.WINDOW) to hide its round trip, and the runner writes its answers in batches
(BATCH): at once for a task marked `flush`, and always before it waits for more input. The runner is
non-dumpable, so samples cannot open its /proc entries (fds, memory, environment); a sample's stdin
is /dev/null.

Per sample: the runner compiles the program (up to PRECOMPILE_MAX characters; compiling runs none of
it) and forks; the child starts a new session, gets its own working directory, rlimits (CPU time,
address space, file size, open files, processes, no core dumps), stdout/stderr into a pipe whose
size the parent caps, and runs the code with exec(). Common standard-library modules are imported
once by the runner (PRELOAD), so children find them loaded. The child reports through a private
pipe; the verdict counts as passed only if the harness wrote the per-task nonce there after all
tests ran, so exiting early (sys.exit, os._exit) or printing "passed" cannot pass. After each
sample the runner kills every process in the namespace but itself (kill(-1)), reaps them, and
wipes /tmp and /dev/shm, so nothing a sample started can touch the next one.

Asserts-style tests are rewritten so that `==` inside an assert requires the result to be of a
plain built-in type when the expected value is one (an object whose __eq__ always returns True
fails; HumanEval's own harness would pass it).
"""

from __future__ import annotations

import ast
import json
import os
import resource
import select
import signal
import sys
import time
import warnings

# kill(-1) and wiping /tmp are only safe as PID 1 of a private PID namespace (inside the sandbox);
# run anywhere else (a unit test on the host), the runner only cleans up its own children.
IN_SANDBOX = os.getpid() == 1

# Standard-library modules that benchmark programs commonly import (HumanEval's prompts import typing in
# one sample of five). Importing them once in the runner means each forked child finds them in
# sys.modules instead of loading them from disk: typing alone costs a child about 3 ms, more than the
# rest of a typical sample. Each adds a little to every fork's cost, so the list stays short.
PRELOAD = ("typing", "math", "random", "copy", "string", "collections", "re", "itertools", "functools", "heapq",
           "bisect")

PLAIN = (int, float, complex, bool, str, bytes, type(None), list, tuple, dict, set, frozenset)


def _strict_eq(got, want, _type=type, _plain=PLAIN, _len=len, _zip=zip, _isinstance=isinstance):
    """`got == want`, but a plain expected value must be matched by plain values all the way down."""

    def plain(x, depth=0):
        if _type(x) not in _plain:
            return False
        if depth > 50:
            return True
        if _type(x) in (list, tuple, set, frozenset):
            return all(plain(v, depth + 1) for v in x)
        if _type(x) is dict:
            return all(plain(k, depth + 1) and plain(v, depth + 1) for k, v in x.items())
        return True

    if plain(want) and not plain(got):
        return False
    return got == want


class _Rewrite(ast.NodeTransformer):
    """assert a == b  ->  assert __ttscale_eq__(a, b); and count asserts that passed."""

    def visit_Assert(self, node):
        self.generic_visit(node)
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
            test = ast.Call(ast.Name("__ttscale_eq__", ast.Load()), [test.left, test.comparators[0]], [])
        node.test = test
        count = ast.parse("__ttscale_count__[0] += 1").body[0]
        return [node, count]


_COMPILED: dict = {}


def compile_tests(source: str, entry_point: str | None):
    """The test code with strict asserts, compiled once per distinct (tests, entry point) in the
    parent, so every forked child inherits it. HumanEval-style tests end by calling
    check(entry_point); MBPP-style tests (bare asserts) have no entry point."""
    key = (source, entry_point)
    if key not in _COMPILED:
        tree = ast.parse(source)
        total = sum(isinstance(n, ast.Assert) for n in ast.walk(tree))
        tree = _Rewrite().visit(tree)
        if entry_point:
            tree.body += ast.parse(f"check({entry_point})").body
        ast.fix_missing_locations(tree)
        if len(_COMPILED) > 4096:
            _COMPILED.clear()
        _COMPILED[key] = (compile(tree, "<tests>", "exec"), max(total, 1))
    return _COMPILED[key]


def _tokens_equal(got: str, want: str, tol: float = 1e-6) -> bool:
    a, b = got.split(), want.split()
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        try:
            fx, fy = float(x), float(y)
        except ValueError:
            return False
        if abs(fx - fy) > tol * max(1.0, abs(fy)):
            return False
    return True


def rlimits(lim: dict) -> list[tuple[int, int]]:
    """The per-sample resource limits, as (resource, value) pairs: worked out once in the runner,
    applied by each child (CPU time, address space, file size, open files, processes, no core)."""
    return [(resource.RLIMIT_CPU, int(lim["cpu_s"])), (resource.RLIMIT_AS, int(lim["memory_mb"]) << 20),
            (resource.RLIMIT_FSIZE, int(lim["fsize_mb"]) << 20), (resource.RLIMIT_NOFILE, int(lim["nofile"])),
            (resource.RLIMIT_NPROC, int(lim["nproc"])), (resource.RLIMIT_CORE, 0)]


def _set_limits(pairs: list[tuple[int, int]]) -> None:
    for res, value in pairs:
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass


PRECOMPILE_MAX = 65536  # characters: larger programs are compiled by their own child, under its limits


def precompiled(source: str):
    """The sample's code object, compiled in the runner before forking so that no child pays for it
    (a child inherits it; compiling there copies more pages than the compiler saves), or None if the
    child should compile it itself: a large program (compiled under the child's time and memory
    limits) or one that does not compile (the child reports the error as the sample's own).
    Compiling runs none of the sample's code."""
    if len(source) > PRECOMPILE_MAX:
        return None
    try:
        with warnings.catch_warnings():  # SyntaxWarnings belong to the sample's output, not the runner's
            warnings.simplefilter("ignore")
            return compile(source, "<sample>", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _child(task: dict, lim: dict, workdir: str, out_w: int, rep_w: int, nonce: str, stdin_path: str | None,
           code=None) -> None:
    """Runs in the forked child; never returns."""
    status = {"status": "crashed"}
    counter = [0]
    total = 1
    try:
        os.setsid()
        try:  # prefer killing samples over the runner (os-level calls: fewer pages copied after fork)
            fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
            os.write(fd, b"1000")
            os.close(fd)
        except OSError:
            pass
        os.chdir(workdir)
        fd_in = os.open(stdin_path or "/dev/null", os.O_RDONLY)
        os.dup2(fd_in, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        _set_limits(lim.get("rlimits") or rlimits(lim))  # the recursion limit stays Python's default
        if task["kind"] == "asserts":  # trusted test code first, so its size is known on failure
            tests, total = compile_tests(task["tests"], task["entry_point"])
        if code is None:
            code = compile(task["code"], "<sample>", "exec")
    except SyntaxError as exc:
        status = {"status": "syntax_error", "error": f"SyntaxError: {exc.msg} (line {exc.lineno})",
                  "tests_total": total}
        _report(rep_w, status)
    except (ValueError, MemoryError, RecursionError) as exc:  # NUL bytes, huge sources
        status = {"status": "syntax_error", "error": f"{type(exc).__name__}: {exc}"[:300], "tests_total": total}
        _report(rep_w, status)
    try:
        if task["kind"] == "asserts":
            env = {}
            exec(code, env)
            env["__ttscale_eq__"] = _strict_eq
            env["__ttscale_count__"] = counter
            exec(tests, env)
            status = {"status": "passed", "marker": nonce, "tests_passed": counter[0],
                      "tests_total": max(total, counter[0])}
        else:
            exec(code, {"__name__": "__main__"})
            sys.stdout.flush()
            status = {"status": "passed", "marker": nonce}
    except MemoryError:
        status = {"status": "memory", "error": "MemoryError"}
    except RecursionError:
        status = {"status": "failed", "error": "RecursionError: maximum recursion depth exceeded"}
    except SystemExit as exc:
        code_ = exc.code
        if task["kind"] == "stdio" and (code_ is None or code_ == 0):
            status = {"status": "passed", "marker": nonce}
        else:
            status = {"status": "failed", "error": f"SystemExit({code_!r}) before the tests finished"}
    except BaseException as exc:
        status = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:300]}
    if status["status"] != "passed":
        status["tests_passed"], status["tests_total"] = counter[0], total
    _report(rep_w, status)


try:
    from json.encoder import c_encode_basestring_ascii as _quote
except ImportError:  # a Python without the json accelerator
    from json.encoder import py_encode_basestring_ascii as _quote


def flat_json(d: dict, _type=type, _repr=repr, _str=str, _int=int, _float=float, _dumps=json.dumps) -> str:
    """json.dumps(d) for a flat dict of str keys and str, int, float, bool or None values.

    json.dumps builds an encoder object on every call; in a freshly forked child those allocations
    copy about 40 pages, a tenth of all the pages a typical sample copies. Anything else (and
    non-finite floats) goes to json.dumps. Builtins are bound at definition: the child reports after
    the sample ran, and the sample may have replaced them."""
    parts = []
    for k, v in d.items():
        t = _type(v)
        if _type(k) is not _str:
            return _dumps(d)
        if v is None:
            text = "null"
        elif v is True or v is False:
            text = "true" if v else "false"
        elif t is _str:
            text = _quote(v)
        elif t is _int or (t is _float and v - v == 0):
            text = _repr(v)
        else:
            return _dumps(d)
        parts.append(_quote(k) + ": " + text)
    return "{" + ", ".join(parts) + "}"


def _report(fd: int, status: dict) -> None:
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    try:
        os.write(fd, (flat_json(status) + "\n").encode())
    except BaseException:
        pass
    os._exit(0)


def _kill_all(pgid: int | None = None) -> None:
    """Kill every process we may signal except ourselves (in the sandbox), then reap all children."""
    try:
        if IN_SANDBOX:
            os.kill(-1, signal.SIGKILL)
        elif pgid:
            os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 2.0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() > deadline:
                return
            time.sleep(0.001)


def _wipe(workdir: str) -> None:
    import shutil

    if not IN_SANDBOX:
        shutil.rmtree(workdir, ignore_errors=True)
        return
    try:  # most samples leave their directory empty: removing it leaves nothing to walk below
        os.rmdir(workdir)
    except OSError:
        pass
    for base in ("/tmp", "/dev/shm"):
        try:
            entries = os.listdir(base)
        except OSError:
            continue
        for name in entries:
            p = os.path.join(base, name)
            try:
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.unlink(p)
            except OSError:
                pass


def _fork(patience: float) -> int:
    """os.fork(), retrying while the process limit is exhausted (a previous sample's fork bomb is
    still being reaped); -1 if it stays exhausted."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return os.fork()
        except BlockingIOError:
            _kill_all()
            if time.monotonic() > deadline:
                return -1
            time.sleep(0.05)


class _Output:
    """A sample's stdout and stderr: the last `tail_cap` bytes, and for stdin/stdout programs (whose
    output is the answer) the first `limit`; add() says "output" once the total passes `limit`."""

    def __init__(self, tail_cap: int, limit: int, keep_head: bool) -> None:
        self.tail_cap, self.limit, self.keep_head = tail_cap, limit, keep_head
        self.total, self.tail, self.head = 0, bytearray(), bytearray()

    def add(self, chunk: bytes) -> str | None:
        self.total += len(chunk)
        if self.keep_head and len(self.head) < self.limit:
            self.head += chunk[: self.limit - len(self.head)]
        self.tail += chunk
        if len(self.tail) > self.tail_cap:
            del self.tail[: len(self.tail) - self.tail_cap]
        return "output" if self.total > self.limit else None


def _read(fd: int) -> bytes:
    """What a non-blocking pipe holds (up to 64 KB); b"" when it is empty or closed."""
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def _exited(pid: int) -> bool:
    """Whether the child has exited (it stays unreaped for wait4)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when the child exits, or None where the kernel (or the
    sandbox's system-call filter) has none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def run_one(task: dict, lim: dict, n: int, stdin_data: str | None = None, code=None) -> dict:
    """Execute one program in a fresh child; returns its status (without the per-run bookkeeping)."""
    nonce = os.urandom(16).hex()
    workdir = os.path.join(lim.get("workroot", "/tmp"), f"w{n}")
    os.makedirs(workdir, exist_ok=True)
    stdin_path = None
    if stdin_data is not None:
        stdin_path = os.path.join(workdir, ".stdin")
        with open(stdin_path, "w") as fh:
            fh.write(stdin_data)
    if task["kind"] == "asserts":
        try:
            compile_tests(task["tests"], task["entry_point"])  # trusted; the child reuses it
        except SyntaxError:
            pass  # reported by the child as the tests' own error
    out = _Output(int(lim["tail_bytes"]), int(lim["output_mb"]) << 20, keep_head=stdin_data is not None)
    report = bytearray()
    wall, renice_after = float(lim["wall_s"]), float(lim.get("renice_after_s", 0.05))
    first_wait = max(0.0, min(wall, renice_after))
    reason = None
    out_r, out_w = os.pipe()
    rep_r, rep_w = os.pipe()
    pid = _fork(wall)
    if pid < 0:
        for fd in (out_r, out_w, rep_r, rep_w):
            os.close(fd)
        return {"status": "sandbox_error", "duration": 0.0, "tail": "", "stdout": "", "pgid": None,
                "error": "could not start a process for this sample (the sandbox's process limit)"}
    if pid == 0:
        os.close(out_r)
        os.close(rep_r)
        _child(task, lim, workdir, out_w, rep_w, nonce, stdin_path, code)
        os._exit(0)
    # While the child lives, every page the runner writes is copied (the two share them until
    # then); afterwards writing one costs a third as much. So the runner first waits for the exit
    # alone, doing nothing else: a typical sample exits within that wait, its output and report
    # already in the pipes. A sample that runs longer (or fills its output pipe) is then watched by
    # the loop below: its output, its deadline, its exit. Without pidfds (Linux < 5.3) the loop
    # waits for the end of both pipes, then for the exit; the deadline holds either way.
    pidfd = _pidfd(pid)
    start = time.monotonic()
    if pidfd is not None:
        select.select((pidfd,), (), (), first_wait)
    os.close(out_w)
    os.close(rep_w)
    deadline = start + wall
    open_fds = {out_r, rep_r} if pidfd is None else {out_r, pidfd}
    renice_at = start + renice_after
    reniced = False
    while not reason:
        if not open_fds:  # the child has exited, or (without a pidfd) has closed both pipes
            if pidfd is not None or _exited(pid):
                break
            time.sleep(0.005)
        now = time.monotonic()
        left = deadline - now
        if left <= 0:
            reason = "timeout"
            break
        if not reniced and now >= renice_at:
            # A sample that runs long (usually one that will time out) yields the CPU to the short
            # ones of the other sandboxes; its wall-clock deadline stays the same.
            reniced = True
            try:
                os.setpriority(os.PRIO_PGRP, pid, 19)
            except OSError:
                pass
        wait = min(left, 0.5) if reniced else min(left, max(renice_at - now, 0.001))
        ready = select.select(list(open_fds), [], [], wait)[0] if open_fds else []
        for fd in ready:
            if fd == pidfd:  # exited: what it wrote is in the pipes, its report too
                open_fds.clear()
                for fd_ in (out_r, rep_r):  # take what is there; a process it left may write on
                    os.set_blocking(fd_, False)
                while not reason and (chunk := _read(rep_r)) and len(report) < 65536:
                    report += chunk
                while not reason and (chunk := _read(out_r)):
                    reason = out.add(chunk)
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
            elif fd == rep_r:
                if len(report) < 65536:
                    report += chunk
            else:
                reason = out.add(chunk)
                if reason:
                    break
    if reason:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    cpu = 0.0
    try:
        _, wstatus, usage = os.wait4(pid, 0)
        cpu = usage.ru_utime + usage.ru_stime
    except ChildProcessError:
        wstatus = 0
    duration = time.monotonic() - start
    for fd in (out_r, rep_r, pidfd):
        try:
            if fd is not None:
                os.close(fd)
        except OSError:
            pass
    result = {"duration": duration, "tail": out.tail.decode("utf-8", "replace"),
              "stdout": out.head.decode("utf-8", "replace"), "pgid": pid}
    result.update(decide_status(reason, wstatus, cpu, bytes(report), nonce, lim))
    return result


def decide_status(reason: str | None, wstatus: int, cpu: float, report: bytes, nonce: str, lim: dict) -> dict:
    """A finished run's `status` (and `error`, `tests_passed`, `tests_total`), from what the runner saw.

    `reason` is why the runner killed the child ("timeout", "output", or None), `wstatus` its wait
    status, `cpu` the CPU seconds it used, `report` what it wrote on its report pipe (the first line
    is the harness's JSON, which must carry `nonce` to count as passed). Pure: tested for every
    status and signal without running anything.
    """
    parsed = None
    if report:
        try:
            parsed = json.loads(report.decode("utf-8", "replace").splitlines()[0])
        except (ValueError, IndexError):
            parsed = None
    result: dict = {}
    if reason == "timeout":
        result["status"] = "timeout"
    elif reason == "output":
        result["status"] = "crashed"
        result["error"] = f"output limit of {lim['output_mb']} MB exceeded"
    elif os.WIFSIGNALED(wstatus):
        sig = os.WTERMSIG(wstatus)
        result["status"] = {signal.SIGXCPU: "timeout", signal.SIGKILL: "memory"}.get(sig, "crashed")
        if sig == signal.SIGKILL and cpu >= int(lim["cpu_s"]) - 0.05:
            result["status"] = "timeout"  # RLIMIT_CPU's hard limit (equal to the soft one) kills with SIGKILL
        result["error"] = f"killed by signal {signal.Signals(sig).name}"
    elif parsed is None:
        code = os.WEXITSTATUS(wstatus) if os.WIFEXITED(wstatus) else -1
        result["status"] = "failed" if code == 0 else "crashed"
        result["error"] = f"exited with status {code} before the tests finished"
    else:
        status = parsed.get("status", "crashed")
        if status == "passed" and parsed.get("marker") != nonce:
            status, parsed["error"] = "failed", "the test harness did not confirm the result"
        result["status"] = status
        for key in ("error", "tests_passed", "tests_total"):
            if key in parsed:
                result[key] = parsed[key]
    if result["status"] in ("timeout",) and "error" not in result:
        result["error"] = f"wall time limit of {lim['wall_s']} s"
    return result


def run_task(task: dict, lim: dict, n: int) -> dict:
    start = time.monotonic()
    code = precompiled(task["code"])  # once for all of a stdin/stdout sample's test cases
    if task["kind"] == "stdio":
        cases = json.loads(task["tests"])
        passed, out = 0, None
        for i, case in enumerate(cases):
            r = run_one(task, lim, n * 100000 + i, stdin_data=case["input"], code=code)
            _kill_all(r.pop("pgid"))
            _wipe(os.path.join(lim.get("workroot", "/tmp"), f"w{n * 100000 + i}"))
            if r["status"] != "passed":
                out = r
                break
            if not _tokens_equal(r.get("stdout", ""), case["output"]):
                out = {**r, "status": "failed", "error": f"wrong output on test {i}"}
                break
            passed += 1
            if time.monotonic() - start > float(lim["task_wall_s"]):
                out = {**r, "status": "timeout", "error": "total time limit over all tests"}
                break
        if out is None:
            out = {"status": "passed", "tail": "", "error": None}
        out["tests_passed"], out["tests_total"] = passed, len(cases)
    else:
        out = run_one(task, lim, n, code=code)
        _kill_all(out.pop("pgid"))
        _wipe(os.path.join(lim.get("workroot", "/tmp"), f"w{n}"))
        out.setdefault("tests_passed", out.get("tests_passed", 0) if out["status"] == "passed" else 0)
        out.setdefault("tests_total", 1)
    out["duration"] = time.monotonic() - start
    out.pop("stdout", None)
    out.pop("pgid", None)
    out["id"] = task["id"]
    return out


def _harden() -> None:
    """Make the runner non-dumpable, so samples cannot open its /proc entries (its stdin pipe, memory,
    environment) even though they run under the same uid."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


BATCH = 16  # answers written together: each write is a wake-up of the container engine and the host
BATCH_WAIT_S = 0.05  # an answer waits for its batch at most this long (then one more task's duration)


class _Lines:
    """Task lines from a descriptor, buffered here so that the runner knows whether another task is
    already waiting (then its answers can wait for a batch) or it must answer before it blocks."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf, self.scanned = fd, bytearray(), 0

    def ready(self) -> bool:
        if self.buf.find(b"\n", self.scanned) >= 0:
            return True
        self.scanned = len(self.buf)
        return False

    def next(self) -> bytes | None:
        """The next line without its newline; None at the end of input."""
        while not self.ready():
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self.buf += chunk
        end = self.buf.find(b"\n", self.scanned)
        line = bytes(self.buf[:end])
        del self.buf[: end + 1]
        self.scanned = 0
        return line


def network_interfaces(proc_net_dev: str) -> list[str]:
    """The interfaces other than loopback in a /proc/net/dev listing (its two header lines skipped)."""
    names = [line.split(":", 1)[0].strip() for line in proc_net_dev.splitlines()[2:] if ":" in line]
    return [n for n in names if n != "lo"]


def refusal() -> str | None:
    """Why the runner must not run samples here, or None. Every backend gives the sandbox a network
    namespace of its own with only loopback; if one ever does not (a misconfigured backend, an engine
    that reads its options differently), no sample runs: the host gets this reason as an error."""
    if not IN_SANDBOX:
        return None
    try:
        with open("/proc/net/dev") as fh:
            extra = network_interfaces(fh.read())
    except OSError as exc:
        return f"cannot check the sandbox's network (/proc/net/dev: {exc.strerror})"
    if extra:
        return f"the sandbox has network interfaces besides loopback ({', '.join(extra)}); no sample was run"
    return None


def main() -> None:
    """Read the limits, then one task per line; answer each, in order."""
    _harden()
    why = refusal()
    if why:
        os.write(1, (json.dumps({"fatal": why}) + "\n").encode())
        while os.read(0, 1 << 16):  # until the host closes our input: it must not see a broken pipe first
            pass
        return
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    lines = _Lines(0)
    first = lines.next()
    if first is None:
        return
    lim = json.loads(first)
    lim["rlimits"] = rlimits(lim)
    os.makedirs(lim.get("workroot", "/tmp"), exist_ok=True)
    n = 0
    pending: list[str] = []
    since = 0.0

    def flush() -> None:
        data = memoryview("".join(pending).encode())
        while data:
            data = data[os.write(1, data):]
        pending.clear()

    while True:
        if pending and not lines.ready():
            flush()  # about to wait for the host, which waits for these answers
        line = lines.next()
        if line is None or not line.strip():
            break
        if pending and time.monotonic() - since > BATCH_WAIT_S:
            flush()  # the batch waited long enough (the samples in it were slow)
        task = json.loads(line)
        del line
        careful = bool(task.get("flush"))
        result = run_task(task, lim, n)
        del task
        if not pending:
            since = time.monotonic()
        pending.append(flat_json(result) + "\n")
        if careful or len(pending) >= BATCH:
            flush()
        n += 1
    if pending:
        flush()

if __name__ == "__main__":
    main()
