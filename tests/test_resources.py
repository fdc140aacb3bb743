"""A job's GPUs, CPUs and memory follow from the models it loads (ttscale.resources)."""

from __future__ import annotations

import pytest

from ttscale import resources as tres
from ttscale.config import validate
from ttscale.errors import ConfigError


def config(policy_engine: dict, prm_engine: dict | None = None, backend: str = "vllm") -> dict:
    return validate({
        "models": {"pol": {"path": "org/pol", "engine": policy_engine, "backend": backend},
                   "small": {"path": "org/small"}},
        "datasets": {"d": {"loader": "human_eval", "limit": 2}},
        "sampling": {"s": {}},
        "scorers": {"prm": {"kind": "process", "path": "org/prm", "engine": prm_engine or {}},
                    "lp": {"kind": "logprob"}},
        "strategies": {"beam": {"kind": "beam", "budgets": [4], "beam_width": 2, "scorer": "prm"},
                       "rev": {"kind": "revisions", "budgets": [4], "rounds": 2}},
    })


def test_gpus_from_tensor_and_pipeline_parallel_sizes():
    assert tres.engine_gpus({}) == 1 and tres.engine_gpus(None) == 1
    assert tres.engine_gpus({"tensor_parallel_size": 2}) == 2
    assert tres.engine_gpus({"tensor_parallel_size": 2, "pipeline_parallel_size": 2}) == 4
    assert tres.engine_gpus({"tensor_parallel_size": 4}, "openai") == 0  # a server elsewhere holds it
    c = config({"tensor_parallel_size": 2})
    assert tres.model_gpus(c, "pol") == 2 and tres.model_gpus(c, "small") == 1
    assert tres.generate_gpus(c, "pol") == 2 and tres.generate_gpus(c, "pol", "rev") == 2
    assert tres.scorer_gpus(c, "prm") == 1 and tres.scorer_gpus(c, "lp") == 0


def test_a_search_job_asks_for_what_policy_and_prm_need():
    c = config({}, {"tensor_parallel_size": 2, "gpu_memory_utilization": 0.3})
    assert tres.generate_gpus(c, "pol", "beam") == 2  # the PRM spans 2 GPUs, the policy shares them
    assert tres.generate_gpus(c, "pol", "rev") == 1  # revisions load no scorer
    assert tres.generate_gpus(c, "small", None) == 1
    r = tres.job_resources(2)
    assert r == {"gpu": 2, "cpus_per_task": tres.host_cpus(2), "mem_mb": tres.host_mem_mb(2)}
    assert tres.host_cpus(2) > tres.host_cpus(1) and tres.host_mem_mb(4) > tres.host_mem_mb(2)
    assert tres.job_resources(0)["gpu"] == 0 and tres.job_resources(0)["cpus_per_task"] == tres.host_cpus(1)


def test_more_gpus_than_a_node_is_a_clear_error():
    tres.check_node_gpus(config({"tensor_parallel_size": 8}))
    with pytest.raises(ConfigError, match=r"models\.pol\.engine: .* 16 GPUs.*multi-node"):
        tres.check_node_gpus(config({"tensor_parallel_size": 8, "pipeline_parallel_size": 2}))
    with pytest.raises(ConfigError, match=r"scorers\.prm\.engine: 16 GPUs"):
        tres.check_node_gpus(config({}, {"tensor_parallel_size": 16}))
