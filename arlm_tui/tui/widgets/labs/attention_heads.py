"""The view of the ``attention_heads`` lab; what it draws is computed by ``arlm_tui.learn.labs.attention_heads``."""

from __future__ import annotations

import math
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.learn.labs.attention_heads import HeadAttention, head_attention
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    select_keys,
    table_of,
)


class AttentionHeadsView(LabView):
    """Every head of one layer of a trained transformer: where the last position looks."""

    KIND = "attention_heads"
    HEAVY = True
    HELP_TITLE = "Attention-heads lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "layer(1)", "Next layer", id="lab.next_layer", key_display="→",
                tooltip="show the next layer's heads"),
        Binding("left", "layer(-1)", "Prev layer", id="lab.prev_layer", key_display="←",
                tooltip="show the previous layer's heads"),
        *select_keys("cursor", "head"),
        Binding("e", "edit('prompt')", "Prompt", id="lab.prompt", tooltip="type a new prompt"),
    ]
    #: The most keys drawn (the last ones: the prompt's end matters most for the next token).
    MAX_KEYS = 8

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.shown_layer = 0

    def compute(self) -> HeadAttention:
        p = self.preset
        return head_attention(str(p["prompt"]), p.get("model"))

    def action_layer(self, delta: int) -> None:
        if self.result is not None:
            self.shown_layer = min(max(self.shown_layer + delta, 0), self.result.layers - 1)
            self.refresh(layout=True)

    def action_cursor(self, delta: int) -> None:
        if self.result is not None:
            self.move_cursor(delta, self.result.heads)

    def action_edit(self, field: str) -> None:
        self.request_edit(field, "Prompt (words of the model's vocabulary)")

    def set_text(self, field: str, value: str) -> None:
        self.shown_layer = 0
        super().set_text(field, value)

    def draw(self, h: HeadAttention) -> RenderableType:
        shades = " ░▒▓█"
        layer = min(self.shown_layer, h.layers - 1)
        head = Text()
        head.append(f"{h.model}", style="bold")
        head.append(f" · layer {layer + 1} of {h.layers} · {h.heads} heads · rows: heads, "
                    f"columns: the keys the last position ('{h.keys[-1]}') may attend to, "
                    "cells: α = softmax(q·k/√d_head)", style="dim")
        first = max(len(h.keys) - self.MAX_KEYS, 0)
        keys = h.keys[first:]
        table = table_of("<head", *[f"<{k[:6]}" for k in keys], "<looks at")
        for r in range(h.heads):
            row = h.weights[layer, r, first:]
            cells = [Text(f"{shades[min(int(w * 4.999), 4)]}{w:.2f}",
                          style="bold" if w == row.max() else "") for w in row]
            key, weight = h.focus(layer, r)
            table.add_row(f"{r + 1}", *cells, f"{key} ({weight:.0%})",
                          style="reverse" if r == self.cursor else "")
        r = min(self.cursor, h.heads - 1)
        key, weight = h.focus(layer, r)
        spread = h.entropy(layer, r)
        most = math.log(len(h.keys))
        explain = Text()
        explain.append(f"\nHead {r + 1} of layer {layer + 1} ", style="bold")
        explain.append(f"gives {weight:.0%} of its attention to '{key}'; the entropy of its "
                       f"weights is {spread:.2f} nats (0 = one key, {most:.2f} = all "
                       f"{len(h.keys)} keys alike). Each head has its own W_Q, W_K, W_V: "
                       "the heads of one layer look at different words at once.")
        if first:
            explain.append(f" (The first {first} keys are not drawn.)", style="dim")
        if h.unknown:
            explain.append(f"\nNot in the vocabulary, read as <unk>: {', '.join(h.unknown)}",
                           style="yellow")
        guesses = ", ".join(f"{w} {p:.2f}" for w, p in h.predictions)
        explain.append(f"\nnext-token prediction: {guesses}", style="dim")
        explain.append("\n←→ layer, ↑↓ head, e a new prompt", style="dim")
        return Group(head, Text(""), table, explain)
