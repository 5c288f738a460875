"""A one-line progress bar on stderr for long commands (training, building models).

On a terminal it redraws one line in place; when stderr is not a terminal (CI, a pipe) it prints
at most a line per ``quiet_every`` fraction so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """``bar = ProgressBar("counting", total); bar.update(done, extra="loss 2.1"); bar.close()``."""

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None, width: int = 30):
        self.label = label
        self.total = max(int(total), 1)
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.start = time.perf_counter()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_drawn = -1.0
        self._last_decile = -1

    def update(self, done: int, extra: str = "") -> None:
        frac = min(max(done / self.total, 0.0), 1.0)
        now = time.perf_counter()
        if self.tty:
            if now - self._last_drawn < 0.05 and frac < 1.0:
                return
            self._last_drawn = now
            filled = int(round(frac * self.width))
            bar = "█" * filled + "·" * (self.width - filled)
            elapsed = now - self.start
            line = f"\r{self.label} {bar} {frac:6.1%} {elapsed:6.1f}s {extra}"
            self.stream.write(line[:200])
            self.stream.flush()
        else:
            decile = int(frac * 10)
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(f"{self.label}: {frac:.0%} {extra}\n")
                self.stream.flush()

    def close(self, message: str = "") -> None:
        elapsed = time.perf_counter() - self.start
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"{self.label}: done in {elapsed:.1f}s {message}\n")
        self.stream.flush()
