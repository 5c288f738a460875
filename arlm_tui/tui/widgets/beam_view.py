"""The beam view: live hypotheses with their scores, candidates pruned this step, finished ones.

It draws one beam-search step (a ``BeamStep``): each hypothesis kept with its log-probability and
its length-normalised score log p / length^α, the best candidates that did not make the cut, and
the finished hypotheses (ended with ``</s>``), best first. Live (``live=True``) the step is the
NEXT expansion under the current knobs, not yet taken: what space would keep and prune; else it
is a past step of the session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from arlm_tui.tui.widgets.token_bars import clip


def _fmt(x: float) -> str:
    return f"{x:8.2f}" if x > -1e9 else "    -inf"


class BeamView(Widget):
    """Draws ``beam`` (a BeamStep); ``previous`` are the live hypotheses before the step."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "beam-view--header",
        "beam-view--live",
        "beam-view--best",
        "beam-view--pruned",
        "beam-view--finished",
    }
    DEFAULT_CSS = """
    BeamView { height: 1fr; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    BeamView > .beam-view--header { color: $text-muted; text-style: bold; }
    BeamView > .beam-view--best { color: $success; text-style: bold; }
    BeamView > .beam-view--pruned { color: $text-disabled; }
    BeamView > .beam-view--finished { color: $accent; }
    """

    beam: reactive[Any] = reactive(None, always_update=True)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.previous: Sequence[Any] = ()
        self.decode: Callable[[Sequence[int]], str] = lambda ids: " ".join(map(str, ids))
        self.config: dict[str, Any] = {}
        self.live = False

    def show(self, beam: Any, previous: Sequence[Any], decode: Callable[[Sequence[int]], str],
             config: dict[str, Any], *, live: bool = False) -> None:
        self.live = live
        self.previous = previous
        self.decode = decode
        self.config = config
        self.beam = beam

    def render(self) -> Text:
        beam = self.beam
        st = {n: self.get_component_rich_style(f"beam-view--{n}")
              for n in ("header", "live", "best", "pruned", "finished")}
        if beam is None:
            return Text("Beam search: press space to advance every beam by one token.\n"
                        "Each step extends each live hypothesis by every token, keeps the "
                        "beam_width most probable, and moves hypotheses that end with </s> to "
                        "the finished list.", style=st["header"])
        width = max(self.size.width, 30)
        height = max(self.size.height, 6)
        text_w = max(width - 2 - 3 - 2 * 9 - 2, 10)
        alpha = self.config.get("length_penalty", 1.0)
        lines: list[Text] = []

        def row(mark: str, text: str, logprob: float, score: float, style: Style) -> Text:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(mark, style)
            line.append(clip("…" + text if text else "(prompt)", text_w).ljust(text_w), style)
            line.append(_fmt(logprob) + " " + _fmt(score), style)
            return line

        width_knob = self.config.get("beam_width", len(beam.survivors))
        if self.live:
            head = (f"next expansion (step {beam.step + 1}, live): space keeps "
                    f"{len(beam.survivors)} of {beam.num_candidates} candidates"
                    + (", then the search ends" if beam.done else ""))
        else:
            head = (f"step {beam.step + 1} (past): kept {len(beam.survivors)} of "
                    f"{beam.num_candidates} candidates"
                    + (" · search finished" if beam.done else ""))
        lines.append(Text(clip(head, width - 1), st["header"]))
        lines.append(Text(clip(f"width {width_knob} · score = log p / length^α, α = {alpha:g}",
                               width - 1), st["header"]))
        lines.append(Text(" " * (3 + text_w) + "   log p    score", st["header"]))
        lines.append(Text("hypotheses space would keep" if self.live else "live hypotheses",
                          st["header"]))
        for i, h in enumerate(beam.survivors):
            lines.append(row(f"{i + 1:>2} ", self.decode(h.ids), h.logprob, h.score,
                             st["best"] if i == 0 else st["live"]))
        budget = height - len(lines) - 2 - min(len(beam.finished), 4)
        if beam.pruned and budget > 1:
            lines.append(Text("pruned by this expansion (best first)" if self.live
                              else "pruned this step (best first)", st["header"]))
            for cand in beam.pruned[: max(budget - 1, 1)]:
                parent = self.previous[cand.parent] if cand.parent < len(self.previous) else None
                ids = list(parent.ids) if parent is not None else []
                lines.append(row(" ✗ ", self.decode(ids + [cand.token_id]), cand.logprob,
                                 cand.score, st["pruned"]))
        lines.append(Text(f"finished ({len(beam.finished)})", st["header"]))
        for h in beam.finished[: max(height - len(lines), 1)]:
            lines.append(row(" ✓ ", self.decode(h.ids), h.logprob, h.score, st["finished"]))
        return Text("\n", no_wrap=True).join(lines[:height])
