"""Progress lines for long stages: done of total, tokens per second, time left."""

from __future__ import annotations

import io
import logging
import re
import time

from tqdm import tqdm

log = logging.getLogger("ttscale.progress")
_OUT_RATE = re.compile(r"output: ([0-9.]+) toks/s")


def _fmt_seconds(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Counts finished items and tokens; logs a line at most every `interval` seconds (to the job's
    log and the terminal that runs Snakemake: ttscale.console)."""

    def __init__(self, total: int, what: str = "samples", interval: float = 5.0) -> None:
        self.total, self.what, self.interval = total, what, interval
        self.done = 0
        self.tokens = 0
        self.start = time.time()
        self._last = 0.0
        self.rate_override: float | None = None

    def update(self, n: int = 1, tokens: int = 0) -> None:
        self.done += n
        self.tokens += tokens
        now = time.time()
        if now - self._last >= self.interval or self.done >= self.total:
            self._last = now
            log.info(self.line())

    def line(self) -> str:
        elapsed = max(time.time() - self.start, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        pct = 100.0 * self.done / self.total if self.total else 100.0
        tok_rate = self.rate_override if self.rate_override is not None else self.tokens / elapsed
        eta = _fmt_seconds(left) if left == left else "?"
        return (
            f"{self.done}/{self.total} {self.what} ({pct:.0f}%), "
            f"{tok_rate:.0f} tok/s, elapsed {_fmt_seconds(elapsed)}, left {eta}"
        )


def tqdm_for(progress: Progress) -> type[tqdm]:
    """A tqdm class for vLLM's `use_tqdm=` that feeds `progress` instead of drawing a bar."""

    class _LogTqdm(tqdm):
        def __init__(self, *args, **kwargs) -> None:
            kwargs["file"] = io.StringIO()
            kwargs["mininterval"] = 1e9
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            # vLLM writes its token rate into the postfix ("... output: 312.5 toks/s").
            match = _OUT_RATE.search(str(self.postfix or ""))
            if match:
                progress.rate_override = float(match.group(1))
            progress.update(int(n or 0))
            return super().update(n)

    return _LogTqdm
