"""The view of the ``softmax_gradient`` lab; what it draws is computed by ``arlm_tui.learn.labs.softmax_gradient``."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.learn.labs.softmax_gradient import SoftmaxGradient, softmax_gradient
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.numbers import fmt_number as num
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    preset_number,
    select_keys,
    table_of,
)
from arlm_tui.tui.widgets.token_bars import bar


class SoftmaxGradientView(LabView):
    """The loss −ln p_target, its gradient p − y on the logits, and gradient steps."""

    KIND = "softmax_gradient"
    HELP_TITLE = "Gradient lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        *select_keys("cursor", "token"),
        Binding("t", "target", "Make target", id="lab.target",
                tooltip="make the selected token the correct next token (y = 1 there)"),
        Binding("g", "step", "Gradient step", id="lab.step",
                tooltip="take one gradient-descent step z ← z − η (p − y)"),
        Binding("right", "rate(1)", "η +", show=False, id="lab.rate_up", key_display="→",
                tooltip="double the step size η"),
        Binding("left", "rate(-1)", "η −", show=False, id="lab.rate_down", key_display="←",
                tooltip="halve the step size η"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="back to the lesson's logits"),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.logits = [preset_number(x) for x in lab.preset["logits"]]
        self.target = int(lab.preset["target"])
        self.learning_rate = preset_number(lab.preset.get("learning_rate", 1.0))
        self.steps = 0
        self.cursor = self.target
        #: the loss before each step taken, to show it falling
        self.losses: list[float] = []

    def compute(self) -> SoftmaxGradient:
        return softmax_gradient(self.logits, self.target, self.preset.get("tokens"),
                                     self.learning_rate, self.preset.get("prompt", ""))

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(delta, len(self.logits))

    def action_target(self) -> None:
        self.target = self.cursor
        self.losses = []
        self.steps = 0
        self.recompute()

    def action_step(self) -> None:
        if self.result is None:
            return
        self.losses.append(self.result.loss)
        self.logits = [row.next_logit for row in self.result.rows]
        self.steps += 1
        self.recompute()

    def action_rate(self, direction: int) -> None:
        rate = self.learning_rate * (2.0 if direction > 0 else 0.5)
        self.learning_rate = min(max(rate, 1 / 64), 64.0)
        self.recompute()

    def action_reset(self) -> None:
        self.logits = [preset_number(x) for x in self.lab.preset["logits"]]
        self.target = int(self.lab.preset["target"])
        self.learning_rate = preset_number(self.lab.preset.get("learning_rate", 1.0))
        self.steps, self.losses, self.cursor = 0, [], self.target
        self.recompute()

    def draw(self, g: SoftmaxGradient) -> RenderableType:
        head = Text()
        if g.prompt:
            head.append(f"Next token after \"{g.prompt}\"", style="bold")
            head.append(" · ")
        head.append(f"target: {g.rows[g.target].token} · step size η = {g.learning_rate:g} · "
                    f"{self.steps} step{'s' if self.steps != 1 else ''} taken", style="dim")
        table = table_of("<token", "logit z", "p", "<", "y", "p − y", "z after a step")
        for i, row in enumerate(g.rows):
            style = "reverse" if i == self.cursor else ""
            grad = Text(f"{row.gradient:+.3f}", style="green" if row.gradient < 0 else "red")
            table.add_row(Text(row.token, style="bold" if row.target else ""),
                          f"{row.logit:+.3f}", num(row.prob), bar(row.prob, 14),
                          str(row.target), grad, f"{row.next_logit:+.3f}", style=style)
        foot = Text("\n")
        foot.append(f"loss ℓ = −ln p({g.rows[g.target].token}) = {g.loss:.3f} nats", style="bold")
        foot.append(f"  → {g.next_loss:.3f} after one step", style="cyan")
        if self.losses:
            history = " → ".join(f"{x:.3f}" for x in [*self.losses[-4:], g.loss])
            foot.append(f"\nso far: {history}", style="dim")
        foot.append(f"\nΣ (p − y) = {g.gradient_sum:+.3f}: the target's logit rises by η(1 − p), "
                    "every other one falls by η·p.", style="dim")
        foot.append("\n↑↓ choose a token, t makes it the target, g steps, ←→ η", style="dim")
        return Group(head, Text(""), table, foot)
