"""The view of the ``trigram_table`` lab; what it draws is computed by ``arlm_tui.learn.labs.trigram_table``."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.learn.labs.trigram_table import (
    MAX_LAB_ORDER,
    SMOOTHING_CYCLE,
    CountTable,
    count_table,
)
from arlm_tui.numbers import fmt_number as num
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    clamp_step,
    table_of,
)
from arlm_tui.tui.widgets.token_bars import bar


class TrigramTableView(LabView):
    """The count table of an n-gram model, one context's distribution and a scored sentence."""

    KIND = "trigram_table"
    HELP_TITLE = "Count-table lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "smoothing", "Smoothing", id="lab.smoothing",
                tooltip="switch to the next smoothing method (mle, add-k, KN, ...)"),
        Binding("o", "order", "Order", id="lab.order", tooltip="change the n-gram order n"),
        Binding("c", "edit('context')", "Context", id="lab.context",
                tooltip="type the context whose next tokens are listed"),
        Binding("e", "edit('sentence')", "Sentence", id="lab.sentence",
                tooltip="type the sentence to score"),
        Binding("right_square_bracket", "k(0.5)", "k+", show=False, id="lab.k_up",
                key_display="]", tooltip="raise add-k's pseudo-count k"),
        Binding("left_square_bracket", "k(-0.5)", "k−", show=False, id="lab.k_down",
                key_display="[", tooltip="lower add-k's pseudo-count k"),
    ]

    def compute(self) -> CountTable:
        p = self.preset
        return count_table(
            p.get("corpus", "toy"), int(p.get("order", 3)), str(p.get("smoothing", "mle")),
            float(p.get("k", 1.0)), p.get("context"), p.get("sentence"),
        )

    def action_smoothing(self) -> None:
        cycle = SMOOTHING_CYCLE
        current = self.preset.get("smoothing", "mle")
        self.preset["smoothing"] = cycle[(cycle.index(current) + 1) % len(cycle)]
        self.recompute()

    def action_order(self) -> None:
        self.preset["order"] = int(self.preset.get("order", 3)) % MAX_LAB_ORDER + 1
        self.recompute()

    def action_k(self, delta: float) -> None:
        self.preset["k"] = clamp_step(float(self.preset.get("k", 1.0)), delta, 0.5, 10.0, 2)
        self.recompute()

    def action_edit(self, field: str) -> None:
        self.request_edit(field, "Context (words before the next token)" if field == "context"
                          else "Sentence to score")

    def draw(self, t: CountTable) -> RenderableType:
        parts: list[RenderableType] = []
        head = Text()
        head.append(f"{t.order}-gram model", style="bold")
        head.append(f" of {len(t.corpus)} sentences · smoothing ")
        head.append(t.smoothing, style="bold cyan")
        head.append(f" · |V| = {t.vocab_size}")
        parts.append(head)
        parts.append(Text(t.note, style="dim"))
        if t.sentence is not None:
            line = Text("\n")
            line.append(f"p({t.sentence} </s>)", style="bold")
            line.append(" = ")
            for i, f in enumerate(t.factors):
                if i:
                    line.append(" · ")
                context = " ".join(f.context)
                line.append(f"p({f.token} | {context})" if context else f"p({f.token})",
                            style="bold red" if f.prob <= 0 else "")
            line.append("\n  = ")
            line.append(" · ".join(num(f.prob) for f in t.factors))
            line.append(f" = {num(t.sentence_prob, 4)}", style="bold")
            line.append(f"    NLL = {num(t.sentence_nll)} nats")
            zeros = [f for f in t.factors if f.prob <= 0]
            if zeros:
                line.append(f"\n  a zero factor: {zeros[0].token} never followed "
                            f"'{' '.join(zeros[0].context)}' in training", style="red")
            parts.append(line)
        if t.context is not None:
            parts.append(Text(f"\nNext token after '{' '.join(t.context)}'", style="bold"))
            table = table_of("<token", "c(h,w)", "c(h)", "MLE", "p", "<")
            for row in t.context_rows:
                style = "" if row.count else "dim"
                table.add_row(row.token, str(row.count), str(row.context_total), num(row.mle),
                              num(row.prob), bar(row.prob, 20), style=style)
            parts.append(table)
        parts.append(Text(f"\nEvery {t.order}-gram seen in training", style="bold"))
        table = table_of("<context", "<next", "count", "c(h)", "p")
        for row in t.rows:
            mark = "bold" if t.context is not None and tuple(row.context) == t.context else ""
            table.add_row(" ".join(row.context) or "∅", row.next_token, str(row.count),
                          str(row.context_total), num(row.probability), style=mark)
        parts.append(table)
        return Group(*parts)
