"""The play screen's analysis views: compare models, sample N, attention, speculative decoding.

Each view asks the screen for what it needs (``request(screen)`` returns a function the screen
runs in a thread worker, built from ``arlm_tui.tui.analysis``), says "computing" meanwhile and
draws the result it is given (``show_result``) in one ``render``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from arlm_tui.numbers import fmt_prob
from arlm_tui.tui.widgets.token_bars import bar, clip, show_token

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

    def request(self, screen: Any) -> Callable[[], Any] | None:  # pragma: no cover - abstract
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

    def render(self) -> Text:
        if self.error:
            return Text(self.error, style=self.st("bad"))
        if self.data is None:
            return Text("computing …" if self.busy else self.IDLE_TEXT, style=self.st("dim"))
        text = self.draw(self.data, max(self.size.width, 20), max(self.size.height, 4))
        if self.busy:
            text.append("\n(updating …)", style=self.st("dim"))
        return text

    def draw(self, data: Any, width: int, height: int) -> Text:  # pragma: no cover - abstract
        raise NotImplementedError


def _lock(screen: Any) -> Any:
    """The screen's model lock. Only the attention view needs it: reading ``last_attention``
    must not interleave with a step of the same model; the other views use the model's
    stateless calls (states are passed in and out) and may run beside a step."""
    return screen.model_lock


# --------------------------------------------------------------------------- compare
class CompareView(AnalysisView):
    """The same context under several models, side by side; KL(oracle ‖ model) if possible."""

    IDLE_TEXT = "Compare: the next-token distribution of every installed model at this text."
    MAX_MODELS = 4

    def request(self, screen: Any) -> Callable[[], Any] | None:
        from arlm_tui.lm.registry import list_models
        from arlm_tui.tui.analysis import compare_models

        session = screen.session
        current = session.model
        context = session.text
        cache = screen.model_cache
        names = [e.name for e in list_models() if e.name != current.name
                 and e.backend != "broken"]
        # the oracle first among the others: it makes KL possible
        names.sort(key=lambda n: (n != "oracle", n))
        names = names[: self.MAX_MODELS - 1]

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
            result = compare_models(context, models)
            result.missing = missing
            return result

        return compute

    def draw(self, data: Any, width: int, height: int) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        columns = data.columns
        fit = max(1, min(len(columns), width // 20))
        columns = columns[:fit]
        col_w = max((width - 1) // len(columns) - 1, 17)
        head = f"context …{clip(data.context[-40:], 40)!r}"
        if data.oracle is None:
            head += " · install the oracle model to see KL(oracle ‖ model)"
        elif not data.oracle_possible:
            head += " · the oracle language cannot produce this text (fallback)"
        out.append(clip(head, width - 1), self.st("dim"))
        lines: list[list[tuple[str, Style]]] = []

        def cell(col: int, row: int, text: str, style: Style) -> None:
            while len(lines) <= row:
                lines.append([("", Style())] * len(columns))
            lines[row][col] = (text, style)

        for c, column in enumerate(columns):
            cell(c, 0, clip(f"{column.model} ({column.backend})", col_w), self.st("header"))
            info = f"H = {column.entropy:.2f} nats"
            cell(c, 1, clip(info, col_w), self.st("dim"))
            if column.kl_from_oracle is not None:
                kl = column.kl_from_oracle
                cell(c, 2, clip(f"KL(oracle‖·) = {kl:.3f}" if math.isfinite(kl)
                                else "KL(oracle‖·) = ∞", col_w), self.st("accent"))
            else:
                cell(c, 2, clip(column.note or "", col_w), self.st("dim"))
            bar_w = max(col_w - 10 - 7, 3)
            top_p = max((p for _, p in column.top), default=1.0)
            for r, (token, p) in enumerate(column.top[: max(height - 5, 1)]):
                text = clip(show_token(token), 9).ljust(10) + bar(p / top_p, bar_w) + \
                    f"{fmt_prob(p):>7}"
                cell(c, 3 + r, text, Style())
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

    def request(self, screen: Any) -> Callable[[], Any] | None:
        from arlm_tui.tui.analysis import sample_study

        session = screen.session
        model, context, config = session.model, session.context_ids, session.config
        if session.done:
            context = session.prompt_ids
        n = self.n

        def compute() -> Any:
            return sample_study(model, context, config, n=n, max_tokens=self.MAX_TOKENS)

        return compute

    def draw(self, data: Any, width: int, height: int) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append(clip(f"N = {data.n} continuations of up to {data.max_tokens} tokens under "
                        f"the current knobs (seeds seed … seed+{data.n - 1}; +/− change N)",
                        width - 1),
                   self.st("dim"))
        bar_w = max((width - 12 - 2 * 8) // 2, 4)
        reserved = 3 + len(data.rows) + min(2, len(data.continuations))
        hist_rows = max(min(len(data.histogram), height - reserved - 1), 2)
        out.append("\n")
        out.append(clip("first token".ljust(12) + "drawn".ljust(bar_w + 8)
                        + f"p after processors (total variation {data.total_variation:.2f})",
                        width - 1), self.st("header"))
        for token, count, p in data.histogram[:hist_rows]:
            out.append("\n")
            out.append(clip(show_token(token), 11).ljust(12))
            out.append(bar(count / data.n, bar_w), self.st("accent"))
            out.append(f" {count:>3}/{data.n:<3}")
            out.append(bar(p, bar_w), self.st("dim"))
            out.append(f" {fmt_prob(p):>6}")
        wide = width >= 60
        col = 10 if wide else 7
        names = ("distinct-1", "distinct-2", "repeats", "NLL/tok") if wide else (
            "dist1", "dist2", "rep", "NLL")
        label_w = max(min(24, width - 4 * col - 1), 8)
        out.append("\n")
        out.append(clip("strategy".ljust(label_w) + "".join(n.rjust(col) for n in names),
                        width - 1), self.st("header"))
        for row in data.rows:
            numbers = (row.distinct_1, row.distinct_2, row.repetition, row.mean_nll)
            out.append("\n")
            out.append(clip(clip(row.label, label_w - 1).ljust(label_w)
                            + "".join(f"{x:>{col}.2f}" for x in numbers), width - 1))
        room = height - (hist_rows + 3 + len(data.rows))
        for text in data.continuations[: max(room, 0)]:
            out.append("\n")
            out.append(clip("· " + text.replace("\n", " "), width - 1), self.st("dim"))
        return out


# --------------------------------------------------------------------------- attention
class AttentionView(AnalysisView):
    """Where the last token looks: attention weights per layer and head over the context."""

    IDLE_TEXT = "Attention: a transformer's attention weights for the last token."

    def request(self, screen: Any) -> Callable[[], Any] | None:
        from arlm_tui.tui.analysis import attention_at

        session = screen.session
        model, context = session.model, session.context_ids
        lock = _lock(screen)

        def compute() -> Any:
            with lock:
                return attention_at(model, context)

        return compute

    def draw(self, data: Any, width: int, height: int) -> Text:
        if data.weights is None:
            out = Text(data.message, style=self.st("dim"))
            if "transformer" not in _installed_backends():
                out.append("\nNo transformer is installed yet (train one with "
                           "`arlm train transformer …`).", style=self.st("dim"))
            return out
        weights = data.weights  # (layers, heads, keys)
        layers, heads, keys = weights.shape
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append(clip(f"attention of the last position: {layers} layers × {heads} heads over "
                        f"{keys} keys · darker = more weight (each head scaled to its maximum)",
                        width - 1), self.st("dim"))
        label_w = 12
        pairs = [(layer, h) for layer in range(layers) for h in range(heads)]
        cell_w = max(2, min(6, (width - label_w) // max(len(pairs), 1)))
        pairs = pairs[: max((width - label_w) // cell_w, 1)]
        peak = weights.max(axis=2, keepdims=True)
        scaled = weights / np.where(peak > 0, peak, 1.0)
        out.append("\n")
        header = "".ljust(label_w)
        for layer, h in pairs:
            header += (f"L{layer + 1}" if h == 0 else "").ljust(cell_w)
        out.append(clip(header, width - 1), self.st("header"))
        out.append("\n")
        heads_row = "".ljust(label_w) + "".join(f"h{h + 1}".ljust(cell_w) if cell_w >= 3 else
                                                 " " * cell_w for _, h in pairs)
        out.append(clip(heads_row, width - 1), self.st("dim"))
        rows = min(keys, max(height - 4, 1))
        for k in range(keys - rows, keys):
            out.append("\n")
            out.append(clip(show_token(data.keys[k]), label_w - 1).ljust(label_w))
            for layer, h in pairs:
                w = float(scaled[layer, h, k])
                shade = _SHADES[min(int(w * (len(_SHADES) - 1) + 0.5), len(_SHADES) - 1)]
                out.append(shade * (cell_w - 1) + " ", self.st("accent"))
        if keys > rows:
            out.append("\n")
            out.append(f"(the first {keys - rows} keys are above this window)", self.st("dim"))
        return out


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

    def request(self, screen: Any) -> Callable[[], Any] | None:
        from arlm_tui.lm.registry import list_models
        from arlm_tui.tui.analysis import draft_candidates, load_draft, speculative_demo

        session = screen.session
        target, context, config = session.model, session.context_ids, session.config
        cache = screen.model_cache
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
        out.append(clip(f"k = {data.k} drafted tokens a round (+/−) · target: {data.target}",
                        width - 1), self.st("header"))
        out.append("\n")
        choose = (f" (d: next of {len(data.drafts) + 1} drafts)" if data.drafts else "")
        out.append(clip(f"draft: {data.draft}{choose} · {data.draft_note}", width - 1),
                   self.st("header"))
        out.append("\n")
        out.append(clip("keep a drafted x with probability min(1, p(x)/q(x)); at the first "
                        "rejection draw from norm(max(0, p − q)) instead", width - 1),
                   self.st("dim"))
        lines: list[Text] = []
        show = data.token_text
        for number, rnd in enumerate(result.rounds, start=1):
            lines.append(Text(f"round {number}: the draft proposes {rnd.drafted}",
                              self.st("header")))
            for prop in rnd.proposals:
                line = Text(no_wrap=True, overflow="ellipsis")
                style = self.st("good") if prop.accepted else self.st("bad")
                line.append("   " + clip(show_token(show(prop.token_id)), 11).ljust(12), style)
                line.append(f"q {fmt_prob(prop.draft_prob):>5} p {fmt_prob(prop.target_prob):>5}"
                            f" keep {prop.accept_prob:4.2f} u {prop.draw:4.2f} ",
                            self.st("dim"))
                line.append("✓ kept" if prop.accepted else "✗ rejected", style)
                lines.append(line)
            last = rnd.emitted_ids[-1] if rnd.emitted_ids else None
            if last is not None and rnd.outcome in ("resampled", "bonus"):
                line = Text("   → ", self.st("dim"))
                line.append(show_token(show(last)), self.st("accent"))
                line.append(" drawn from norm(max(0, p − q))" if rnd.outcome == "resampled"
                            else " bonus token drawn from p after the last kept one",
                            self.st("dim"))
                lines.append(line)
        room = max(height - 6, 1)
        for line in lines[:room]:
            out.append("\n")
            out.append_text(line)
        if len(lines) > room:
            out.append("\n")
            out.append(f"… {len(lines) - room} more lines", self.st("dim"))
        out.append("\n")
        text = "".join(show_token(show(i)) + " " for i in result.ids)
        out.append(clip("text: " + text, width - 1))
        out.append("\n")
        calls = len(result.rounds)
        out.append(clip(f"acceptance rate {result.acceptance_rate:.2f} · {len(result.ids)} tokens "
                        f"in {calls} target calls ({result.tokens_per_target_call:.2f} per call "
                        "instead of 1)", width - 1), self.st("accent"))
        return out


__all__ = ["FLATTER_TARGET", "AttentionView", "CompareView", "SampleView", "SpeculativeView"]
