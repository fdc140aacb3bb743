"""Every model call in the cost tables: scorer, PRM and search FLOPs as their own columns, thinking and
answer apart, and the strategy comparison at equal compute counting the scorers.

A constructed experiment (ttscale.testing.synthetic): a repeated-sampling run scored by a 7B outcome
reward model, and a beam search whose shards say how many tokens its 1.5B step scorer read. Its
tables are analyzed twice, once with the scorers' sizes (as the workflow passes them) and once
without, and the FLOPs the strategy comparison works with must move by exactly the scorers' part.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ttscale.aggregate import aggregate_run
from ttscale.analysis.experiment import combine
from ttscale.analysis.run import analyze_run
from ttscale.analysis.tables import EXP_TABLES, RUN_TABLES
from ttscale.analysis.thinking import run_costs
from ttscale.testing.synthetic import SyntheticSpec, write_run

P = 30
SEARCH_TOKENS = 1000  # every token the synthetic search sent and generated per problem
SCORED = 600  # tokens its step scorer read per problem
POLICY = {"flops": {"n_params": 1e9, "n_layers": 16, "d_model": 2048}}
ORM = {"flops": {"n_params": 7e9, "n_layers": 28, "d_model": 3584}}
PRM = {"flops": {"n_params": 1.5e9, "n_layers": 28, "d_model": 1536}}
SETTINGS = {"bootstrap": 100, "fit": {"bootstrap": 10}, "ks": [4]}


def _search_columns(files: list[str]) -> None:
    for f in files:
        t = pq.read_table(f)
        n = t.num_rows
        for name, v in (("search_prompt_tokens", SEARCH_TOKENS // 4),
                        ("search_completion_tokens", SEARCH_TOKENS - SEARCH_TOKENS // 4),
                        ("search_scored_tokens", SCORED)):
            t = t.append_column(name, pa.array(np.full(n, v), pa.int64()))
        pq.write_table(t, f)


def _aggregate(exp: Path, spec: SyntheticSpec) -> tuple[Path, list[str]]:
    files = write_run(exp, spec)
    if spec.sampling.startswith("beam"):
        _search_columns(files["samples"])
    part = exp / "aggregate" / f"model={spec.model}/dataset={spec.dataset}/sampling={spec.sampling}"
    aggregate_run(samples=files["samples"], verdicts=files["verdicts"], scores=files["scores"],
                  problems=files["problems"], out_samples=part / "samples.parquet",
                  out_problems=part / "problems.parquet", model=spec.model, dataset=spec.dataset,
                  sampling=spec.sampling)
    return part, list(files["samples"])


def _analyze(exp: Path, tag: str, part: Path, sampling: str, **costs) -> dict[str, str]:
    out = {t: str(exp / tag / sampling / f"{t}.parquet") for t in RUN_TABLES}
    analyze_run(part / "samples.parquet", part / "problems.parquet", out, SETTINGS, POLICY, seed=0, **costs)
    return out


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    exp = tmp_path_factory.mktemp("compute")
    ref = SyntheticSpec(n_problems=P, samples=16, block_size=16, scorers=("orm",), sampling="default-00000000",
                        true_p=np.linspace(0.5, 0.0, P), seed=1, n_wrong=2)
    ref_part, _ = _aggregate(exp, ref)
    pass1 = np.asarray(pq.read_table(ref_part / "problems.parquet")["pass_at_1"].to_numpy())
    beam = SyntheticSpec(n_problems=P, samples=4, block_size=4, scorers=("orm",), sampling="beam.n4-00000000",
                         true_p=np.where(pass1 >= 0.1, 1.0, 0.0), seed=2)
    beam_part, beam_shards = _aggregate(exp, beam)
    ident = {"model": "synth", "dataset": "synthmath"}
    tables = {}
    for tag, counted in (("with", True), ("without", False)):
        scorers = {"scorers": {"orm": ORM}} if counted else {}
        step = {"step_scorer": {"name": "prm", "spec": PRM}, "search_shards": beam_shards} if counted else {}
        runs = [_analyze(exp, tag, ref_part, ref.sampling, **scorers) | ident |
                {"sampling": ref.sampling, "strategy": None, "budget": None},
                _analyze(exp, tag, beam_part, beam.sampling, **scorers, **step) | ident |
                {"sampling": beam.sampling, "strategy": "beam", "budget": 4}]
        outputs = {t: exp / tag / f"{t}.parquet" for t in EXP_TABLES}
        combine(runs, outputs, SETTINGS, seed=0)
        tables[tag] = {t: pq.read_table(p) for t, p in outputs.items()}
    return exp, ref_part, beam_part, tables


def _by_run(costs: pa.Table, sampling: str) -> dict[str, dict]:
    return {r["problem_id"]: r for r in costs.to_pylist() if r["sampling"] == sampling}


def test_scorer_flops_are_two_params_times_tokens_scored(experiment):
    _, ref_part, _, tables = experiment
    samples = pq.read_table(ref_part / "samples.parquet", columns=["problem_id", "prompt_tokens",
                                                                   "completion_tokens"]).to_pylist()
    read: dict[str, list[float]] = {}
    for s in samples:  # what the reward model read: each sample's prompt and response
        read.setdefault(s["problem_id"], []).append(s["prompt_tokens"] + s["completion_tokens"])
    costs = _by_run(tables["with"]["costs"], "default-00000000")
    assert set(costs) == set(read) and len(costs) == P
    for pid, r in costs.items():
        tokens = float(np.mean(read[pid]))
        assert r["score_tokens"] == pytest.approx(tokens)
        assert r["score_flops"] == pytest.approx(2 * 7e9 * tokens)  # per sample
        assert dict(r["scorer_flops"]) == {"orm": pytest.approx(2 * 7e9 * tokens)}
        assert np.isnan(r["search_flops"]) and np.isnan(r["search_scorer_flops"])
        assert np.isnan(r["thinking_tokens"])  # not a reasoning model
    # without scorers the run's answers cost the policy only
    bare = _by_run(tables["without"]["costs"], "default-00000000")
    assert all(r["score_flops"] == 0.0 and r["scorer_flops"] == [] and np.isnan(r["score_tokens"])
               for r in bare.values())
    # the sampling model's own columns do not depend on the scorers
    keep = ["prompt_tokens", "completion_tokens", "prompt_flops", "decode_flops", "flops_per_token"]
    assert tables["with"]["costs"].select(keep).equals(tables["without"]["costs"].select(keep))


def test_search_columns_count_the_policy_and_the_step_scorer(experiment):
    _, _, _, tables = experiment
    for r in _by_run(tables["with"]["costs"], "beam.n4-00000000").values():
        assert r["search_tokens"] == SEARCH_TOKENS
        assert r["search_flops"] == pytest.approx(2 * 1e9 * SEARCH_TOKENS)
        assert r["search_scored_tokens"] == SCORED
        assert r["search_scorer_flops"] == pytest.approx(2 * 1.5e9 * SCORED)


def test_strategy_comparison_moves_when_scorers_are_counted(experiment):
    """The same choices (they depend on accuracy only), at FLOPs that now include the reward model
    reading best-of-N's k answers and the PRM scoring the search's steps."""
    _, _, _, tables = experiment
    w, wo = (tables[t]["strategies"].to_pylist() for t in ("with", "without"))
    assert len(w) == len(wo) > 0
    moved = 0
    for a, b in zip(w, wo, strict=True):
        assert (a["bin"], a["budget"], a["choices"], a["best_of_n_choice"]) == \
            (b["bin"], b["budget"], b["choices"], b["best_of_n_choice"])
        assert b["optimal_scorer_flops"] == 0 and b["best_of_n_scorer_flops"] == 0
        # the policy's part is unchanged; the scorers' part is on top of it
        assert a["optimal_flops"] - a["optimal_scorer_flops"] == pytest.approx(b["optimal_flops"])
        assert a["best_of_n_flops"] - a["best_of_n_scorer_flops"] == pytest.approx(b["best_of_n_flops"])
        if "orm" in a["best_of_n_choice"]:  # best-of-N by the reward model pays it for 4 answers
            assert a["best_of_n_scorer_flops"] > 0
        if "beam" in a["choices"]:  # a search always pays its step scorer
            assert a["optimal_scorer_flops"] >= 2 * 1.5e9 * SCORED * 0.5 * 0.99
        moved += a["optimal_flops"] > b["optimal_flops"] or a["best_of_n_flops"] > b["best_of_n_flops"]
    assert moved > 0
    # the figure's points (each family's best selector) sit at the new FLOPs
    pw, pwo = (tables[t]["strategy_points"].to_pylist() for t in ("with", "without"))
    beam = [(a["flops"], b["flops"]) for a, b in zip(pw, pwo, strict=True) if a["family"] == "beam"]
    assert beam and all(fa >= fb + 2 * 1.5e9 * SCORED * 0.99 for fa, fb in beam)


def test_thinking_and_answer_apart_in_the_costs_table(experiment, tmp_path):
    """A reasoning model's run: the costs table carries thinking and answer tokens, FLOPs and dollars
    (thinking at its own price), the same numbers as the thinking_costs table."""
    _, ref_part, _, _ = experiment
    part = tmp_path / "reasoning"
    part.mkdir()
    t = pq.read_table(ref_part / "samples.parquet")
    comp = np.asarray(t["completion_tokens"].to_numpy(), np.float64)
    think = np.floor(comp * 0.75)
    t = t.append_column("thinking_tokens", pa.array(think.astype(np.int64)))
    t = t.append_column("thinking_status", pa.array(["closed"] * t.num_rows))
    pq.write_table(t, part / "samples.parquet")
    (part / "problems.parquet").write_bytes((ref_part / "problems.parquet").read_bytes())
    spec = {**POLICY, "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "thinking_per_mtok": 3.0}}
    out = {n: str(tmp_path / f"{n}.parquet") for n in RUN_TABLES}
    analyze_run(part / "samples.parquet", part / "problems.parquet", out, SETTINGS, spec, seed=0)
    costs = {r["problem_id"]: r for r in pq.read_table(out["costs"]).to_pylist()}
    split = {r["problem_id"]: r for r in run_costs(part / "samples.parquet", "synth", spec, "synthmath",
                                                   "default-00000000").to_pylist()}
    assert set(costs) == set(split)
    for pid, r in costs.items():
        for c in ("thinking_tokens", "answer_tokens", "thinking_flops", "answer_flops", "thinking_dollars",
                  "answer_dollars"):
            assert r[c] == pytest.approx(split[pid][c]), c
        assert r["thinking_tokens"] + r["answer_tokens"] == pytest.approx(r["completion_tokens"])
        assert r["thinking_dollars"] == pytest.approx(r["thinking_tokens"] * 3.0 / 1e6)
        assert r["answer_dollars"] == pytest.approx(r["answer_tokens"] * 2.0 / 1e6)
        # the sample's dollars bill each part at its own price
        assert r["decode_dollars"] == pytest.approx(r["thinking_dollars"] + r["answer_dollars"])
    curves = pq.read_table(out["curves"]).to_pylist()
    one = [c for c in curves if c["metric"] == "coverage" and c["scheme"] == "all" and c["k"] == 1]
    mean = np.mean([r["prompt_dollars"] + r["decode_dollars"] for r in costs.values()])
    assert one and one[0]["dollars"] == pytest.approx(mean)


def test_curves_charge_a_selector_its_reward_model(experiment):
    """A best-of-k by the 7B reward model costs k answers of the policy plus k scorings; coverage and
    the vote cost the policy only. Without the scorer's size every selector costs the policy only."""
    _, _, _, tables = experiment
    costs = _by_run(tables["with"]["costs"], "default-00000000")
    orm_per_sample = np.mean([dict(r["scorer_flops"])["orm"] for r in costs.values()])
    for tag, charged in (("with", True), ("without", False)):
        rows = [r for r in tables[tag]["curves"].to_pylist() if r["sampling"] == "default-00000000"
                and r["scheme"] == "all" and r["metric"] in ("coverage", "accuracy")]
        by = {(r["selector"], r["k"]): r["flops"] for r in rows}
        ks = sorted({k for s, k in by if s == "oracle"})
        assert len(ks) >= 2
        for k in ks:
            policy = by[("oracle", k)]
            assert by[("vote", k)] == pytest.approx(policy)
            extra = by[("best:orm", k)] - policy
            assert extra == pytest.approx(k * orm_per_sample if charged else 0.0, rel=1e-9, abs=1e-3)


def test_compute_matched_gives_a_reward_model_selector_fewer_samples(experiment):
    """At the reference's budget (its samples' FLOPs), a selector that pays a 7B reward model per
    answer on top of a 1B policy fits fewer answers than coverage does; without counting the scorer
    it gets as many."""
    _, _, _, tables = experiment
    for tag, charged in (("with", True), ("without", False)):
        m = [r for r in tables[tag]["matched"].to_pylist() if r["unit"] == "flops"
             and r["model"] == "synth" and r["sampling"] == "default-00000000"
             and r["reference"].endswith("default-00000000")]
        assert m
        curves = tables[tag]["curves"].to_pylist()
        for r in m:
            if r["best_selector"] is None:
                continue
            cost = next(c["flops"] for c in curves if c["sampling"] == "default-00000000" and c["scheme"] == "all"
                        and c["selector"] == r["best_selector"] and c["k"] == r["selector_k"])
            assert cost <= r["budget"] * (1 + 1e-9)  # the chosen selector fits the budget
        top = max(m, key=lambda r: r["reference_k"])
        if charged:  # the reward model's selector may only take fewer answers than the matched k
            orm = [c for c in tables[tag]["curves"].to_pylist() if c["sampling"] == "default-00000000"
                   and c["scheme"] == "all" and c["selector"] == "best:orm" and c["flops"] <= top["budget"]]
            assert max((c["k"] for c in orm), default=0) < top["k"]
        else:
            assert top["selector_k"] == top["k"]
