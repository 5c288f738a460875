"""The next-token bars: ONE widget drawing every row of a step's distribution.

For each of the most probable tokens (as many as fit) it draws the model's probability and the
probability after the decoding processors side by side, dims the tokens a processor removed and
says which one, marks the chosen token, draws a marker where the cumulative probability reaches
top-p, and heads the list with the entropy H and the effective number of choices exp(H).

Drawing all rows in one ``render`` is much cheaper than one widget per row (see DESIGN.md).
``mode`` says what the trace is: "step" (a step taken: its choice is marked), "next" (the
distribution of the token still to come: no choice shown) or "force" (the same, with a cursor
to pick the token to force: enter posts ``TokenBars.ForceRequested``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

_EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``width`` cells filled to ``fraction`` (clipped to [0, 1]) with
    eighth-block precision; any non-zero fraction shows at least a sliver. Every bar of the
    interface is drawn with it."""
    fraction = min(max(float(fraction), 0.0), 1.0)
    eighths = round(fraction * width * 8)
    if fraction > 0 and eighths == 0:
        eighths = 1  # a token with any probability gets a visible sliver
    full, rest = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[rest] if rest else "")
    return text.ljust(width)


def fmt_prob(p: float) -> str:
    """0.412 → '0.412'; tiny values in scientific notation; exactly 0 → '0'."""
    if p <= 0:
        return "0"
    if p >= 0.001:
        return f"{p:.3f}"
    return f"{p:.0e}".replace("e-0", "e-")


def show_token(text: str) -> str:
    """A token as it should read in a list: visible spaces and newlines."""
    return text.replace("\n", "⏎").replace("\t", "⇥").replace(" ", "␣") or "∅"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


class TokenBars(Widget, can_focus=True):
    """Bars of one decoding step's distribution (a ``Trace``)."""

    HELP_TITLE = "Next-token bars"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False, id="bars.up",
                tooltip="move the cursor up the tokens"),
        Binding("down", "cursor(1)", "Down", show=False, id="bars.down",
                tooltip="move the cursor down the tokens"),
        Binding("pageup", "cursor(-10)", "Page up", show=False, id="bars.pageup",
                tooltip="move the cursor 10 tokens up"),
        Binding("pagedown", "cursor(10)", "Page down", show=False, id="bars.pagedown",
                tooltip="move the cursor 10 tokens down"),
        Binding("enter", "force", "Force it", id="bars.force",
                tooltip="force the token under the cursor as the next token"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "token-bars--header",
        "token-bars--raw",
        "token-bars--final",
        "token-bars--chosen",
        "token-bars--removed",
        "token-bars--cursor",
        "token-bars--marker",
    }
    DEFAULT_CSS = """
    TokenBars {
        height: 1fr; min-height: 6; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    TokenBars > .token-bars--header { color: $text-muted; }
    TokenBars > .token-bars--raw { color: $secondary; }
    TokenBars > .token-bars--final { color: $accent; }
    TokenBars > .token-bars--chosen { color: $success; text-style: bold; }
    TokenBars > .token-bars--removed { color: $text-disabled; }
    TokenBars > .token-bars--cursor { background: $block-cursor-blurred-background; }
    TokenBars:focus > .token-bars--cursor { background: $block-cursor-background; }
    TokenBars > .token-bars--marker { color: $warning; }
    """

    trace: reactive[Any] = reactive(None, always_update=True)
    mode: reactive[str] = reactive("step")
    cursor: reactive[int] = reactive(0)
    note: reactive[str] = reactive("")

    class ForceRequested(Message):
        """The learner picked ``token_id`` to be the next token."""

        def __init__(self, token_id: int) -> None:
            super().__init__()
            self.token_id = token_id

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._row_ids: list[int] = []
        self._offset = 0

    # ------------------------------------------------------------------ actions
    def action_cursor(self, delta: int) -> None:
        if self.trace is not None:
            size = int(self.trace.raw_probs.size)
            self.cursor = max(0, min(size - 1, self.cursor + delta))

    def action_force(self) -> None:
        token = self.cursor_token
        if self.mode == "force" and token is not None:
            self.post_message(self.ForceRequested(token))

    @property
    def cursor_token(self) -> int | None:
        """The token id under the cursor (force mode)."""
        if self.trace is None:
            return None
        rows = self.trace.top(self.cursor + 1)
        return rows[min(self.cursor, len(rows) - 1)]["id"] if rows else None

    def on_click(self, event: events.Click) -> None:
        row = event.style.meta.get("row") if event.style.meta else None
        if row is not None:
            self.cursor = int(row)
            if event.chain >= 2:
                self.action_force()

    # ------------------------------------------------------------------ drawing
    def render(self) -> Text:
        trace = self.trace
        width = max(self.size.width, 20)
        height = max(self.size.height, 3)
        if trace is None:
            self._row_ids = []
            return Text(self.note or "No step yet: press space to generate the next token.",
                        style=self.get_component_rich_style("token-bars--header"))
        return self._render_trace(trace, width, height)

    def _styles(self) -> dict[str, Style]:
        names = ("header", "raw", "final", "chosen", "removed", "cursor", "marker")
        return {n: self.get_component_rich_style(f"token-bars--{n}") for n in names}

    def _render_trace(self, trace: Any, width: int, height: int) -> Text:
        st = self._styles()
        out = Text(no_wrap=True, overflow="ellipsis")
        self._header(trace, out, st, width)
        header_lines = out.plain.count("\n") + 1
        stage_labels = {s.name: s.label for s in trace.stages}
        crossing = crossing_token(trace)
        rows_fit = max(height - header_lines - 1 - (1 if crossing is not None else 0), 1)
        chosen_visible = self.mode == "step"
        if self.mode == "force":
            size = int(trace.raw_probs.size)
            cursor = min(self.cursor, size - 1)
            self._offset = min(self._offset, cursor)
            if cursor >= self._offset + rows_fit:
                self._offset = cursor - rows_fit + 1
            every = trace.top(self._offset + rows_fit)
            self._row_ids = [r["id"] for r in every]
            rows: list[dict | None] = list(every[self._offset:])
        else:
            self._offset = 0
            rows = list(trace.top(rows_fit))
            if chosen_visible and rows_fit >= 3 and not any(r["chosen"] for r in rows):
                rows = [*rows[: rows_fit - 2], None, chosen_row(trace)]
            self._row_ids = [r["id"] for r in rows if r is not None]

        token_w = min(18, max(7, width // 7))
        reason_w = 9 if width >= 60 else 0
        bar_w = max(3, (width - 2 - 4 - token_w - 1 - reason_w - 2 * 8) // 2)
        shown = [r for r in rows if r is not None]
        scale = max([r["raw_prob"] for r in shown] + [r["final_prob"] for r in shown] + [1e-12])

        out.append("\n")
        out.append(" " * (2 + 4 + token_w + 1), st["header"])
        out.append(clip("model p", bar_w + 8).ljust(bar_w + 8), st["header"])
        out.append(clip("after processors", bar_w + 8).ljust(bar_w + 8), st["header"])
        for index, row in enumerate(rows, start=self._offset):
            out.append("\n")
            if row is None:
                out.append("    ⋮", st["header"])
                continue
            out.append_text(self._row(trace, row, index, chosen_visible, stage_labels, st,
                                      token_w, bar_w, reason_w, scale))
            if crossing is not None and row["id"] == crossing:
                out.append("\n")
                covered = top_p_mass(trace)
                marker = f"╌╌ top-p = {trace.config.get('top_p'):g} reached here"
                if covered is not None:
                    marker += f": the tokens above cover {covered:.3f}"
                out.append(clip(marker + " ╌╌", width - 1), st["marker"])
        return out

    def _row(self, trace: Any, row: dict, index: int, chosen_visible: bool,
             stage_labels: dict[str, str], st: dict[str, Style], token_w: int, bar_w: int,
             reason_w: int, scale: float) -> Text:
        removed = row["removed_by"]
        is_chosen = chosen_visible and row["chosen"]
        line = Text(no_wrap=True, overflow="ellipsis")
        base = st["removed"] if removed else Style()
        line.append("▶ " if is_chosen else "  ", st["chosen"])
        line.append(f"{row['rank']:>3} ", st["header"])
        token_style = st["chosen"] if is_chosen else base
        line.append(clip(show_token(row["text"]), token_w).ljust(token_w) + " ", token_style)
        line.append(bar(row["raw_prob"] / scale, bar_w), st["removed"] if removed else st["raw"])
        line.append(f" {fmt_prob(row['raw_prob']):>6} ", base)
        if removed:
            label = stage_labels.get(removed, removed)
            if len(label) + 2 > bar_w + 8:
                label = removed.replace("_", "-")
            line.append(clip(f"✗ {label}", bar_w + 7).ljust(bar_w + 8), st["removed"])
        else:
            line.append(bar(row["final_prob"] / scale, bar_w), st["final"])
            line.append(f" {fmt_prob(row['final_prob']):>6} ")
        if is_chosen and reason_w:
            word = "✓ forced" if trace.forced else "✓ chosen"
            line.append(clip(word, reason_w), st["chosen"])
        if self.mode == "force" and index == self.cursor:
            line.stylize(st["cursor"])
        line.stylize(Style(meta={"row": index}))
        return line

    def _header(self, trace: Any, out: Text, st: dict[str, Style], width: int) -> None:
        h = trace.entropy
        effective = math.exp(h) if math.isfinite(h) else float("inf")
        if self.mode == "force":
            out.append("force the next token: ↑↓ pick, ⏎ takes it, esc cancels", st["marker"])
        elif self.mode == "next":
            out.append("next token: the model's distribution (space chooses one)",
                       st["header"])
        else:
            what = "forced" if trace.forced else "chose"
            out.append(f"step {trace.step + 1}: {what} ", st["header"])
            out.append(show_token(trace.text_of(trace.chosen_id)), st["chosen"])
            out.append(f" (p = {fmt_prob(trace.chosen_raw_prob)}, rank {trace.chosen_rank})",
                       st["header"])
        out.append("\n")
        parts = [f"H = {h:.2f} nats", f"exp(H) ≈ {effective:.3g} effective choices",
                 f"{trace.kept} kept", f"H after processors = {trace.final_entropy:.2f}"]
        info = parts[0]
        for part in parts[1:]:
            if len(info) + 3 + len(part) <= width - 1:
                info += " · " + part
        out.append(info, st["header"])


def crossing_token(trace: Any) -> int | None:
    """The token at which the cumulative probability reaches top-p (the last one top-p kept):
    the least probable survivor of the top-p stage. None when top-p is off."""
    names = [stage.name for stage in trace.stages]
    if "top_p" not in names:
        return None
    i = names.index("top_p")
    before, after = trace.stages[i - 1].probs, trace.stages[i].probs
    kept = np.flatnonzero(after > 0)
    if kept.size == 0:
        return None
    return int(kept[np.argmin(before[kept])])


def top_p_mass(trace: Any) -> float | None:
    """Probability (just before top-p) of the tokens top-p kept."""
    names = [stage.name for stage in trace.stages]
    if "top_p" not in names:
        return None
    i = names.index("top_p")
    return float(trace.stages[i - 1].probs[trace.stages[i].probs > 0].sum())


def chosen_row(trace: Any) -> dict[str, Any]:
    """The chosen token as a row like ``trace.top``'s (for when it ranks below the list)."""
    token_id = trace.chosen_id
    return {"id": token_id, "token": trace.chosen_token, "text": trace.text_of(token_id),
            "rank": trace.chosen_rank, "raw_prob": trace.chosen_raw_prob,
            "final_prob": float(trace.final_probs[token_id]),
            "removed_by": trace.removed_by.get(token_id), "chosen": True}
