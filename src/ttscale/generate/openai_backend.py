"""Any OpenAI-compatible server (vllm serve, SGLang, hosted APIs).

Requests run with bounded concurrency and retries with exponential backoff. Each finished request
is appended to a journal next to the block's shard; if the job is killed, the rerun reads the
journal and sends only the requests that had not finished.

Besides the standard OpenAI fields, requests carry vLLM/SGLang extras: `add_special_tokens` on the
completions endpoint (the prompt is already rendered), `top_k`/`min_p`/`repetition_penalty` when
set, and `continue_final_message` when a chat request ends with an assistant prefix. Hosted APIs
that reject unknown fields or cannot prefill an assistant turn are therefore not suited to the
completions endpoint, nor to datasets with `prompt.assistant_prefix` on the chat endpoint.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, TextIO

from ttscale.generate.base import Backend, Request, Result, render_with_tokenizer
from ttscale.generate.progress import Progress
from ttscale.reasoning import chat_messages, spec_for

log = logging.getLogger(__name__)
_STANDARD = {
    "completions": {"model", "prompt", "max_tokens", "temperature", "top_p", "seed", "stop", "logprobs"},
    "chat": {"model", "messages", "max_tokens", "temperature", "top_p", "seed", "stop", "logprobs"},
}
# Values of the non-standard sampling parameters that mean "off" (vLLM's defaults); others are sent.
_OFF: dict[str, tuple[Any, ...]] = {"top_k": (None, 0, -1), "min_p": (None, 0.0), "repetition_penalty": (None, 1.0)}


class OpenAIBackend(Backend):
    kind = "openai"

    def __init__(self, name: str, model: dict[str, Any], root: Path, threads: int | None = None,
                 seed: int = 0) -> None:
        super().__init__(name, model, root, threads, seed)
        self.settings = {
            "base_url": "http://127.0.0.1:8000/v1",
            "endpoint": "completions",
            "concurrency": 32,
            "max_retries": 6,
            "timeout_s": 600.0,
            "api_key_env": "OPENAI_API_KEY",
            "logprobs": True,
            **(model.get("openai") or {}),
        }
        self.served_name = self.settings.get("model") or model["path"]
        self._tokenizer = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            from ttscale.models.resolve import resolve_model_path

            spec = dict(self.model)
            if spec.get("tokenizer"):
                spec["path"] = spec["tokenizer"]
            self._tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(self.name, spec, self.root))
        return self._tokenizer

    def render(self, row: dict[str, Any]) -> tuple[str, list[dict[str, str]] | None, bool]:
        if self.settings["endpoint"] == "chat":
            if row.get("prompt_mode") == "completion":
                raise ValueError("a chat endpoint cannot send completion-mode prompts")
            messages = chat_messages(json.loads(row["messages"]), spec_for(self.model))
            if row.get("assistant_prefix"):
                messages = [*messages, {"role": "assistant", "content": row["assistant_prefix"]}]
            return json.dumps(messages, ensure_ascii=False), messages, False
        return render_with_tokenizer(self.tokenizer, row, spec_for(self.model))

    # -- requests ---------------------------------------------------------------------------

    def _body(self, r: Request) -> dict[str, Any]:
        p = r.params
        body: dict[str, Any] = {
            "model": self.served_name,
            "max_tokens": p.get("max_tokens", 256),
            "temperature": p.get("temperature", 1.0),
            "top_p": p.get("top_p", 1.0),
            "seed": r.seed,
        }
        if p.get("stop"):
            body["stop"] = list(p["stop"])
        extra = {k: p[k] for k, off in _OFF.items() if p.get(k) not in off}
        if p.get("include_stop_str_in_output"):  # search steps keep their delimiter (vLLM servers)
            extra["include_stop_str_in_output"] = True
        body.update(extra)
        if self.settings["endpoint"] == "chat":
            body["messages"] = r.messages
            thinking = spec_for(self.model)
            if thinking is not None and thinking.chat_template_kwargs:  # vLLM/SGLang servers apply them
                body["chat_template_kwargs"] = dict(thinking.chat_template_kwargs)
            if r.messages and r.messages[-1].get("role") == "assistant":
                # render() ends the messages with the assistant prefix; without these the server closes
                # that turn and opens a new one, and the text would not continue the prefix.
                body["continue_final_message"] = True
                body["add_generation_prompt"] = False
            if self.settings["logprobs"]:
                body["logprobs"] = True
        else:
            body["prompt"] = r.prompt
            # The prompt is rendered already (a chat template holds its own BOS); vLLM would add one.
            body["add_special_tokens"] = bool(r.add_special_tokens)
            if self.settings["logprobs"]:
                body["logprobs"] = 1
        return body

    @staticmethod
    def _parse(endpoint: str, data: dict[str, Any], latency: float) -> Result:
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        lp = choice.get("logprobs")
        cum = None
        if endpoint == "chat":
            text = (choice.get("message") or {}).get("content") or ""
            if lp and lp.get("content"):
                cum = sum(t["logprob"] for t in lp["content"])
        else:
            text = choice.get("text") or ""
            if lp and lp.get("token_logprobs"):
                cum = sum(x for x in lp["token_logprobs"] if x is not None)
        return Result(
            text=text,
            finish_reason=str(choice.get("finish_reason") or "stop"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cumulative_logprob=cum,
            latency_s=latency,
        )

    async def _one(self, client: Any, r: Request, sem: asyncio.Semaphore) -> Result:
        import openai

        endpoint = self.settings["endpoint"]
        body = self._body(r)
        standard = {k: body.pop(k) for k in list(body) if k in _STANDARD[endpoint]}
        api = client.chat.completions if endpoint == "chat" else client.completions
        async with sem:
            start = time.time()
            try:
                # The SDK retries 408/409/429/5xx and connection errors with exponential backoff.
                resp = await api.create(**standard, extra_body=body or None)
            except openai.APIError as exc:
                raise RuntimeError(
                    f"{self.settings['base_url']} ({endpoint}): request for {r.problem_id}#"
                    f"{r.sample_index} failed after {self.settings['max_retries']} retries: {exc}"
                ) from exc
            return self._parse(endpoint, resp.model_dump(), time.time() - start)

    async def _run(self, requests: list[Request], progress: Progress, journal: Path | None) -> list[Result]:
        import openai

        done = _read_journal(journal) if journal else {}
        results: dict[int, Result] = {}
        todo = []
        for i, r in enumerate(requests):
            prev = done.get((r.problem_id, r.sample_index, r.seed))
            if prev is not None:
                results[i] = prev
            else:
                todo.append(i)
        if done:
            log.info("resuming: %d of %d requests already in %s", len(results), len(requests), journal)
            progress.update(len(results))
        key = os.environ.get(self.settings["api_key_env"], "EMPTY")
        sem = asyncio.Semaphore(int(self.settings["concurrency"]))
        jfh = _open_journal(journal) if journal else None
        try:
            async with openai.AsyncOpenAI(
                base_url=self.settings["base_url"],
                api_key=key,
                timeout=float(self.settings["timeout_s"]),
                max_retries=int(self.settings["max_retries"]),
            ) as client:

                async def run(i: int) -> None:
                    res = await self._one(client, requests[i], sem)
                    results[i] = res
                    if jfh:
                        r = requests[i]
                        rec = {"problem_id": r.problem_id, "sample_index": r.sample_index, "seed": r.seed,
                               **res.__dict__}
                        jfh.write(json.dumps(rec) + "\n")
                        jfh.flush()
                    progress.update(1, res.completion_tokens)

                tasks = [asyncio.create_task(run(i)) for i in todo]
                try:
                    await asyncio.gather(*tasks)
                except BaseException:
                    for t in tasks:
                        t.cancel()
                    raise
        finally:
            if jfh:
                jfh.close()
        return [results[i] for i in range(len(requests))]

    def generate(self, requests: list[Request], progress: Progress,
                 journal: Path | None = None) -> list[Result]:
        return asyncio.run(self._run(requests, progress, journal))

    def describe(self) -> dict[str, Any]:
        return {"backend": self.kind, "base_url": self.settings["base_url"], "endpoint": self.settings["endpoint"],
                "served_model": self.served_name}


def _open_journal(path: Path) -> TextIO:
    """Open the journal for appending, starting on a fresh line.

    A kill can leave the last line cut without its newline; the next record would be glued to it
    and both lost on the next read. Ending that line keeps every new record on its own line (the
    cut one is skipped when read, and its request redone).
    """
    with open(path, "a+b") as fh:  # appends go to the end whatever the read position
        if fh.seek(0, os.SEEK_END) > 0:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
    return open(path, "a", encoding="utf-8")


def _read_journal(path: Path) -> dict[tuple[str, int, int], Result]:
    """Finished requests by (problem_id, sample_index, seed); unreadable lines are skipped, and redone."""
    out: dict[tuple[str, int, int], Result] = {}
    if not path.exists():
        return out
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key = (str(rec.pop("problem_id")), int(rec.pop("sample_index")), int(rec.pop("seed")))
                out[key] = Result(**rec)
            except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
                # typically a line cut by a kill; its request is simply sent again
                log.warning("%s:%d: skipping a journal line that is not a complete result (%s: %s); "
                            "its request is redone", path, n, type(exc).__name__, exc)
    return out
