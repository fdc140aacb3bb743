"""Beam search, DVTS and revisions bookkeeping against a scripted engine and scorer.

The fake engine's next step is a fixed function of (prompt so far, seed), and the fake PRM scores
a step by a number written in it, so every expectation below is worked out by hand from the rules:
pruning keeps the N/M best, ties go to the lower slot, finished beams leave the beam, searches end
at N finished beams or max_steps.
"""

from __future__ import annotations

import re

import pytest

from ttscale.generate.base import Result
from ttscale.search.base import Beam, aggregate, rank
from ttscale.search.strategies import SearchProblem, SearchSpec, beam_search, dvts, revisions


class ScriptedSteps:
    """Step k of a beam is 'v=<value>' where value = f(seed); a beam ends when the script says so."""

    def __init__(self, value, end_after: int = 99, eos_when=lambda text: False) -> None:
        self.value, self.end_after, self.eos_when = value, end_after, eos_when
        self.calls: list[int] = []

    def generate(self, requests, progress, journal=None):
        self.calls.append(len(requests))
        out = []
        for r in requests:
            depth = r.prompt.count("v=")
            step = f"v={self.value(r.seed, depth)}"
            ends = depth + 1 >= self.end_after or self.eos_when(r.prompt + step)
            text = step if ends else step + "\n\n"
            out.append(Result(text, "stop", len(r.prompt), 2, -0.1))
        return out


class NumberPRM:
    """Scores each step by the number after 'v='; records batch sizes."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score_steps(self, items):
        self.calls.append(len(items))
        return [[float(re.search(r"v=(-?\d+)", s).group(1)) for s in steps] for _, steps in items]


def seeds(pid: str, tag: str) -> int:
    """A seed that encodes the slot (last field of the tag) so tests can predict values."""
    return int(tag.split("/")[-1])


PROBS = [SearchProblem("a", "qa", "A:"), SearchProblem("b", "qb", "B:")]


def test_aggregations_and_ties():
    assert aggregate([0.5, 0.2, 0.9], "last") == 0.9 and aggregate([0.5, 0.2, 0.9], "min") == 0.2
    assert aggregate([0.5, 0.2], "prod") == pytest.approx(0.1) and aggregate([1, 2, 3], "mean") == 2
    assert aggregate([], "min") == float("-inf")
    with pytest.raises(ValueError, match="unknown step aggregation"):
        aggregate([1.0], "max")
    tied = [Beam(3, step_scores=[1.0]), Beam(1, step_scores=[1.0]), Beam(2, step_scores=[2.0])]
    assert [b.slot for b in rank(tied, "last")] == [2, 1, 3]


def test_beam_search_prunes_to_best_and_expands():
    # value = slot: higher slots score higher. N=4, M=2: keep 2 best each step, expand each twice.
    gen, prm = ScriptedSteps(lambda seed, depth: seed, end_after=3), NumberPRM()
    spec = SearchSpec("beam", budget=4, beam_width=2, max_steps=5)
    out = beam_search(PROBS, gen, prm, spec, seeds)
    # every step is one engine call and one scorer call over all beams of both problems
    assert gen.calls == [8, 8, 8] and prm.calls == [8, 8, 8]
    for cands in out.candidates:
        assert len(cands) == 4 and all(b.done for b in cands)
        # step 0: slots 0..3 -> keep 3,2 -> children 4,5 (of 3), 6,7 (of 2)
        # step 1: children scored 4..7 -> keep 7, 6 (parents 2, 2) -> children 8, 9 (of 7), 10, 11 (of 6)
        # step 2: ends; all four finished with last scores 8..11
        assert sorted(b.slot for b in cands) == [8, 9, 10, 11]
        best = cands[0]
        assert best.slot == 11 and best.parent == 6 and best.steps == ["v=2\n\n", "v=6\n\n", "v=11"]
        assert best.step_scores == [2.0, 6.0, 11.0] and best.text == "v=2\n\nv=6\n\nv=11"
    assert out.accounting[0].completion_tokens == 4 * 3 * 2 and out.accounting[0].generator_calls == 12


def test_beam_search_ties_and_aggregation_choice():
    # all steps score the same: ties keep the lowest slots
    gen = ScriptedSteps(lambda seed, depth: 5, end_after=2)
    out = beam_search(PROBS[:1], gen, NumberPRM(), SearchSpec("beam", budget=4, beam_width=2), seeds)
    assert [b.steps[0] for b in out.candidates[0]] == ["v=5\n\n"] * 4
    assert sorted(b.parent for b in out.candidates[0]) == [0, 0, 1, 1]
    # "min" keeps the beams whose worst step is best, "last" those whose last step is best.
    # step 0: slots 0..3 score 9, 1, 5, 5 -> keep 0 and 2 (tie 2/3 -> 2); children 4, 5 (of 0), 6, 7 (of 2)
    # step 1: children of 0 score 7 ([9, 7]: last 7, min 7), children of 2 score 8 ([5, 8]: last 8, min 5)
    def value(seed, depth):
        if depth == 0:
            return {0: 9, 1: 1, 2: 5, 3: 5}[seed]
        return (7 if seed in (4, 5) else 8) if depth == 1 else seed

    for how, first in [("last", "v=5\n\n"), ("min", "v=9\n\n")]:
        spec = SearchSpec("beam", budget=4, beam_width=2, max_steps=3, aggregation=how)
        out = beam_search(PROBS[:1], ScriptedSteps(value, end_after=3), NumberPRM(), spec, seeds)
        assert {b.steps[0] for b in out.candidates[0]} == {first}, how


def test_beam_search_stops_when_enough_finished():
    # beams whose prompt carries an odd first value finish immediately
    gen = ScriptedSteps(lambda seed, depth: seed, eos_when=lambda t: t.count("v=") >= 2)
    spec = SearchSpec("beam", budget=4, beam_width=2, max_steps=10)
    out = beam_search(PROBS[:1], gen, NumberPRM(), spec, seeds)
    assert len(gen.calls) == 2  # first step, then every expanded beam finishes -> 4 finished -> stop
    assert all(len(b.steps) == 2 for b in out.candidates[0])


def test_max_steps_ends_unfinished_beams():
    gen = ScriptedSteps(lambda seed, depth: seed)  # never ends on its own
    out = beam_search(PROBS, gen, NumberPRM(), SearchSpec("beam", budget=4, beam_width=2, max_steps=3), seeds)
    assert len(gen.calls) == 3
    assert all(b.finish_reason == "max_steps" and len(b.steps) == 3 for c in out.candidates for b in c)


def test_dvts_subtrees_are_independent_and_greedy():
    # N=4, M=2: two subtrees; children slots s*M+j; value = slot + 10*depth
    gen = ScriptedSteps(lambda seed, depth: seed + 10 * depth, end_after=3)
    out = dvts(PROBS, gen, NumberPRM(), SearchSpec("dvts", budget=4, beam_width=2, max_steps=5), seeds)
    assert gen.calls == [8, 8, 8]  # 2 problems x 2 subtrees x 2 children per step
    for cands in out.candidates:
        assert len(cands) == 4
        # subtree 0 keeps its child slot 1 each step, subtree 1 its child slot 3
        sub0, sub1 = cands[:2], cands[2:]
        assert {b.steps[0] for b in sub0} == {"v=1\n\n"} and {b.steps[0] for b in sub1} == {"v=3\n\n"}
        assert sorted(b.steps[-1] for b in sub1) == ["v=22", "v=23"]


def test_revisions_chain_attempts():
    # N=4 with 2 rounds: 2 chains; each round's answer is a candidate
    gen = ScriptedSteps(lambda seed, depth: depth, end_after=1)
    spec = SearchSpec("revisions", budget=4, rounds=2, revision_prompt="Fix it.")
    out = revisions(PROBS, gen, None, spec, seeds)
    assert gen.calls == [4, 4]
    c = out.candidates[0]
    assert [b.slot for b in c] == [0, 1, 2, 3] and all(len(b.steps) == 1 for b in c)
    # round 1 saw round 0's answer in its prompt (one 'v=' in the prompt -> depth 1)
    assert [b.steps[0] for b in c] == ["v=0", "v=1", "v=0", "v=1"]
