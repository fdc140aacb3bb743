"""The program that runs inside the sandbox and executes untrusted samples, one fresh process each.

It is started as PID 1 of its own PID namespace (a container, or bubblewrap --as-pid-1), which makes
it immune to SIGKILL from the samples it runs, and it uses only the standard library of the image's
Python. Protocol: stdin carries JSON lines, first the limits, then one task per line, and the runner
answers each task with one JSON line on stdout, in order. The host keeps a few tasks in flight
(ttscale.verify.sandbox.WINDOW) to hide its round trip, and the runner writes its answers in batches
(BATCH): at once for a task marked `flush`, and always before it waits for more input. The runner is
non-dumpable, so samples cannot open its /proc entries (fds, memory, environment); a sample's stdin
is /dev/null.

Per sample: the runner compiles the program (up to PRECOMPILE_MAX characters; compiling runs none of
it) and the zygote (_Zygote: a fresh interpreter the runner starts once, which never holds a test,
so a sample cannot read the tests from memory or frames it inherited) forks once; the child starts a
new session, gets its own working directory, rlimits (CPU time, address space, file size, open
files, processes, no core dumps), stdout/stderr into a pipe whose size the runner caps, and runs the
code with exec(). Common standard-library modules are imported once by the zygote (PRELOAD), so
children find them loaded. After each sample the zygote kills every process in the namespace but
the runner and itself (kill(-1)) and reaps them, and the runner wipes /tmp and /dev/shm, so nothing
a sample started can touch the next one.

Plain semantics: a sample runs as `python3 program.py` would run it in a fresh interpreter: compiled
with no inherited __future__ flags, as the globals of a new `__main__` module (the builtins module,
__file__ and sys.argv naming program.py in its own working directory, sys.path[0] that directory),
with a script's recursion headroom, and python3's signal dispositions, warning filters and
environment. Deliberate differences: the rlimits, no network, stdin is /dev/null for asserts-style
samples, program.py is not written, PRELOAD modules are already imported, the objects a sample's
process inherits are frozen out of its garbage collections (gc.freeze), and its CPU is the sandbox's
(_pin).

Tamper-proof tests: for asserts-style tests the runner itself (pristine: it never runs sample code)
runs the tests; the sample's process (run_asserts, _start_sample) runs the program and then only
answers calls of its entry point (or, for bare asserts, the names the tests use), with plain values
in and out (Sample; answers are JSON of plain values, never pickles). So whatever the sample
rebinds or patches (builtins, modules, the prompt's helpers, the objects it returns) the tests never
see: they are bound to the runner's builtins and modules and to the prompt's own helpers (the
prompt is trusted, the sample is not). The verdict is passed only if the tests ran to their end, so
exiting early (sys.exit, os._exit) or printing "passed" cannot pass. A stdin/stdout program runs
alone in its child, which reports through a private pipe: passed only if it wrote the per-task
nonce there after the program ran.

Asserts-style tests are rewritten so that `==` inside an assert requires the result to be of a
plain built-in type when the expected value is one (an object whose __eq__ always returns True
fails; HumanEval's own harness would pass it).
"""

from __future__ import annotations

import _signal
import _socket
import builtins
import json
import marshal
import os
import resource
import select
import signal
import sys
import time
import types
import warnings

# The zygote runs this program too, and every sample's fork copies the page-table entries of all the
# memory it holds (and every exit drops them): about 0.06 ms per sample for each megabyte. So modules
# only the runner needs (ast, socket, ctypes) are imported where the runner uses them, and the zygote
# and the samples' processes use the C modules under pickle, socket and ctypes (docs/verification.md).
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing into the runner
if TYPE_CHECKING:
    import ast
    import socket

try:
    from _pickle import dumps as _pickle_dumps
    from _pickle import loads as _pickle_loads
except ImportError:  # an interpreter without the C pickler
    from pickle import dumps as _pickle_dumps
    from pickle import loads as _pickle_loads

# kill(-1) and wiping /tmp are only safe as PID 1 of a private PID namespace (inside the sandbox);
# run anywhere else (a unit test on the host), the runner only cleans up its own children.
IN_SANDBOX = os.getpid() == 1

# Standard-library modules that benchmark programs commonly import (HumanEval's prompts import typing in
# one sample of five). Importing them once in the zygote means each forked child finds them in
# sys.modules instead of loading them from disk: typing alone costs a child about 3 ms, more than the
# rest of a typical sample. Each adds a little to every fork's cost, so the list stays short. `random` is
# left out: it reseeds itself in every forked child (an at-fork hook), about 0.1 ms for every sample,
# while 3 of the 5,000 real samples of the agreement corpus import it (and then seed it as python3 does).
PRELOAD = ("typing", "math", "copy", "string", "collections", "re", "itertools", "functools", "heapq", "bisect")

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


def _strict(node: ast.Assert) -> tuple[ast.stmt, ast.stmt]:
    """assert a == b  ->  assert __ttscale_eq__(a, b), then count the assert as passed. The new nodes
    take the assert's position (no pass over the whole tree to fill them in)."""
    import ast

    test = node.test
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        name = ast.copy_location(ast.Name("__ttscale_eq__", ast.Load()), test)
        node.test = ast.copy_location(ast.Call(name, [test.left, test.comparators[0]], []), test)
    target = ast.Subscript(ast.Name("__ttscale_count__", ast.Load()), ast.Constant(0), ast.Store())
    count = ast.AugAssign(target, ast.Add(), ast.Constant(1))
    for new in (count, target, target.value, target.slice, count.value):
        ast.copy_location(new, node)
    return node, count


_COMPILED: dict = {}
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")  # statement lists, and the handlers and match
# cases that hold statement lists


def _free_names(tree: ast.AST) -> list[str]:
    """Names the test code reads but never binds, other than builtins: for tests without an entry
    point (MBPP's bare asserts), the functions they expect the sample (or the prompt) to define."""
    import ast

    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return sorted(n for n in loaded - bound if not hasattr(builtins, n) and not n.startswith("__ttscale_"))


def compile_tests(source: str, entry_point: str | None):
    """The test code with strict asserts, compiled once per distinct (tests, entry point) in the
    parent, so every forked child inherits it, with the number of asserts and the names it takes
    from the sample. HumanEval-style tests end by calling check(entry_point); MBPP-style tests
    (bare asserts) have no entry point and call the functions they name."""
    key = (source, entry_point)
    if key not in _COMPILED:
        import ast

        tree = ast.parse(source)
        total = 0
        todo: list = [tree]
        while todo:  # statement lists only: an assert is a statement, and no expression holds one
            node = todo.pop()
            for field in _BLOCKS:
                items = getattr(node, field, None)
                if type(items) is not list:  # a lambda's or an IfExp's body is an expression
                    continue
                asserts = sum(type(x) is ast.Assert for x in items)
                if asserts:
                    total += asserts
                    items = [y for x in items for y in (_strict(x) if type(x) is ast.Assert else (x,))]
                    setattr(node, field, items)
                todo += items
        if entry_point:
            tree.body += ast.parse(f"check({entry_point})").body
        if len(_COMPILED) > 4096:
            _COMPILED.clear()
        names = [entry_point] if entry_point else _free_names(tree)
        _COMPILED[key] = (compile(tree, "<tests>", "exec", dont_inherit=True), max(total, 1), names)
    return _COMPILED[key]


def compile_prompt(source: str | None):
    """The problem's prompt (its imports, helpers and the entry point's stub), compiled once like the
    tests: the tests see its helpers, never the sample's versions of them. None without a prompt."""
    if not source:
        return None
    key = ("prompt", source)
    if key not in _COMPILED:
        try:
            _COMPILED[key] = compile(source, "<prompt>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            _COMPILED[key] = None  # a prompt that is not a program (prose): no helpers to take from it
    return _COMPILED[key]


_EXTENDED: dict = {}


def extended_cases(ext: dict) -> list[tuple]:
    """(argument tuple, expected value) of each extended input (ttscale.verify.extended: reprs of Python
    literals), parsed once per distinct set in the parent, so every forked child inherits them."""
    key = (tuple(ext["inputs"]), tuple(ext["outputs"]))
    if key not in _EXTENDED:
        import ast

        if len(_EXTENDED) > 256:
            _EXTENDED.clear()
        _EXTENDED[key] = [(ast.literal_eval(a), ast.literal_eval(b)) for a, b in zip(*key, strict=True)]
    return _EXTENDED[key]


def _close(got, want, atol: float, _type=type, _float=float, _abs=abs, _max=max, _len=len) -> bool:
    """An extended test's comparison: floats within max(atol, 1e-6 relative) (the stdin/stdout rule),
    anywhere in a list, tuple or dict; everything else as the strict `==` of asserts-style tests."""
    if _type(want) is _float and _type(got) in (int, _float):
        return got == want or _abs(got - want) <= _max(atol, 1e-6 * _max(1.0, _abs(want)))
    if _type(want) in (list, tuple) and _type(got) is _type(want) and _len(got) == _len(want):
        return all(_close(g, w, atol) for g, w in zip(got, want, strict=False))
    if _type(want) is dict and _type(got) is dict and got.keys() == want.keys():
        return all(_close(got[k], want[k], atol) for k in want)
    return _strict_eq(got, want)


def _run_extended(fn, ext: dict, nonce: str) -> dict:
    """Call the sample's function on every extended input in this process; stop at the first failure.
    The answer is the report's second line (`status` stays the base tests' verdict)."""
    import copy

    cases, atol = extended_cases(ext), float(ext.get("atol") or 0.0)
    for i, (args, want) in enumerate(cases):
        try:
            got = fn(*copy.deepcopy(args))
        except BaseException as exc:
            return {"status": "passed", "extended": "failed", "ext_index": i,
                    "ext_error": f"{type(exc).__name__}: {exc}"[:200], "marker": nonce}
        if not _close(got, want, atol):
            try:
                shown = repr(got)[:200]
            except BaseException:
                shown = "<unprintable>"
            return {"status": "passed", "extended": "failed", "ext_index": i, "ext_error": f"returned {shown}",
                    "marker": nonce}
    return {"status": "passed", "extended": "passed", "ext_index": len(cases), "marker": nonce}


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
            return compile(source, "<sample>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _depth() -> int:
    """How many Python frames are on the stack below the caller's."""
    n, frame = 0, sys._getframe(1)
    while frame is not None:
        n, frame = n + 1, frame.f_back
    return n


def as_main(workdir: str) -> dict:
    """The globals of a fresh `__main__` module, installed as `python3 program.py` would have it:
    `__name__`, the builtins module, `__file__`, sys.argv and sys.path[0] name program.py in the
    sample's own directory (the file itself is not written).

    Nothing of the zygote's is dropped here: freeing its modules' state in a forked child writes
    to every page it shares with the zygote (page copies, CPU per sample). The zygote never held a
    test (the runner's memory, which holds them, is not the child's: `_Zygote`)."""
    main = types.ModuleType("__main__")
    path = os.path.join(workdir, "program.py")
    main.__dict__.update(__file__=path, __builtins__=builtins, __cached__=None)
    sys.modules["__main__"] = main
    sys.argv = [path]
    if sys.path:  # the script's directory, where python3 -c put the working directory
        sys.path[0] = workdir
    return main.__dict__


def _workdir(lim: dict) -> str:
    """Every sample's working directory: one name for all of a runner's samples (each finds it new and
    empty: the runner removes it, and whatever the sample left, before the next one starts), so the
    zygote prepares the sample's `__main__` once (prepared_main). Outside a sandbox (tests on the
    host) runners may share a directory, so there the name is the runner's own."""
    return os.path.join(lim.get("workroot", "/tmp"), "w" if IN_SANDBOX else f"w{os.getpid()}")


_PREPARED: list = [None, None]  # (working directory, the fresh __main__ globals prepared for it)


def prepared_main(workdir: str) -> dict:
    """In the zygote, before it forks: the globals of a fresh `__main__` for samples in `workdir`
    (as_main), installed in its own interpreter. Made again only when the directory changes. Its
    samples' processes inherit it untouched (each writes only to its own copy), so none of them pays
    for making it: page copies, which are most of what a sample's process costs."""
    if _PREPARED[0] != workdir:
        _PREPARED[:] = [workdir, as_main(workdir)]
        import gc

        gc.freeze()
    return _PREPARED[1]


def _sample_main(workdir: str) -> dict:
    """In a sample's process: the `__main__` globals the zygote prepared for `workdir`, else fresh ones."""
    return _PREPARED[1] if _PREPARED[0] == workdir else as_main(workdir)


def run_as_main(code, namespace: dict, extra_frames: int = 0) -> None:
    """exec() the program with the recursion headroom a script's module frame has: the runner's own
    frames below it do not count against the sample."""
    sys.setrecursionlimit(RECURSION_LIMIT + _depth() + extra_frames)
    exec(code, namespace)


RECURSION_LIMIT = sys.getrecursionlimit()  # Python's default: the runner never changes it
MAX_VALUE = 16 << 20  # bytes: a larger answer from the sample is a failure, not a memory burden on the runner
BIG_INT_BITS = 13000  # ints beyond this (about 3,900 digits) travel as hex: JSON's decimal ints stop at 4,300


class _NotPlain(Exception):
    pass


def _wire(v, depth: int = 0, _type=type, _isinstance=isinstance, _hex=hex, _str=str, _float=float, _bool=bool,
          _int=int, _list=list, _tuple=tuple, _set=set, _frozenset=frozenset, _dict=dict, _bytes=bytes,
          _complex=complex):
    """The sample's answer as a JSON-ready tree of plain values (an int subclass becomes an int with
    the same value, and so on); containers are tagged lists (["L", ...] a list, ["T", ...] a tuple,
    ["S"|"F", ...] a set or frozenset, ["D", k, v, ...] a dict, ["B", latin-1] bytes, ["C", re, im]
    a complex, ["I", hex] a big int). Runs in the sample's process, after the sample (builtins are
    bound at definition: it may have replaced them): whatever it sends is only ever data to the
    runner, which rebuilds it with _unwire."""
    t = _type(v)
    if t is _str or t is _float or t is _bool or v is None:
        return v
    if t is _int:
        return v if v.bit_length() <= BIG_INT_BITS else ["I", _hex(v)]
    if depth > 100:
        raise _NotPlain("nesting deeper than 100")
    if t is _list or t is _tuple or t is _set or t is _frozenset:
        out = [_TAGS[t]]
        for x in v:
            out.append(_wire(x, depth + 1))
        return out
    if t is _dict:
        out = ["D"]
        for k, x in v.items():
            out += (_wire(k, depth + 1), _wire(x, depth + 1))
        return out
    if t is _bytes:
        return ["B", v.decode("latin-1")]
    if t is _complex:
        return ["C", v.real, v.imag]
    for base in (_bool, _int, _float, _complex, _str, _bytes, _list, _tuple, _set, _frozenset, _dict):
        if _isinstance(v, base):
            return _wire(base(v), depth)
    raise _NotPlain(t.__name__)


_TAGS = {list: "L", tuple: "T", set: "S", frozenset: "F"}
_BUILD = {"L": list, "T": tuple, "S": set, "F": frozenset}


def _unwire(x, depth: int = 0):
    """A value the sample sent (after json.loads), rebuilt from built-in types only; ValueError or
    TypeError for anything that is not a tree _wire could have written."""
    t = type(x)
    if t is not list:
        if t is dict:
            raise ValueError("an untagged object")
        return x  # str, int, float, bool or None: what JSON has
    if depth > 110 or not x or type(x[0]) is not str:
        raise ValueError("a malformed value")
    tag = x[0]
    build = _BUILD.get(tag)
    if build is not None:
        return build(_unwire(x[i], depth + 1) for i in range(1, len(x)))
    if tag == "D":
        if len(x) % 2 != 1:
            raise ValueError("a malformed dict")
        return {_unwire(x[i], depth + 1): _unwire(x[i + 1], depth + 1) for i in range(1, len(x), 2)}
    if len(x) == 2 and type(x[1]) is str:
        if tag == "B":
            return x[1].encode("latin-1")
        if tag == "I":
            return int(x[1], 16)
    if tag == "C" and len(x) == 3 and all(type(p) in (int, float) for p in x[1:]):
        return complex(x[1], x[2])
    raise ValueError("a malformed value")


def _raised(exc: BaseException, _str=str, _type=type, _base=BaseException) -> list:
    try:
        text = _str(exc)[:300]
    except _base:
        text = ""
    return ["raise", _type(exc).__name__, text]


try:  # json's C encoder, called directly: json.dumps looks up isinstance, which a sample may replace
    from json.encoder import c_encode_basestring_ascii, c_make_encoder

    _ENCODE = c_make_encoder(None, None, c_encode_basestring_ascii, None, ":", ",", False, False, True)
except (ImportError, TypeError):  # a Python without the accelerator
    _ENCODE = None


def _encoded(msg: list, _join="".join, _enc=_ENCODE) -> bytes:
    return (_join(_enc(msg, 0)) if _enc is not None else json.dumps(msg)).encode()


def _send(fd: int, data: bytes, _write=os.write, _memoryview=memoryview, _len=len) -> None:
    view = _memoryview(_len(data).to_bytes(4, "big") + data)
    while view:
        view = view[_write(fd, view):]


def _request(fd: int, _read=os.read, _from_bytes=int.from_bytes, _len=len, _bytearray=bytearray,
             _bytes=bytes) -> bytes | None:
    """The runner's next request (its 4-byte size, then the pickle), in one read when it came in one
    write, as it nearly always does; None at the end of the channel."""
    data = _read(fd, 65536)
    if _len(data) >= 4 and _len(data) == 4 + _from_bytes(data[:4], "big"):
        return data[4:]
    buf = _bytearray(data)
    while buf and (_len(buf) < 4 or _len(buf) < 4 + _from_bytes(buf[:4], "big")):
        more = _read(fd, 1 << 20)
        if not more:
            return None
        buf += more
    return _bytes(buf[4:]) if buf else None


def _sample(code, source: str, workdir: str, req_r: int, ans_w: int) -> None:
    """The sample's process: runs the program as `__main__` (compiling it first if the runner did
    not), says whether it ran to its end, then answers the runner's calls of its names until the
    runner closes the channel. Answers are JSON (_wire), never pickles. Never returns."""
    namespace = _sample_main(workdir)
    msg: list = ["ready"]
    try:
        if code is None:
            code = compile(source, "<sample>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        msg = ["syntax", f"SyntaxError: {exc.msg} (line {exc.lineno})"]
    except (ValueError, MemoryError, RecursionError) as exc:  # NUL bytes, huge sources
        msg = ["syntax", f"{type(exc).__name__}: {exc}"[:300]]
    if msg[0] == "ready":
        try:
            run_as_main(code, namespace, 1)
        except BaseException as exc:
            msg = _raised(exc)
    _serve(namespace, msg, req_r, ans_w)


def _serve(namespace: dict, msg: list, req_r: int, ans_w: int, _base=BaseException, _name_error=NameError,
           _not_plain=_NotPlain, _loads=_pickle_loads, _request=_request, _str=str, _sys=sys,
           _depth=_depth, _exit=os._exit) -> None:
    """The sample's side of the channel, after the program ran: every name it uses is bound here, at
    definition, so a sample that replaced builtins or module attributes only changes its own answers."""
    try:
        _sys.setrecursionlimit(RECURSION_LIMIT + _depth() - 2)  # the tests' check() calls it from a script's frame
        _send(ans_w, _encoded(msg))
    except _base:
        _exit(0)
    while msg[0] == "ready":
        try:
            req = _request(req_r)
        except _base:
            req = None
        if req is None:
            break
        try:
            name, args, kwargs = _loads(req)  # from the runner: trusted
            if name not in namespace:
                raise _name_error(f"name {name!r} is not defined")
            try:
                out = ["value", _wire(namespace[name](*args, **kwargs))]
            except _not_plain as why:
                out = ["opaque", _str(why)]
        except _base as exc:
            out = _raised(exc)
        try:
            data = _encoded(out)
        except _base as exc:
            data = _encoded(_raised(exc))
        try:
            _send(ans_w, data)
        except _base:
            break
    for stream in (_sys.stdout, _sys.stderr):
        try:
            stream.flush()
        except _base:
            pass
    _exit(0)


class Opaque:
    """What the tests get for an answer that is not a plain value (a generator, an object of a class
    the sample defined): equal only to itself."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} from the sample>"


class SampleDied(BaseException):
    """The sample's process ended (or closed its channel) before it answered a call."""


class _Stop(BaseException):
    """The runner stopped the sample (wall-clock or CPU limit, output limit); args: status, error.
    A BaseException, and remembered by the Sample: test code that catches it cannot pass the sample."""


class _Failed(Exception):
    """The sample answered something the tests cannot use; the verdict is failed with this reason."""


CPU_POLL_S = 0.01
RENICE_AFTER_S = 0.05  # of the sample's CPU time (checked after as long a wait)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Sample:
    """The sample's process as the tests see it: its names can be called, with plain values in and out.

    The runner itself runs the tests: it never runs sample code, so its builtins and modules are
    pristine, and the tests are bound to them, to the prompt's own helpers, and only to the named
    entry points of the sample (`namespace()`). Every wait on the sample (for an answer, for room
    in its request pipe, for its exit) also drains its output and holds its limits: the wall-clock
    deadline, the output cap and, where one is set, the CPU-time limit scaled from the reference
    (a fraction of a second, which RLIMIT_CPU cannot express: read from /proc every 10 ms). The
    descriptors are non-blocking, so no sample can make the runner wait past its deadline."""

    def __init__(self, req_w: int, ans_r: int, out_r: int, out: _Output, deadline: float, lim: dict,
                 cpu_limit: float | None = None) -> None:
        self._pid: int | None = None  # the zygote's reply, read when first needed (_Zygote.forked)
        self.req_w, self.ans_r, self.out_r, self.out = req_w, ans_r, out_r, out
        self.deadline, self.lim, self.cpu_limit = deadline, lim, cpu_limit
        self.buf = bytearray()
        self.stop: tuple[str, str] | None = None
        self.died = False
        self.renice_at = time.monotonic() + RENICE_AFTER_S
        for fd in (req_w, ans_r, out_r):
            os.set_blocking(fd, False)

    @property
    def pid(self) -> int:
        """The sample's pid, as the zygote reported it; -1 if it could not start the process."""
        if self._pid is None:
            self._pid = ZYGOTE.forked(float(self.lim["wall_s"]))
        return self._pid

    def cpu(self) -> float:
        """The sample's CPU time so far (user + system, in clock ticks of 10 ms), from /proc."""
        return _proc_cpu(self.pid) if self.pid > 0 else 0.0

    def halt(self, status: str, error: str) -> _Stop:
        """Kill the sample and remember why (the first reason stands)."""
        if self.pid > 0:  # never kill(-1)
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        if self.stop is None:
            self.stop = (status, error)
        return _Stop(*self.stop)

    def check(self) -> None:
        """Raise again what stopped the sample, in case the test code caught it."""
        if self.stop is not None:
            raise _Stop(*self.stop)
        if self.died:
            raise SampleDied()

    def drain(self) -> None:
        """Take what the sample wrote to stdout/stderr; stop it at the output cap."""
        while self.out_r is not None:
            try:
                chunk = os.read(self.out_r, 65536)
            except BlockingIOError:
                return
            if not chunk:
                os.close(self.out_r)
                self.out_r = None
                return
            if self.out.add(chunk):
                raise self.halt("crashed", f"output limit of {self.lim['output_mb']} MB exceeded")

    def wait(self, read: int | None = None, write: int | None = None, exit_fd: int | None = None) -> bool:
        """Wait until `read` is readable, `write` writable or `exit_fd` (a pidfd) ready, draining
        output meanwhile; False once `exit_fd` is ready. Raises _Stop at a limit."""
        self.check()
        while True:
            now = time.monotonic()
            left = self.deadline - now
            if left <= 0:
                raise self.halt("timeout", f"wall time limit of {self.lim['wall_s']} s")
            if self.renice_at is not None and now >= self.renice_at:
                # a sample that has used a while of CPU (usually one that will time out) yields the CPU
                # to the short ones of the other sandboxes; its deadline stays the same. CPU time, not
                # wall time: on a loaded machine a short sample that merely waited must not starve.
                self.renice_at = now + RENICE_AFTER_S
                if self.cpu() >= RENICE_AFTER_S:
                    self.renice_at = None
                    try:
                        if self.pid > 0:
                            os.setpriority(os.PRIO_PGRP, self.pid, 19)
                    except OSError:
                        pass
            wait = left if self.renice_at is None else min(left, max(self.renice_at - now, 0.001))
            if self.cpu_limit is not None:
                wait = min(wait, CPU_POLL_S)
            rfds = [fd for fd in (read, self.out_r, exit_fd) if fd is not None]
            ready_r, ready_w, _ = select.select(rfds, [write] if write is not None else [], [], wait)
            if self.out_r is not None and self.out_r in ready_r:
                self.drain()
            if (read is not None and read in ready_r) or ready_w:
                return True
            if exit_fd is not None and exit_fd in ready_r:
                return False
            if self.cpu_limit is not None and self.cpu() > self.cpu_limit:
                raise self.halt("timeout", f"CPU time limit of {self.cpu_limit:.3g} s (scaled from the reference)")

    def receive(self) -> list:
        """The sample's next message, as built-in values (json, then _unwire)."""
        while True:
            if len(self.buf) >= 4:
                size = int.from_bytes(self.buf[:4], "big")
                if size > MAX_VALUE:
                    raise _Failed(f"the sample's answer exceeds {MAX_VALUE >> 20} MB")
                if len(self.buf) >= 4 + size:
                    data = bytes(self.buf[4:4 + size])
                    del self.buf[:4 + size]
                    break
            self.wait(read=self.ans_r)
            try:
                chunk = os.read(self.ans_r, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                self.died = True
                raise SampleDied()
            self.buf += chunk
        try:
            msg = json.loads(data.decode())  # str: json.loads(bytes) first works out the encoding
            if type(msg) is not list or not msg or msg[0] not in ("ready", "value", "opaque", "raise", "syntax"):
                raise ValueError("not a message")
            if msg[0] == "value":
                return ["value", _unwire(msg[1])] if len(msg) == 2 else _bad()
            if not all(type(p) is str for p in msg):
                raise ValueError("not a message")
            return msg
        except (ValueError, TypeError, IndexError, RecursionError, MemoryError) as exc:
            raise _Failed(f"the sample's answer could not be read ({type(exc).__name__})") from None

    def call(self, name: str, args: tuple, kwargs: dict):
        self.check()
        try:
            data = _pickle_dumps((name, args, kwargs), 4)
        except Exception as exc:
            raise TypeError(f"the tests' arguments cannot be passed to the sample: {exc}") from None
        view = memoryview(len(data).to_bytes(4, "big") + data)
        while view:
            try:
                view = view[os.write(self.req_w, view):]
                continue
            except BlockingIOError:
                pass
            except OSError:
                self.died = True
                raise SampleDied() from None
            self.wait(write=self.req_w)
        msg = self.receive()
        if msg[0] == "value":
            return msg[1]
        if msg[0] == "opaque":
            return Opaque(str(msg[1]))
        raise _exception(msg)

    def function(self, name: str):
        sample = self

        def call(*args, **kwargs):
            return sample.call(name, args, kwargs)

        call.__name__ = call.__qualname__ = name
        return call

    def namespace(self, prompt, names: list[str], entry_point: str | None) -> dict:
        """Globals for trusted test code: the builtins module and modules of this (pristine)
        process, the prompt's helpers, and the sample's `names` as calls into its process. The entry
        point always comes from the sample; other names only where the prompt does not define them
        and no module of that name exists (tests that rely on the sample's `import math`)."""
        ns: dict = {"__name__": "__main__", "__builtins__": builtins}
        if prompt is not None:
            exec(prompt, ns)
        for name in names:
            if name != entry_point and name in ns:
                continue
            if name != entry_point and name in sys.modules:
                ns[name] = sys.modules[name]
                continue
            ns[name] = self.function(name)
        return ns

    def end(self, patience: float) -> tuple[bool, int, float]:
        """Close the channel, give the sample up to `patience` seconds (never past its deadline) to
        flush its output and exit, kill it, reap it: (whether it exited by itself, wait status, CPU
        seconds)."""
        try:
            os.close(self.req_w)
        except OSError:
            pass
        until = min(self.deadline, time.monotonic() + patience)
        pid = self.pid
        if pid < 0:  # the zygote could not start it: nothing ran, nothing to kill
            exited, wstatus, cpu = False, 0, 0.0
        else:
            # The zygote reports the exit (after it cleaned up after the sample): one wake-up for the
            # runner, where a pidfd and then the zygote's report would be two.
            exited, report = False, None
            try:
                while ZYGOTE.sock is not None:
                    left = until - time.monotonic()
                    if left <= 0:
                        break
                    rfds = [x for x in (self.out_r, ZYGOTE.sock) if x is not None]
                    ready = select.select(rfds, [], [], left)[0]
                    if self.out_r is not None and self.out_r in ready:
                        self.drain()
                    if ZYGOTE.sock in ready:
                        report = ZYGOTE.ended(pid)
                        exited = report is not None
                        break
            except _Stop:
                pass
            if report is None:  # not ended in time (or the zygote broke): kill it, then hear the zygote
                guess = self.cpu()  # what the zygote reports instead, unless a sample has taken it down
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                report = ZYGOTE.result(pid, guess)
            wstatus, cpu = report
        try:
            self.drain()  # what it wrote before it exited (a process it left may write on: not waited for)
        except _Stop:
            pass
        for fd_ in (self.ans_r, self.out_r):
            if fd_ is not None:
                os.close(fd_)
        self.out_r = None
        return exited, wstatus, cpu


def _bad():
    raise ValueError("a malformed value message")


def _exception(msg: list) -> BaseException:
    """The exception the sample raised, rebuilt as the built-in class of that name (else Exception)."""
    name, text = str(msg[1]), str(msg[2]) if len(msg) > 2 else ""
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        return cls(text) if cls is not SystemExit else SystemExit(text or None)
    return Exception(f"{name}: {text}")


def _death(wstatus: int, cpu: float, lim: dict) -> dict:
    """The status of a sample's process that ended before it answered."""
    if os.WIFSIGNALED(wstatus):
        sig = os.WTERMSIG(wstatus)
        status = {signal.SIGXCPU: "timeout", signal.SIGKILL: "memory"}.get(sig, "crashed")
        if sig == signal.SIGKILL and cpu >= int(lim["cpu_s"]) - 0.05:
            status = "timeout"
        error = f"killed by signal {signal.Signals(sig).name}"
        if status == "timeout":
            error = f"CPU time limit of {int(lim['cpu_s'])} s"
        return {"status": status, "error": error}
    code = os.WEXITSTATUS(wstatus) if os.WIFEXITED(wstatus) else -1
    return {"status": "failed" if code == 0 else "crashed",
            "error": f"exited with status {code} before the tests finished"}


def _oom_first(score: bytes) -> None:
    """Prefer killing samples over the runner when memory runs out (os-level calls: fewer pages
    copied after fork)."""
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        os.write(fd, score)
        os.close(fd)
    except OSError:
        pass


# The runner's own signal dispositions while it runs tests (main() sets them; a sample's process gets
# python3's back): SIGINT ignored, so a sample cannot interrupt the tests; SIGALRM the backstop for
# trusted test code that runs past the sample's deadline between two calls of the sample.
_ALARM: list = [None]  # the Sample whose deadline the timer guards
_SIGNALS_SET = [False]


def _on_alarm(signum, frame) -> None:
    sample = _ALARM[0]
    if sample is not None and time.monotonic() >= sample.deadline:  # a sample's own SIGALRM does nothing
        _ALARM[0] = None
        raise sample.halt("timeout", f"wall time limit of {sample.lim['wall_s']} s")


# Signals the runner inherited as ignored, besides the two CPython itself ignores at start-up (a shell
# starts background jobs with SIGINT and SIGQUIT ignored, and a sandbox launched from one inherits them):
# a sample gets them back at their defaults, as `python3 program.py` typed at a shell has them.
_INHERITED_IGNORED = [s for s in signal.valid_signals()
                      if s not in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGKILL, signal.SIGSTOP)
                      and signal.getsignal(s) == signal.SIG_IGN]


def _runner_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _on_alarm)
    _SIGNALS_SET[0] = True


def _python_signals() -> None:
    """In a sample's process: the dispositions python3 starts with. It is the zygote's child, and the
    zygote, a fresh interpreter, changes none (it blocks what it must survive: _zygote_child unblocks),
    so only what the runner inherited as ignored needs its default back."""
    for s in _INHERITED_IGNORED:
        signal.signal(s, signal.SIG_DFL)
    if signal.SIGINT in _INHERITED_IGNORED:
        signal.signal(signal.SIGINT, signal.default_int_handler)


class _Guard:
    """Around trusted test code: its prints go to the sample's output tail (the runner's stdout is the
    channel to the host), and the alarm stops it at the sample's deadline."""

    def __init__(self, sample: Sample) -> None:
        self.sample = sample

    def write(self, text: str) -> int:
        self.sample.out.add(str(text).encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        pass

    def __enter__(self) -> _Guard:
        self.saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self
        if _SIGNALS_SET[0]:
            _ALARM[0] = self.sample
            signal.setitimer(signal.ITIMER_REAL, max(self.sample.deadline - time.monotonic(), 0.001) + 0.01)
        return self

    def __exit__(self, *exc) -> None:
        if _SIGNALS_SET[0]:
            _ALARM[0] = None
            signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = self.saved


def _start_sample(task: dict, lim: dict, workdir: str, code, out: _Output, deadline: float) -> Sample:
    """Start the sample's process from the zygote (which never held a test, so the child starts from a
    pristine interpreter with nothing to read the tests from). If it could not (the process limit
    stayed exhausted), its pid is -1 and its channel ends at once."""
    out_r, out_w = os.pipe()
    req_r, req_w = os.pipe()
    ans_r, ans_w = os.pipe()
    ZYGOTE.request({"kind": "asserts", "workdir": workdir, "wall": float(lim["wall_s"])}, code, task["code"],
                   (out_w, req_r, ans_w), lim)
    for fd in (out_w, req_r, ans_w):
        os.close(fd)
    limit = task.get("cpu_limit_s")
    return Sample(req_w, ans_r, out_r, out, deadline, lim, float(limit) if limit else None)


def run_asserts(task: dict, lim: dict, n: int, code=None) -> dict:
    """An asserts-style sample: one forked process runs the program, and the runner runs the tests
    against it (Sample), so each sample costs one fork and the tests stay out of its reach."""
    start = time.monotonic()
    workdir = _workdir(lim)
    os.makedirs(workdir, exist_ok=True)
    out = _Output(int(lim["tail_bytes"]), int(lim["output_mb"]) << 20, keep_head=False)
    counter, total = [0], 1
    try:  # trusted test code first, so its size is known on failure
        tests, total, names = compile_tests(task["tests"], task["entry_point"])
    except SyntaxError as exc:
        return {"status": "syntax_error", "error": f"SyntaxError in the tests: {exc.msg} (line {exc.lineno})",
                "tests_passed": 0, "tests_total": total, "duration": 0.0, "tail": "", "pgid": None, "cpu_s": 0.0}
    prompt = compile_prompt(task.get("prompt"))
    ext = task.get("extended")
    if ext:
        extended_cases(ext)  # trusted literals, parsed once per distinct set
    sample = _start_sample(task, lim, workdir, code, out, start + float(lim["wall_s"]))
    status: dict = {}
    stage = "base"
    try:
        first = sample.receive()
        if first[0] == "syntax":
            status = {"status": "syntax_error", "error": first[1] if len(first) > 1 else "SyntaxError"}
        elif first[0] != "ready":
            raise _exception(first)
        else:
            env = sample.namespace(prompt, names, task["entry_point"])
            env["__ttscale_eq__"] = _strict_eq
            env["__ttscale_count__"] = counter
            with _Guard(sample):
                exec(tests, env)
            sample.check()
            status = {"status": "passed", "tests_passed": counter[0], "tests_total": max(total, counter[0])}
            if ext:  # the base verdict stands; a sample that then hangs or dies fails the extended tests
                stage = "extended"
                if sample.cpu_limit is not None:  # a reference-scaled limit: the same budget again
                    sample.cpu_limit += sample.cpu()
                with _Guard(sample):
                    found = _run_extended(env.get(task["entry_point"]), ext, "")
                sample.check()
                status.update({k: found[k] for k in ("extended", "ext_index", "ext_error") if k in found})
    except BaseException as raised:
        exc = raised
        if sample.stop is not None:
            exc = _Stop(*sample.stop)  # test code caught the stop and failed on something else
        elif sample.died:
            exc = SampleDied()
        if stage == "extended":
            why = exc.args[0] if isinstance(exc, _Stop) else "its process ended" if isinstance(exc, SampleDied) \
                else f"{type(exc).__name__}"
            status.update(extended="failed", ext_error=f"stopped during the extended tests ({why})")
        elif isinstance(exc, _Stop):
            status = {"status": exc.args[0], "error": exc.args[1]}
        elif isinstance(exc, SampleDied):
            status = {"status": "died"}
        elif isinstance(exc, _Failed):
            status = {"status": "failed", "error": str(exc)}
        elif isinstance(exc, MemoryError):
            status = {"status": "memory", "error": "MemoryError"}
        elif isinstance(exc, RecursionError):
            status = {"status": "failed", "error": "RecursionError: maximum recursion depth exceeded"}
        elif isinstance(exc, SystemExit):
            status = {"status": "failed", "error": f"SystemExit({exc.code!r}) before the tests finished"}
        else:
            try:
                text = f"{type(exc).__name__}: {exc}"[:300]
            except BaseException:
                text = type(exc).__name__
            status = {"status": "failed", "error": text}
    died = status.get("status") == "died"
    exited, wstatus, cpu = sample.end(float("inf") if died else 0.2)
    if sample.pid < 0:
        status = {"status": "sandbox_error",
                  "error": "could not start a process for this sample (the sandbox's process limit)"}
    elif died:
        status = _death(wstatus, cpu, lim) if exited else \
            {"status": "timeout", "error": f"wall time limit of {lim['wall_s']} s"}
    if status["status"] != "passed":
        status["tests_passed"], status["tests_total"] = counter[0], total
    return {**status, "duration": time.monotonic() - start, "tail": out.tail.decode("utf-8", "replace"),
            "pgid": sample.pid if sample.pid > 0 else None, "cpu_s": round(cpu, 4)}


def _child(task: dict, lim: dict, workdir: str, out_w: int, rep_w: int, nonce: str, stdin_path: str | None,
           code=None) -> None:
    """Runs in the forked child of a stdin/stdout program, as `__main__`; never returns."""
    status = {"status": "crashed"}
    try:
        os.setsid()
        _python_signals()
        os.chdir(workdir)
        fd_in = os.open(stdin_path or "/dev/null", os.O_RDONLY)
        os.dup2(fd_in, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        _set_limits(lim.get("rlimits") or rlimits(lim))
        if code is None:
            code = compile(task["code"], "<sample>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        _report(rep_w, {"status": "syntax_error", "error": f"SyntaxError: {exc.msg} (line {exc.lineno})"})
    except (ValueError, MemoryError, RecursionError) as exc:  # NUL bytes, huge sources
        _report(rep_w, {"status": "syntax_error", "error": f"{type(exc).__name__}: {exc}"[:300]})
    try:
        run_as_main(code, _sample_main(workdir))
        sys.stdout.flush()
        status = {"status": "passed", "marker": nonce}
    except MemoryError:
        status = {"status": "memory", "error": "MemoryError"}
    except RecursionError:
        status = {"status": "failed", "error": "RecursionError: maximum recursion depth exceeded"}
    except SystemExit as exc:
        code_ = exc.code
        if code_ is None or code_ == 0:
            status = {"status": "passed", "marker": nonce}
        else:
            status = {"status": "failed", "error": f"SystemExit({code_!r}) before the tests finished"}
    except BaseException as exc:
        status = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:300]}
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


def _kill_all(pgid: int | None = None, sandbox: bool = IN_SANDBOX) -> None:
    """Kill every process we may signal except ourselves (in the sandbox: PID 1, the runner, cannot
    be killed from inside its namespace), else the sample's process group; then reap all children
    (the zygote's: it is their subreaper)."""
    try:
        if sandbox:
            os.kill(-1, signal.SIGKILL)
        elif pgid and pgid > 0:  # never killpg(-1), which is kill(1)
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


def _fork(patience: float, sandbox: bool) -> int:
    """The zygote's os.fork(), retrying while the process limit is exhausted (a previous sample's fork
    bomb is still being reaped: killed again each time, `sandbox` as for _kill_all); -1 if it stays
    exhausted."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return os.fork()
        except BlockingIOError:
            _kill_all(None, sandbox)
            if time.monotonic() > deadline:
                return -1
            time.sleep(0.05)


# --- the zygote: where the samples' processes come from -------------------------------------------
#
# A sample's process must hold nothing it could read the tests from. Forked from the runner it would
# hold a copy of the runner's memory: this task's tests and earlier tasks' tests and samples, in live
# objects and in freed memory alike (a sample that scans its own memory with ctypes finds them). So
# the runner forks no sample: it starts the zygote once, a fresh interpreter (fork, then exec) that
# never receives a test; per sample the runner sends it the program (in a memfd) and the sample's
# pipes over a socket, and the zygote forks the sample's process and reports its pid, then its wait
# status and CPU time. The zygote is a child subreaper, so what a sample leaves behind is the
# zygote's to kill and reap (`clean`). A sample can kill or stop the zygote (same uid): the runner
# then kills it, kills and reaps what is left (it is PID 1 of the sandbox) and starts another.

ZYGOTE_FLAG = "--ttscale-zygote"
ZYGOTE_PATIENCE_S = 2.0  # the longest the runner waits for a reply before it replaces the zygote
_ZYGOTE_BLOCKED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                   signal.SIGALRM, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
_ZYGOTE_MASK: list = [set()]  # the signal mask the zygote started with: its samples' processes get it back


def _proc_cpu(pid: int) -> float:
    """A process's CPU time so far (user + system, in clock ticks of 10 ms), from /proc; 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def _program(*parts) -> tuple[int, int]:
    """A descriptor holding `parts` marshalled, and their size: for a sample's process, how to start it
    (the request's head), the code object the runner compiled (None where the child compiles it) and
    the source; for the zygote, this program's code."""
    data = marshal.dumps(parts)
    try:
        fd = os.memfd_create("program", 0)
    except (AttributeError, OSError):  # no memfd (an old kernel, a system-call filter): a file unlinked at once
        path = os.path.join("/dev/shm" if os.path.isdir("/dev/shm") else "/tmp",
                            f".program-{os.getpid()}-{time.monotonic_ns()}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.unlink(path)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return fd, len(data)


# How the zygote starts: a bare `python3 -c _BOOT` that runs this program from its marshalled code (a
# descriptor, the last argument) rather than compiling its source. Compiling 1,700 lines in the zygote
# left about 6 MB of memory it never gave back (12 MB of anonymous memory against 6.5 MB): every fork
# copies the page tables of that memory and every sample's exit tears them down, which is most of
# what a sample costs the kernel.
_BOOT = """import marshal, os, sys
fd = int(sys.argv[-1])
code, _ = marshal.loads(os.pread(fd, os.fstat(fd).st_size, 0))
os.close(fd)
del fd
exec(code)
"""


_OWN_CODE: list = []  # (the interpreter's options, this program's code), worked out once


def _zygote_command() -> tuple[list[str], int]:
    """How to start the zygote: a fresh interpreter with this one's options running _BOOT, and a
    descriptor holding this program's code (compiled once) for its last argument. This one was
    started as `python3 [options] -c SOURCE` (the sandboxes), as a script, or imported (tests)."""
    if not _OWN_CODE:
        options: list[str] = []
        if __name__ != "__main__":
            path = __file__
        else:
            head = len(sys.orig_argv) - len(sys.argv)  # where SOURCE (after -c) or the script is
            path = None if sys.argv[0] == "-c" else sys.argv[0]
            options = sys.orig_argv[1:head - (1 if path is None else 0)]
        if path is None:
            source = sys.orig_argv[head]
        else:
            with open(path, encoding="utf-8") as fh:
                source = fh.read()
        _OWN_CODE.extend((options, compile(source, "<runner>", "exec", dont_inherit=True)))
    try:  # the interpreter itself: sys.executable is empty where PATH is not set (the sandboxes clear it)
        exe = os.readlink("/proc/self/exe")
    except OSError:
        exe = sys.executable or "/usr/bin/python3"
    return [exe, *_OWN_CODE[0], "-c", _BOOT], _program(_OWN_CODE[1], "")[0]


class _Zygote:
    """The runner's end of the zygote (started at the first sample, replaced when a sample breaks it)."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.pid = 0
        self.send_fds = None  # socket.send_fds, set by start(): the socket module stays out of the zygote
        self.cleaned: int | None = None  # the last sample whose leftovers the zygote killed with its result

    def start(self) -> None:
        import socket

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv, code = _zygote_command()
        # LD_BIND_NOW: the dynamic linker resolves every symbol when the zygote starts, not in each sample's
        # process at its first call of each function (about 14 fewer pages written per sample); the
        # zygote takes it out of its environment again (_zygote_main), so samples never see it.
        env, bind_now = os.environ, "LD_BIND_NOW" not in os.environ
        if bind_now:
            env = {**env, "LD_BIND_NOW": "1"}
        argv += [ZYGOTE_FLAG, str(theirs.fileno()), "1" if IN_SANDBOX else "0", "1" if bind_now else "0", str(code)]
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                os.set_inheritable(theirs.fileno(), True)
                os.set_inheritable(code, True)
                if signal.SIGINT not in _INHERITED_IGNORED:  # exec keeps an ignored signal ignored
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(70)
        theirs.close()
        os.close(code)
        self.sock, self.pid, self.send_fds = ours, pid, socket.send_fds

    def replace(self, pgid: int | None) -> None:
        """Kill the zygote, then everything it left (the runner is their parent now), and reap all."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        _kill_all(pgid)

    def _ask(self, message: bytes, fds=(), wait: float = ZYGOTE_PATIENCE_S) -> dict | None:
        if self.sock is None:
            self.start()
        try:
            self.send_fds(self.sock, [message], list(fds))
        except OSError:
            return None
        return self._reply(wait)

    def _reply(self, wait: float) -> dict | None:
        if self.sock is None:
            return None
        try:
            self.sock.settimeout(wait)
            data = self.sock.recv(65536)
            return json.loads(data) if data else None
        except (OSError, ValueError):
            return None

    def fork(self, head: dict, code, source: str, fds: tuple[int, ...], lim: dict) -> int:
        """The pid of a new sample process running `code` (or `source`) with `fds`; -1 if none could start."""
        self.request(head, code, source, fds, lim)
        return self.forked(float(head["wall"]))

    def request(self, head: dict, code, source: str, fds: tuple[int, ...], lim: dict) -> None:
        """Ask for a new sample process running `code` (or `source`) with `fds`, without waiting for the
        reply: the runner reads the pid when it first needs it (`forked`), the sample meanwhile starting.
        The head travels with the program, in the descriptor the sample's process reads: the zygote
        parses only "F<wall> <size> <workdir>" (_zygote_main)."""
        head = {**head, "rlimits": lim.get("rlimits") or rlimits(lim)}
        program, size = _program(head, code, source if code is None else "")  # the source: for compiling
        message = b"F%r %d %s" % (float(head["wall"]), size, head["workdir"].encode())
        try:
            for _ in range(2):  # a zygote a sample broke is replaced once
                if self.sock is None:
                    self.start()
                try:
                    self.send_fds(self.sock, [message], [program, *fds])
                    return
                except OSError:
                    self.replace(None)
        finally:
            os.close(program)

    def forked(self, wall: float) -> int:
        """The pid of the process `request` asked for; -1 if none could start."""
        reply = self._reply(wall + ZYGOTE_PATIENCE_S)
        if reply is None or "pid" not in reply:
            self.replace(None)
            return -1
        return int(reply["pid"])

    def ended(self, pid: int, wait: float = ZYGOTE_PATIENCE_S) -> tuple[int, float] | None:
        """The zygote's report that `pid` ended (it has cleaned up after it): (wait status, CPU
        seconds), or None if what came is not that report."""
        reply = self._reply(wait)
        if reply is not None and reply.get("pid") == pid and "wstatus" in reply:
            self.cleaned = pid
            return int(reply["wstatus"]), float(reply["cpu"])
        return None

    def result(self, pid: int, guess: float) -> tuple[int, float]:
        """The ended sample's wait status and CPU seconds (after the runner killed it)."""
        report = self.ended(pid, ZYGOTE_PATIENCE_S + 2.0)  # it cleans up after the sample first
        if report is not None:
            return report
        self.replace(pid)  # it stopped answering: a sample killed or stopped it
        self.cleaned = pid
        return signal.SIGKILL, guess

    def stop(self) -> None:
        """Close the socket, so the zygote ends, and reap it (its CPU time and its samples' count in ours)."""
        if self.sock is None:
            return
        self.sock.close()
        self.sock = None
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass

    def clean(self, pgid: int | None) -> None:
        """Kill and reap whatever the last sample left running (done already when its result came)."""
        if pgid is not None and pgid == self.cleaned:
            return
        if self.sock is None or self._ask(b"C%d" % (pgid or 0), wait=ZYGOTE_PATIENCE_S + 2.0) is None:
            self.replace(pgid)


ZYGOTE = _Zygote()


def _zygote_child(size: int, fds: list[int]) -> None:
    """The sample's process, fresh from the zygote; never returns. It reads its head and program from
    the first descriptor (`size` bytes, _program) and unblocks the signals the zygote holds back."""
    program, *pipes = fds
    try:
        head, code, source = marshal.loads(os.pread(program, size, 0))
        os.close(program)
        # the C function: signal.pthread_sigmask turns the mask it returns into Signals members, and
        # that enum machinery writes to (so copies, in this process) about 25 pages
        _signal.pthread_sigmask(signal.SIG_SETMASK, _ZYGOTE_MASK[0])
    except BaseException:
        os._exit(70)
    lim = {"rlimits": [tuple(p) for p in head["rlimits"]]}
    if head["kind"] == "stdio":
        out_w, rep_w = pipes
        _child({"code": source}, lim, head["workdir"], out_w, rep_w, head["nonce"], head.get("stdin_path"), code)
        os._exit(0)
    out_w, req_r, ans_w = pipes
    try:  # stdin is the zygote's: /dev/null
        os.setsid()
        _python_signals()
        os.chdir(head["workdir"])
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
        _set_limits(lim["rlimits"])
    except BaseException:
        os._exit(70)
    _sample(code, source, head["workdir"], req_r, ans_w)


def _zygote_main(fd: int, sandbox: bool) -> None:
    """The zygote: fork a sample's process per request, report its pid and, once it ends, its wait status
    and CPU time; kill and reap what samples leave on `clean`. Ends when the runner closes the socket.
    Every page it writes between two forks costs a fault, and one written while a sample runs a copy,
    so it parses nothing but "F<wall> <size> <workdir>" and "C<pgid>", and answers with bytes formatted
    by hand."""
    _harden()
    null = os.open("/dev/null", os.O_RDWR)  # not the runner's channel to the host: a sample must not reach it
    for std in (0, 1, 2):
        os.dup2(null, std)
    os.close(null)
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: go with the runner
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: what a sample leaves is ours to reap
    _oom_first(b"1000")  # inherited by every sample's process: the runner is not what runs out of memory
    # Held back rather than ignored: a sample's process then has python3's dispositions as they are, and
    # one call gives it python3's mask back (_zygote_child).
    _ZYGOTE_MASK[0] = signal.pthread_sigmask(signal.SIG_BLOCK, _ZYGOTE_BLOCKED)
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    import gc

    gc.freeze()  # a sample's collections leave what it inherited alone: no page copied for their headers
    sock = _socket.socket(fileno=fd)
    space = _socket.CMSG_SPACE(8 * 4)  # up to 8 descriptors
    while True:
        try:
            data, ancillary, _, _ = sock.recvmsg(256, space)
        except OSError:
            return
        fds = [x for level, kind, payload in ancillary if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
               for x in memoryview(payload)[: len(payload) & ~3].cast("i").tolist()]
        if not data:
            return
        if data[:1] == b"C":  # clean up after the sample whose process group is the number
            for x in fds:
                os.close(x)
            _kill_all(int(data[1:]) or None, sandbox)
            sock.send(b'{"ok": true}')
            continue
        wall, size, workdir = data[1:].split(b" ", 2)  # "F<wall> <size> <workdir>"; the rest of the
        prepared_main(workdir.decode())  # head is the sample process's to read (_zygote_child)
        pid = _fork(float(wall), sandbox)
        if pid == 0:
            sock.close()
            _zygote_child(int(size), fds)
        for x in fds:
            os.close(x)
        sock.send(b'{"pid": %d}' % pid)
        if pid < 0:
            continue
        try:
            _, wstatus, usage = os.wait4(pid, 0)
            cpu = usage.ru_utime + usage.ru_stime
        except ChildProcessError:
            wstatus, cpu = 0, 0.0
        _kill_all(pid, sandbox)  # what the sample left, before the runner hears it ended: no extra round trip
        sock.send(b'{"pid": %d, "wstatus": %d, "cpu": %r}' % (pid, wstatus, cpu))


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
    """Whether the sample's process has exited (the zygote's child: its /proc entry is gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when the child exits, or None where the kernel (or the
    sandbox's system-call filter) has none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def run_one(task: dict, lim: dict, n: int, stdin_data: str | None = None, code=None) -> dict:
    """Execute one stdin/stdout program on one input in a fresh child; returns its status (without the
    per-run bookkeeping)."""
    nonce = os.urandom(16).hex()
    workdir = _workdir(lim)
    os.makedirs(workdir, exist_ok=True)
    stdin_path = None
    if stdin_data is not None:
        stdin_path = os.path.join(workdir, ".stdin")
        with open(stdin_path, "w") as fh:
            fh.write(stdin_data)
    out = _Output(int(lim["tail_bytes"]), int(lim["output_mb"]) << 20, keep_head=stdin_data is not None)
    report = bytearray()
    wall, renice_after = float(lim["wall_s"]), float(lim.get("renice_after_s", 0.05))
    first_wait = max(0.0, min(wall, renice_after))
    reason = None
    out_r, out_w = os.pipe()
    rep_r, rep_w = os.pipe()
    pid = ZYGOTE.fork({"kind": "stdio", "workdir": workdir, "wall": wall, "nonce": nonce, "stdin_path": stdin_path},
                      code, task["code"], (out_w, rep_w), lim)
    if pid < 0:
        for fd in (out_r, out_w, rep_r, rep_w):
            os.close(fd)
        return {"status": "sandbox_error", "duration": 0.0, "tail": "", "stdout": "", "pgid": None,
                "error": "could not start a process for this sample (the sandbox's process limit)"}
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
    guess = _proc_cpu(pid)
    if reason:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    wstatus, cpu = ZYGOTE.result(pid, guess)
    duration = time.monotonic() - start
    for fd in (out_r, rep_r, pidfd):
        try:
            if fd is not None:
                os.close(fd)
        except OSError:
            pass
    result = {"duration": duration, "tail": out.tail.decode("utf-8", "replace"),
              "stdout": out.head.decode("utf-8", "replace"), "pgid": pid, "cpu_s": round(cpu, 4)}
    result.update(decide_status(reason, wstatus, cpu, bytes(report), nonce, lim))
    return result


def decide_status(reason: str | None, wstatus: int, cpu: float, report: bytes, nonce: str, lim: dict) -> dict:
    """A finished stdin/stdout run's `status` (and `error`, `tests_passed`, `tests_total`), from what the
    runner saw.

    `reason` is why the runner killed the child ("timeout", "output", or None), `wstatus` its wait
    status, `cpu` the CPU seconds it used, `report` what it wrote on its report pipe (JSON, which must
    carry `nonce` to count as passed). Pure: tested for every status and signal without running
    anything. (Asserts-style samples are judged by the runner's own run of the tests: run_asserts.)
    """
    parsed = None
    if report:
        try:
            parsed = json.loads(report.decode("utf-8", "replace").splitlines()[0])
        except (ValueError, IndexError):
            parsed = None
        parsed = parsed if isinstance(parsed, dict) else None
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


def _stdio_extended(task: dict, lim: dict, n: int, code, start: float) -> dict:
    """The extended stdin inputs of a stdin/stdout sample that passed its base cases, one process each
    (as its base cases run), within the sample's total time limit."""
    ext = task["extended"]
    for i, (stdin, want) in enumerate(zip(ext["inputs"], ext["outputs"], strict=True)):
        slot = n * 100000 + 50000 + i
        r = run_one(task, lim, slot, stdin_data=stdin, code=code)
        ZYGOTE.clean(r.pop("pgid"))
        _wipe(_workdir(lim))
        if r["status"] != "passed":
            return {"extended": "failed", "ext_index": i, "ext_error": r["status"]}
        if not _tokens_equal(r.get("stdout", ""), want):
            return {"extended": "failed", "ext_index": i, "ext_error": "wrong output"}
        if time.monotonic() - start > float(lim["task_wall_s"]):
            return {"extended": "failed", "ext_index": i, "ext_error": "total time limit over all tests"}
    return {"extended": "passed", "ext_index": len(ext["inputs"])}


def run_task(task: dict, lim: dict, n: int) -> dict:
    start = time.monotonic()
    code = precompiled(task["code"])  # once for all of a stdin/stdout sample's test cases
    if task["kind"] == "stdio":
        cases = json.loads(task["tests"])
        passed, out, cpu = 0, None, 0.0
        for i, case in enumerate(cases):
            r = run_one(task, lim, n * 100000 + i, stdin_data=case["input"], code=code)
            cpu += r.get("cpu_s", 0.0)
            ZYGOTE.clean(r.pop("pgid"))
            _wipe(_workdir(lim))
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
            if task.get("extended"):
                out.update(_stdio_extended(task, lim, n, code, start))
        out["tests_passed"], out["tests_total"], out["cpu_s"] = passed, len(cases), round(cpu, 4)
    else:
        out = run_asserts(task, lim, n, code=code)
        ZYGOTE.clean(out.pop("pgid"))
        _wipe(_workdir(lim))
        out.setdefault("tests_passed", out.get("tests_passed", 0) if out["status"] == "passed" else 0)
        out.setdefault("tests_total", 1)
    out["duration"] = time.monotonic() - start
    out.pop("stdout", None)
    out.pop("pgid", None)
    out["id"] = task["id"]
    return out


def _prctl(option: int, arg: int) -> None:
    """prctl(2) through the primitives of the _ctypes module, which the ctypes package is built on: the
    package would add a quarter of a megabyte to the zygote, copied (its page-table entries) by every
    sample's fork. The package where the primitives are missing; nothing where neither is there."""
    try:
        import _ctypes

        _ctypes.call_function(_ctypes.dlsym(_ctypes.dlopen(None), "prctl"), (option, arg, 0, 0, 0))
        return
    except (ImportError, AttributeError, TypeError, OSError):
        pass
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, arg, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _harden() -> None:
    """Make the runner non-dumpable, so samples cannot open its /proc entries (its stdin pipe, memory,
    environment) even though they run under the same uid."""
    _prctl(4, 0)  # PR_SET_DUMPABLE


def _pin(cpu: int | None) -> None:
    """Keep the runner, the zygote and every sample on one CPU (the host's choice, `cpu` in the limits),
    where the sandbox may use it. One sandbox runs one thing at a time (runner, zygote and sample hand
    over to each other), so one CPU loses it nothing, and each hand-over stays on a warm CPU instead of
    waking another: about a tenth less CPU per sample (docs/verification.md). A sample may widen its
    own affinity again within what the sandbox allows; that costs only its own speed."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return
    try:
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu if cpu in allowed else allowed[int(cpu) % len(allowed)]})
    except (OSError, ValueError, TypeError):
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
    if ZYGOTE_FLAG in sys.argv:
        at = sys.argv.index(ZYGOTE_FLAG)
        if sys.argv[at + 3] == "1":  # added by the runner (_Zygote.start): not part of the samples' environment
            del os.environ["LD_BIND_NOW"]
        _zygote_main(int(sys.argv[at + 1]), sys.argv[at + 2] == "1")
        return
    _harden()
    _runner_signals()
    why = refusal()
    if why:
        os.write(1, (json.dumps({"fatal": why}) + "\n").encode())
        while os.read(0, 1 << 16):  # until the host closes our input: it must not see a broken pipe first
            pass
        return
    lines = _Lines(0)
    first = lines.next()
    if first is None:
        return
    lim = json.loads(first)
    lim["rlimits"] = rlimits(lim)
    _pin(lim.get("cpu"))
    ZYGOTE.start()  # while the first tasks are on their way
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
        task = json.loads(line.decode())
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
    ZYGOTE.stop()


if __name__ == "__main__":
    main()
