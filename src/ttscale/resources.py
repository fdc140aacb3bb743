"""A job's GPUs, CPUs and memory from the models it loads.

An engine job (generate, score) needs as many GPUs as its model's vLLM engine spans:
`tensor_parallel_size x pipeline_parallel_size` of its `engine:` settings (one for a model without
them, none for a model behind an OpenAI-compatible server). A search job loads the policy and its
step scorer in one process on the same GPUs (each takes its `gpu_memory_utilization` share), so it
needs the larger of the two. The rules' resource functions (workflow/rules/generate.smk,
score.smk) ask for that many GPUs, and for host CPUs and memory in proportion; profiles keep only
what is the cluster's (partition, GPU type, account, runtime).

One job runs on one node: vLLM's multi-node mode (a Ray cluster across nodes) is out of scope, so a
model must fit the GPUs of one node (`check_node_gpus`).
"""

from __future__ import annotations

from typing import Any

from ttscale.errors import ConfigError

# Host resources per job: a base plus a share per GPU (the old per-rule figures for one GPU: 8 CPUs
# and 64 GB). A profile's set-resources for the rule still overrides them.
CPUS_BASE, CPUS_PER_GPU = 4, 4
MEM_MB_BASE, MEM_MB_PER_GPU = 32_000, 32_000
# GPUs of the largest node a job may ask for (8 on the common GPU nodes)
MAX_GPUS_PER_NODE = 8


def engine_gpus(engine: dict[str, Any] | None, backend: str | None = "vllm") -> int:
    """GPUs one engine spans: tensor x pipeline parallel size; 0 for a remote (openai) backend."""
    if backend == "openai":
        return 0
    engine = engine or {}
    tp = int(engine.get("tensor_parallel_size") or 1)
    pp = int(engine.get("pipeline_parallel_size") or 1)
    return tp * pp


def model_gpus(config: dict[str, Any], model: str) -> int:
    spec = config["models"][model]
    return engine_gpus(spec.get("engine"), spec.get("backend", "vllm"))


def scorer_gpus(config: dict[str, Any], scorer: str) -> int:
    """GPUs of a scorer's engine (its own `engine:`, which is what it runs with); 0 without a model."""
    from ttscale.models.families import resolve

    spec = resolve(config["scorers"][scorer])
    if spec.get("kind") == "logprob":
        return 0
    return engine_gpus(spec.get("engine"), spec.get("backend") or "vllm")


def generate_gpus(config: dict[str, Any], model: str, strategy: str | None = None) -> int:
    """GPUs of a generate job: the model's, or for a search the larger of the policy's and its
    step scorer's (both share the job's GPUs)."""
    gpus = model_gpus(config, model)
    if strategy is not None:
        scorer = (config.get("strategies") or {}).get(strategy, {}).get("scorer")
        if scorer:
            gpus = max(gpus, scorer_gpus(config, scorer))
    return gpus


def host_cpus(gpus: int) -> int:
    return CPUS_BASE + CPUS_PER_GPU * max(gpus, 1)


def host_mem_mb(gpus: int) -> int:
    return MEM_MB_BASE + MEM_MB_PER_GPU * max(gpus, 1)


def check_node_gpus(config: dict[str, Any], limit: int = MAX_GPUS_PER_NODE) -> None:
    """A model whose engine spans more GPUs than one node has cannot run (multi-node is out of scope)."""
    for name in config["models"]:
        if (g := model_gpus(config, name)) > limit:
            raise ConfigError(f"models.{name}.engine: tensor_parallel_size x pipeline_parallel_size = {g} GPUs, "
                              f"more than one node's {limit}; multi-node engines are not supported")
    for name in config.get("scorers") or {}:
        if (g := scorer_gpus(config, name)) > limit:
            raise ConfigError(f"scorers.{name}.engine: {g} GPUs, more than one node's {limit}; "
                              f"multi-node engines are not supported")


def job_resources(gpus: int) -> dict[str, int]:
    """What a rule asks for, for a job on `gpus` GPUs (the SLURM plugin's `gpu`, `cpus_per_task`, `mem_mb`)."""
    return {"gpu": gpus, "cpus_per_task": host_cpus(gpus), "mem_mb": host_mem_mb(gpus)}
