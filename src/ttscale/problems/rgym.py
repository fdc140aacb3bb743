"""reasoning-gym tasks, generated offline from a seed.

Item i of a reasoning-gym dataset depends only on (seed, i), so raising `size` appends problems
and never changes earlier ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from ttscale.errors import ConfigError
from ttscale.problems.base import Loader, Problem

MATH_TASKS = {
    "gsm_symbolic",
    "basic_arithmetic",
    "chain_sum",
    "simple_equations",
    "leg_counting",
    "fraction_simplification",
    "decimal_arithmetic",
    "products",
    "gcd",
    "lcm",
    "prime_factorization",
    "polynomial_equations",
    "complex_arithmetic",
    "power_function",
    "number_format",
}


class ReasoningGymLoader(Loader):
    required_args = ("task",)
    size_args = ("size",)

    def default_task(self) -> str:
        return "math" if self.args["task"] in MATH_TASKS else "other"

    def _options(self) -> dict:
        opts = {k: v for k, v in self.args.items() if k not in ("task", "size", "seed")}
        return opts

    def size(self) -> int:
        return int(self.args.get("size", 100))

    def load(self) -> Iterator[Problem]:
        import reasoning_gym

        task = self.args["task"]
        seed = int(self.args.get("seed", 0))
        try:
            ds = reasoning_gym.create_dataset(task, size=self.size(), seed=seed, **self._options())
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"datasets.{self.name}.args: reasoning-gym task {task!r}: {exc}") from None
        for i in range(len(ds)):
            item = ds[i]
            meta = dict(item.get("metadata") or {})
            level = meta.get("difficulty")
            yield Problem(
                problem_id=f"{task}/{seed}/{i}",
                question=item["question"],
                answer=str(item["answer"]),
                level=None if level is None else json.dumps(level, sort_keys=True, default=str),
                metadata={"reasoning_gym": {"task": task, "seed": seed, "index": i, "options": self._options()},
                          **meta},
            )
