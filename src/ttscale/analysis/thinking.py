"""Cost of a reasoning model's samples with thinking and answer apart: tokens, FLOPs and dollars.

Per problem and run, the mean thinking and answer tokens of a sample and their FLOPs under the cost
model of ttscale.analysis.cost (a token attends to everything before it, so the answer's tokens,
which come after the thinking, cost more per token than the same tokens would alone): thinking of
t tokens after a prompt of P costs 2Nt + 2Ld t(2P + t + 1), an answer of a tokens after both costs
2Na + 2Ld a(2(P + t) + a + 1). Dollars: thinking at `price.thinking_per_mtok` when the model sets it
(APIs that bill thinking apart), else at `output_per_mtok` like the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ttscale.analysis.cost import check_prices, model_dims
from ttscale.errors import DataError
from ttscale.io import read_run, write_table

THINKING_COSTS = pa.schema([
    ("model", pa.string()), ("dataset", pa.string()), ("sampling", pa.string()), ("problem_id", pa.string()),
    ("n", pa.int64()), ("prompt_tokens", pa.float64()), ("thinking_tokens", pa.float64()),
    ("answer_tokens", pa.float64()), ("unclosed", pa.int64()), ("thinking_flops", pa.float64()),
    ("answer_flops", pa.float64()), ("thinking_dollars", pa.float64()), ("answer_dollars", pa.float64()),
])


def _decode_flops(dims: dict[str, Any], context: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    if not dims.get("ok"):
        return np.full(len(tokens), np.nan)
    N, L, d = float(dims["n_params"]), float(dims["n_layers"]), float(dims["d_model"])
    return 2 * N * tokens + 2 * L * d * tokens * (2 * context + tokens + 1)


def run_costs(samples: str | Path, model: str, spec: dict[str, Any], dataset: str, sampling: str,
              root: Path | None = None) -> pa.Table:
    """THINKING_COSTS rows of one run from its aggregate per-sample table."""
    names = pq.read_schema(samples).names
    if "thinking_tokens" not in names:
        raise DataError(f"{samples}: no thinking_tokens column (is models.{model}.reasoning set?)")
    t = read_run(samples, ["problem_id", "prompt_tokens", "completion_tokens", "thinking_tokens",
                           "thinking_status"], sampling).to_pydict()
    by: dict[str, list[int]] = {}
    for i, p in enumerate(t["problem_id"]):
        by.setdefault(p, []).append(i)
    dims, prices = model_dims(model, spec, root), check_prices(model, spec)
    think_price = (spec.get("price") or {}).get("thinking_per_mtok")
    think_price = prices["output_per_mtok"] if think_price is None else float(think_price)

    def col(name: str) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in t[name]], np.float64)

    prompt, comp, think = col("prompt_tokens"), col("completion_tokens"), col("thinking_tokens")
    answer = np.maximum(comp - think, 0.0)
    t_flops = _decode_flops(dims, prompt, think)
    a_flops = _decode_flops(dims, prompt + think, answer)
    rows = []
    for p, idx in by.items():
        ix = np.array(idx)
        rows.append({
            "model": model, "dataset": dataset, "sampling": sampling, "problem_id": p, "n": len(ix),
            "prompt_tokens": float(np.nanmean(prompt[ix])), "thinking_tokens": float(np.nanmean(think[ix])),
            "answer_tokens": float(np.nanmean(answer[ix])),
            "unclosed": sum(t["thinking_status"][i] == "unclosed" for i in idx),
            "thinking_flops": float(np.nanmean(t_flops[ix])), "answer_flops": float(np.nanmean(a_flops[ix])),
            "thinking_dollars": float(np.nanmean(think[ix])) * think_price / 1e6,
            "answer_dollars": float(np.nanmean(answer[ix])) * prices["output_per_mtok"] / 1e6,
        })
    rows.sort(key=lambda r: r["problem_id"])
    return pa.Table.from_pylist(rows, schema=THINKING_COSTS)


def write_thinking_costs(runs: Sequence[dict[str, Any]], models: dict[str, Any], output: str | Path,
                         root: str | Path | None = None) -> dict[str, Any]:
    """The `thinking_costs` stage: one table over every run of a reasoning model."""
    tables = [run_costs(r["samples"], r["model"], models[r["model"]], r["dataset"], r["sampling"],
                        Path(root) if root else Path.cwd()) for r in runs]
    table = pa.concat_tables(tables) if tables else THINKING_COSTS.empty_table()
    table = table.sort_by([("dataset", "ascending"), ("model", "ascending"), ("sampling", "ascending"),
                           ("problem_id", "ascending")])
    write_table(output, table, THINKING_COSTS, metadata={"runs": len(runs)})
    return {"rows": table.num_rows}


__all__ = ["THINKING_COSTS", "run_costs", "write_thinking_costs"]
