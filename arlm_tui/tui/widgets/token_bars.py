"""The next-token bars: ONE widget drawing every row of a step's distribution.

For each of the most probable tokens (as many as fit) it draws three distributions side by side,
as the processors see them: the model's p; p after temperature and the penalties (the
distribution top-p, min-p and typical-p measure against); and the final sampling distribution
after truncation. It dims the tokens a processor removed and says which one, marks the chosen
token (past steps), draws a marker where the cumulative probability reaches top-p (measured on
the column it names), and heads the list with the entropy H and the effective number of choices
exp(H).

Drawing all rows in one ``render`` is much cheaper than one widget per row (see DESIGN.md).
``mode`` says what the trace is: "next" (live: the distribution of the token still to come under
the current knobs; no choice shown), "step" (a past step: its choice is marked) or "force" (the
live distribution with a cursor to pick the token to force: enter posts
``TokenBars.ForceRequested``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from arlm_tui.decoding.processors import PROCESSORS
from arlm_tui.lm.information import perplexity
from arlm_tui.numbers import fmt_nats, fmt_prob

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


def show_token(text: str) -> str:
    """A token as it should read in a list: visible spaces and newlines."""
    return text.replace("\n", "⏎").replace("\t", "⇥").replace(" ", "␣") or "∅"


#: Width of a probability as the bars print it ("0.412", "1.6e-10").
NUMBER_W = 7


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
        #: live mode: the step just taken (its choice is named in the header)
        self.last_step: Any = None
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

        raw, tempered, final = columns(trace)
        token_w = min(18, max(6, width // 8))
        reason_w = 9 if width >= 70 and chosen_visible else 0
        fixed = 2 + 4 + token_w + 1
        bar_w = (width - 1 - fixed - reason_w - 3 * (NUMBER_W + 2)) // 3
        if bar_w < 2:
            bar_w = 0  # too narrow for bars: the numbers alone
        col_w = bar_w + NUMBER_W + 1 + (1 if bar_w else 0)
        shown = [r["id"] for r in rows if r is not None]
        scale = max(float(np.max(raw[shown])) if shown else 0.0,
                    float(np.max(tempered[shown])) if shown else 0.0,
                    float(np.max(final[shown])) if shown else 0.0, 1e-12)

        out.append("\n")
        out.append(" " * fixed, st["header"])
        for title in column_titles(trace):
            if len(title) > col_w - 1:
                title = SHORT_TITLES.get(title, title)
            out.append(clip(title, col_w - 1).ljust(col_w), st["header"])
        values = (raw, tempered, final)
        for index, row in enumerate(rows, start=self._offset):
            out.append("\n")
            if row is None:
                out.append("    ⋮", st["header"])
                continue
            out.append_text(self._row(trace, row, index, chosen_visible, stage_labels, st,
                                      token_w, bar_w, col_w, reason_w, scale, values))
            if crossing is not None and row["id"] == crossing:
                out.append("\n")
                covered = top_p_mass(trace)
                out.append(clip(top_p_marker(trace, covered, width - 1), width - 1),
                           st["marker"])
        return out

    def _row(self, trace: Any, row: dict, index: int, chosen_visible: bool,
             stage_labels: dict[str, str], st: dict[str, Style], token_w: int, bar_w: int,
             col_w: int, reason_w: int, scale: float, values: tuple[np.ndarray, ...]) -> Text:
        removed = row["removed_by"]
        token_id = row["id"]
        is_chosen = chosen_visible and row["chosen"]
        line = Text(no_wrap=True, overflow="ellipsis")
        base = st["removed"] if removed else Style()
        line.append("▶ " if is_chosen else "  ", st["chosen"])
        line.append(f"{row['rank']:>3} ", st["header"])
        token_style = st["chosen"] if is_chosen else base
        line.append(clip(show_token(row["text"]), token_w).ljust(token_w) + " ", token_style)
        # the column where the token's probability became 0 says which processor removed it
        gone_at = None
        if removed:
            gone_at = 1 if removed in BEFORE_TRUNCATION else 2
        bar_styles = (st["raw"], st["final"], st["final"])
        for column, probs in enumerate(values):
            if gone_at is not None and column >= gone_at:
                if column == gone_at:
                    label = stage_labels.get(removed, removed)
                    if len(label) + 2 > col_w - 1:
                        label = removed.replace("_", "-")
                    line.append(clip(f"✗ {label}", col_w - 1).ljust(col_w), st["removed"])
                else:
                    line.append(" " * col_w)
                continue
            p = float(probs[token_id])
            if bar_w:
                line.append(bar(p / scale, bar_w) + " ",
                            st["removed"] if removed else bar_styles[column])
            line.append(f"{fmt_prob(p):>{NUMBER_W}} ", base)
        if is_chosen and reason_w:
            word = "✓ forced" if trace.forced else "✓ chosen"
            line.append(clip(word, reason_w), st["chosen"])
        if self.mode == "force" and index == self.cursor:
            line.stylize(st["cursor"])
        line.stylize(Style(meta={"row": index}))
        return line

    @staticmethod
    def _append_choice(out: Text, st: dict[str, Style], width: int, token: str,
                       wordings: tuple[tuple[str, str], ...]) -> None:
        """The first header line: ``before`` + the chosen token + ``after`` in the first
        wording that fits ``width``; else the last, with the token shortened (never its p)."""
        room = width - 1 - len(out.plain)
        for before, after in wordings:
            if len(before) + len(token) + len(after) <= room:
                break
        else:
            token = clip(token, max(room - len(before) - len(after), 2))
        out.append(before, st["header"])
        out.append(token, st["chosen"])
        out.append(after, st["header"])

    def _header(self, trace: Any, out: Text, st: dict[str, Style], width: int) -> None:
        h = trace.entropy
        effective = perplexity(h)  # exp(H): the effective number of choices
        if self.mode == "force":
            out.append("force the next token: ↑↓ pick, ⏎ takes it, esc cancels", st["marker"])
        elif self.mode == "next":
            last = self.last_step
            if last is None:
                out.append("next token, live", st["header"])
            else:
                what = "forced" if last.forced else "chose"
                n, p = last.step + 1, fmt_prob(last.chosen_raw_prob)
                self._append_choice(out, st, width, show_token(last.text_of(last.chosen_id)), (
                    (f"next token, live · step {n} {what} ", f" (p = {p})"),
                    (f"live · step {n} {what} ", f" (p = {p})"),
                    (f"live · step {n}: ", f" (p = {p})"),
                ))
            hint = ": space chooses from the last column"
            if len(out.plain) + len(hint) <= width - 1:
                out.append(hint, st["header"])
        else:
            what = "forced" if trace.forced else "chose"
            n, p = trace.step + 1, fmt_prob(trace.chosen_raw_prob)
            self._append_choice(out, st, width, show_token(trace.text_of(trace.chosen_id)), (
                (f"step {n} (past): {what} ", f" (p = {p}, rank {trace.chosen_rank})"),
                (f"step {n} (past): ", f" (p = {p}, rank {trace.chosen_rank})"),
                (f"step {n}, past: ", f" (p = {p})"),
            ))
        out.append("\n")
        parts = [f"H = {fmt_nats(h)} nats", f"exp(H) ≈ {effective:.3g} effective choices",
                 f"{trace.kept} kept", f"H after processors = {fmt_nats(trace.final_entropy)}"]
        mirostat = getattr(trace, "mirostat", None)
        if mirostat is not None:  # its state beside the entropy: the bound it cuts with now
            parts.insert(1, f"mirostat μ = {mirostat.mu_before:.2f} bits" if self.mode != "step"
                         else f"μ {mirostat.mu_before:.2f} → {mirostat.mu_after:.2f} bits")
        info = parts[0]
        for part in parts[1:]:
            if len(info) + 3 + len(part) <= width - 1:
                info += " · " + part
        out.append(info, st["header"])


#: Column titles for narrow bars.
SHORT_TITLES = {"after truncation": "final p", "after T+penalties": "after T+pen",
                "after penalties": "after pen.", "greedy takes": "greedy",
                "contrastive candidates": "candidates"}

#: Processors applied before truncation: column 2 is the distribution after the last of them.
BEFORE_TRUNCATION: frozenset[str] = frozenset(
    {"raw", "temperature"} | {cls.name for cls in PROCESSORS if not cls.warper})


def tempered_stage(trace: Any) -> int:
    """Index in ``trace.stages`` of the distribution after temperature and the penalties (the
    last stage before any truncation; the model's own when none of them is on)."""
    index = 0
    for i, stage in enumerate(trace.stages):
        if stage.name in BEFORE_TRUNCATION:
            index = i
    return index


def columns(trace: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three distributions the bars draw: model p, after temperature and penalties, final
    (the sampling distribution after truncation; one-hot on the choice for greedy; for
    contrastive search the processed p of its top-k candidates only)."""
    final = trace.final_probs
    contrastive = getattr(trace, "contrastive", None)
    if contrastive is not None:
        ids = [c.token_id for c in contrastive.candidates]
        final = np.zeros_like(final)
        final[ids] = trace.final_probs[ids]
    return trace.raw_probs, trace.stages[tempered_stage(trace)].probs, final


def column_titles(trace: Any) -> tuple[str, str, str]:
    """Headings of the three columns (the marker and the why-line name them the same way)."""
    names = {stage.name for stage in trace.stages}
    sampling = trace.strategy == "sample" and trace.config.get("temperature") != 0
    penalties = bool(names & (BEFORE_TRUNCATION - {"raw", "temperature"}))
    if sampling:
        middle = "after T+penalties" if penalties else "after T"
    else:
        middle = "after penalties"
    if trace.strategy == "contrastive":
        last = "contrastive candidates"
    elif not sampling and trace.strategy != "beam":
        last = "greedy takes"
    elif trace.strategy == "beam":
        last = "beam scores"
    else:
        last = "after truncation"
    return "model p", middle, last


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
    """Probability (just before top-p: the distribution top-p measures) of the tokens top-p
    kept."""
    names = [stage.name for stage in trace.stages]
    if "top_p" not in names:
        return None
    i = names.index("top_p")
    return float(trace.stages[i - 1].probs[trace.stages[i].probs > 0].sum())


def top_p_marker(trace: Any, covered: float | None, width: int) -> str:
    """The line under the token where top-p is reached, in the longest wording that fits
    ``width``: the mass covered and the column it is measured on are kept as long as possible,
    so a narrow panel never shows a number cut in the middle."""
    top_p = f"{trace.config.get('top_p'):g}"
    if covered is None:
        return f"╌ top-p = {top_p} reached ╌"
    mass, column = fmt_prob(covered), top_p_measured_on(trace)
    wordings = (
        f"╌ top-p = {top_p} reached: tokens above cover {mass} of {column} ╌",
        f"╌ top-p = {top_p}: above cover {mass} of {column} ╌",
        f"╌ top-p {top_p}: {mass} of {column} ╌",
        f"╌ top-p {top_p}: {mass} ╌",
    )
    return next((text for text in wordings if len(text) <= width), wordings[-1])


def top_p_measured_on(trace: Any) -> str:
    """The name of the distribution top-p measured: column 2's title, or "p after top-k" when
    top-k cut before it (top-p then measures the renormalised survivors of top-k)."""
    names = [stage.name for stage in trace.stages]
    i = names.index("top_p")
    if i - 1 == tempered_stage(trace):
        return f"“{column_titles(trace)[1]}”"
    return f"p after {trace.stages[i - 1].name.replace('_', '-')}"


def chosen_row(trace: Any) -> dict[str, Any]:
    """The chosen token as a row like ``trace.top``'s (for when it ranks below the list)."""
    token_id = trace.chosen_id
    return {"id": token_id, "token": trace.chosen_token, "text": trace.text_of(token_id),
            "rank": trace.chosen_rank, "raw_prob": trace.chosen_raw_prob,
            "final_prob": float(trace.final_probs[token_id]),
            "removed_by": trace.removed_by.get(token_id), "chosen": True}
