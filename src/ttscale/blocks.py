"""The block grid: which problems and sample indices one shard holds.

A block is a rectangle of (problem positions) x (sample indices) on a grid fixed by
`problems_per_block` and `block_size`. Its name spells out both ranges, so a block's content is
a function of its name (and its sampling key) alone: raising the sample count only adds names.
Adding problems renames the last problem block (p00000-00010 -> p00000-00011); the generate stage
then takes the samples that block already had from the shard under the old name (matched on problem
id, sample index, seed and prompt; see `ttscale.generate.reusable_results`) and generates only the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ttscale.errors import DataError

BLOCK_PATTERN = r"p\d+-\d+_s\d+-\d+"
_BLOCK_RE = re.compile(r"^p(\d{5,})-(\d{5,})_s(\d{6,})-(\d{6,})$")
_POSITIONS_RE = re.compile(r"^p(\d{5,})-(\d{5,})$")


@dataclass(frozen=True, order=True)
class Block:
    p0: int
    p1: int
    s0: int
    s1: int

    @property
    def positions(self) -> str:
        """The problem half of the name, `p<p0>-<p1>` (also names a block's ids file)."""
        return f"p{self.p0:05d}-{self.p1:05d}"

    @property
    def name(self) -> str:
        return f"{self.positions}_s{self.s0:06d}-{self.s1:06d}"

    @property
    def n_problems(self) -> int:
        return self.p1 - self.p0

    @property
    def n_samples(self) -> int:
        return self.s1 - self.s0

    @property
    def size(self) -> int:
        """Rows in the block's shard."""
        return self.n_problems * self.n_samples

    @classmethod
    def parse(cls, name: str) -> Block:
        m = _BLOCK_RE.match(name)
        if not m:
            raise DataError(f"not a block name: {name!r} (expected e.g. p00000-00020_s000000-000016)")
        p0, p1, s0, s1 = (int(g) for g in m.groups())
        if not (p0 < p1 and s0 < s1):
            raise DataError(f"empty block range in {name!r}")
        return cls(p0, p1, s0, s1)

    @staticmethod
    def parse_positions(text: str) -> tuple[int, int]:
        """(p0, p1) from the problem half of a name, `p<p0>-<p1>` (the inverse of `positions`)."""
        m = _POSITIONS_RE.match(text)
        if not m or int(m.group(1)) >= int(m.group(2)):
            raise DataError(f"not a block's problem positions: {text!r} (expected e.g. p00000-00020)")
        return int(m.group(1)), int(m.group(2))


def _ranges(total: int, step: int) -> list[tuple[int, int]]:
    if step <= 0:
        raise ValueError(f"block size must be positive, got {step}")
    return [(a, min(a + step, total)) for a in range(0, total, step)]


def plan_blocks(
    n_problems: int, samples_per_problem: int, block_size: int, problems_per_block: int
) -> list[Block]:
    """All blocks covering n_problems x samples_per_problem, in a stable order."""
    return [
        Block(p0, p1, s0, s1)
        for p0, p1 in _ranges(n_problems, problems_per_block)
        for s0, s1 in _ranges(samples_per_problem, block_size)
    ]
