"""Beam search with a process reward model, DVTS, and sequential revisions.

All three work on every problem of a job at once: each step is one generator call over all live
beams of all problems and one scorer call over them. Ties in scores go to the lower slot number
and every generated step has its own seed, so a search is reproducible.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ttscale.generate.base import Request
from ttscale.generate.progress import Progress
from ttscale.search.base import Accounting, Beam, StepGenerator, StepScorer, rank


@dataclass
class SearchProblem:
    problem_id: str
    question: str
    prompt: str  # the rendered prompt the solution continues
    add_special_tokens: bool = False
    row: dict[str, Any] = field(default_factory=dict)  # the problem-table row (for revisions)


@dataclass
class SearchSpec:
    kind: str
    budget: int  # N: beams (beam search, DVTS) or answers (revisions)
    beam_width: int = 4  # M
    max_steps: int = 8
    step_delimiter: str = "\n\n"
    step_tokens: int = 256
    aggregation: str = "last"
    rounds: int = 4  # revisions: sequential rounds per chain (N / rounds chains in parallel)
    context_attempts: int = 4  # revisions: previous attempts kept in the prompt
    revision_prompt: str = "Check your previous answer for mistakes and give a corrected solution."
    lookahead: int = 1  # lookahead search: k, the greedy rollout steps behind each step's score
    thinking_budget: int = 1024  # budget forcing: most tokens of thinking
    min_thinking: int | None = None  # budget forcing: extend thinking that ends below this (default the budget)
    max_extensions: int = 0  # budget forcing: times an early end is suppressed
    continuation: str = "Wait"  # budget forcing: what replaces a suppressed end delimiter
    answer_prefix: str = "\n\n"  # budget forcing: text after the closed block, before the answer
    answer_tokens: int = 256  # budget forcing: most tokens of the answer
    params: dict[str, Any] = field(default_factory=dict)  # sampling parameters (temperature, ...)


SeedFn = Callable[[str, str], int]  # (problem_id, tag) -> seed


@dataclass
class SearchOutput:
    """Per problem: exactly `budget` final candidates and the tokens the search spent."""

    candidates: list[list[Beam]]
    accounting: list[Accounting]
    columns: list[tuple[str, Any]] = field(default_factory=list)  # extra shard columns, filled from Beam.meta


def _strip(step: str, delimiter: str) -> str:
    return step[: -len(delimiter)] if delimiter and step.endswith(delimiter) else step


def _extend(
    gen: StepGenerator,
    spec: SearchSpec,
    problems: Sequence[SearchProblem],
    batch: list[tuple[int, Beam]],
    tag: Callable[[Beam], str],
    seed_fn: SeedFn,
    acc: list[Accounting],
    progress: Progress,
) -> None:
    """Generate the next step of every (problem, beam) in `batch` in one call."""
    params = {**spec.params, "stop": [spec.step_delimiter], "include_stop_str_in_output": True,
              "max_tokens": spec.step_tokens}
    requests = [
        Request(problems[pi].problem_id, beam.slot, seed_fn(problems[pi].problem_id, tag(beam)),
                problems[pi].prompt + beam.text, None, problems[pi].add_special_tokens, params)
        for pi, beam in batch
    ]
    results = gen.generate(requests, progress)
    for (pi, beam), res in zip(batch, results, strict=True):
        beam.steps.append(res.text)
        beam.completion_tokens += res.completion_tokens
        beam.cumulative_logprob += res.cumulative_logprob or 0.0
        acc[pi].add(res)
        # A step that ends without the delimiter ended the solution (EOS or a stop string).
        ended = not res.text.endswith(spec.step_delimiter)
        if ended or not res.text.strip():
            beam.done, beam.finish_reason = True, res.finish_reason
        elif len(beam.steps) >= spec.max_steps:
            beam.done, beam.finish_reason = True, "max_steps"


def _score(scorer: StepScorer, spec: SearchSpec, problems: Sequence[SearchProblem],
           batch: list[tuple[int, Beam]], acc: list[Accounting]) -> None:
    items = [(problems[pi].question, [_strip(s, spec.step_delimiter) for s in b.steps]) for pi, b in batch]
    scores = scorer.score_steps(items)
    # one count per item (see StepScorer); a scorer that does not count charges nothing
    counts = getattr(scorer, "last_token_counts", None)
    if counts is None:
        counts = [0] * len(items)
    if len(counts) != len(items):
        raise ValueError(f"scorer reported token counts for {len(counts)} items, not one per item of {len(items)}")
    for (pi, beam), sc, n in zip(batch, scores, counts, strict=True):
        if len(sc) != len(beam.steps):
            raise ValueError(f"scorer returned {len(sc)} step scores for {len(beam.steps)} steps")
        beam.step_scores = [float(x) for x in sc]
        acc[pi].scored_tokens += int(n)


StepValues = Callable[[list[tuple[int, Beam]], list[Accounting], int], None]  # (batch, acc, step)


def beam_search(problems: Sequence[SearchProblem], gen: StepGenerator, scorer: StepScorer, spec: SearchSpec,
                seed_fn: SeedFn, progress: Progress | None = None, step_values: StepValues | None = None
                ) -> SearchOutput:
    """N beams; after each step keep the N/M best by aggregated PRM score and expand each M ways.

    Finished beams are set aside; the search of a problem ends when N beams have finished or after
    `max_steps`, when the live beams finish as they are. The N best finished beams are the answers.
    `step_values(batch, acc, step)` sets the beams' step scores (default: the
    scorer's score of each step; lookahead search scores rollouts instead).
    """
    n, m = spec.budget, spec.beam_width
    keep = max(1, n // m)
    progress = progress or Progress(len(problems) * n * spec.max_steps, "beam steps")
    acc = [Accounting() for _ in problems]
    active = [[Beam(slot=i) for i in range(n)] for _ in problems]
    finished: list[list[Beam]] = [[] for _ in problems]
    next_slot = [n] * len(problems)
    for step in range(spec.max_steps):
        batch = [(pi, b) for pi in range(len(problems)) for b in active[pi]]
        if not batch:
            break
        _extend(gen, spec, problems, batch, lambda b, s=step: f"beam/{n}/{m}/{s}/{b.slot}", seed_fn, acc, progress)
        if step_values is None:
            _score(scorer, spec, problems, batch, acc)
        else:
            step_values(batch, acc, step)
        for pi in range(len(problems)):
            finished[pi] += [b for b in active[pi] if b.done]
            alive = [b for b in active[pi] if not b.done]
            if len(finished[pi]) >= n or not alive:
                active[pi] = []  # enough answers: the live beams are dropped
                continue
            children = []
            for parent in rank(alive, spec.aggregation)[:keep]:
                for _ in range(m):
                    children.append(parent.child(next_slot[pi]))
                    next_slot[pi] += 1
            active[pi] = children
    return SearchOutput([rank(f, spec.aggregation)[:n] for f in finished], acc)


def dvts(problems: Sequence[SearchProblem], gen: StepGenerator, scorer: StepScorer, spec: SearchSpec,
         seed_fn: SeedFn, progress: Progress | None = None) -> SearchOutput:
    """Diverse verifier tree search: N/M independent subtrees, each a greedy search of width M.

    Each step expands every live subtree's current beam into M children and keeps the best child;
    a subtree ends when its best child is finished (or after `max_steps`). Its M last children are
    its answers, so a problem gets N answers from N/M subtrees that never compete with each other.
    """
    n, m = spec.budget, spec.beam_width
    subtrees = max(1, n // m)
    progress = progress or Progress(len(problems) * n * spec.max_steps, "dvts steps")
    acc = [Accounting() for _ in problems]
    current: list[list[Beam | None]] = [[Beam(slot=-1 - s) for s in range(subtrees)] for _ in problems]
    leaves: list[list[list[Beam]]] = [[[] for _ in range(subtrees)] for _ in problems]
    for step in range(spec.max_steps):
        batch, owner = [], []
        for pi in range(len(problems)):
            for s, beam in enumerate(current[pi]):
                if beam is None:
                    continue
                kids = [beam.child(s * m + j) for j in range(m)]
                leaves[pi][s] = kids
                batch += [(pi, k) for k in kids]
                owner += [(pi, s)] * m
        if not batch:
            break
        _extend(gen, spec, problems, batch, lambda b, st=step: f"dvts/{n}/{m}/{st}/{b.slot}", seed_fn, acc, progress)
        _score(scorer, spec, problems, batch, acc)
        for pi in range(len(problems)):
            for s in range(subtrees):
                if current[pi][s] is None:
                    continue
                best = rank(leaves[pi][s], spec.aggregation)[0]
                current[pi][s] = None if best.done else best
    for pi in range(len(problems)):
        for s in range(subtrees):
            for b in leaves[pi][s]:
                if not b.done:
                    b.done, b.finish_reason = True, "max_steps"
    return SearchOutput([[b for s in range(subtrees) for b in leaves[pi][s]] for pi in range(len(problems))], acc)


def revisions(problems: Sequence[SearchProblem], gen: StepGenerator, scorer: StepScorer | None, spec: SearchSpec,
              seed_fn: SeedFn, progress: Progress | None = None,
              render: Callable[[dict[str, Any]], tuple[str, Any, bool]] | None = None) -> SearchOutput:
    """Sequential revisions (Snell et al.): N/R chains in parallel, each revising its answer R times.

    Round 0 answers the problem; round r shows the model its previous attempts (the last
    `context_attempts`) as a conversation and asks for a corrected solution. Every round's answer is
    a candidate, so a problem gets N = chains x rounds answers; the parallel/sequential ratio is set
    by `rounds`. `render` turns a problem row with extra messages into the prompt (the backend's
    chat template); without it the attempts are appended as plain text.
    """
    r = spec.rounds
    chains = max(1, spec.budget // r)
    progress = progress or Progress(len(problems) * chains * r, "answers")
    acc = [Accounting() for _ in problems]
    out: list[list[Beam]] = [[] for _ in problems]
    history: list[list[list[str]]] = [[[] for _ in range(chains)] for _ in problems]
    params = {**spec.params, "max_tokens": spec.params.get("max_tokens", spec.step_tokens)}
    for rnd in range(r):
        requests, index = [], []
        for pi, prob in enumerate(problems):
            for c in range(chains):
                prompt = prob.prompt if rnd == 0 else _revision_prompt(prob, history[pi][c], spec, render)
                slot = c * r + rnd
                requests.append(Request(prob.problem_id, slot, seed_fn(prob.problem_id, f"rev/{r}/{c}/{rnd}"),
                                        prompt, None, prob.add_special_tokens, params))
                index.append((pi, c, slot))
        results = gen.generate(requests, progress)
        for (pi, c, slot), res in zip(index, results, strict=True):
            acc[pi].add(res)
            history[pi][c].append(res.text)
            out[pi].append(Beam(slot, [res.text], [], True, res.finish_reason, res.completion_tokens,
                                res.cumulative_logprob or 0.0))
    for pi in range(len(problems)):
        out[pi].sort(key=lambda b: b.slot)
    return SearchOutput(out, acc)


def _revision_prompt(prob: SearchProblem, attempts: list[str], spec: SearchSpec,
                     render: Callable[[dict[str, Any]], tuple[str, Any, bool]] | None) -> str:
    recent = attempts[-spec.context_attempts:]
    prefix = prob.row.get("assistant_prefix") or ""
    if render is not None and prob.row.get("prompt_mode", "chat") == "chat":
        messages = json.loads(prob.row["messages"])
        for a in recent:
            messages += [{"role": "assistant", "content": prefix + a},
                         {"role": "user", "content": spec.revision_prompt}]
        text, _, _ = render({**prob.row, "messages": json.dumps(messages)})
        return text
    shown = "".join(f"\nPrevious attempt:\n{prefix}{a}\n{spec.revision_prompt}\n" for a in recent)
    return prob.prompt + shown + prefix
