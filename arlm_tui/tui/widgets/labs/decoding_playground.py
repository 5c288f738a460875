"""The view of the ``decoding_playground`` lab; what it draws is computed by ``arlm_tui.learn.labs.decoding_playground``."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.decoding.config import PLAYGROUND_KNOBS as DECODING_PLAYGROUND_KNOBS
from arlm_tui.learn.labs.base import lab_model, next_token_distribution
from arlm_tui.learn.labs.decoding_playground import Playground, playground
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.numbers import fmt_number as num
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    clamp_step,
    select_keys,
    table_of,
)
from arlm_tui.tui.widgets.token_bars import bar

#: The knobs of the decoding playground: (name, step, minimum, maximum, "off" value), from
#: the knobs' own ``playground`` settings (``decoding.config.PLAYGROUND_KNOBS``).
PLAYGROUND_KNOBS: tuple[tuple[str, float, float, float, float], ...] = tuple(
    (name, *knob.playground, knob.off) for name, knob in DECODING_PLAYGROUND_KNOBS.items()
    if knob.playground is not None
)


class PlaygroundView(LabView):
    """One next-token distribution reshaped live by temperature, top-k, top-p, min-p, typical-p."""

    KIND = "decoding_playground"
    HELP_TITLE = "Decoding playground"
    BINDINGS: ClassVar[list[BindingType]] = [
        *select_keys("knob", "knob", ("Previous knob", "Next knob")),
        Binding("left", "adjust(-1)", "Less", id="lab.less", key_display="←",
                tooltip="decrease the selected knob"),
        Binding("right", "adjust(1)", "More", id="lab.more", key_display="→",
                tooltip="increase the selected knob"),
        Binding("delete,backspace", "off", "Off", id="lab.off", key_display="del",
                tooltip="switch the selected knob off"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="back to the lesson's settings"),
    ]
    MAX_ROWS = 12

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.knobs = self._initial()
        self._distribution: tuple[Any, list[str]] | None = None

    def _initial(self) -> dict[str, float]:
        return {name: self.lab.preset.get(name, off) for name, _, _, _, off in PLAYGROUND_KNOBS}

    def compute(self) -> Playground:
        p = self.preset
        if "logits" in p:
            logits, tokens = p["logits"], [str(t) for t in p.get("tokens", [])] or None
            prompt = p.get("prompt", "")
        else:
            if self._distribution is None:
                self._distribution = next_token_distribution(lab_model(p),
                                                                  p.get("context", ""))
            logits, tokens = self._distribution
            prompt = p.get("prompt", p.get("context", ""))
        return playground(logits, tokens, prompt=prompt, top=self.MAX_ROWS, **self.knobs)

    def action_knob(self, delta: int) -> None:
        self.move_cursor(delta, len(PLAYGROUND_KNOBS), wrap=True)

    def action_adjust(self, direction: int) -> None:
        name, step, lo, hi, _ = PLAYGROUND_KNOBS[self.cursor]
        self.knobs[name] = clamp_step(float(self.knobs[name]), direction * step, lo, hi, 3)
        if DECODING_PLAYGROUND_KNOBS[name].type is int:
            self.knobs[name] = int(self.knobs[name])
        self.recompute()

    def action_off(self) -> None:
        name, _, _, _, off = PLAYGROUND_KNOBS[self.cursor]
        self.knobs[name] = off
        self.recompute()

    def action_reset(self) -> None:
        self.knobs = self._initial()
        self.recompute()

    def draw(self, pg: Playground) -> RenderableType:
        knobs = Text()
        for i, (name, _, _, _, off) in enumerate(PLAYGROUND_KNOBS):
            value = self.knobs[name]
            shown = "off" if value == off and name != "temperature" else (
                "0 (greedy)" if name == "temperature" and value == 0 else f"{value:g}")
            style = "reverse" if i == self.cursor else ("dim" if shown == "off" else "bold")
            knobs.append(f" {DECODING_PLAYGROUND_KNOBS[name].title} = {shown} ", style=style)
            knobs.append(" ")
        head = Text()
        if pg.prompt:
            head.append(f"After \"{pg.prompt}\": ", style="bold")
        head.append(f"{pg.kept} of {pg.size} tokens kept · entropy {pg.entropy:.3f} → "
                    f"{pg.final_entropy:.3f} nats")
        table = table_of("<token", "logit z", "p", "<", "p'", "<", "<removed by")
        for row in pg.rows:
            style = "dim" if row.removed_by else ""
            table.add_row(row.token, num(row.logit), num(row.prob), bar(row.prob, 10),
                          num(row.final), bar(row.final, 10), row.removed_by or "",
                          style=style)
        legend = Text("p = softmax(z): the model's distribution; p' = after the knobs, the one "
                      "sampled from", style="dim")
        order = Text("order: " + " → ".join(pg.stages) if pg.stages else "no knob active: p' = p",
                     style="dim")
        order.append("    ↑↓ choose a knob, ←→ change it", style="dim")
        return Group(knobs, Text(""), head, table, legend, order)
