"""The view of the ``causal_mask`` lab; what it draws is computed by ``arlm_tui.learn.labs.causal_mask``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.learn.labs.causal_mask import AttentionPattern, attention_pattern
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    select_keys,
    table_of,
)


class CausalMaskView(LabView):
    """An attention pattern with and without the causal mask."""

    KIND = "causal_mask"
    HELP_TITLE = "Causal-mask lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "mask", "Mask on/off", id="lab.mask", tooltip="switch the causal mask"),
        Binding("s", "cells", "Scores/weights", id="lab.cells",
                tooltip="show the scores S + M (before softmax) or the weights α (after)"),
        *select_keys("cursor", "query position", ("Previous query", "Next query")),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.masked = True
        self.cursor = 1
        #: "weights" (α, after the softmax) or "scores" (S + M, before it)
        self.cells = "weights"

    def action_cells(self) -> None:
        self.cells = "scores" if self.cells == "weights" else "weights"
        self.refresh()

    def compute(self) -> AttentionPattern:
        p = self.preset
        return attention_pattern(int(p["length"]), p.get("tokens"), masked=self.masked,
                                      leak=bool(p.get("show_leak", True)))

    def action_mask(self) -> None:
        self.masked = not self.masked
        self.recompute()

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(delta, int(self.preset["length"]))

    def draw(self, a: AttentionPattern) -> RenderableType:
        shades = " ░▒▓█"
        head = Text()
        head.append("causal mask ON" if a.masked else "causal mask OFF",
                    style="bold green" if a.masked else "bold red")
        if self.cells == "weights":
            head.append("   rows: query i, columns: key j, cell: weight α_ij = softmax of the "
                        "row's scores (masked keys get 0); ", style="dim")
        else:
            head.append("   rows: query i, columns: key j, cell: score q_i·k_j/√d plus the "
                        "mask M_ij (−∞ above the diagonal); ", style="dim")
        head.append("s switches; the answer each position must predict is underlined",
                    style="dim")
        table = table_of("<query", *[f"<{t[:6]}" for t in a.tokens], "<must predict")
        for i, token in enumerate(a.tokens):
            cells = []
            for j in range(len(a.tokens)):
                w = float(a.weights[i, j])
                hidden = a.masked and j > i
                style = "bold red underline" if j == i + 1 and not hidden else ""
                if self.cells == "scores":
                    cell = (Text(" −∞  ", style="dim") if hidden
                            else Text(f"{float(a.scores[i, j]):+.2f}", style=style))
                elif hidden:
                    cell = Text(" 0   ", style="dim")
                else:
                    shade = shades[min(int(w * 4.999), 4)]
                    cell = Text(f"{shade}{w:.2f}", style=style)
                cells.append(cell)
            target = a.targets[i] or "–"
            style = "reverse" if i == self.cursor else ""
            table.add_row(f"{i + 1} {token}", *cells, target, style=style)
        i = self.cursor
        explain = Text()
        sees = a.sees(i)
        explain.append(f"\nPosition {i + 1} ('{a.tokens[i]}') ", style="bold")
        if a.targets[i] is None:
            explain.append("is the last one: its output predicts the token after the text. ")
        else:
            leak = a.target_weights[i]
            explain.append(f"must predict '{a.targets[i]}'. It puts {leak:.0%} of its attention "
                           "on that very token", style="red" if leak > 0 else "green")
            explain.append(": it could simply copy the answer. " if leak > 0 else
                           ": the mask keeps the answer out of reach. ")
        explain.append(f"Its output depends on positions {_ranges(sees)}.")
        return Group(head, Text(""), table, explain)


def _ranges(positions: Sequence[int]) -> str:
    """1-based positions as text: [0, 1, 2] → '1–3'."""
    if not positions:
        return "none"
    items = [p + 1 for p in positions]
    if items == list(range(items[0], items[-1] + 1)) and len(items) > 1:
        return f"{items[0]}–{items[-1]}"
    return ", ".join(str(p) for p in items)
