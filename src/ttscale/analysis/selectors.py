"""The selectors: how a run's n samples become one answer, by name.

A selector name is `<kind>` or `<kind>:<score>` (`vote`, `best:orm`, `wvote:prm:last`, where
`prm:last` is a process scorer's step aggregation). The registry says for each kind how it picks
an answer, what it needs of a run and how figures and tables label it; analysis, tables and
figures parse names only through `parse`, never by their spelling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ttscale.registry import Registry

# score baselines that are negative log-probabilities: they rank samples but cannot weight a vote
LOGPROB_SCORES = ("logprob", "mean_logprob")


@dataclass(frozen=True)
class Selector:
    """One kind of selector; `label` is a format string over the score name."""

    kind: str
    picks: str  # how it picks an answer (for readers of the registry)
    needs_answers: bool  # needs answer keys (the votes group equal answers)
    needs_score: bool  # takes a score of the run (`<kind>:<score>`)
    label: str
    figure_rank: int  # order in figure legends: oracle, votes, best-of-k

    def names(self, scores: Iterable[str], voting: bool) -> list[str]:
        """The names of this kind a run offers: its scores' (if it takes one); none that need
        answer keys when the run has none."""
        if self.needs_answers and not voting:
            return []
        if not self.needs_score:
            return [self.kind]
        return [f"{self.kind}:{s}" for s in scores if not (self.kind == "wvote" and s in LOGPROB_SCORES)]


SELECTORS: Registry[Selector] = Registry("selector")
ORACLE = "oracle"  # the selector name of coverage (pass@k): an oracle verifier picks any correct sample
SELECTORS.register(ORACLE)(Selector(ORACLE, "any correct sample (an oracle verifier): coverage, pass@k",
                                    False, False, "coverage (oracle verifier)", 0))
SELECTORS.register("vote")(Selector("vote", "the most frequent answer (majority vote)", True, False,
                                    "majority vote", 1))
SELECTORS.register("best")(Selector("best", "the sample with the highest score (best-of-k)", False, True,
                                    "best-of-k by {score}", 3))
SELECTORS.register("wvote")(Selector("wvote", "the answer with the largest sum of scores (weighted vote)", True,
                                     True, "weighted vote by {score}", 2))
# the order in which a run's selectors are listed (and so computed and written)
LISTING = ("vote", "best", "wvote")


def parse(name: str) -> tuple[Selector, str | None]:
    """(kind, score name or None) of a selector name; an unknown kind is an error naming it."""
    kind, sep, score = name.partition(":")
    sel = SELECTORS.get(kind, f"selector {name!r}")
    if sel.needs_score != bool(sep):
        raise ValueError(f"selector {name!r}: {kind} {'takes' if sel.needs_score else 'takes no'} score")
    return sel, (score if sep else None)


def kind(name: str) -> str:
    return parse(name)[0].kind


def score_of(name: str) -> str | None:
    """The score a selector uses (`orm` of `best:orm`), None for oracle and vote."""
    return parse(name)[1]


def scorer_of(name: str) -> str | None:
    """The scorer whose model a selector runs (`orm` of `best:orm`, `prm` of `wvote:prm:last`: a
    step aggregation is the same scorer's), None for oracle and vote: what its answers cost beyond
    sampling (model-free scores such as log-probabilities have no model and cost nothing)."""
    score = score_of(name)
    return score.split(":")[0] if score else None


def available(scores: Iterable[str], voting: bool) -> list[str]:
    """Every selector name a run offers besides the oracle, in listing order."""
    scores = list(scores)
    return [n for k in LISTING for n in SELECTORS.get(k).names(scores, voting)]


def label(name: str) -> str:
    """How figures and tables name a selector; a name that is not a selector is shown as is."""
    try:
        sel, score = parse(name)
    except (KeyError, ValueError):
        return name
    return sel.label.format(score=score)


def order(names: Iterable[str]) -> list[str]:
    """oracle first, then votes, then best-of-k, each alphabetical; unknown names last."""
    def rank(s: str) -> tuple[int, str]:
        try:
            return parse(s)[0].figure_rank, s
        except (KeyError, ValueError):
            return 3, s

    return sorted(set(names), key=rank)
