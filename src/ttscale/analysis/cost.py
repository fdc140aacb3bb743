"""Inference cost: FLOPs after Brown et al. (2024) and dollars from configured token prices.

Large Language Monkeys counts, after Kaplan et al. (2020),
    FLOPs per token = 2 * (N + 2 * n_layers * d_model * context),
with N the parameter count and `context` the tokens the token attends to. We sum it exactly over
positions: a prompt of P tokens costs 2*N*P + 2*L*d*P*(P+1); a completion of C tokens after it costs
2*N*C + 2*L*d*C*(2P + C + 1). With `prompt_once` (the default, as in the paper: the samples of a
problem share the prompt's prefix cache) the prompt is paid once per problem, so k samples cost
prompt + k * mean completion; otherwise k * (prompt + completion).

N, n_layers and d_model come from the model folder: the parameter count from the safetensors
headers (exact, no weights loaded), else estimated from config.json; `models.<m>.flops` overrides any
of them (needed for API models). Dollars: prompt and completion tokens times the configured prices
per million tokens.

Unknown token counts (NaN: an import without --tokenizer) are missing, not free: a problem's means
skip them, and a problem with none known has NaN cost, which tables print empty and figures leave out.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ttscale.errors import ConfigError

log = logging.getLogger(__name__)


def _safetensors_params(folder: Path) -> int | None:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        for name, info in header.items():
            if name != "__metadata__":
                total += int(np.prod(info["shape"], dtype=np.int64))
    return total


def _config_params(cfg: dict[str, Any]) -> int:
    """Parameter estimate of a decoder-only transformer from its config.json (Llama-style)."""
    d = cfg["hidden_size"]
    L = cfg["num_hidden_layers"]
    V = cfg.get("vocab_size", 0)
    heads = cfg.get("num_attention_heads", 1)
    hd = cfg.get("head_dim") or d // heads
    kv = cfg.get("num_key_value_heads", heads)
    ff = cfg.get("intermediate_size", 4 * d)
    gated = cfg.get("hidden_act", "silu") in ("silu", "swiglu", "gelu_pytorch_tanh", "geglu")
    per_layer = d * heads * hd * 2 + 2 * d * kv * hd + (3 if gated else 2) * d * ff + 2 * d
    embed = V * d * (1 if cfg.get("tie_word_embeddings", False) else 2)
    return int(L * per_layer + embed + d)


def model_dims(name: str, spec: dict[str, Any], root: Path | None = None) -> dict[str, Any]:
    """N, n_layers and d_model of a model (from its folder, with the config's overrides)."""
    over = dict(spec.get("flops") or {})
    dims: dict[str, Any] = {"n_params": over.get("n_params"), "n_layers": over.get("n_layers"),
                            "d_model": over.get("d_model"), "source": "config overrides"}
    folder = Path(spec.get("path", ""))
    if root is not None and not folder.is_absolute():
        folder = root / folder
    cfg_file = folder / "config.json"
    if cfg_file.exists():
        cfg = json.loads(cfg_file.read_text())
        cfg = cfg.get("text_config", cfg)
        dims["n_layers"] = dims["n_layers"] or cfg.get("num_hidden_layers") or cfg.get("n_layer")
        dims["d_model"] = dims["d_model"] or cfg.get("hidden_size") or cfg.get("n_embd")
        if dims["n_params"] is None:
            exact = _safetensors_params(folder)
            dims["n_params"] = exact if exact is not None else _config_params(cfg)
            dims["source"] = f"{folder} ({'safetensors headers' if exact is not None else 'config.json estimate'})"
    missing = [k for k in ("n_params", "n_layers", "d_model") if not dims.get(k)]
    if missing:
        log.warning("model %s: no %s (no config.json at %s and no models.%s.flops); FLOPs are left out",
                    name, ", ".join(missing), cfg_file, name)
        dims["ok"] = False
    else:
        dims["ok"] = True
    return dims


def check_prices(name: str, spec: dict[str, Any]) -> dict[str, float]:
    price = spec.get("price") or {}
    out = {"input_per_mtok": float(price.get("input_per_mtok", 0.0)),
           "output_per_mtok": float(price.get("output_per_mtok", 0.0))}
    if min(out.values()) < 0:
        raise ConfigError(f"models.{name}.price: prices must not be negative, got {price}")
    return out


def nanmean_rows(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """Mean over the known (non-NaN) values; NaN, without a warning, where none is known."""
    x = np.asarray(x, np.float64)
    known = ~np.isnan(x)
    count = known.sum(axis=axis)
    total = np.where(known, x, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def problem_costs(prompt_tokens: np.ndarray, completion_tokens: np.ndarray, dims: dict[str, Any],
                  prices: dict[str, float]) -> dict[str, np.ndarray]:
    """Per problem: FLOPs and dollars of its prompt and of one completion on average (P x n inputs,
    NaN = unknown count: left out of the means, so a problem with no known count costs NaN)."""
    P = prompt_tokens.shape[0]
    p = nanmean_rows(prompt_tokens)
    c = completion_tokens
    c_mean = nanmean_rows(c)
    if dims.get("ok"):
        N, L, d = float(dims["n_params"]), float(dims["n_layers"]), float(dims["d_model"])
        prompt_flops = 2 * N * p + 2 * L * d * p * (p + 1)
        # a completion with a known length but no known prompt length attends to the problem's mean prompt
        ctx = np.where(np.isnan(prompt_tokens), p[:, None], prompt_tokens)
        decode = 2 * N * c + 2 * L * d * c * (2 * ctx + c + 1)
        decode_flops = nanmean_rows(decode)
    else:
        prompt_flops = decode_flops = np.full(P, np.nan)
    return {
        "prompt_tokens": p,
        "completion_tokens": c_mean,
        "prompt_flops": prompt_flops,
        "decode_flops": decode_flops,
        "prompt_dollars": p * prices["input_per_mtok"] / 1e6,
        "decode_dollars": c_mean * prices["output_per_mtok"] / 1e6,
    }


def cost_at(prompt: np.ndarray, per_sample: np.ndarray, ks: np.ndarray, prompt_once: bool = True) -> np.ndarray:
    """Cost of k samples per problem (P x K): prompt once plus k completions, or k of both."""
    k = np.asarray(ks, np.float64)[None, :]
    if prompt_once:
        return prompt[:, None] + k * per_sample[:, None]
    return k * (prompt[:, None] + per_sample[:, None])


def forward_flops(n_params: float | None, tokens: np.ndarray) -> np.ndarray:
    """2 x parameters x tokens (a forward pass, Kaplan et al.); NaN when the parameter count is unknown."""
    tokens = np.asarray(tokens, np.float64)
    if n_params is None or not np.isfinite(float(n_params)):
        return np.full(tokens.shape, np.nan)
    return 2.0 * float(n_params) * tokens


def scorer_costs(prompt_tokens: np.ndarray, completion_tokens: np.ndarray,
                 scorer_dims: dict[str, dict[str, Any]]) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Per problem: the tokens a scorer reads per sample (the prompt and the response: every reward
    model, PRM and judge reads both, counted with the policy's tokenizer) and, per model-based scorer,
    its FLOPs per sample (2 x its parameters x those tokens; NaN when its size is unknown)."""
    read = nanmean_rows(np.asarray(prompt_tokens, np.float64) + np.asarray(completion_tokens, np.float64))
    per = {s: forward_flops(d.get("n_params") if d.get("ok") else None, read) for s, d in sorted(scorer_dims.items())}
    return read, [{s: float(v[i]) for s, v in per.items()} for i in range(len(read))]


def search_scored_tokens(shards: Sequence[str | Path], problem_ids: Sequence[str],
                         budget: int | None = None) -> np.ndarray:
    """Per problem (in `problem_ids` order): every token the search's step scorer read while searching
    (ttscale.search's `search_scored_tokens`, the same on each of a problem's answers at a budget), at
    `budget` when the run spans several; NaN for a problem no shard has, or shards written without
    the column."""
    where = {p: i for i, p in enumerate(problem_ids)}
    out = np.full(len(problem_ids), np.nan)
    for path in shards:
        names = pq.read_schema(path).names
        if "search_scored_tokens" not in names:
            continue
        t = pq.read_table(path, columns=["problem_id", "search_scored_tokens",
                                         *(["budget"] if budget is not None and "budget" in names else [])])
        if budget is not None and "budget" in names:
            t = t.filter(pc.equal(t["budget"], budget))
        d = t.to_pydict()
        for p, v in zip(d["problem_id"], d["search_scored_tokens"], strict=True):
            if p in where and v is not None:
                i = where[p]
                out[i] = max(float(v), 0.0 if np.isnan(out[i]) else out[i])
    return out
