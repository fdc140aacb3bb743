"""Lookahead search bookkeeping against the scripted engine and PRM of test_search.py.

The scripted engine's step value depends on (seed = slot, depth): the first step is worth the
slot, every later step minus ten times the slot. Beam search therefore keeps the high slots after
step 0, while lookahead, whose step score is the PRM's score one greedy step further, keeps the
low ones; with k = 0 lookahead is exactly beam search.
"""

from __future__ import annotations

import re

import pytest
from test_search import NumberPRM, ScriptedSteps, seeds

from ttscale.errors import ConfigError
from ttscale.search import STRATEGIES, check_strategy, search_spec
from ttscale.search.base import Beam
from ttscale.search.lookahead import lookahead_search
from ttscale.search.strategies import SearchProblem, SearchSpec, beam_search


class Recording(ScriptedSteps):
    """ScriptedSteps that also records each call's temperatures."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.temperatures: list[set] = []

    def generate(self, requests, progress, journal=None):
        self.temperatures.append({r.params.get("temperature") for r in requests})
        return super().generate(requests, progress, journal)


def value(seed: int, depth: int) -> int:
    return seed if depth == 0 else -10 * seed


def roots(cands: list[Beam]) -> set[int]:
    return {int(re.match(r"v=(-?\d+)", b.text).group(1)) for b in cands}


PROB = [SearchProblem("a", "qa", "A:")]


def test_lookahead_ranks_by_the_rollout_and_charges_it():
    spec = SearchSpec("lookahead", budget=4, beam_width=2, max_steps=5, lookahead=1, params={"temperature": 0.7})
    gen, prm = Recording(value, end_after=3), NumberPRM()
    out = lookahead_search(PROB, gen, prm, spec, seeds)
    # each step: one call for the beams' steps, one for their rollouts (none once every beam ended)
    assert gen.calls == [4, 4, 4, 4, 4] and prm.calls == [4, 4, 4]
    assert gen.temperatures == [{0.7}, {0.0}, {0.7}, {0.0}, {0.7}]  # rollouts are greedy
    cands = out.candidates[0]
    assert len(cands) == 4 and all(b.done and len(b.step_scores) == len(b.steps) == 3 for b in cands)
    # step 0's rollout scores are -10 x slot: slots 0 and 1 are kept, not 2 and 3
    assert roots(cands) <= {0, 1}
    acc = out.accounting[0]
    assert acc.completion_tokens == 5 * 4 * 2 and acc.generator_calls == 20  # rollouts are charged

    gen_b, prm_b = ScriptedSteps(value, end_after=3), NumberPRM()
    base = beam_search(PROB, gen_b, prm_b, SearchSpec("beam", budget=4, beam_width=2, max_steps=5), seeds)
    assert roots(base.candidates[0]) <= {2, 3} and base.accounting[0].completion_tokens == 3 * 4 * 2


def test_lookahead_zero_is_beam_search():
    a = lookahead_search(PROB, ScriptedSteps(value, end_after=3), NumberPRM(),
                         SearchSpec("lookahead", budget=4, beam_width=2, max_steps=5, lookahead=0), seeds)
    b = beam_search(PROB, ScriptedSteps(value, end_after=3), NumberPRM(),
                    SearchSpec("beam", budget=4, beam_width=2, max_steps=5), seeds)
    key = [(x.slot, x.text, x.step_scores) for x in a.candidates[0]]
    assert key == [(x.slot, x.text, x.step_scores) for x in b.candidates[0]]
    assert a.accounting[0] == b.accounting[0]


def test_lookahead_rollout_stops_when_the_solution_ends():
    # every beam ends at its second step; a deep lookahead then has nothing left to roll out
    spec = SearchSpec("lookahead", budget=2, beam_width=2, max_steps=5, lookahead=3)
    gen = ScriptedSteps(value, end_after=2)
    out = lookahead_search(PROB, gen, NumberPRM(), spec, seeds)
    assert gen.calls == [2, 2, 2]  # step, one rollout step (it ends), step (ends): no more rollouts
    assert all(b.done for b in out.candidates[0])


def test_lookahead_is_registered_and_checked():
    assert STRATEGIES.get("lookahead") is lookahead_search
    spec = {"kind": "lookahead", "budgets": [4], "beam_width": 2, "lookahead": 2}
    assert search_spec(spec, 4, {}).lookahead == 2
    assert search_spec({**spec, "lookahead": None}, 4, {}).lookahead == 1
    with pytest.raises(ConfigError, match="needs a step scorer"):
        check_strategy("la", spec, {"scorers": {}})
    with pytest.raises(ConfigError, match="not a multiple of beam_width"):
        check_strategy("la", {**spec, "scorer": "prm", "budgets": [5]}, {"scorers": {"prm": {}}})
