"""The beam view: live hypotheses with their scores, candidates pruned this step, finished ones.

It draws one beam-search step (a ``BeamStep``): each hypothesis kept with its log-probability and
its length-normalised score log p / length^α, the best candidates that did not make the cut, and
the finished hypotheses (ended with ``</s>``), best first. Live (``live=True``) the step is the
NEXT expansion under the current knobs, not yet taken: what space would keep and prune; else it
is a past step of the session. Rows elide the beginning the hypotheses share
(``differing_ends``), so the endings that tell them apart stay visible at any width.

Diverse beam search (beam groups): every row starts with its group's label (``g1``, ``g2``,
...) in the group's colour, and the heading gives G and the diversity penalty λ.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from arlm_tui.numbers import fmt_nats
from arlm_tui.tui.widgets.token_bars import clip


def _fmt(x: float) -> str:
    """A score in nats, right-aligned in 8 columns (``numbers.fmt_nats``)."""
    return f"{fmt_nats(x):>8}"


#: The colours of beam groups' labels, in turn (diverse beam search).
GROUP_COLOURS: tuple[str, ...] = ("cyan", "magenta", "yellow", "green", "bright_blue",
                                  "bright_red")


def group_label(group: int) -> Text:
    """``g1``, ``g2``, ... in the group's colour (groups are numbered from 1 on screen)."""
    return Text(f"g{group + 1}", Style(color=GROUP_COLOURS[group % len(GROUP_COLOURS)],
                                       bold=True))


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
            intro = ("Beam search: press space to advance every beam by one token. Each step "
                     "extends each live hypothesis by every token, keeps the beam_width most "
                     "probable, and moves hypotheses that end with </s> to the finished list.")
            return Text("\n".join(textwrap.wrap(intro, max(self.size.width - 1, 20))),
                        style=st["header"])
        width = max(self.size.width, 30)
        height = max(self.size.height, 6)
        groups = getattr(beam, "num_groups", 1)
        tag_w = 3 if groups > 1 else 0  # "g1 " before each row
        text_w = max(width - 2 - 3 - tag_w - 2 * 9 - 2, 10)
        alpha = self.config.get("length_penalty", 1.0)

        # every row's text first, so the prefix they all share can be elided
        entries: list[tuple[str, str, float, float, Style, int]] = []
        survivors = beam.survivors
        best = (0 if groups == 1 or not survivors
                else max(range(len(survivors)), key=lambda i: survivors[i].logprob))
        for i, h in enumerate(survivors):
            entries.append((f"{i + 1:>2} ", self.decode(h.ids), h.logprob, h.score,
                            st["best"] if i == best else st["live"], h.group))
        pruned_at = len(entries)
        for cand in beam.pruned:
            parent = self.previous[cand.parent] if cand.parent < len(self.previous) else None
            ids = list(parent.ids) if parent is not None else []
            entries.append((" ✗ ", self.decode(ids + [cand.token_id]), cand.logprob, cand.score,
                            st["pruned"], cand.group))
        finished_at = len(entries)
        for h in beam.finished:
            entries.append((" ✓ ", self.decode(h.ids), h.logprob, h.score, st["finished"],
                            h.group))
        # the layout first (a header is a Text, a hypothesis its index in entries), so that
        # only the rows that fit decide which shared beginning is elided
        layout: list[Text | int] = []
        width_knob = self.config.get("beam_width", len(beam.survivors))
        head = beam_heading(beam, live=self.live, width=width - 1)
        parts = [head, f"width {width_knob} · score = log p / length^α, α = {alpha:g}"]
        if groups > 1:
            penalty = self.config.get("diversity_penalty", 0.0)
            parts.append(f"{groups} groups of {max(width_knob // groups, 1)}, diversity "
                         f"λ = {penalty:g}")
        line = parts[0]
        for part in parts[1:]:  # as few heading lines as fit
            if len(line) + 3 + len(part) <= width - 1:
                line += " · " + part
            else:
                layout.append(Text(clip(line, width - 1), st["header"]))
                line = part
        layout.append(Text(clip(line, width - 1), st["header"]))
        columns_at = len(layout)  # the "log p  score" header, placed once the rows are known
        layout.append(Text(""))
        layout.append(Text("hypotheses space would keep" if self.live else "live hypotheses",
                           st["header"]))
        layout.extend(range(pruned_at))
        budget = height - len(layout) - 2 - min(len(beam.finished), 4)
        if beam.pruned and budget > 1:
            layout.append(Text("pruned by this expansion (best first)" if self.live
                               else "pruned this step (best first)", st["header"]))
            layout.extend(range(pruned_at, finished_at)[: max(budget - 1, 1)])
        layout.append(Text(f"finished ({len(beam.finished)})", st["header"]))
        layout.extend(range(finished_at, len(entries))[: max(height - len(layout), 1)])
        layout = layout[:height]
        indices = [item for item in layout if isinstance(item, int)]
        shown = dict(zip(indices, differing_ends([entries[i][1] for i in indices], text_w),
                         strict=True))
        # the numbers right after the longest row, not across a wide terminal from it
        text_w = min(text_w, max([24, *(len(row) + 2 for row in shown.values())]))
        layout[columns_at] = Text(" " * (3 + tag_w + text_w) + "   log p    score", st["header"])

        def row(index: int) -> Text:
            mark, _text, logprob, score, style, group = entries[index]
            line = Text(no_wrap=True, overflow="ellipsis")
            if groups > 1:
                line.append_text(group_label(group))
                line.append(" ")
            line.append(mark, style)
            line.append(shown[index].ljust(text_w), style)
            line.append(_fmt(logprob) + " " + _fmt(score), style)
            return line

        lines = [row(item) if isinstance(item, int) else item for item in layout]
        return Text("\n", no_wrap=True).join(lines)


def beam_heading(beam: Any, *, live: bool, width: int) -> str:
    """The first line of the beam view: which step is shown (the live next expansion or a past
    step) and how many candidates it keeps, in the longest wording that fits ``width``."""
    step, kept, total = beam.step + 1, len(beam.survivors), beam.num_candidates
    if live:
        wordings = (
            f"next expansion (step {step}, live): space keeps {kept} of {total} candidates"
            + (", then the search ends" if beam.done else ""),
            f"step {step}, live: space keeps {kept} of {total} candidates"
            + (", then ends" if beam.done else ""),
            f"step {step}, live: keeps {kept} of {total}" + (", ends" if beam.done else ""),
        )
    else:
        wordings = (
            f"step {step} (past): kept {kept} of {total} candidates"
            + (" · search finished" if beam.done else ""),
            f"step {step}, past: kept {kept} of {total}" + (", ended" if beam.done else ""),
        )
    return next((text for text in wordings if len(text) <= width), wordings[-1])


def differing_ends(texts: Sequence[str], width: int) -> list[str]:
    """The texts as rows of at most ``width`` characters that show where they differ.

    Hypotheses of one beam share a long beginning; cutting each at its end would show that
    shared beginning ``width`` times and hide the endings that differ. Instead the part before
    the first difference (backed up to the start of its word) is elided with "…": the rows start
    at the same place, as far left as lets the longest fit, never after the first difference. A
    row still too long from there shows its end ("…" and its last ``width - 1`` characters):
    the ending is what tells one hypothesis from another. Every row starts with "…" (the
    prompt, or more, comes before); an empty text reads "(prompt)".
    """
    if not texts:
        return []
    first, last = min(texts), max(texts)
    common = 0
    while common < min(len(first), len(last)) and first[common] == last[common]:
        common += 1
    cut = first.rfind(" ", 0, common) + 1  # the start of the word where they part
    longest = max(len(t) for t in texts)
    start = min(cut, max(0, longest - (width - 1)))
    if 0 < start < cut:  # begin at a word, not in the middle of one
        start = min(first.find(" ", start) + 1 or cut, cut)
    rows = []
    for text in texts:
        if not text:
            rows.append("(prompt)")
        elif len(text) - start <= width - 1:
            rows.append("…" + text[start:])
        else:
            rows.append("…" + text[len(text) - (width - 1):])
    return rows
