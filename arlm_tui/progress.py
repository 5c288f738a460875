"""A progress bar on stderr for long commands (training, building models), drawn by ``rich``.

On a terminal ``rich.progress`` redraws the bar in place (and lines logged meanwhile appear above
it); when the stream is not a terminal (CI, a pipe, a test capturing it) plain lines are written
instead: at most one per ``quiet_every`` fraction of the work, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn


def is_terminal(stream: TextIO) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


class ProgressBar:
    """``bar = ProgressBar("counting", total); bar.update(done, extra="loss 2.1"); bar.close()``.

    ``log(line)`` writes a line that stays (above the bar on a terminal)."""

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None,
                 quiet_every: float = 0.1, refresh_seconds: float = 0.05):
        self.label = label
        self.total = max(int(total), 1)
        self.stream = stream if stream is not None else sys.stderr
        self.quiet_every = quiet_every
        self.refresh_seconds = refresh_seconds
        self.start = time.perf_counter()
        self.tty = is_terminal(self.stream)
        self._last_drawn = -1.0
        self._last_part = -1
        self._progress: Progress | None = None
        if self.tty:
            console = Console(file=self.stream, highlight=False)
            self._progress = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(bar_width=30),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[extra]}", markup=False),
                console=console, transient=True, auto_refresh=False,
            )
            self._task = self._progress.add_task(label, total=self.total, extra="")
            self._progress.start()

    def update(self, done: int, extra: str = "") -> None:
        frac = min(max(done / self.total, 0.0), 1.0)
        if self._progress is not None:
            self._progress.update(self._task, completed=min(max(done, 0), self.total), extra=extra)
            now = time.perf_counter()
            if now - self._last_drawn >= self.refresh_seconds or frac >= 1.0:
                self._last_drawn = now
                self._progress.refresh()
            return
        part = int(frac / self.quiet_every) if self.quiet_every > 0 else int(frac * 10)
        if part != self._last_part:
            self._last_part = part
            self.stream.write(f"{self.label}: {frac:.0%} {extra}".rstrip() + "\n")
            self.stream.flush()

    def log(self, line: str) -> None:
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self, message: str = "", *, summary: bool = True) -> None:
        """Remove the bar; with ``summary``, write "label: done in 1.2s message"."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if summary:
            elapsed = time.perf_counter() - self.start
            self.stream.write(f"{self.label}: done in {elapsed:.1f}s {message}".rstrip() + "\n")
        self.stream.flush()
