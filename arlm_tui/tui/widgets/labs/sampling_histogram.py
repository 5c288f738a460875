"""The view of the ``sampling_histogram`` lab; what it draws is computed by ``arlm_tui.learn.labs.sampling_histogram``."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.decoding.config import PLAYGROUND_KNOBS as DECODING_PLAYGROUND_KNOBS
from arlm_tui.learn.labs.base import lab_model
from arlm_tui.learn.labs.sampling_histogram import (
    Histogram,
    sample_histogram,
    sampling_distribution,
)
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.numbers import fmt_number as num
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    clamp_step,
    table_of,
)
from arlm_tui.tui.widgets.token_bars import bar


class SamplingHistogramView(LabView):
    """Draws from a next-token distribution against its probabilities."""

    KIND = "sampling_histogram"
    HELP_TITLE = "Sampling lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "draw(10)", "Draw 10", id="lab.draw10", key_display="space",
                tooltip="draw 10 more tokens"),
        Binding("d", "draw(1)", "Draw 1", show=False, id="lab.draw1", tooltip="draw one more token"),
        Binding("n", "draw_batch", "Draw many", id="lab.draw_many",
                tooltip="draw as many tokens as the lesson suggests"),
        Binding("left", "temperature(-0.1)", "T −", id="lab.colder", key_display="←",
                tooltip="lower the temperature (sharper)"),
        Binding("right", "temperature(0.1)", "T +", id="lab.hotter", key_display="→",
                tooltip="raise the temperature (flatter)"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="forget every draw"),
    ]
    MAX_ROWS = 12

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.n = 0
        self.temperature = float(lab.preset.get("temperature", 1.0))
        self._model: Any = None
        #: True right after a temperature change emptied the histogram
        self.restarted = False

    def compute(self) -> Histogram:
        p = self.preset
        if self._model is None:
            self._model = lab_model(p)
        knobs = {k: p[k] for k in DECODING_PLAYGROUND_KNOBS if k != "temperature" and k in p}
        probs, names = sampling_distribution(self._model, p.get("context", ""),
                                                  temperature=self.temperature, **knobs)
        return sample_histogram(probs, names, self.n, int(p.get("seed", 0)))

    def action_draw(self, count: int) -> None:
        self.n += count
        self.restarted = False
        self.recompute()

    def action_draw_batch(self) -> None:
        self.action_draw(int(self.preset.get("n", 100)))

    def action_temperature(self, delta: float) -> None:
        """A new temperature is a new distribution: the draws start again, so that the
        histogram is only ever compared with the distribution it was drawn from."""
        temperature = clamp_step(self.temperature, delta, 0.1, 5.0, 2)
        if temperature != self.temperature:
            self.temperature = temperature
            self.n = 0
            self.restarted = True
        self.recompute()

    def action_reset(self) -> None:
        self.n = 0
        self.recompute()

    def draw(self, h: Histogram) -> RenderableType:
        context = self.preset.get("context", "")
        head = Text()
        head.append(f"Next token after \"{context}\"" if context else "The first token",
                    style="bold")
        head.append(f" · temperature {self.temperature:g} · {h.n} draws (seed {h.seed})")
        table = table_of("<token", "p", "drawn", "<frequency  (│ marks p)", "count")
        width = 30
        for token, p, f, c in list(zip(h.tokens, h.probs, h.frequencies, h.counts))[
                : self.MAX_ROWS]:
            drawn = list(bar(f, width))
            mark = min(round(p * width), width - 1)
            drawn[mark] = "│"
            table.add_row(token, num(p), num(f) if h.n else "–", Text("".join(drawn),
                                                                       style="cyan"), str(c))
        foot = Text()
        if h.n:
            foot.append(f"\ntotal-variation distance ½Σ|frequency − p| = {h.tv_distance:.3f}",
                        style="bold")
            foot.append(f"   (shrinks like 1/√n; 1/√n = {1 / math.sqrt(h.n):.3f})", style="dim")
        else:
            if self.restarted:
                foot.append(f"\nnew temperature, new distribution: the draws start again at "
                            f"T = {self.temperature:g}.", style="yellow")
            foot.append("\nno draws yet: space draws 10, d draws 1, n draws "
                        f"{self.preset.get('n', 100)}", style="dim")
        return Group(head, Text(""), table, foot)
