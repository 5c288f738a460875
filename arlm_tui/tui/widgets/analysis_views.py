"""The play screen's analysis views: compare models, sample N, attention, speculative decoding.

Each view is given what it computes from (``request(given)``, ``given`` an ``AnalysisInput``: the
session as it was when asked, the models loaded for the views, the model lock, the rows), returns
a function the screen runs in a thread worker, built from ``arlm_tui.tui.analysis``, says
"computing" meanwhile and draws the result it is given (``show_result``) in one ``render``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import events
from textual.widget import Widget

from arlm_tui.numbers import fmt_prob
from arlm_tui.tui.widgets.token_bars import bar, clip, show_token

if TYPE_CHECKING:
    from arlm_tui.tui.analysis import AnalysisInput

_SHADES = " ░▒▓█"


class AnalysisView(Widget):
    """Common part: a state (idle, computing, result, error) and the drawing of messages."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"analysis--header", "analysis--accent", "analysis--dim",
                         "analysis--good", "analysis--bad"}
    DEFAULT_CSS = """
    AnalysisView { height: 1fr; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    AnalysisView > .analysis--header { color: $text-muted; text-style: bold; }
    AnalysisView > .analysis--accent { color: $accent; }
    AnalysisView > .analysis--dim { color: $text-muted; }
    AnalysisView > .analysis--good { color: $success; }
    AnalysisView > .analysis--bad { color: $error; }
    """
    IDLE_TEXT = ""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.data: Any = None
        self.error: str | None = None
        self.busy = False

    def request(self, given: AnalysisInput) -> Callable[[], Any] | None:  # pragma: no cover
        """The computation to run in a worker for ``given`` (None: nothing to compute)."""
        raise NotImplementedError

    def computing(self) -> None:
        self.busy = True
        self.refresh()

    def show_result(self, data: Any, error: str | None) -> None:
        self.busy = False
        self.data, self.error = data, error
        self.refresh()

    def st(self, name: str) -> Style:
        return self.get_component_rich_style(f"analysis--{name}")

    def prose(self, text: str, style: Style) -> Text:
        """A message wrapped to the view (the views draw without wrapping, for their tables)."""
        width, height = max(self.size.width, 20), max(self.size.height, 4)
        return Text("\n".join(wrapped(text, width - 1, height)), style=style)

    def render(self) -> Text:
        if self.error:
            return self.prose(self.error, self.st("bad"))
        if self.data is None:
            return self.prose("computing …" if self.busy else self.IDLE_TEXT, self.st("dim"))
        text = self.draw(self.data, max(self.size.width, 20), max(self.size.height, 4))
        if self.busy:
            text.append("\n(updating …)", style=self.st("dim"))
        return text

    def draw(self, data: Any, width: int, height: int) -> Text:  # pragma: no cover - abstract
        raise NotImplementedError

    def scroll_columns(self, direction: int) -> bool:
        """Show the next (``direction`` > 0) or previous columns of a view wider than the
        screen; False when there are none (the default)."""
        return False

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        if self.scroll_columns(1):
            event.stop()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if self.scroll_columns(-1):
            event.stop()

    def _on_mouse_scroll_right(self, event: events.MouseScrollRight) -> None:
        if self.scroll_columns(1):
            event.stop()

    def _on_mouse_scroll_left(self, event: events.MouseScrollLeft) -> None:
        if self.scroll_columns(-1):
            event.stop()


def wrapped(text: str, width: int, max_lines: int) -> list[str]:
    """``text`` wrapped at word boundaries to ``width`` columns, at most ``max_lines`` lines
    (the last ending with "…" when more was left out)."""
    lines = textwrap.wrap(text, max(width, 8), break_on_hyphens=False) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = clip(lines[-1] + " …", width)
    return lines


# --------------------------------------------------------------------------- compare
class CompareView(AnalysisView):
    """The same context under several models, side by side; KL(oracle ‖ model) if possible.

    ``chosen`` names the models to compare (None: every installed model); the model in use
    comes first, then the oracle, then the others by name. As many columns as fit are drawn;
    ``scroll_columns`` (the keys < and >, or the mouse wheel) shows the others."""

    IDLE_TEXT = "Compare: the next-token distribution of every installed model at this text."
    #: the narrowest column: a token, a short bar and a probability
    MIN_COLUMN = 20

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.chosen: list[str] | None = None
        self.first = 0  # the first column shown
        self.fit = 1  # how many columns the last drawing had room for

    def model_names(self, current: str) -> list[str]:
        """The installed models to compare, in column order (the current one first)."""
        from arlm_tui.lm.registry import list_models

        names = [e.name for e in list_models() if e.backend != "broken"]
        if self.chosen is not None:
            names = [n for n in names if n in self.chosen]
        names = [n for n in names if n != current]
        # the oracle first among the others: it makes KL possible
        names.sort(key=lambda n: (n != "oracle", n))
        return [current, *names]

    def scroll_columns(self, direction: int) -> bool:
        """Show the next (``direction`` > 0) or previous model columns; False at an end."""
        if self.data is None:
            return False
        last_first = max(len(self.data.columns) - self.fit, 0)
        first = max(0, min(last_first, self.first + (1 if direction > 0 else -1)))
        if first == self.first:
            return False
        self.first = first
        self.refresh()
        return True

    def request(self, given: AnalysisInput) -> Callable[[], Any] | None:
        from arlm_tui.tui.analysis import ChosenToken, compare_models

        current = given.model
        decode = current.tokenizer.decode
        context = decode(list(given.context_ids))
        cache = given.models
        names = self.model_names(current.name)[1:]
        # as many tokens as the views' area has rows for (this view's size is 0 until shown)
        top_n = max(8, given.rows - 8)
        chosen = None
        trace = given.last_trace
        if trace is not None:
            # the step just taken: how probable each model found the token it chose
            ended = trace.chosen_id == current.eos_id
            chosen = ChosenToken(decode(list(trace.context_ids)),
                                 decode([*trace.context_ids, trace.chosen_id]),
                                 show_token(trace.text_of(trace.chosen_id)), ended)

        def compute() -> Any:
            from arlm_tui.lm.registry import load_model

            models, missing = [current], []
            for name in names:
                try:
                    if name not in cache:
                        cache[name] = load_model(name)
                    models.append(cache[name])
                except Exception as exc:  # noqa: BLE001 - one broken model must not hide others
                    missing.append(f"{name}: {exc}")
            result = compare_models(context, models, chosen=chosen, top_n=top_n)
            result.missing = missing
            return result

        return compute

    def show_result(self, data: Any, error: str | None) -> None:
        if data is not None and (self.data is None or len(data.columns) != len(
                self.data.columns)):
            self.first = 0
        super().show_result(data, error)

    def _head(self, column: Any, chosen: str | None) -> list[tuple[str, Style]]:
        """The lines above a column's tokens: its name, H, KL(oracle ‖ model) (or a note) and
        p(chosen token)."""
        lines = [(column.model, self.st("header")),
                 (f"H = {column.entropy:.2f} nats", self.st("dim"))]
        if column.kl_from_oracle is not None:
            kl = column.kl_from_oracle
            lines.append((f"KL(oracle‖·) = {kl:.3f}" if math.isfinite(kl)
                          else "KL(oracle‖·) = ∞", self.st("accent")))
        else:
            lines.append((column.note or "", self.st("dim")))  # words: clipped if need be
        if chosen is not None:
            p = column.chosen_prob
            lines.append((f"p({chosen}) = " + (fmt_prob(p) if p is not None else "—"),
                          self.st("accent")))
        return lines

    def draw(self, data: Any, width: int, height: int) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        every = data.columns
        chosen = clip(data.chosen, 8) if data.chosen is not None else None
        heads = [self._head(column, chosen) for column in every]
        # every column as wide as the widest number line needs: no number is ever cut
        need = max([self.MIN_COLUMN] + [len(text) for head in heads for text, style in head[1:]
                                        if style != self.st("dim") or text.startswith("H =")])
        fit = max(1, min(len(every), (width + 1) // (need + 1)))
        self.fit = fit
        self.first = max(0, min(self.first, len(every) - fit))
        shown = range(self.first, self.first + fit)
        col_w = max((width + 1) // fit - 1, need)
        where = (f"models {self.first + 1}–{self.first + fit} of {len(every)} (< >)"
                 if fit < len(every) else f"{len(every)} models")
        head = f"{where} · c: which · context …{data.context[-30:]!r}"
        if data.oracle is None:
            head += " · install the oracle model to see KL(oracle ‖ model)"
        elif not data.oracle_possible:
            head += " · the oracle language cannot produce this text (fallback)"
        out.append(clip(head, width - 1), self.st("dim"))
        lines: list[list[tuple[str, Style]]] = []

        def cell(col: int, row: int, text: str, style: Style) -> None:
            while len(lines) <= row:
                lines.append([("", Style())] * fit)
            lines[row][col] = (text, style)

        for c, index in enumerate(shown):
            column = every[index]
            title = f"{column.model} ({column.backend})"
            cell(c, 0, title if len(title) <= col_w else clip(column.model, col_w),
                 self.st("header"))
            for r, (text, style) in enumerate(heads[index][1:], start=1):
                cell(c, r, clip(text, col_w), style)
            body = len(heads[index])
            top = column.top[: max(height - body - 2, 1)]
            # tokens get what the bar (at least 3 wide) and the probability leave
            token_w = max(min(max((len(show_token(t)) for t, _ in top), default=1),
                              col_w - 7 - 4), 9)
            bar_w = max(col_w - token_w - 1 - 7, 2)
            top_p = max((p for _, p in column.top), default=1.0)
            for r, (token, p) in enumerate(top):
                text = clip(show_token(token), token_w).ljust(token_w + 1) + \
                    bar(p / top_p, bar_w) + f"{fmt_prob(p):>7}"
                cell(c, body + r, text, Style())
        for line in lines[: height - 1]:
            out.append("\n")
            for text, style in line:
                out.append(text.ljust(col_w + 1)[: col_w + 1], style)
        if data.missing and len(lines) < height - 1:
            out.append("\n")
            out.append(clip("not loaded: " + "; ".join(data.missing), width - 1), self.st("bad"))
        return out


# --------------------------------------------------------------------------- sample N
class SampleView(AnalysisView):
    """N continuations under the current knobs: histogram of first tokens vs p, diversity.

    N is chosen among ``N_CHOICES`` (``change(±1)`` moves to the next one, clamped)."""

    IDLE_TEXT = "Sample N: draw many continuations and compare strategies."
    N_CHOICES: ClassVar[tuple[int, ...]] = (5, 10, 20, 50, 100, 200)
    MAX_TOKENS = 12

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.n = 20

    def change(self, direction: int) -> bool:
        """Move N to the next (``direction`` > 0) or previous choice; False at a limit."""
        index = min(range(len(self.N_CHOICES)), key=lambda i: abs(self.N_CHOICES[i] - self.n))
        index = max(0, min(len(self.N_CHOICES) - 1, index + (1 if direction > 0 else -1)))
        if self.N_CHOICES[index] == self.n:
            return False
        self.n = self.N_CHOICES[index]
        return True

    @property
    def title(self) -> str:
        return f"sample N = {self.n}"

    def compose(self) -> Any:
        from arlm_tui.tui.widgets.charts import SampleChart

        yield SampleChart()  # the histogram as a chart, docked under the numbers

    def show_result(self, data: Any, error: str | None) -> None:
        from arlm_tui.tui.widgets.charts import SampleChart

        self.query_one(SampleChart).show(data if error is None else None)
        super().show_result(data, error)

    def request(self, given: AnalysisInput) -> Callable[[], Any] | None:
        from arlm_tui.tui.analysis import sample_study

        model, context, config = given.model, given.context_ids, given.config
        if given.done:
            context = given.prompt_ids
        n = self.n

        def compute() -> Any:
            return sample_study(model, context, config, n=n, max_tokens=self.MAX_TOKENS)

        return compute

    def draw(self, data: Any, width: int, height: int) -> Text:
        from arlm_tui.tui.widgets.charts import SampleChart

        height -= self.query_one(SampleChart).rows_taken(height)
        out = Text(no_wrap=True, overflow="ellipsis")
        intro = wrapped(f"N = {data.n} continuations of up to {data.max_tokens} tokens under "
                        f"the current knobs (seeds seed … seed+{data.n - 1}; +/− change N)",
                        width - 1, 2 if height >= 16 else 1)
        out.append("\n".join(intro), self.st("dim"))
        count_w = 2 * len(str(data.n)) + 2  # " 7/20 "
        bar_w = min(max((width - 1 - 12 - count_w - 7) // 2, 4), 40)  # long bars say no more
        tv = f"total variation ½Σ|drawn − p| = {data.total_variation:.2f}"
        reserved = len(intro) + 3 + len(data.rows) + min(2, len(data.continuations))
        # the chain's statistics before the sample texts: they need 2 histogram rows beside
        chain_line = getattr(data, "chain", None) is not None and (
            height - (reserved - min(2, len(data.continuations))) >= 3)
        reserved += chain_line
        hist_rows = max(min(len(data.histogram), height - reserved - 1), 2)
        out.append("\n")
        out.append(clip("first token".ljust(12) + "drawn".ljust(bar_w + count_w)
                        + "p after processors", width - 1), self.st("header"))
        for token, count, p in data.histogram[:hist_rows]:
            out.append("\n")
            out.append(clip(show_token(token), 11).ljust(12))
            out.append(bar(count / data.n, bar_w), self.st("accent"))
            out.append(f" {count:>{len(str(data.n))}}/{data.n:<{len(str(data.n))}} ")
            out.append(bar(p, bar_w), self.st("dim"))
            out.append(f" {fmt_prob(p):>6}")
        out.append("\n")
        out.append(tv if len(tv) < width else f"total variation {data.total_variation:.2f}",
                   self.st("dim"))
        if chain_line:  # what the processors did over the N continuations
            out.append("\n")
            out.append(clip("knobs did: " + data.chain.summary(), width - 1), self.st("dim"))
        # the numbers' columns as wide as their names (plus a gap): headers never touch
        wide = width >= 64
        names = ("distinct-1", "distinct-2", "repeats", "NLL/tok") if wide else (
            "dist1", "dist2", "rep", "NLL")
        col = max(len(n) for n in names) + 1
        label_w = max(min(max(len(r.label) for r in data.rows) + 1, width - 1 - 4 * col), 8)
        out.append("\n")
        out.append("strategy".ljust(label_w) + "".join(n.rjust(col) for n in names),
                   self.st("header"))
        for row in data.rows:
            numbers = (row.distinct_1, row.distinct_2, row.repetition, row.mean_nll)
            out.append("\n")
            out.append(clip(row.label, label_w - 1).ljust(label_w)
                       + "".join(f"{x:>{col}.2f}" for x in numbers))
        room = height - (reserved - min(2, len(data.continuations)) + hist_rows)
        for text in data.continuations[: max(room, 0)]:
            out.append("\n")
            out.append(clip("· " + text.replace("\n", " "), width - 1), self.st("dim"))
        return out


# --------------------------------------------------------------------------- attention
class AttentionView(AnalysisView):
    """Where the last token looks: attention weights per layer and head over the context."""

    IDLE_TEXT = "Attention: a transformer's attention weights for the last token."

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.first = 0  # the first layer shown
        self.fit = 1  # how many layers the last drawing had room for

    def request(self, given: AnalysisInput) -> Callable[[], Any] | None:
        from arlm_tui.tui.analysis import attention_at

        # the lock: reading ``last_attention`` must not interleave with a step of the same
        # model; the other views use the model's stateless calls (states are passed in and
        # out) and may run beside a step
        model, context, lock = given.model, given.context_ids, given.model_lock

        def compute() -> Any:
            with lock:
                return attention_at(model, context)

        return compute

    def draw(self, data: Any, width: int, height: int) -> Text:
        if data.weights is None:
            message = data.message
            if "transformer" not in _installed_backends():
                message += ("\nNo transformer is installed yet (train one with "
                            "`arlm train transformer …`).")
            return Text("\n".join(line for part in message.split("\n")
                                  for line in wrapped(part, width - 1, height)),
                        style=self.st("dim"))
        weights = data.weights  # (layers, heads, keys)
        layers, heads, keys = weights.shape
        out = Text(no_wrap=True, overflow="ellipsis")
        intro = (f"attention of the last position: {layers} layers × {heads} heads over "
                 f"{keys} keys · darker = more weight (each head scaled to its maximum)")
        label_w = min(12, max(max((len(show_token(k)) for k in data.keys), default=4) + 1, 6))
        # a cell per head, a gap between layers; the widest cells that fit (2 to 6 columns)
        room = width - 1 - label_w
        cell_w = max(2, min(6, (room - (layers - 1)) // max(layers * heads, 1)))
        layer_w = heads * cell_w + 1
        fit = max(1, min(layers, (room + 1) // layer_w))
        self.fit = fit
        self.first = max(0, min(self.first, layers - fit))
        shown = range(self.first, self.first + fit)
        if fit < layers:
            intro = (f"layers {self.first + 1}–{self.first + fit} of {layers} (< > for the "
                     f"others) · {intro}")
        intro_lines = wrapped(intro, width - 1, 2 if height >= 12 else 1)
        for i, line in enumerate(intro_lines):
            if i:
                out.append("\n")
            out.append(line, self.st("dim"))
        peak = weights.max(axis=2, keepdims=True)
        scaled = weights / np.where(peak > 0, peak, 1.0)
        header = "".ljust(label_w) + "".join(f"L{layer + 1}".ljust(layer_w) for layer in shown)
        out.append("\n")
        out.append(header, self.st("header"))
        head_label = (lambda h: f"h{h + 1}") if cell_w >= 3 else (lambda h: f"{h + 1}")
        heads_row = "".ljust(label_w) + "".join(
            "".join(head_label(h).ljust(cell_w) for h in range(heads)) + " " for _ in shown)
        out.append("\n")
        out.append(heads_row, self.st("dim"))
        used = len(intro_lines) + 2
        rows = min(keys, max(height - used - (1 if keys > height - used else 0), 1))
        for k in range(keys - rows, keys):
            out.append("\n")
            out.append(clip(show_token(data.keys[k]), label_w - 1).ljust(label_w))
            for layer in shown:
                for h in range(heads):
                    w = float(scaled[layer, h, k])
                    shade = _SHADES[min(int(w * (len(_SHADES) - 1) + 0.5), len(_SHADES) - 1)]
                    # narrow cells touch (a layer reads as one block), wider ones have a gap
                    cell = shade * cell_w if cell_w == 2 else shade * (cell_w - 1) + " "
                    out.append(cell, self.st("accent"))
                out.append(" ")
        if keys > rows:
            out.append("\n")
            out.append(f"(the first {keys - rows} keys are above this window)", self.st("dim"))
        return out

    def scroll_columns(self, direction: int) -> bool:
        if self.data is None or self.data.weights is None:
            return False
        layers = self.data.weights.shape[0]
        first = max(0, min(layers - self.fit, self.first + (1 if direction > 0 else -1)))
        if first == self.first:
            return False
        self.first = first
        self.refresh()
        return True


def _installed_backends() -> set[str]:
    from arlm_tui.lm.registry import list_models

    return {e.backend for e in list_models()}


# --------------------------------------------------------------------------- speculative
#: the draft choice "no other model: the target itself, flatter" (not a model name)
FLATTER_TARGET = ":flatter-target:"


class SpeculativeView(AnalysisView):
    """Speculative decoding from the current text: proposals, verdicts, resampled tokens.

    ``k`` (drafted tokens a round) is in ``K_MIN`` … ``K_MAX``; ``draft`` is the chosen draft
    model's name, ``FLATTER_TARGET`` for the flattened target, None for the smallest model with
    the target's vocabulary (the target made flatter when there is none)."""

    IDLE_TEXT = "Speculative decoding: a draft proposes k tokens, the target keeps or fixes them."
    K_MIN, K_MAX = 1, 8

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.k = 4
        self.draft: str | None = None
        self.first = 0  # the first line of the rounds shown
        self.lines_shown = 1
        self.total_lines = 0

    def scroll_columns(self, direction: int) -> bool:
        """Scroll the rounds by a few lines (they are listed one under the other)."""
        step = max(self.lines_shown - 1, 1) * (1 if direction > 0 else -1)
        first = max(0, min(self.total_lines - self.lines_shown, self.first + step))
        if first == self.first:
            return False
        self.first = first
        self.refresh()
        return True

    def show_result(self, data: Any, error: str | None) -> None:
        self.first = 0
        super().show_result(data, error)

    def change(self, direction: int) -> bool:
        """k ± 1 within K_MIN … K_MAX; False at a limit."""
        k = max(self.K_MIN, min(self.K_MAX, self.k + (1 if direction > 0 else -1)))
        if k == self.k:
            return False
        self.k = k
        return True

    @property
    def title(self) -> str:
        return f"speculative decoding, k = {self.k}"

    def next_draft(self) -> str | None:
        """Choose the draft after the one shown (the installed models with the same vocabulary,
        then the flattened target); its label, or None when there is nothing to choose from."""
        if self.data is None or not self.data.drafts:
            return None
        options = [*self.data.drafts, FLATTER_TARGET]
        shown = self.data.draft_model or FLATTER_TARGET
        self.draft = options[(options.index(shown) + 1) % len(options)]
        return "the target made flatter" if self.draft == FLATTER_TARGET else self.draft

    def request(self, given: AnalysisInput) -> Callable[[], Any] | None:
        from arlm_tui.lm.registry import list_models
        from arlm_tui.tui.analysis import draft_candidates, load_draft, speculative_demo

        target, context, config = given.model, given.context_ids, given.config
        cache = given.models
        entries = [e for e in list_models() if e.name != target.name]
        k, choice = self.k, self.draft

        def compute() -> Any:
            names = draft_candidates(target, entries, cache)
            draft, used = None, None
            if choice != FLATTER_TARGET:
                wanted = [choice] if choice in names else []
                for name in wanted + [n for n in names if n != choice]:
                    draft = load_draft(target, name, cache)
                    if draft is not None:
                        used = name
                        break
            demo = speculative_demo(target, draft, context, config, k=k, drafts=names)
            demo.draft_model = used
            if draft is None and names:
                demo.draft_note = "chosen with d: the target made flatter stands in"
            return demo

        return compute

    def draw(self, data: Any, width: int, height: int) -> Text:
        result = data.result
        out = Text(no_wrap=True, overflow="ellipsis")
        spare = height >= 16  # room for the whole explanation, else one line each
        intro: list[tuple[str, Style]] = []
        choose = f" (d: next of {len(data.drafts) + 1} drafts)" if data.drafts else ""
        for text, style, lines in (
                (f"k = {data.k} drafted tokens a round (+/−) · target: {data.target}",
                 self.st("header"), 2),
                (f"draft: {data.draft}{choose} · {data.draft_note}", self.st("header"), 2),
                ("keep a drafted x with probability min(1, p(x)/q(x)); at the first rejection "
                 "draw from norm(max(0, p − q)) instead", self.st("dim"), 2)):
            intro += [(line, style) for line in wrapped(text, width - 1, lines if spare else 1)]
        for i, (line, style) in enumerate(intro):
            if i:
                out.append("\n")
            out.append(line, style)
        lines: list[Text] = []
        show = data.token_text
        # the full verdict when it fits, else its mark alone (✓ kept, ✗ rejected)
        token_w = 11 if width >= 56 else 9 if width >= 46 else 7
        wide = width - 1 >= 3 + token_w + 1 + 33 + 10
        compact = width - 1 < 1 + token_w + 1 + 33 + 1  # no room for keep = min(1, p/q)
        for number, rnd in enumerate(result.rounds, start=1):
            lines.append(Text(f"round {number}: the draft proposes {rnd.drafted}",
                              self.st("header")))
            for prop in rnd.proposals:
                line = Text(no_wrap=True, overflow="ellipsis")
                style = self.st("good") if prop.accepted else self.st("bad")
                line.append(("   " if wide else " ")
                            + clip(show_token(show(prop.token_id)), token_w).ljust(token_w + 1),
                            style)
                keep = "" if compact else f" keep {prop.accept_prob:4.2f}"
                line.append(f"q {fmt_prob(prop.draft_prob):>5} p {fmt_prob(prop.target_prob):>5}"
                            f"{keep} u {prop.draw:4.2f} ", self.st("dim"))
                verdict = ("✓ kept" if prop.accepted else "✗ rejected") if wide else (
                    "✓" if prop.accepted else "✗")
                line.append(verdict, style)
                lines.append(line)
            last = rnd.emitted_ids[-1] if rnd.emitted_ids else None
            if last is not None and rnd.outcome in ("resampled", "bonus"):
                line = Text("   → ", self.st("dim"))
                line.append(show_token(show(last)), self.st("accent"))
                line.append(" drawn from norm(max(0, p − q))" if rnd.outcome == "resampled"
                            else " bonus token drawn from p after the last kept one",
                            self.st("dim"))
                lines.append(line)
        text = "text: " + "".join(show_token(show(i)) + " " for i in result.ids)
        text_lines = wrapped(text, width - 1, 2 if spare else 1)
        calls = len(result.rounds)
        summary = wrapped(f"acceptance rate {result.acceptance_rate:.2f} · {len(result.ids)} "
                          f"tokens in {calls} target calls ({result.tokens_per_target_call:.2f} "
                          "per call instead of 1)", width - 1, 2)
        room = max(height - len(intro) - len(text_lines) - len(summary), 1)
        self.lines_shown = max(room - 1, 1)
        self.total_lines = len(lines)
        if len(lines) > room:  # the rounds scroll (< > or the wheel), a line says where
            self.first = max(0, min(self.first, len(lines) - self.lines_shown))
            window = lines[self.first: self.first + self.lines_shown]
            lines = [*window, Text(
                f"lines {self.first + 1}–{self.first + len(window)} of {len(lines)} of the "
                "rounds (< > scroll)", self.st("dim"))]
        else:
            self.first = 0
        for line in lines:
            line.truncate(width - 1, overflow="ellipsis")  # only ever prose, below 46 columns
            out.append("\n")
            out.append_text(line)
        for line in text_lines:
            out.append("\n")
            out.append(line)
        for line in summary:
            out.append("\n")
            out.append(line, self.st("accent"))
        return out


__all__ = ["FLATTER_TARGET", "AttentionView", "CompareView", "SampleView", "SpeculativeView"]
