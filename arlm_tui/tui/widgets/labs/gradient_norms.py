"""The view of the ``gradient_norms`` lab; what it draws is computed by ``arlm_tui.learn.labs.gradient_norms``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.learn.labs.gradient_norms import GRADIENT_INPUT_SCALE, GradientNorms, gradient_norms
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.numbers import fmt_number as num
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    clamp_step,
    select_keys,
)

#: Adjustable parameters of the gradient lab: (name, step, minimum, maximum).
GRADIENT_KNOBS: tuple[tuple[str, float, float, float], ...] = (
    ("recurrent_scale", 0.1, 0.0, 3.0),
    ("forget_bias", 0.5, -5.0, 5.0),
    ("clip", 0.0, 0.0, 0.0),  # cycles through CLIP_VALUES
    ("steps", 10, 10, 200),
)
CLIP_VALUES: tuple[float | None, ...] = (None, 0.01, 0.1, 1.0, 10.0)
CURVE_STYLE = {"rnn": ("●", "red"), "lstm": ("■", "green"), "gru": ("▲", "blue")}


def log_plot(curves: Sequence[tuple[str, Sequence[float]]], height: int = 12,
             width: int = 60) -> Text:
    """A log-scale plot of several curves, x = steps back (left: 0), y = log₁₀ of the value."""
    values = [v for _, ys in curves for v in ys if v > 0 and math.isfinite(v)]
    if not values:
        return Text("(every gradient is 0)", style="dim")
    hi = math.ceil(math.log10(max(values)))
    lo = max(math.floor(math.log10(min(values))), hi - 24)
    if hi == lo:
        lo -= 1
    length = max(len(ys) for _, ys in curves)
    repeat = max(1, min(width // length, 3))  # a few cells per step when there is room
    columns = min(width, length * repeat)
    grid = [[(" ", "")] * columns for _ in range(height)]
    for name, ys in curves:
        mark, color = CURVE_STYLE.get(name, ("•", "white"))
        for col in range(columns):
            k = col // repeat if repeat > 1 else round(col * (length - 1) / max(columns - 1, 1))
            if k >= len(ys) or ys[k] <= 0:
                continue
            y = (math.log10(ys[k]) - lo) / (hi - lo)
            row = height - 1 - round(min(max(y, 0.0), 1.0) * (height - 1))
            grid[row][col] = (mark, color)
    labels: dict[int, str] = {}
    every = max(1, math.ceil((hi - lo) / 5))
    for exponent in range(hi, lo - 1, -every):
        row = height - 1 - round((exponent - lo) / (hi - lo) * (height - 1))
        labels.setdefault(row, f"1e{exponent:+d}".replace("+", "") if exponent else "1")
    text = Text()
    for r, cells in enumerate(grid):
        text.append(f"{labels.get(r, ''):>6} ┤", style="dim")
        for mark, color in cells:
            text.append(mark, style=color)
        text.append("\n")
    text.append(" " * 7 + "└" + "─" * columns + "\n", style="dim")
    text.append(" " * 8 + f"0 steps back{' ' * max(columns - 26, 1)}{length - 1} steps back",
                style="dim")
    return text


class GradientNormsView(LabView):
    """Gradient norms through time for RNN, LSTM and GRU cells (autograd, torch)."""

    KIND = "gradient_norms"
    HEAVY = True
    HELP_TITLE = "Gradient lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        *select_keys("knob", "parameter"),
        Binding("left", "adjust(-1)", "Less", id="lab.less", key_display="←",
                tooltip="decrease the selected parameter"),
        Binding("right", "adjust(1)", "More", id="lab.more", key_display="→",
                tooltip="increase the selected parameter"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="back to the lesson's settings"),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.params = self._initial()

    def _initial(self) -> dict[str, Any]:
        p = self.lab.preset
        return {
            "recurrent_scale": float(p.get("recurrent_scale", 1.0)),
            "forget_bias": float(p.get("forget_bias", 1.0)),
            "clip": p.get("clip"),
            "steps": int(p.get("steps", 40)),
        }

    def compute(self) -> GradientNorms:
        return gradient_norms(
            list(self.preset["cells"]), int(self.params["steps"]),
            int(self.preset.get("hidden_size", 16)), self.params["recurrent_scale"],
            self.params["forget_bias"], self.params["clip"], int(self.preset.get("seed", 0)),
        )

    @property
    def knobs(self) -> list[tuple[str, float, float, float]]:
        """The adjustable parameters: the forget bias only matters to gated cells."""
        gated = bool({"lstm", "gru"} & set(self.preset["cells"]))
        return [k for k in GRADIENT_KNOBS if k[0] != "forget_bias" or gated]

    def action_knob(self, delta: int) -> None:
        self.move_cursor(delta, len(self.knobs), wrap=True)

    def action_adjust(self, direction: int) -> None:
        name, step, lo, hi = self.knobs[self.cursor]
        if name == "clip":
            values = list(CLIP_VALUES)
            current = self.params["clip"]
            i = values.index(current) if current in values else 0
            self.params["clip"] = values[(i + direction) % len(values)]
        else:
            value = clamp_step(float(self.params[name]), direction * step, lo, hi, 2)
            self.params[name] = int(value) if name == "steps" else value
        self.recompute()

    def action_reset(self) -> None:
        self.params = self._initial()
        self.recompute()

    def draw(self, g: GradientNorms) -> RenderableType:
        knobs = Text()
        for i, (name, *_rest) in enumerate(self.knobs):
            value = self.params[name]
            shown = "off" if value is None else f"{value:g}"
            knobs.append(f" {name.replace('_', ' ')} = {shown} ",
                         style="reverse" if i == self.cursor else "bold")
            knobs.append(" ")
        curves = [(c.cell, c.state_norms) for c in g.curves]
        legend = Text()
        for c in g.curves:
            mark, color = CURVE_STYLE.get(c.cell, ("•", "white"))
            legend.append(f"{mark} {c.cell:<4} ‖∂L/∂{c.state_name}_t‖", style=f"bold {color}")
            legend.append(f" {g.steps - 1} steps back: {num(c.state_norms[-1]):<9}")
            legend.append(f" ‖∂L/∂θ‖ = {num(c.gradient_norm)}", style="dim")
            if c.clip_factor < 1:
                legend.append(f" clipped to {num(g.clip)}: all × {num(c.clip_factor)}",
                              style="yellow")
            legend.append("\n")
        setup = Text(f"L = u · h_T after {g.steps} steps, hidden size {g.hidden_size}, inputs "
                     f"~ N(0, {GRADIENT_INPUT_SCALE}²), recurrent weights = scale × "
                     "orthogonal", style="dim")
        width = max(20, (self.size.width or 80) - 12)
        return Group(knobs, Text(""), legend, log_plot(curves, width=width), setup)
