"""A grown block reuses the samples its old shard already holds (generate stage).

Adding problems renames the last problem block (p00000-00002 -> p00000-00003); run_block takes the
old block's samples from the sibling shard and sends only the new requests to the backend. No
engine: the scripted backend and the fake OpenAI server stand in.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import test_generate
from fakes import FakeOpenAIServer, ScriptedBackend
from test_generate import _openai, _Tok

from ttscale.generate import run_block
from ttscale.generate.openai_backend import OpenAIBackend
from ttscale.io import read_metadata, read_table, write_table
from ttscale.keys import sampling_key
from ttscale.schemas import PROBLEMS, SAMPLES

setup = test_generate.setup  # the fixture: a 3-problem dataset "d", preset "s", model "m"

OLD, NEW = "p00000-00002_s000000-000004", "p00000-00003_s000000-000004"


def _run(config, key, problems, out: Path, block: str, backend=None):
    root = out.parents[2]  # <root>/<name>/samples/<block>.parquet: the fixture's root
    return run_block(config, "m", "d", key, block, problems, out, root=root, backend=backend)


def _shard(root: Path, name: str, block: str) -> Path:
    return root / name / "samples" / f"{block}.parquet"


def _pids(problems: Path) -> list[str]:
    rows = sorted(read_table(problems, PROBLEMS).to_pylist(), key=lambda r: r["position"])
    return [r["problem_id"] for r in rows]


def _fresh(config, key, problems, root: Path) -> pa.Table:
    out = _shard(root, "fresh", NEW)
    _run(config, key, problems, out, NEW, ScriptedBackend())
    return pq.read_table(out)


def _same_shard(a: Path | pa.Table, b: pa.Table) -> None:
    ta = a if isinstance(a, pa.Table) else pq.read_table(a)
    assert ta.schema.remove_metadata() == b.schema.remove_metadata()
    assert ta.to_pylist() == b.to_pylist()  # same rows in the same order


class Recording(ScriptedBackend):
    def generate(self, requests, progress, journal=None):
        self.seen = getattr(self, "seen", []) + [(r.problem_id, r.sample_index) for r in requests]
        return super().generate(requests, progress, journal)


def test_grown_block_generates_only_the_new_problem(setup, caplog):
    config, problems, key, root = setup
    old, new = _shard(root, "run", OLD), _shard(root, "run", NEW)
    _run(config, key, problems, old, OLD, ScriptedBackend())
    before = old.read_bytes()
    backend = Recording()
    with caplog.at_level(logging.INFO, logger="ttscale.generate"):
        summary = _run(config, key, problems, new, NEW, backend)
    third = _pids(problems)[2]
    assert backend.calls == [4] and backend.seen == [(third, i) for i in range(4)]
    _same_shard(new, _fresh(config, key, problems, root))
    meta = read_metadata(new)
    assert meta["reused_samples"] == summary["reused_samples"] == 8 and meta["generated_samples"] == 4
    assert meta["reused_from"] == [old.name] and meta["rows"] == 12
    assert "reusing 8 of 12 samples" in caplog.text and "(8 reused, 4 generated)" in caplog.text
    assert old.read_bytes() == before  # the old shard stays


def test_fully_covered_block_never_calls_the_backend(setup):
    config, problems, key, root = setup
    _run(config, key, problems, _shard(root, "run", NEW), NEW, ScriptedBackend())
    small = _shard(root, "run", OLD)
    backend = ScriptedBackend()
    summary = _run(config, key, problems, small, OLD, backend)
    assert backend.calls == [] and summary["generated_samples"] == 0 and summary["reused_samples"] == 8
    fresh = _shard(root, "fresh", OLD)
    _run(config, key, problems, fresh, OLD, ScriptedBackend())
    _same_shard(small, pq.read_table(fresh))


def test_a_changed_prompt_is_not_reused(setup):
    config, problems, key, root = setup
    old, new = _shard(root, "run", OLD), _shard(root, "run", NEW)
    _run(config, key, problems, old, OLD, ScriptedBackend())
    _first, second, third = _pids(problems)
    # as if the template had changed without the directory changing: the second problem's stored
    # prompt differs from the one the new block renders, the first problem's does not
    t = pq.read_table(old)
    prompts = [p + " (old template)" if pid == second else p
               for pid, p in zip(t["problem_id"].to_pylist(), t["prompt"].to_pylist(), strict=True)]
    t = t.set_column(t.schema.get_field_index("prompt"), "prompt", pa.array(prompts, pa.string()))
    write_table(old, t, SAMPLES, metadata=read_metadata(old))
    backend = Recording()
    summary = _run(config, key, problems, new, NEW, backend)
    assert {pid for pid, _ in backend.seen} == {second, third} and len(backend.seen) == 8
    assert summary["reused_samples"] == 4 and summary["generated_samples"] == 8
    _same_shard(new, _fresh(config, key, problems, root))


def test_other_seeds_or_indices_are_not_reused(setup):
    """Sibling rows whose seeds do not match (say another experiment seed) are not taken."""
    config, problems, key, root = setup
    old, new = _shard(root, "run", OLD), _shard(root, "run", NEW)
    _run(config, key, problems, old, OLD, ScriptedBackend())
    t = pq.read_table(old)
    t = t.set_column(t.schema.get_field_index("seed"), "seed", pc.add(t["seed"], 1))
    write_table(old, t, SAMPLES, metadata=read_metadata(old))
    backend = ScriptedBackend()
    summary = _run(config, key, problems, new, NEW, backend)
    assert backend.calls == [12] and summary["reused_samples"] == 0


def test_damaged_or_foreign_siblings_are_ignored(setup, caplog):
    config, problems, key, root = setup
    old, new = _shard(root, "run", OLD), _shard(root, "run", NEW)
    _run(config, key, problems, old, OLD, ScriptedBackend())
    d = old.parent
    (d / "p00000-00001_s000000-000004.parquet").write_bytes(b"PAR1 not really parquet")
    write_table(d / "p00000-00001_s000000-000002.parquet", pa.table({"problem_id": ["x"]}))  # wrong schema
    other = pq.read_table(old)
    write_table(d / "p00001-00002_s000000-000004.parquet", other, SAMPLES,  # another run's shard
                metadata={**read_metadata(old), "sampling": "s-00000000"})
    (d / "notes.parquet").write_bytes(b"not a block, not read")
    backend = ScriptedBackend()
    with caplog.at_level(logging.WARNING, logger="ttscale.generate"):
        summary = _run(config, key, problems, new, NEW, backend)
    assert backend.calls == [4] and summary["reused_from"] == [old.name]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 3 and all(m.startswith("not reusing samples from") for m in warned)
    assert any("p00000-00001_s000000-000004.parquet" in m for m in warned)
    assert any("p00000-00001_s000000-000002.parquet" in m and "missing column" in m for m in warned)
    assert any("p00001-00002_s000000-000004.parquet" in m and "s-00000000" in m for m in warned)
    _same_shard(new, _fresh(config, key, problems, root))


def test_only_a_corrupt_sibling_means_a_full_generation(setup, caplog):
    config, problems, key, root = setup
    new = _shard(root, "run", NEW)
    new.parent.mkdir(parents=True)
    (new.parent / OLD).with_suffix(".parquet").write_bytes(b"\x00garbage")
    backend = ScriptedBackend()
    with caplog.at_level(logging.WARNING, logger="ttscale.generate"):
        summary = _run(config, key, problems, new, NEW, backend)
    assert backend.calls == [12] and summary["reused_samples"] == 0 and summary["reused_from"] == []
    assert f"not reusing samples from {new.parent / OLD}.parquet" in caplog.text
    _same_shard(new, _fresh(config, key, problems, root))


def test_openai_backend_sends_only_the_new_requests(setup, monkeypatch):
    config, problems, _, root = setup
    monkeypatch.setattr(OpenAIBackend, "tokenizer", _Tok())
    old, new = _shard(root, "run", OLD), _shard(root, "run", NEW)
    with FakeOpenAIServer() as server:
        c = _openai(config, server.url)
        key = sampling_key(c, "m", "d", "s", root)
        _run(c, key, problems, old, OLD)
        assert len(server.served) == 8
        summary = _run(c, key, problems, new, NEW)
    assert len(server.served) == 12 and summary["reused_samples"] == 8
    third = _pids(problems)[2]
    assert all(p.endswith("|assistant:") for p in read_table(new, SAMPLES)["prompt"].to_pylist())
    old_rows = {(r["problem_id"], r["sample_index"]): r for r in pq.read_table(old).to_pylist()}
    for r in pq.read_table(new).to_pylist():
        if r["problem_id"] == third:
            assert r["text"] == f"echo {r['seed'] % 1000}"
        else:
            assert r == old_rows[(r["problem_id"], r["sample_index"])]  # latency and all
    assert not list(new.parent.glob(".*.journal.jsonl"))
