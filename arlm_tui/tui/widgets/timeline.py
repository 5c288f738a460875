"""The timeline under the text: each generated token's probability, and each step's entropy, as
sparklines, one column a token, so a learner sees at a glance where the text became unlikely.

The probability line is on a log scale (p = 1 fills the cell, p = 10⁻⁴ or less leaves it empty:
a surprising token is a dip), coloured like the token's shade in the text; the entropy line H
(nats) is scaled to the largest H shown. The newest tokens are at the right; the selected step
is marked; a click on a column selects that step (``Timeline.StepSelected``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

#: Sparkline glyphs, empty to full.
LEVELS = " ▁▂▃▄▅▆▇█"
#: log10 p at which the probability line is empty.
FLOOR_LOG10 = -4.0


def prob_level(p: float) -> int:
    """0 (p ≤ 10⁻⁴) … 8 (p = 1) on a log scale; any p > 0 shows at least ▁."""
    if p <= 0:
        return 0
    fraction = (math.log10(min(p, 1.0)) - FLOOR_LOG10) / -FLOOR_LOG10
    return max(1, min(8, round(fraction * 8)))


def entropy_level(h: float, largest: float) -> int:
    """0 … 8 for an entropy h against the largest one shown."""
    if not math.isfinite(h) or largest <= 0:
        return 0
    return max(0, min(8, round(h / largest * 8)))


class Timeline(Widget):
    """Sparklines of the generated tokens' probabilities and the steps' entropies."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--label",
        "timeline--prob",
        "timeline--low",
        "timeline--entropy",
        "timeline--cursor",
    }
    DEFAULT_CSS = """
    Timeline { height: 1; margin: 0 1; padding: 0 1; }
    Timeline > .timeline--label { color: $text-muted; }
    Timeline > .timeline--prob { color: $success; }
    Timeline > .timeline--low { color: $error; }
    Timeline > .timeline--entropy { color: $secondary; }
    Timeline > .timeline--cursor { text-style: reverse; }
    """

    probs: reactive[tuple[float, ...]] = reactive(tuple)
    entropies: reactive[tuple[float, ...]] = reactive(tuple)
    cursor: reactive[int | None] = reactive(None)

    class StepSelected(Message):
        """The learner clicked the column of generated token ``index``."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def show(self, probs: Sequence[float], entropies: Sequence[float],
             cursor: int | None) -> None:
        self.probs = tuple(probs)
        self.entropies = tuple(entropies)
        self.cursor = cursor

    def first_shown(self, columns: int) -> int:
        """Index of the first token shown when ``columns`` fit (the newest, or the cursor)."""
        total = len(self.probs)
        start = max(0, total - columns)
        if self.cursor is not None and self.cursor < start:
            start = self.cursor
        return start

    def on_click(self, event: events.Click) -> None:
        index = event.style.meta.get("token") if event.style.meta else None
        if index is not None:
            self.post_message(self.StepSelected(int(index)))

    def render(self) -> Text:
        st = {n: self.get_component_rich_style(f"timeline--{n}")
              for n in ("label", "prob", "low", "entropy", "cursor")}
        label_w = 2
        columns = max(self.size.width - label_w, 1)
        start = self.first_shown(columns)
        shown = range(start, min(len(self.probs), start + columns))
        out = Text(no_wrap=True, overflow="crop")
        out.append("p ", st["label"])
        if not self.probs:
            out.append("the probability of each token will show here, one column a token",
                       st["label"])
        for index in shown:
            p = self.probs[index]
            style = st["low"] if p < 0.01 else st["prob"]
            if index == self.cursor:
                style = style + st["cursor"]
            out.append(LEVELS[prob_level(p)], style + Style(meta={"token": index}))
        if self.size.height >= 2:
            out.append("\n")
            out.append("H ", st["label"])
            finite = [h for h in self.entropies if math.isfinite(h)]
            largest = max(finite, default=0.0)
            for index in shown:
                h = self.entropies[index] if index < len(self.entropies) else math.nan
                style = st["entropy"] + (st["cursor"] if index == self.cursor else Style())
                out.append(LEVELS[entropy_level(h, largest)],
                           style + Style(meta={"token": index}))
        return out
