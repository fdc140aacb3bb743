"""The package's import graph points one way: no circles, and no stage imports a later stage.

Parsed from the source (every `import`, also inside functions), so a lazy import cannot hide an
edge. Layers, lowest first: the base modules, then the stages in pipeline order, then the entry
points and orchestrators above them (which may import anything below).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "ttscale"
STAGES = ("problems", "generate", "search", "verify", "score", "aggregate", "analysis", "report")
# sit between two stages: identities need the problems' loaders and nothing of a later stage
BETWEEN = {"keys": "problems"}
# entry points and orchestrators: the planner, the routing of blocks, the Snakemake adapter, the
# warm worker, the CLI and its subcommands, the importers of outside results, the testing helpers,
# the compute ledger (it reads every stage's outputs and the plan)
TOP = {"plan", "route", "snake", "warm", "cli", "importers", "testing", "ledger"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PKG.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The package modules `name` imports (a `from pkg import sub` of a submodule counts as sub)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    is_pkg = MODULES[name].name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            if t.startswith("ttscale") and t != name:
                out.add(t)
    return out


GRAPH = {m: imports(m) for m in MODULES}


def layer(name: str) -> tuple[int, str]:
    """(rank, layer name): base 0, stages 1.., top last; a `cli` module is an entry point (top)."""
    parts = name.split(".")
    head = parts[1] if len(parts) > 1 else ""
    if parts[-1].endswith("cli") or head in TOP:
        return 100, "top"
    if head in BETWEEN:
        return 2 * STAGES.index(BETWEEN[head]) + 2, head
    if head in STAGES:
        return 2 * STAGES.index(head) + 1, head
    return 0, "base"


def test_the_graph_sees_lazy_and_package_imports():
    """The parser finds what the test relies on (a broken parser would pass everything)."""
    assert "ttscale.generate" in GRAPH["ttscale.route"]
    assert "ttscale.verify.sandbox" in GRAPH["ttscale.verify.pool"]
    assert "ttscale.engine" in GRAPH["ttscale.generate.vllm_backend"]  # imported inside a function too
    assert layer("ttscale.verify.cli") == (100, "top") and layer("ttscale.analysis.run")[1] == "analysis"


def test_no_cycles():
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(GRAPH[m]):
            if state.get(t) == 1:
                cycles.append(" -> ".join([*path[path.index(t):], t]))
            elif t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    """A module imports only its own layer or lower ones: base imports no stage, a stage no later stage."""
    rank, name = layer(module)
    bad = [f"{t} ({layer(t)[1]})" for t in sorted(GRAPH[module]) if layer(t)[0] > rank]
    assert not bad, f"{module} ({name}) imports a later layer: {', '.join(bad)}"
