"""The view of the ``greedy_vs_beam`` lab; what it draws is computed by ``arlm_tui.learn.labs.greedy_vs_beam``."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.learn.labs.base import lab_model
from arlm_tui.learn.labs.greedy_vs_beam import Decoded, GreedyVsBeam, greedy_vs_beam
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.numbers import fmt_number as num
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    clamp_step,
)


class GreedyBeamView(LabView):
    """Greedy decoding next to beam search, and the most probable sequence."""

    KIND = "greedy_vs_beam"
    HELP_TITLE = "Greedy-versus-beam lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "width(1)", "Wider beam", id="lab.wider", key_display="→",
                tooltip="keep one more hypothesis"),
        Binding("left", "width(-1)", "Narrower", id="lab.narrower", key_display="←",
                tooltip="keep one hypothesis fewer"),
        Binding("up", "penalty(0.1)", "α +", show=False, id="lab.alpha_up",
                tooltip="raise the length penalty α"),
        Binding("down", "penalty(-0.1)", "α −", show=False, id="lab.alpha_down",
                tooltip="lower the length penalty α"),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self._model: Any = None

    def compute(self) -> GreedyVsBeam:
        p = self.preset
        if self._model is None:
            self._model = lab_model(p)
        return greedy_vs_beam(self._model, int(p["width"]), int(p.get("max_tokens", 10)),
                                   float(p.get("length_penalty", 0.0)), p.get("prompt", ""))

    def action_width(self, delta: int) -> None:
        self.preset["width"] = min(max(int(self.preset["width"]) + delta, 1), 16)
        self.recompute()

    def action_penalty(self, delta: float) -> None:
        value = float(self.preset.get("length_penalty", 0.0))
        self.preset["length_penalty"] = clamp_step(value, delta, -2.0, 3.0, 2)
        self.recompute()

    @staticmethod
    def _line(label: str, d: Decoded, style: str = "") -> Text:
        text = Text()
        text.append(f"{label:<9}", style="bold")
        text.append(" ".join(d.tokens) or "∅", style=style or "bold")
        factors = " · ".join(num(p) for p in d.probs)
        text.append(f"   p = {factors} = {num(d.prob, 4)}")
        if d.score != d.logprob:
            text.append(f"  score {d.score:.3f}", style="dim")
        return text

    def draw(self, g: GreedyVsBeam) -> RenderableType:
        parts: list[RenderableType] = []
        head = Text(f"width {g.width} · length penalty α = {g.length_penalty:g} · at most "
                    f"{g.max_tokens} tokens", style="dim")
        parts.append(head)
        parts.append(self._line("greedy", g.greedy,
                                "bold red" if g.greedy_missed else "bold green"))
        for i, beam in enumerate(g.beams):
            parts.append(self._line("beam" if i == 0 else "", beam,
                                    "bold green" if i == 0 and g.beam_found_best else ""))
        if g.best is not None:
            parts.append(self._line("best", g.best, "bold green"))
            verdict = Text()
            if g.greedy_missed:
                verdict.append("Greedy misses the most probable sequence", style="bold red")
                verdict.append(f" ({num(g.greedy.prob, 4)} < {num(g.best.prob, 4)}): the best "
                               "first token does not lead to the best sentence. ")
            else:
                verdict.append("Greedy finds the most probable sequence here. ", style="bold")
            if g.beam_found_best:
                verdict.append(f"Beam search with width {g.width} finds it.", style="green")
            else:
                verdict.append(f"Beam search with width {g.width} misses it: widen the beam.",
                               style="yellow")
            parts.append(Text(""))
            parts.append(verdict)
        else:
            parts.append(Text("(too many sequences to enumerate the most probable one)",
                              style="dim"))
        steps = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold",
                      expand=True)
        steps.add_column("step", justify="right", no_wrap=True)
        steps.add_column("live beams (log p)", ratio=1)
        steps.add_column("dropped", ratio=1, style="dim")
        for row in g.steps:
            live = ", ".join(f"{' '.join(h.tokens)} ({h.logprob:.2f})" for h in row.survivors)
            done = ", ".join(f"{' '.join(h.tokens)} ✓" for h in row.finished)
            dropped = ", ".join(f"{text} ({lp:.2f})" for text, lp in row.pruned[:4])
            steps.add_row(str(row.step + 1), live or done, dropped)
        parts.append(Text("\nBeam search step by step", style="bold"))
        parts.append(steps)
        return Group(*parts)
