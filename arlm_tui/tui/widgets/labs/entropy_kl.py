"""The view of the ``entropy_kl`` lab; what it draws is computed by ``arlm_tui.learn.labs.entropy_kl``."""

from __future__ import annotations

import math
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.learn.labs.entropy_kl import InformationSplit, information_split, move_mass
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.numbers import fmt_number as num
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    preset_number,
    select_keys,
    table_of,
)
from arlm_tui.tui.widgets.token_bars import bar


class EntropyKLView(LabView):
    """H(p), H(p, q) and KL(p ‖ q) while the learner moves q's bars."""

    KIND = "entropy_kl"
    HELP_TITLE = "Entropy lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        *select_keys("cursor", "outcome"),
        Binding("left", "move(-0.05)", "q −", id="lab.less", key_display="←",
                tooltip="move 0.05 of q's mass away from the selected outcome"),
        Binding("right", "move(0.05)", "q +", id="lab.more", key_display="→",
                tooltip="move 0.05 of q's mass onto the selected outcome"),
        Binding("shift+left", "move(-0.01)", "q −0.01", show=False, id="lab.less_fine",
                tooltip="move 0.01 of q's mass away from the selected outcome"),
        Binding("shift+right", "move(0.01)", "q +0.01", show=False, id="lab.more_fine",
                tooltip="move 0.01 of q's mass onto the selected outcome"),
        Binding("u", "unit", "nats/bits", id="lab.unit", tooltip="switch between nats and bits"),
        Binding("c", "copy", "q = p", id="lab.copy", tooltip="set q equal to p"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="back to the lesson's q"),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.q = tuple(preset_number(x) for x in lab.preset["q"])

    def compute(self) -> InformationSplit:
        p = self.preset
        return information_split([preset_number(x) for x in p["p"]], self.q,
                                      p.get("unit", "nats"), p.get("labels"))

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(delta, len(self.q))

    def action_move(self, delta: float) -> None:
        self.q = move_mass(self.q, self.cursor, delta)
        self.recompute()

    def action_unit(self) -> None:
        self.preset["unit"] = "bits" if self.preset.get("unit", "nats") == "nats" else "nats"
        self.recompute()

    def action_copy(self) -> None:
        self.q = tuple(preset_number(x) for x in self.preset["p"])
        self.recompute()

    def action_reset(self) -> None:
        self.q = tuple(preset_number(x) for x in self.lab.preset["q"])
        self.recompute()

    def draw(self, s: InformationSplit) -> RenderableType:
        table = table_of("<outcome", "p", "<", "q", "<", "−log q")
        log = math.log(2) if s.unit == "bits" else 1.0
        for i, (label, p, q) in enumerate(zip(s.labels, s.p, s.q)):
            surprise = math.inf if q <= 0 else -math.log(q) / log
            style = "reverse" if i == self.cursor else ""
            table.add_row(label, f"{p:.2f}", bar(p, 16), f"{q:.2f}", bar(q, 16),
                          num(surprise), style=style)
        u = s.unit

        def value(x: float) -> str:
            return "∞" if math.isinf(x) else f"{x:.3f}"

        lines = Text("\n")
        for name, formula, x, note, style in (
            ("H(p)", "−Σ p log p", s.entropy, "fixed: the weather's own", "bold"),
            ("H(p, q)", "−Σ p log q", s.cross_entropy, "the forecaster's surprise", "bold"),
            ("KL(p ‖ q)", "Σ p log(p/q)", s.kl, "the excess, 0 only if q = p", "bold red"),
        ):
            lines.append(f"{name:<9} = {formula:<12} = {value(x):>6} {u}", style=style)
            lines.append(f"   {note}\n", style="dim")
        split = Text("H(p, q) = ")
        if math.isfinite(s.cross_entropy) and s.cross_entropy > 0:
            width = 40
            h = round(width * s.entropy / s.cross_entropy)
            split.append("█" * h, style="cyan")
            split.append("█" * (width - h), style="red")
            split.append("  H(p) + KL", style="dim")
        else:
            split.append("∞: q gives 0 to an outcome p can produce", style="bold red")
        split.append("\n↑↓ choose an outcome, ←→ move q's mass onto it or away (shift: 0.01)",
                     style="dim")
        return Group(table, lines, split)
