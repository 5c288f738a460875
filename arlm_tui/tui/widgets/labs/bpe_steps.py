"""The view of the ``bpe_steps`` lab; what it draws is computed by ``arlm_tui.learn.labs.bpe_steps``."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.learn.labs.bpe_steps import BpeRun, bpe_steps, pair_counts
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    table_of,
)


class BpeStepsView(LabView):
    """Learn BPE merges one step at a time."""

    KIND = "bpe_steps"
    HELP_TITLE = "BPE lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right,space", "step(1)", "Next merge", id="lab.next", key_display="→",
                tooltip="apply the next merge"),
        Binding("left", "step(-1)", "Undo merge", id="lab.prev", key_display="←",
                tooltip="go back one merge"),
        Binding("home", "step(-1000)", "Start", show=False, id="lab.start",
                tooltip="back to single characters"),
        Binding("plus", "more", "More merges", id="lab.more", key_display="+",
                tooltip="learn one more merge than the lesson asked for"),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.position = 0  # merges applied so far

    def compute(self) -> BpeRun:
        return bpe_steps(self.preset["words"], int(self.preset["merges"]),
                              list(self.preset.get("encode", [])))

    def action_step(self, delta: int) -> None:
        if self.result is None:
            return
        self.position = min(max(self.position + delta, 0), len(self.result.steps))
        self.refresh(layout=True)

    def action_more(self) -> None:
        self.preset["merges"] = int(self.preset["merges"]) + 1
        self.recompute()
        if self.result is not None:
            self.position = len(self.result.steps)
            self.refresh(layout=True)

    def draw(self, run: BpeRun) -> RenderableType:
        position = min(self.position, len(run.steps))
        if position == 0:
            corpus, vocab = run.initial_corpus, run.initial_vocab
            counts, segmentations = run.initial_pair_counts, run.initial_segmentations
            head = Text(f"Start: every word spelled in characters ({len(run.steps)} merges to "
                        "learn; → applies the next)", style="bold")
            chosen = run.steps[0].pair if run.steps else None
        else:
            step = run.steps[position - 1]
            corpus, vocab, segmentations = step.corpus, step.vocab, step.segmentations
            counts = run.steps[position].pair_counts if position < len(run.steps) else \
                pair_counts(corpus)
            head = Text()
            head.append(f"Merge {position} of {len(run.steps)}: ", style="bold")
            head.append(f"{step.pair[0]} + {step.pair[1]} → {step.merged}", style="bold green")
            head.append(f"  (the pair occurred {step.count} times)")
            chosen = run.steps[position].pair if position < len(run.steps) else None
        words = table_of("<word", "count", "<symbols")
        for symbols, freq in corpus:
            words.add_row("".join(symbols), str(freq), " ".join(symbols))
        pairs = table_of("<adjacent pair", "count")
        for pair, count in counts[:8]:
            style = "bold green" if pair == chosen else ""
            pairs.add_row(f"{pair[0]} {pair[1]}", str(count), style=style)
        grid = Table.grid(padding=(0, 4))
        grid.add_row(Text("Corpus", style="bold"), Text("Pair counts (next merge in green)",
                                                         style="bold"))
        grid.add_row(words, pairs if counts else Text("no pairs left", style="dim"))
        parts: list[RenderableType] = [head, Text(""), grid]
        parts.append(Text(f"\nVocabulary ({len(vocab)}): " + " ".join(vocab)))
        if segmentations:
            cut = Text("\nNew words cut with the merges so far: ", style="bold")
            for word, symbols in segmentations:
                cut.append(f"\n  {word:<10} → ")
                cut.append(" · ".join(symbols), style="cyan")
            parts.append(cut)
        return Group(*parts)
