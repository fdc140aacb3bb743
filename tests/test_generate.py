"""Bookkeeping of the generate stage: shards, counts, identities, retries and resume.

These use a scripted backend and a fake OpenAI server; the real engine and a real `vllm serve` are
exercised in test_generate_engine.py.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fakes import FakeOpenAIServer, ScriptedBackend

from ttscale.config import validate
from ttscale.errors import DataError
from ttscale.generate import run_block
from ttscale.io import read_metadata, read_table, write_table
from ttscale.keys import sampling_key
from ttscale.problems import build_problems
from ttscale.schemas import PROBLEMS, SAMPLES
from ttscale.seeds import sample_seed


@pytest.fixture
def setup(tmp_path: Path):
    config = validate({
        "experiment": "t",
        "models": {"m": {"path": str(tmp_path), "backend": "vllm"}},
        "datasets": {"d": {"loader": "reasoning_gym", "args": {"task": "basic_arithmetic", "size": 3}}},
        "sampling": {"s": {"temperature": 0.5, "max_tokens": 8, "stop": ["\n\n"]}},
    })
    problems = tmp_path / "d.parquet"
    write_table(problems, build_problems("d", config["datasets"]["d"], tmp_path), PROBLEMS)
    key = sampling_key(config, "m", "d", "s", tmp_path)
    return config, problems, key, tmp_path


def test_shard_rows_seeds_and_metadata(setup):
    config, problems, key, root = setup
    out = root / "shard.parquet"
    backend = ScriptedBackend()
    summary = run_block(config, "m", "d", key, "p00000-00003_s000004-000008", problems, out, root=root,
                        backend=backend)
    t = read_table(out, SAMPLES)
    assert t.num_rows == 12 == summary["rows"] and backend.calls == [12]  # one call per block
    rows = t.to_pylist()
    assert {r["sample_index"] for r in rows} == {4, 5, 6, 7}
    for r in rows:
        assert r["seed"] == sample_seed(0, "m", "d", r["problem_id"], r["sample_index"])
        assert r["text"] == f"answer {r['seed'] % 1000}"
    meta = read_metadata(out)
    assert meta["block"] == "p00000-00003_s000004-000008" and meta["sampling"] == key
    assert meta["identity"]["sampling"]["temperature"] == 0.5


def test_same_samples_whatever_the_block_size(setup):
    config, problems, key, root = setup
    a = root / "a.parquet"
    run_block(config, "m", "d", key, "p00000-00003_s000000-000004", problems, a, root=root, backend=ScriptedBackend())
    b1, b2 = root / "b1.parquet", root / "b2.parquet"
    run_block(config, "m", "d", key, "p00000-00003_s000000-000002", problems, b1, root=root, backend=ScriptedBackend())
    run_block(config, "m", "d", key, "p00000-00003_s000002-000004", problems, b2, root=root, backend=ScriptedBackend())
    whole = sorted(pq.read_table(a).to_pylist(), key=lambda r: (r["problem_id"], r["sample_index"]))
    parts = sorted(pq.read_table(b1).to_pylist() + pq.read_table(b2).to_pylist(),
                   key=lambda r: (r["problem_id"], r["sample_index"]))
    assert whole == parts


def test_stale_sampling_key_is_refused(setup):
    config, problems, key, root = setup
    changed = copy.deepcopy(config)
    changed["sampling"]["s"]["temperature"] = 0.9
    with pytest.raises(DataError, match="sampling key"):
        run_block(changed, "m", "d", key, "p00000-00003_s000000-000002", problems, root / "x.parquet",
                  root=root, backend=ScriptedBackend())
    assert not (root / "x.parquet").exists()


def test_block_beyond_the_problem_table(setup):
    config, problems, key, root = setup
    with pytest.raises(DataError, match=r"positions 0\.\.4.*has 3"):
        run_block(config, "m", "d", key, "p00000-00005_s000000-000002", problems, root / "x.parquet",
                  root=root, backend=ScriptedBackend())


def test_backend_returning_too_few_results(setup):
    config, problems, key, root = setup

    class Lossy(ScriptedBackend):
        def generate(self, requests, progress, journal=None):
            return super().generate(requests, progress)[:-1]

    with pytest.raises(DataError, match="11 results for 12 requests"):
        run_block(config, "m", "d", key, "p00000-00003_s000000-000004", problems, root / "x.parquet",
                  root=root, backend=Lossy())
    assert not (root / "x.parquet").exists()


def _openai(config, url, **extra):
    c = copy.deepcopy(config)
    c["models"]["m"].update(backend="openai", openai={"base_url": url, "max_retries": 3, "concurrency": 4, **extra})
    return c


class _Tok:
    """Stands in for a tokenizer with a chat template (rendering is tested on the real one elsewhere)."""

    chat_template = "x"

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        return "|".join(m["content"] for m in messages) + "|assistant:"


def test_openai_backend_retries_server_errors(setup, monkeypatch):
    config, problems, _, root = setup
    from ttscale.generate.openai_backend import OpenAIBackend

    monkeypatch.setattr(OpenAIBackend, "tokenizer", _Tok())
    with FakeOpenAIServer(fail_first=3) as server:
        c = _openai(config, server.url)
        key = sampling_key(c, "m", "d", "s", root)
        out = root / "o.parquet"
        run_block(c, "m", "d", key, "p00000-00003_s000000-000002", problems, out, root=root)
    t = read_table(out, SAMPLES).to_pylist()
    assert server.failed == 3 and len(server.served) == 6 and len(t) == 6
    assert all(r["text"] == f"echo {r['seed'] % 1000}" and r["cumulative_logprob"] == -0.75 for r in t)
    assert all(r["latency_s"] is not None and r["prompt"].endswith("|assistant:") for r in t)
    assert {b["seed"] for b in server.served} == {r["seed"] for r in t}
    assert all(b["stop"] == ["\n\n"] and b["max_tokens"] == 8 for b in server.served)
    assert not list(root.glob(".o.parquet.journal.jsonl"))


def test_openai_block_resumes_without_redoing_requests(setup, monkeypatch):
    config, problems, _, root = setup
    from ttscale.generate.openai_backend import OpenAIBackend

    monkeypatch.setattr(OpenAIBackend, "tokenizer", _Tok())
    out = root / "r.parquet"
    block = "p00000-00003_s000000-000004"
    with FakeOpenAIServer(die_after=5) as dying:
        c = _openai(config, dying.url, max_retries=1)
        key = sampling_key(c, "m", "d", "s", root)
        with pytest.raises(RuntimeError, match="failed after"):
            run_block(c, "m", "d", key, block, problems, out, root=root)
    assert not out.exists()
    journal = root / ".r.parquet.journal.jsonl"
    assert len(journal.read_text().splitlines()) == 5
    with FakeOpenAIServer() as healthy:
        c = _openai(config, healthy.url)
        run_block(c, "m", "d", key, block, problems, out, root=root)
    assert len(healthy.served) == 12 - 5  # only the unfinished requests were sent again
    assert read_table(out, SAMPLES).num_rows == 12 and not journal.exists()


def test_written_files_are_readable_by_the_group(tmp_path):
    """Atomic writes go through a private temporary file; the result gets the umask's usual mode,
    so colleagues on a shared cluster file system can read the shards."""
    import os

    from ttscale.io import write_text

    old = os.umask(0o022)
    try:
        import importlib

        import ttscale.io as tio

        importlib.reload(tio)  # the module reads the umask once, at import
        tio.write_text(tmp_path / "x.txt", "hello\n")
        assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o644
        assert not list(tmp_path.glob(".x.txt.*"))
    finally:
        os.umask(old)
        importlib.reload(tio)
    write_text(tmp_path / "y.txt", "again\n")
    assert (tmp_path / "y.txt").read_text() == "again\n"
