"""vLLM's offline engine, in-process: every prompt x sample of a block in one call."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ttscale.engine import make_llm
from ttscale.generate.base import Backend, Request, Result, render_with_tokenizer
from ttscale.generate.progress import Progress, tqdm_for
from ttscale.models.resolve import resolve_model_path
from ttscale.reasoning import spec_for


def sampling_params(params: dict[str, Any], seed: int):
    from vllm import SamplingParams

    return SamplingParams(
        temperature=params.get("temperature", 1.0),
        top_p=params.get("top_p", 1.0),
        top_k=params.get("top_k", 0) or 0,
        min_p=params.get("min_p", 0.0),
        max_tokens=params.get("max_tokens", 256),
        repetition_penalty=params.get("repetition_penalty", 1.0),
        stop=list(params.get("stop") or []) or None,
        include_stop_str_in_output=bool(params.get("include_stop_str_in_output", False)),
        seed=seed,
        logprobs=0,  # the sampled token's log-probability, summed into cumulative_logprob
    )


class VLLMBackend(Backend):
    kind = "vllm"

    def __init__(self, name: str, model: dict[str, Any], root: Path, threads: int | None = None,
                 seed: int = 0) -> None:
        super().__init__(name, model, root, threads, seed)
        path = resolve_model_path(name, model, root)
        tokenizer = model.get("tokenizer")
        start = time.time()
        self.llm = make_llm(
            path,
            dtype=model.get("dtype", "auto"),
            max_model_len=model.get("max_model_len"),
            tokenizer=tokenizer,
            revision=model.get("revision"),
            quantization=model.get("quantization"),
            seed=seed,
            threads=threads,
            engine=model.get("engine"),
        )
        self.load_seconds = time.time() - start
        self.tokenizer = self.llm.get_tokenizer()

    def render(self, row: dict[str, Any]) -> tuple[str, list[dict[str, str]] | None, bool]:
        return render_with_tokenizer(self.tokenizer, row, spec_for(self.model))

    def generate(self, requests: list[Request], progress: Progress,
                 journal: Path | None = None) -> list[Result]:
        prompts = [
            {"prompt_token_ids": self.tokenizer.encode(r.prompt, add_special_tokens=r.add_special_tokens)}
            for r in requests
        ]
        params = [sampling_params(r.params, r.seed) for r in requests]
        outputs = self.llm.generate(prompts, params, use_tqdm=tqdm_for(progress))
        results = []
        for out in outputs:
            c = out.outputs[0]
            n = len(c.token_ids)
            progress.tokens += n
            results.append(
                Result(
                    text=c.text,
                    finish_reason=str(c.finish_reason or "stop"),
                    prompt_tokens=len(out.prompt_token_ids or []),
                    completion_tokens=n,
                    cumulative_logprob=c.cumulative_logprob,
                )
            )
        return results

    def describe(self) -> dict[str, Any]:
        import vllm

        return {"backend": self.kind, "vllm": vllm.__version__, "load_seconds": round(self.load_seconds, 2)}

    def close(self) -> None:
        from ttscale.engine import release

        if getattr(self, "llm", None) is not None:
            release(self.llm)
            self.llm = None
