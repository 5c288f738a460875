"""The view of the ``chain_rule`` lab; what it draws is computed by ``arlm_tui.learn.labs.chain_rule``."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.learn.labs.chain_rule import ChainRule, chain_rule
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.numbers import fmt_number as num
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    clamp_step,
    preset_number,
    select_keys,
    table_of,
)
from arlm_tui.tui.widgets.token_bars import bar


class ChainRuleView(LabView):
    """The chain rule as a table of factors whose probabilities the learner can change."""

    KIND = "chain_rule"
    HELP_TITLE = "Chain-rule lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        *select_keys("cursor", "factor"),
        Binding("left", "adjust(-0.01)", "p −", id="lab.less", key_display="←",
                tooltip="lower the selected probability by 0.01"),
        Binding("right", "adjust(0.01)", "p +", id="lab.more", key_display="→",
                tooltip="raise the selected probability by 0.01"),
        Binding("shift+left", "adjust(-0.1)", "p −0.1", show=False,
                id="lab.less_coarse", tooltip="lower the selected probability by 0.1"),
        Binding("shift+right", "adjust(0.1)", "p +0.1", show=False,
                id="lab.more_coarse", tooltip="raise the selected probability by 0.1"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="back to the lesson's numbers"),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.conditionals = self._initial()

    def _initial(self) -> list[dict[str, Any]]:
        items = []
        for t, item in enumerate(self.lab.preset.get("conditionals", []), start=1):
            if isinstance(item, dict):
                items.append({"token": str(item.get("token", f"x{t}")), "prob": item["prob"]})
            else:
                items.append({"token": f"x{t}", "prob": item})
        return items

    def compute(self) -> ChainRule:
        return chain_rule(self.conditionals)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(delta, len(self.conditionals))

    def action_adjust(self, delta: float) -> None:
        item = self.conditionals[self.cursor]
        item["prob"] = clamp_step(float(preset_number(item["prob"])), delta, 0.0, 1.0)
        self.recompute()

    def action_reset(self) -> None:
        self.conditionals = self._initial()
        self.recompute()

    def draw(self, c: ChainRule) -> RenderableType:
        sentence = self.preset.get("sentence")
        title = Text()
        title.append("p(x₁ … x_T) = ∏ p(x_t | x_<t)", style="bold")
        if sentence:
            title.append(f"   for \"{sentence}\" and the end marker")
        table = table_of("t", "<token", "p(x_t|x_<t)", "joint", "−ln p", "NLL", "<share of NLL")
        for t, f in enumerate(c.factors):
            style = "reverse" if t == self.cursor else ""
            share = "" if f.share is None else f"{bar(f.share, 10)} {f.share:4.0%}"
            table.add_row(str(t + 1), f.token, num(f.prob), num(f.joint, 6),
                          num(-math.log(f.prob) if f.prob > 0 else math.inf), num(f.nll), share,
                          style=style)
        total = Text()
        total.append("\njoint = product of the column p, NLL = sum of −ln p\n", style="dim")
        total.append(f"joint p = {num(c.joint, 6)}", style="bold")
        total.append(f"    NLL = {num(c.nll)} nats = {num(c.bits)} bits")
        total.append(f"    perplexity = {num(c.perplexity)}")
        hint = Text("↑↓ choose a factor, ←→ change it (shift: by 0.1)", style="dim")
        return Group(title, Text(""), table, total, hint)
