"""Budget forcing (Muennighoff et al. 2025, "s1: Simple test-time scaling") as a generation variant.

A reasoning model's thinking is held to a token budget: thinking that reaches the budget is cut
(the block is closed and the model is asked for its final answer); thinking that ends before
`min_thinking` tokens is extended by suppressing the end delimiter and appending a continuation
word ("Wait"), up to `max_extensions` times. Each round is one generator call over every still
thinking sample of every problem of the job, then one call writes all answers, so the engine
batches across problems and samples as in the other strategies.

Token counts are the engine's: a sample's `thinking_tokens` is what the engine generated inside
the block (the continuation words and the closing delimiter are inserted text, not generated), so
a cut sample has exactly `thinking_budget` of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from ttscale.errors import ConfigError
from ttscale.generate.base import Request
from ttscale.generate.progress import Progress
from ttscale.reasoning import COLUMNS, ReasoningSpec, opens_in
from ttscale.search.base import Accounting, Beam, StepGenerator
from ttscale.search.strategies import SearchOutput, SearchProblem, SearchSpec, SeedFn

# what a budget-forcing shard adds to the search columns (besides the reasoning columns)
META_COLUMNS = [("thinking_budget", pa.int32()), ("times_extended", pa.int32()), ("times_cut", pa.int32()),
                ("answer_tokens", pa.int32())]


@dataclass
class _Thought:
    """One sample's thinking so far."""

    text: str = ""
    tokens: int = 0
    extended: int = 0
    cut: int = 0
    logprob: float = 0.0
    done: bool = False


def _think_params(spec: SearchSpec, reasoning: ReasoningSpec, left: int) -> dict:
    # only the end delimiter stops thinking: the dataset's stop strings (```, "Question:") belong to answers
    return {**spec.params, "stop": [reasoning.end], "include_stop_str_in_output": False, "max_tokens": left}


def budget_forcing(problems: Sequence[SearchProblem], gen: StepGenerator, scorer: object, spec: SearchSpec,
                   seed_fn: SeedFn, progress: Progress | None = None,
                   reasoning: ReasoningSpec | None = None) -> SearchOutput:
    """N samples per problem, each thinking for at most `thinking_budget` tokens, then answering."""
    if reasoning is None:
        raise ConfigError("budget forcing needs the model's thinking delimiters: set models.<m>.reasoning")
    n, budget = spec.budget, spec.thinking_budget
    floor = budget if spec.min_thinking is None else min(spec.min_thinking, budget)
    progress = progress or Progress(len(problems) * n, "budget-forced answers")
    acc = [Accounting() for _ in problems]
    # a prompt that does not open the block (no template or prefix did) gets it opened by the completion
    opener = ["" if opens_in(p.prompt, reasoning) else reasoning.start + "\n" for p in problems]
    thoughts = [[_Thought(text=opener[pi]) for _ in range(n)] for pi in range(len(problems))]
    for rnd in range(spec.max_extensions + 1):
        batch = [(pi, i) for pi in range(len(problems)) for i in range(n) if not thoughts[pi][i].done]
        if not batch:
            break
        requests = [
            Request(problems[pi].problem_id, i, seed_fn(problems[pi].problem_id, f"bf/{budget}/{i}/think/{rnd}"),
                    problems[pi].prompt + thoughts[pi][i].text, None, problems[pi].add_special_tokens,
                    _think_params(spec, reasoning, budget - thoughts[pi][i].tokens))
            for pi, i in batch
        ]
        for (pi, i), res in zip(batch, gen.generate(requests, Progress(len(requests), "thinking")), strict=True):
            t = thoughts[pi][i]
            acc[pi].add(res)
            t.text += res.text
            t.tokens += res.completion_tokens
            t.logprob += res.cumulative_logprob or 0.0
            if res.finish_reason == "length":
                t.cut, t.done = 1, True  # at the budget: close the block here
            elif t.tokens < floor and t.extended < spec.max_extensions:
                t.text += spec.continuation  # ended early: suppress the delimiter, keep thinking
                t.extended += 1
            else:
                t.done = True
    closing = reasoning.end + spec.answer_prefix
    requests, index = [], []
    for pi, prob in enumerate(problems):
        stop = list(dict.fromkeys([*(spec.params.get("stop") or []), *(prob.row.get("stop") or [])]))
        params = {**spec.params, "stop": stop, "max_tokens": spec.answer_tokens}
        for i in range(n):
            requests.append(Request(prob.problem_id, i, seed_fn(prob.problem_id, f"bf/{budget}/{i}/answer"),
                                    prob.prompt + thoughts[pi][i].text + closing, None, prob.add_special_tokens,
                                    params))
            index.append((pi, i))
    answers = gen.generate(requests, progress)
    out: list[list[Beam]] = [[] for _ in problems]
    for (pi, i), res in zip(index, answers, strict=True):
        t = thoughts[pi][i]
        acc[pi].add(res)
        thinking = t.text + closing
        beam = Beam(i, [thinking + res.text], [], True, res.finish_reason, t.tokens + res.completion_tokens,
                    t.logprob + (res.cumulative_logprob or 0.0))
        beam.meta = {"answer_start": len(thinking), "thinking_tokens": t.tokens, "thinking_status": "closed",
                     "thinking_budget": budget, "times_extended": t.extended, "times_cut": t.cut,
                     "answer_tokens": res.completion_tokens}
        out[pi].append(beam)
    return SearchOutput(out, acc, columns=[*COLUMNS, *META_COLUMNS])
