"""The block grid and per-sample seeds."""

from __future__ import annotations

import pytest

from ttscale.blocks import Block, plan_blocks
from ttscale.errors import DataError
from ttscale.seeds import sample_seed


def test_block_names_round_trip():
    b = Block(0, 20, 32, 48)
    assert b.name == "p00000-00020_s000032-000048"
    assert Block.parse(b.name) == b and b.size == 20 * 16


@pytest.mark.parametrize("bad", ["p1-2_s3-4", "p00000-00020", "p00020-00010_s000000-000016", "x"])
def test_bad_block_names(bad):
    with pytest.raises(DataError):
        Block.parse(bad)


def test_positions_round_trip():
    b = Block(40, 60, 0, 16)
    assert Block.parse_positions(b.positions) == (40, 60)
    for bad in ("p00060-00040", "p1-2", b.name, "p00000-00020x"):
        with pytest.raises(DataError, match="problem positions"):
            Block.parse_positions(bad)


def test_grid_covers_everything_once():
    blocks = plan_blocks(n_problems=45, samples_per_problem=70, block_size=32, problems_per_block=20)
    cells = {(p, s) for b in blocks for p in range(b.p0, b.p1) for s in range(b.s0, b.s1)}
    assert len(cells) == sum(b.size for b in blocks) == 45 * 70


def test_adding_samples_only_adds_blocks():
    before = set(plan_blocks(10, 64, 16, 500))
    after = set(plan_blocks(10, 128, 16, 500))
    assert before < after
    assert all(b.s0 >= 64 for b in after - before)


def test_partial_last_block_is_named_by_its_range():
    before = set(plan_blocks(10, 70, 32, 500))
    after = set(plan_blocks(10, 128, 32, 500))
    gone = before - after
    assert [b.name for b in gone] == ["p00000-00010_s000064-000070"]
    assert {b.s0 for b in after - before} == {64, 96}


def test_adding_problems_only_adds_blocks_when_chunks_are_full():
    before = set(plan_blocks(40, 32, 16, 20))
    after = set(plan_blocks(60, 32, 16, 20))
    assert before < after and all(b.p0 >= 40 for b in after - before)


def test_seeds_depend_on_every_field_and_nothing_else():
    s = sample_seed(0, "m", "d", "p/1", 5)
    assert s == sample_seed(0, "m", "d", "p/1", 5)
    assert 0 <= s < 2**63
    others = {
        sample_seed(1, "m", "d", "p/1", 5),
        sample_seed(0, "m2", "d", "p/1", 5),
        sample_seed(0, "m", "d2", "p/1", 5),
        sample_seed(0, "m", "d", "p/2", 5),
        sample_seed(0, "m", "d", "p/1", 6),
    }
    assert s not in others and len(others) == 5


def test_seeds_are_distinct_over_many_samples():
    seeds = {sample_seed(0, "m", "d", f"p/{p}", i) for p in range(50) for i in range(2000)}
    assert len(seeds) == 100_000
