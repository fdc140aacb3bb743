"""Lookahead search (Snell et al. 2024, section 5.2): beam search whose step scores come from rollouts.

After each step, every live beam is rolled out up to k further steps at temperature 0 (stopping
early where the solution ends), and the process reward model's score at the end of the rollout
becomes the score of the beam's current step; pruning and expansion are beam search's. The
rollouts are thrown away, but their tokens and the tokens the PRM read for them are charged to the
problem, so a lookahead of depth k costs about N x (k + 1) samples, as in the paper. With k = 0 it
is exactly beam search.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ttscale.generate.progress import Progress
from ttscale.search.base import Accounting, Beam, StepGenerator, StepScorer
from ttscale.search.strategies import SearchOutput, SearchProblem, SearchSpec, SeedFn, _extend, _score, beam_search


def lookahead_search(problems: Sequence[SearchProblem], gen: StepGenerator, scorer: StepScorer, spec: SearchSpec,
                     seed_fn: SeedFn, progress: Progress | None = None) -> SearchOutput:
    """Beam search with N beams of width M whose step values are the PRM's score after a k-step
    greedy rollout (`spec.lookahead` = k). Each rollout step is one generator call over the rollouts
    of every problem, and each search step one scorer call over every beam and rollout."""
    k = spec.lookahead
    n, m = spec.budget, spec.beam_width
    progress = progress or Progress(len(problems) * n * spec.max_steps * (k + 1), "lookahead steps")
    greedy = dataclasses.replace(spec, params={**spec.params, "temperature": 0.0})

    def step_values(batch: list[tuple[int, Beam]], acc: list[Accounting], step: int) -> None:
        # a rollout continues a copy of each live beam; a finished beam is its own rollout
        rollouts = [(pi, b.child(b.slot) if not b.done else b) for pi, b in batch]
        for depth in range(k):
            live = [(pi, r) for pi, r in rollouts if not r.done]
            if not live:
                break
            _extend(gen, greedy, problems, live, lambda r, d=depth: f"look/{n}/{m}/{k}/{step}/{d}/{r.slot}",
                    seed_fn, acc, progress)
        _score(scorer, spec, problems, rollouts, acc)
        for (_, beam), (_, roll) in zip(batch, rollouts, strict=True):
            if roll is not beam:
                # the beam's own steps keep their scores; its last step takes the rollout's final score
                own = roll.step_scores[: len(beam.steps)]
                beam.step_scores = [*own[:-1], roll.step_scores[-1]]

    return beam_search(problems, gen, scorer, spec, seed_fn, progress, step_values=step_values)
