"""Which stage makes a block of samples: repeated sampling (ttscale.generate) or a search run.

A search block needs a backend of the generate stage and a step scorer of the score stage; neither
stage may import the other or the planner, so the pairing happens here, above the stages. The
generate rule's script calls `run_block`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ttscale.analysis.rounds import block_subset
from ttscale.blocks import Block
from ttscale.errors import DataError
from ttscale.generate import Backend, make_backend
from ttscale.generate import run_block as run_sampling_block
from ttscale.keys import is_search_key
from ttscale.plan import find_run
from ttscale.score import make_scorer
from ttscale.search import run_search_block


def run_block(
    config: dict[str, Any],
    model: str,
    dataset: str,
    sampling: str,
    block: str,
    problems_path: str | Path,
    output: str | Path,
    threads: int | None = None,
    root: Path | None = None,
    backend: Backend | None = None,
    decision: str | Path | None = None,
) -> dict[str, Any]:
    """Write the block's sample shard, by search for a search run's key, else by repeated sampling.

    `backend` may be passed in to reuse a loaded engine for several blocks (benchmarks, tests).
    `decision`: for a later round of an adaptive run, the round's decision file, whose chosen
    problems at the block's positions are the ones sampled (ttscale.analysis.rounds).
    """
    root = root or Path.cwd()
    if not is_search_key(config, model, dataset, sampling, root):
        only = block_subset(decision, block) if decision else None
        return run_sampling_block(config, model, dataset, sampling, block, problems_path, output, threads, root,
                                  backend, only=only)
    run = find_run(config, model, dataset, sampling, root)
    if run.strategy is None:  # checked before any engine is built
        raise DataError(f"{output}: {sampling} is not a search run of the current config")
    scorer_name = config["strategies"][run.strategy].get("scorer")
    own = backend is None
    if backend is None:
        backend = make_backend(config, model, root, threads)
    scorer = None
    try:
        scorer = make_scorer(scorer_name, config, root, threads) if scorer_name else None
        return run_search_block(config, run, Block.parse(block), problems_path, output, backend, scorer)
    finally:
        if scorer is not None:
            scorer.close()
        if own:
            backend.close()
