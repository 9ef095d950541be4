"""Progress lines for long-running commands (plain text: readable in logs and terminals)."""
from __future__ import annotations

import sys
import time


class Progress:
    """Prints ``label: done/total (rate/s)`` at most every ``every_s`` seconds.

    Example::

        progress = Progress("simulate", total=1_000_000, unit="readings")
        for batch in batches:
            progress.advance(len(batch))
        progress.finish()
    """

    def __init__(self, label: str, total: int | None = None, unit: str = "items", every_s: float = 2.0, stream=None):
        self.label, self.total, self.unit, self.every_s = label, total, unit, every_s
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = self._last = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self._print(now)

    def finish(self) -> float:
        now = time.monotonic()
        self._print(now)
        return now - self.started

    def _print(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        of_total = f"/{self.total:,}" if self.total else ""
        print(f"{self.label}: {self.done:,}{of_total} {self.unit} ({self.done / elapsed:,.0f}/s, {elapsed:.1f} s)",
              file=self.stream, flush=True)
