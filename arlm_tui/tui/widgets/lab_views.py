"""Lab views: one live, interactive widget per lab kind, drawing what ``arlm_tui.learn.labs``
computes.

Each view holds the lab's parameters (starting from its preset), asks the engine for a result
whenever the learner moves a control, and draws the result in ONE ``render``. The kinds that need
torch (gradient norms, KV cache) compute in a thread worker and say plainly when torch or a
model is missing. A view that needs typed text (a context, a sentence) posts
``LabView.EditRequested``; the screen asks for the text and calls ``set_text``.

``make_lab_view(lab)`` picks the view for a ``Lab``; ``LAB_VIEWS`` maps every lab kind to its
view class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.worker import get_current_worker

from arlm_tui.decoding.config import PLAYGROUND_KNOBS as DECODING_PLAYGROUND_KNOBS
from arlm_tui.errors import ArlmError
from arlm_tui.learn import labs
from arlm_tui.learn.lessons import Lab, as_number
from arlm_tui.tui.widgets.token_bars import bar


# --------------------------------------------------------------------------- drawing helpers
def num(x: float | None, digits: int = 3) -> str:
    """A number for a table: ∞, 0, ``digits`` decimals from 1 up, ``digits`` significant
    digits below 1, scientific when tiny or huge."""
    if x is None:
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if math.isnan(x):
        return "nan"
    if x == 0:
        return "0"
    size = abs(x)
    if size >= 1e5 or size < 1e-4:
        return f"{x:.2e}".replace("e-0", "e-").replace("e+0", "e+")
    if size >= 1:
        return f"{x:.{digits}f}".rstrip("0").rstrip(".")
    return f"{x:.{digits}g}"


def _table(*columns: str, **options: Any) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold", **options)
    for column in columns:
        left = column.startswith("<")  # one leading "<" asks for left alignment
        table.add_column(column[1:] if left else column, justify="left" if left else "right",
                         no_wrap=True)
    return table


def _step(value: float, delta: float, lo: float, hi: float, digits: int = 4) -> float:
    return round(min(max(value + delta, lo), hi), digits)


def _select_keys(action: str, what: str,
                 titles: tuple[str, str] = ("Previous", "Next")) -> list[Binding]:
    """↑/↓ bindings that run ``action(-1)``/``action(1)`` to select the previous/next ``what``."""
    return [
        Binding("up", f"{action}(-1)", titles[0], show=False, id="lab.up",
                tooltip=f"select the previous {what}"),
        Binding("down", f"{action}(1)", titles[1], show=False, id="lab.down",
                tooltip=f"select the next {what}"),
    ]


# --------------------------------------------------------------------------- the base view
class LabView(Widget, can_focus=True):
    """A lab's live view. Subclasses set ``KIND``, ``BINDINGS``, ``compute()`` (engine call with
    the current parameters) and ``draw(result)``; ``HEAVY`` views compute in a thread."""

    DEFAULT_CSS = """
    LabView { height: auto; padding: 0 1; }
    LabView:focus { background: $boost; }
    """
    HELP_TITLE = "Lab"
    KIND: ClassVar[str] = ""
    HEAVY: ClassVar[bool] = False

    class EditRequested(Message):
        """The learner wants to type a new value for ``field`` (shown as ``title``)."""

        def __init__(self, view: LabView, field: str, title: str, value: str) -> None:
            super().__init__()
            self.view = view
            self.field = field
            self.title = title
            self.value = value

    class Computed(Message):
        """A new result (or error) is on display."""

        def __init__(self, view: LabView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lab = lab
        self.preset: dict[str, Any] = dict(lab.preset)
        #: The latest engine result (None while computing or after an error).
        self.result: Any = None
        #: A one-line message when the engine could not compute (torch missing, bad input).
        self.error: str | None = None
        self.computing = False
        #: The selected row, in views that have one (``move_cursor``).
        self.cursor = 0

    # ------------------------------------------------------------------ computing
    def on_mount(self) -> None:
        self.recompute()

    def compute(self) -> Any:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def draw(self, result: Any) -> RenderableType:  # pragma: no cover
        raise NotImplementedError

    def recompute(self) -> None:
        """Ask the engine again with the current parameters."""
        if self.HEAVY:
            self.computing = True  # the last result stays on show until the new one is ready
            if self.result is None:
                self.refresh(layout=True)
            self._compute_in_thread()
        else:
            self._show(*self._run())

    def _run(self) -> tuple[Any, str | None]:
        try:
            return self.compute(), None
        except (ArlmError, ValueError) as exc:
            return None, str(exc)

    @work(thread=True, exclusive=True, group="lab-compute")
    def _compute_in_thread(self) -> None:
        result, error = self._run()
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, result, error)

    def _show(self, result: Any, error: str | None) -> None:
        self.result, self.error, self.computing = result, error, False
        self.refresh(layout=True)
        self.post_message(self.Computed(self))

    def render(self) -> RenderableType:
        if self.error is not None:
            return Text(f"⚠ {self.error}", style="bold red")
        if self.result is None:
            return Text("computing…", style="dim italic")
        return self.draw(self.result)

    # ------------------------------------------------------------------ text fields
    def request_edit(self, field: str, title: str) -> None:
        self.post_message(self.EditRequested(self, field, title, str(self.preset.get(field, ""))))

    def set_text(self, field: str, value: str) -> None:
        """Set a text parameter (from the screen's prompt) and recompute."""
        self.preset[field] = value
        self.recompute()

    # ------------------------------------------------------------------ the cursor
    def move_cursor(self, delta: int, count: int, *, wrap: bool = False) -> None:
        """Move ``cursor`` by ``delta`` among ``count`` rows (round the ends with ``wrap``,
        else stop at them) and redraw; nothing is recomputed."""
        moved = self.cursor + delta
        self.cursor = moved % count if wrap else min(max(moved, 0), count - 1)
        self.refresh(layout=True)


# --------------------------------------------------------------------------- trigram_table
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

    def compute(self) -> labs.CountTable:
        p = self.preset
        return labs.count_table(
            p.get("corpus", "toy"), int(p.get("order", 3)), str(p.get("smoothing", "mle")),
            float(p.get("k", 1.0)), p.get("context"), p.get("sentence"),
        )

    def action_smoothing(self) -> None:
        cycle = labs.SMOOTHING_CYCLE
        current = self.preset.get("smoothing", "mle")
        self.preset["smoothing"] = cycle[(cycle.index(current) + 1) % len(cycle)]
        self.recompute()

    def action_order(self) -> None:
        self.preset["order"] = int(self.preset.get("order", 3)) % labs.MAX_LAB_ORDER + 1
        self.recompute()

    def action_k(self, delta: float) -> None:
        self.preset["k"] = _step(float(self.preset.get("k", 1.0)), delta, 0.5, 10.0, 2)
        self.recompute()

    def action_edit(self, field: str) -> None:
        self.request_edit(field, "Context (words before the next token)" if field == "context"
                          else "Sentence to score")

    def draw(self, t: labs.CountTable) -> RenderableType:
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
            table = _table("<token", "c(h,w)", "c(h)", "MLE", "p", "<")
            for row in t.context_rows:
                style = "" if row.count else "dim"
                table.add_row(row.token, str(row.count), str(row.context_total), num(row.mle),
                              num(row.prob), bar(row.prob, 20), style=style)
            parts.append(table)
        parts.append(Text(f"\nEvery {t.order}-gram seen in training", style="bold"))
        table = _table("<context", "<next", "count", "c(h)", "p")
        for row in t.rows:
            mark = "bold" if t.context is not None and tuple(row.context) == t.context else ""
            table.add_row(" ".join(row.context) or "∅", row.next_token, str(row.count),
                          str(row.context_total), num(row.probability), style=mark)
        parts.append(table)
        return Group(*parts)


# --------------------------------------------------------------------------- chain_rule
class ChainRuleView(LabView):
    """The chain rule as a table of factors whose probabilities the learner can change."""

    KIND = "chain_rule"
    HELP_TITLE = "Chain-rule lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        *_select_keys("cursor", "factor"),
        Binding("left", "adjust(-0.01)", "p −", id="lab.less", key_display="←",
                tooltip="lower the selected probability by 0.01"),
        Binding("right", "adjust(0.01)", "p +", id="lab.more", key_display="→",
                tooltip="raise the selected probability by 0.01"),
        Binding("shift+left", "adjust(-0.1)", "p −0.1", show=False,
                id="lab.less_coarse", tooltip="lower the selected probability by 0.1"),
        Binding("shift+right", "adjust(0.1)", "p +0.1", show=False,
                id="lab.more_coarse", tooltip="raise the selected probability by 0.1"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="back to the lesson's numbers"),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.conditionals = self._initial()

    def _initial(self) -> list[dict[str, Any]]:
        items = []
        for t, item in enumerate(self.lab.preset.get("conditionals", []), start=1):
            if isinstance(item, dict):
                items.append({"token": str(item.get("token", f"x{t}")), "prob": item["prob"]})
            else:
                items.append({"token": f"x{t}", "prob": item})
        return items

    def compute(self) -> labs.ChainRule:
        return labs.chain_rule(self.conditionals)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(delta, len(self.conditionals))

    def action_adjust(self, delta: float) -> None:
        item = self.conditionals[self.cursor]
        item["prob"] = _step(float(_number(item["prob"])), delta, 0.0, 1.0)
        self.recompute()

    def action_reset(self) -> None:
        self.conditionals = self._initial()
        self.recompute()

    def draw(self, c: labs.ChainRule) -> RenderableType:
        sentence = self.preset.get("sentence")
        title = Text()
        title.append("p(x₁ … x_T) = ∏ p(x_t | x_<t)", style="bold")
        if sentence:
            title.append(f"   for \"{sentence}\" and the end marker")
        table = _table("t", "<token", "p(x_t|x_<t)", "joint", "−ln p", "NLL", "<share of NLL")
        for t, f in enumerate(c.factors):
            style = "reverse" if t == self.cursor else ""
            share = "" if f.share is None else f"{bar(f.share, 10)} {f.share:4.0%}"
            table.add_row(str(t + 1), f.token, num(f.prob), num(f.joint, 6),
                          num(-math.log(f.prob) if f.prob > 0 else math.inf), num(f.nll), share,
                          style=style)
        total = Text()
        total.append("\njoint = product of the column p, NLL = sum of −ln p\n", style="dim")
        total.append(f"joint p = {num(c.joint, 6)}", style="bold")
        total.append(f"    NLL = {num(c.nll)} nats = {num(c.bits)} bits")
        total.append(f"    perplexity = {num(c.perplexity)}")
        hint = Text("↑↓ choose a factor, ←→ change it (shift: by 0.1)", style="dim")
        return Group(title, Text(""), table, total, hint)


def _number(value: Any) -> float:
    """A preset value ("2/3", 0.5, ...) as a float (0 if it is not a number)."""
    number = as_number(value)
    return 0.0 if number is None else number


# --------------------------------------------------------------------------- bpe_steps
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

    def compute(self) -> labs.BpeRun:
        return labs.bpe_steps(self.preset["words"], int(self.preset["merges"]),
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

    def draw(self, run: labs.BpeRun) -> RenderableType:
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
                labs.pair_counts(corpus)
            head = Text()
            head.append(f"Merge {position} of {len(run.steps)}: ", style="bold")
            head.append(f"{step.pair[0]} + {step.pair[1]} → {step.merged}", style="bold green")
            head.append(f"  (the pair occurred {step.count} times)")
            chosen = run.steps[position].pair if position < len(run.steps) else None
        words = _table("<word", "count", "<symbols")
        for symbols, freq in corpus:
            words.add_row("".join(symbols), str(freq), " ".join(symbols))
        pairs = _table("<adjacent pair", "count")
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


# --------------------------------------------------------------------------- playground
#: The knobs of the decoding playground: (name, step, minimum, maximum, "off" value), from
#: the knobs' own ``playground`` settings (``decoding.config.PLAYGROUND_KNOBS``).
PLAYGROUND_KNOBS: tuple[tuple[str, float, float, float, float], ...] = tuple(
    (name, *knob.playground, knob.off) for name, knob in DECODING_PLAYGROUND_KNOBS.items()
    if knob.playground is not None
)


class PlaygroundView(LabView):
    """One next-token distribution reshaped live by temperature, top-k, top-p, min-p, typical-p."""

    KIND = "decoding_playground"
    HELP_TITLE = "Decoding playground"
    BINDINGS: ClassVar[list[BindingType]] = [
        *_select_keys("knob", "knob", ("Previous knob", "Next knob")),
        Binding("left", "adjust(-1)", "Less", id="lab.less", key_display="←",
                tooltip="decrease the selected knob"),
        Binding("right", "adjust(1)", "More", id="lab.more", key_display="→",
                tooltip="increase the selected knob"),
        Binding("delete,backspace", "off", "Off", id="lab.off", key_display="del",
                tooltip="switch the selected knob off"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="back to the lesson's settings"),
    ]
    MAX_ROWS = 12

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.knobs = self._initial()
        self._distribution: tuple[Any, list[str]] | None = None

    def _initial(self) -> dict[str, float]:
        return {name: self.lab.preset.get(name, off) for name, _, _, _, off in PLAYGROUND_KNOBS}

    def compute(self) -> labs.Playground:
        p = self.preset
        if "logits" in p:
            logits, tokens = p["logits"], [str(t) for t in p.get("tokens", [])] or None
            prompt = p.get("prompt", "")
        else:
            if self._distribution is None:
                self._distribution = labs.next_token_distribution(labs.lab_model(p),
                                                                  p.get("context", ""))
            logits, tokens = self._distribution
            prompt = p.get("prompt", p.get("context", ""))
        return labs.playground(logits, tokens, prompt=prompt, top=self.MAX_ROWS, **self.knobs)

    def action_knob(self, delta: int) -> None:
        self.move_cursor(delta, len(PLAYGROUND_KNOBS), wrap=True)

    def action_adjust(self, direction: int) -> None:
        name, step, lo, hi, _ = PLAYGROUND_KNOBS[self.cursor]
        self.knobs[name] = _step(float(self.knobs[name]), direction * step, lo, hi, 3)
        if DECODING_PLAYGROUND_KNOBS[name].type is int:
            self.knobs[name] = int(self.knobs[name])
        self.recompute()

    def action_off(self) -> None:
        name, _, _, _, off = PLAYGROUND_KNOBS[self.cursor]
        self.knobs[name] = off
        self.recompute()

    def action_reset(self) -> None:
        self.knobs = self._initial()
        self.recompute()

    def draw(self, pg: labs.Playground) -> RenderableType:
        knobs = Text()
        for i, (name, _, _, _, off) in enumerate(PLAYGROUND_KNOBS):
            value = self.knobs[name]
            shown = "off" if value == off and name != "temperature" else (
                "0 (greedy)" if name == "temperature" and value == 0 else f"{value:g}")
            style = "reverse" if i == self.cursor else ("dim" if shown == "off" else "bold")
            knobs.append(f" {DECODING_PLAYGROUND_KNOBS[name].title} = {shown} ", style=style)
            knobs.append(" ")
        head = Text()
        if pg.prompt:
            head.append(f"After \"{pg.prompt}\": ", style="bold")
        head.append(f"{pg.kept} of {pg.size} tokens kept · entropy {pg.entropy:.3f} → "
                    f"{pg.final_entropy:.3f} nats")
        table = _table("<token", "logit z", "p", "<", "p'", "<", "<removed by")
        for row in pg.rows:
            style = "dim" if row.removed_by else ""
            table.add_row(row.token, num(row.logit), num(row.prob), bar(row.prob, 10),
                          num(row.final), bar(row.final, 10), row.removed_by or "",
                          style=style)
        legend = Text("p = softmax(z): the model's distribution; p' = after the knobs, the one "
                      "sampled from", style="dim")
        order = Text("order: " + " → ".join(pg.stages) if pg.stages else "no knob active: p' = p",
                     style="dim")
        order.append("    ↑↓ choose a knob, ←→ change it", style="dim")
        return Group(knobs, Text(""), head, table, legend, order)


# --------------------------------------------------------------------------- greedy_vs_beam
class GreedyBeamView(LabView):
    """Greedy decoding next to beam search, and the most probable sequence."""

    KIND = "greedy_vs_beam"
    HELP_TITLE = "Greedy-versus-beam lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "width(1)", "Wider beam", id="lab.wider", key_display="→",
                tooltip="keep one more hypothesis"),
        Binding("left", "width(-1)", "Narrower", id="lab.narrower", key_display="←",
                tooltip="keep one hypothesis fewer"),
        Binding("up", "penalty(0.1)", "α +", show=False, id="lab.alpha_up",
                tooltip="raise the length penalty α"),
        Binding("down", "penalty(-0.1)", "α −", show=False, id="lab.alpha_down",
                tooltip="lower the length penalty α"),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self._model: Any = None

    def compute(self) -> labs.GreedyVsBeam:
        p = self.preset
        if self._model is None:
            self._model = labs.lab_model(p)
        return labs.greedy_vs_beam(self._model, int(p["width"]), int(p.get("max_tokens", 10)),
                                   float(p.get("length_penalty", 0.0)), p.get("prompt", ""))

    def action_width(self, delta: int) -> None:
        self.preset["width"] = min(max(int(self.preset["width"]) + delta, 1), 16)
        self.recompute()

    def action_penalty(self, delta: float) -> None:
        value = float(self.preset.get("length_penalty", 0.0))
        self.preset["length_penalty"] = _step(value, delta, -2.0, 3.0, 2)
        self.recompute()

    @staticmethod
    def _line(label: str, d: labs.Decoded, style: str = "") -> Text:
        text = Text()
        text.append(f"{label:<9}", style="bold")
        text.append(" ".join(d.tokens) or "∅", style=style or "bold")
        factors = " · ".join(num(p) for p in d.probs)
        text.append(f"   p = {factors} = {num(d.prob, 4)}")
        if d.score != d.logprob:
            text.append(f"  score {d.score:.3f}", style="dim")
        return text

    def draw(self, g: labs.GreedyVsBeam) -> RenderableType:
        parts: list[RenderableType] = []
        head = Text(f"width {g.width} · length penalty α = {g.length_penalty:g} · at most "
                    f"{g.max_tokens} tokens", style="dim")
        parts.append(head)
        parts.append(self._line("greedy", g.greedy,
                                "bold red" if g.greedy_missed else "bold green"))
        for i, beam in enumerate(g.beams):
            parts.append(self._line("beam" if i == 0 else "", beam,
                                    "bold green" if i == 0 and g.beam_found_best else ""))
        if g.best is not None:
            parts.append(self._line("best", g.best, "bold green"))
            verdict = Text()
            if g.greedy_missed:
                verdict.append("Greedy misses the most probable sequence", style="bold red")
                verdict.append(f" ({num(g.greedy.prob, 4)} < {num(g.best.prob, 4)}): the best "
                               "first token does not lead to the best sentence. ")
            else:
                verdict.append("Greedy finds the most probable sequence here. ", style="bold")
            if g.beam_found_best:
                verdict.append(f"Beam search with width {g.width} finds it.", style="green")
            else:
                verdict.append(f"Beam search with width {g.width} misses it: widen the beam.",
                               style="yellow")
            parts.append(Text(""))
            parts.append(verdict)
        else:
            parts.append(Text("(too many sequences to enumerate the most probable one)",
                              style="dim"))
        steps = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold",
                      expand=True)
        steps.add_column("step", justify="right", no_wrap=True)
        steps.add_column("live beams (log p)", ratio=1)
        steps.add_column("dropped", ratio=1, style="dim")
        for row in g.steps:
            live = ", ".join(f"{' '.join(h.tokens)} ({h.logprob:.2f})" for h in row.survivors)
            done = ", ".join(f"{' '.join(h.tokens)} ✓" for h in row.finished)
            dropped = ", ".join(f"{text} ({lp:.2f})" for text, lp in row.pruned[:4])
            steps.add_row(str(row.step + 1), live or done, dropped)
        parts.append(Text("\nBeam search step by step", style="bold"))
        parts.append(steps)
        return Group(*parts)


# --------------------------------------------------------------------------- gradient_norms
#: Adjustable parameters of the gradient lab: (name, step, minimum, maximum).
GRADIENT_KNOBS: tuple[tuple[str, float, float, float], ...] = (
    ("recurrent_scale", 0.1, 0.0, 3.0),
    ("forget_bias", 0.5, -5.0, 5.0),
    ("clip", 0.0, 0.0, 0.0),  # cycles through CLIP_VALUES
    ("steps", 10, 10, 200),
)
CLIP_VALUES: tuple[float | None, ...] = (None, 0.01, 0.1, 1.0, 10.0)
CURVE_STYLE = {"rnn": ("●", "red"), "lstm": ("■", "green"), "gru": ("▲", "blue")}


def log_plot(curves: Sequence[tuple[str, Sequence[float]]], height: int = 12,
             width: int = 60) -> Text:
    """A log-scale plot of several curves, x = steps back (left: 0), y = log₁₀ of the value."""
    values = [v for _, ys in curves for v in ys if v > 0 and math.isfinite(v)]
    if not values:
        return Text("(every gradient is 0)", style="dim")
    hi = math.ceil(math.log10(max(values)))
    lo = max(math.floor(math.log10(min(values))), hi - 24)
    if hi == lo:
        lo -= 1
    length = max(len(ys) for _, ys in curves)
    repeat = max(1, min(width // length, 3))  # a few cells per step when there is room
    columns = min(width, length * repeat)
    grid = [[(" ", "")] * columns for _ in range(height)]
    for name, ys in curves:
        mark, color = CURVE_STYLE.get(name, ("•", "white"))
        for col in range(columns):
            k = col // repeat if repeat > 1 else round(col * (length - 1) / max(columns - 1, 1))
            if k >= len(ys) or ys[k] <= 0:
                continue
            y = (math.log10(ys[k]) - lo) / (hi - lo)
            row = height - 1 - round(min(max(y, 0.0), 1.0) * (height - 1))
            grid[row][col] = (mark, color)
    labels: dict[int, str] = {}
    every = max(1, math.ceil((hi - lo) / 5))
    for exponent in range(hi, lo - 1, -every):
        row = height - 1 - round((exponent - lo) / (hi - lo) * (height - 1))
        labels.setdefault(row, f"1e{exponent:+d}".replace("+", "") if exponent else "1")
    text = Text()
    for r, cells in enumerate(grid):
        text.append(f"{labels.get(r, ''):>6} ┤", style="dim")
        for mark, color in cells:
            text.append(mark, style=color)
        text.append("\n")
    text.append(" " * 7 + "└" + "─" * columns + "\n", style="dim")
    text.append(" " * 8 + f"0 steps back{' ' * max(columns - 26, 1)}{length - 1} steps back",
                style="dim")
    return text


class GradientNormsView(LabView):
    """Gradient norms through time for RNN, LSTM and GRU cells (autograd, torch)."""

    KIND = "gradient_norms"
    HEAVY = True
    HELP_TITLE = "Gradient lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        *_select_keys("knob", "parameter"),
        Binding("left", "adjust(-1)", "Less", id="lab.less", key_display="←",
                tooltip="decrease the selected parameter"),
        Binding("right", "adjust(1)", "More", id="lab.more", key_display="→",
                tooltip="increase the selected parameter"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="back to the lesson's settings"),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.params = self._initial()

    def _initial(self) -> dict[str, Any]:
        p = self.lab.preset
        return {
            "recurrent_scale": float(p.get("recurrent_scale", 1.0)),
            "forget_bias": float(p.get("forget_bias", 1.0)),
            "clip": p.get("clip"),
            "steps": int(p.get("steps", 40)),
        }

    def compute(self) -> labs.GradientNorms:
        return labs.gradient_norms(
            list(self.preset["cells"]), int(self.params["steps"]),
            int(self.preset.get("hidden_size", 16)), self.params["recurrent_scale"],
            self.params["forget_bias"], self.params["clip"], int(self.preset.get("seed", 0)),
        )

    @property
    def knobs(self) -> list[tuple[str, float, float, float]]:
        """The adjustable parameters: the forget bias only matters to gated cells."""
        gated = bool({"lstm", "gru"} & set(self.preset["cells"]))
        return [k for k in GRADIENT_KNOBS if k[0] != "forget_bias" or gated]

    def action_knob(self, delta: int) -> None:
        self.move_cursor(delta, len(self.knobs), wrap=True)

    def action_adjust(self, direction: int) -> None:
        name, step, lo, hi = self.knobs[self.cursor]
        if name == "clip":
            values = list(CLIP_VALUES)
            current = self.params["clip"]
            i = values.index(current) if current in values else 0
            self.params["clip"] = values[(i + direction) % len(values)]
        else:
            value = _step(float(self.params[name]), direction * step, lo, hi, 2)
            self.params[name] = int(value) if name == "steps" else value
        self.recompute()

    def action_reset(self) -> None:
        self.params = self._initial()
        self.recompute()

    def draw(self, g: labs.GradientNorms) -> RenderableType:
        knobs = Text()
        for i, (name, *_rest) in enumerate(self.knobs):
            value = self.params[name]
            shown = "off" if value is None else f"{value:g}"
            knobs.append(f" {name.replace('_', ' ')} = {shown} ",
                         style="reverse" if i == self.cursor else "bold")
            knobs.append(" ")
        curves = [(c.cell, c.state_norms) for c in g.curves]
        legend = Text()
        for c in g.curves:
            mark, color = CURVE_STYLE.get(c.cell, ("•", "white"))
            legend.append(f"{mark} {c.cell:<4} ‖∂L/∂{c.state_name}_t‖", style=f"bold {color}")
            legend.append(f" {g.steps - 1} steps back: {num(c.state_norms[-1]):<9}")
            legend.append(f" ‖∂L/∂θ‖ = {num(c.gradient_norm)}", style="dim")
            if c.clip_factor < 1:
                legend.append(f" clipped to {num(g.clip)}: all × {num(c.clip_factor)}",
                              style="yellow")
            legend.append("\n")
        setup = Text(f"L = u · h_T after {g.steps} steps, hidden size {g.hidden_size}, inputs "
                     f"~ N(0, {labs.GRADIENT_INPUT_SCALE}²), recurrent weights = scale × "
                     "orthogonal", style="dim")
        width = max(20, (self.size.width or 80) - 12)
        return Group(knobs, Text(""), legend, log_plot(curves, width=width), setup)


# --------------------------------------------------------------------------- causal_mask
class CausalMaskView(LabView):
    """An attention pattern with and without the causal mask."""

    KIND = "causal_mask"
    HELP_TITLE = "Causal-mask lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "mask", "Mask on/off", id="lab.mask", tooltip="switch the causal mask"),
        Binding("s", "cells", "Scores/weights", id="lab.cells",
                tooltip="show the scores S + M (before softmax) or the weights α (after)"),
        *_select_keys("cursor", "query position", ("Previous query", "Next query")),
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

    def compute(self) -> labs.AttentionPattern:
        p = self.preset
        return labs.attention_pattern(int(p["length"]), p.get("tokens"), masked=self.masked,
                                      leak=bool(p.get("show_leak", True)))

    def action_mask(self) -> None:
        self.masked = not self.masked
        self.recompute()

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(delta, int(self.preset["length"]))

    def draw(self, a: labs.AttentionPattern) -> RenderableType:
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
        table = _table("<query", *[f"<{t[:6]}" for t in a.tokens], "<must predict")
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


# --------------------------------------------------------------------------- kv_cache
class KVCacheView(LabView):
    """Generation with and without a key/value cache (torch)."""

    KIND = "kv_cache"
    HEAVY = True
    HELP_TITLE = "KV-cache lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "tokens(5)", "Longer", id="lab.longer", key_display="→",
                tooltip="generate 5 tokens more"),
        Binding("left", "tokens(-5)", "Shorter", id="lab.shorter", key_display="←",
                tooltip="generate 5 tokens fewer"),
        Binding("e", "edit('prompt')", "Prompt", id="lab.prompt", tooltip="type a new prompt"),
        Binding("g", "again", "Run again", id="lab.again",
                tooltip="run both generations again (new timings)"),
    ]

    def compute(self) -> labs.KVCacheRun:
        p = self.preset
        return labs.kv_cache_demo(str(p["prompt"]), int(p.get("max_tokens", 20)), p.get("model"))

    def action_tokens(self, delta: int) -> None:
        self.preset["max_tokens"] = min(max(int(self.preset.get("max_tokens", 20)) + delta, 5),
                                        60)
        self.recompute()

    def action_edit(self, field: str) -> None:
        self.request_edit(field, "Prompt")

    def action_again(self) -> None:
        self.recompute()

    def draw(self, run: labs.KVCacheRun) -> RenderableType:
        head = Text()
        head.append(f"model: {run.model}", style="bold")
        head.append(f"\n{run.note}", style="dim")
        table = _table("t", "<token", "positions", "w/ cache", "q·k", "w/ cache", "ms",
                       "w/ cache")
        for s in run.steps:
            table.add_row(str(s.step + 1), s.token, str(s.positions_without),
                          str(s.positions_with), str(s.scores_without), str(s.scores_with),
                          f"{s.seconds_without * 1000:.2f}", f"{s.seconds_with * 1000:.2f}")
        total = Text()
        total.append(f"\nPositions run through the net: {run.positions_without} without the "
                     f"cache, {run.positions_with} with it. ", style="bold")
        gap = max((s.logprob_gap for s in run.steps), default=0.0)
        if run.identical:
            total.append(f"Both generations chose the same {len(run.tokens_with)} tokens "
                         f"(largest log-probability difference {gap:.1e}, float rounding).",
                         style="green")
        else:
            total.append("The outputs differ: the cache is broken!", style="bold red")
        later = [s for s in run.steps if s.positions_with == 1]
        if later and run.layers:
            first, last = later[0].scores_with, later[-1].scores_with
            total.append(f"\nA cached step costs L·(12d² + 2td) multiply-adds in the blocks "
                         f"(L = {run.layers}, d = {run.d_model}): "
                         f"{run.cached_step_macs(first):,} with {first} keys, "
                         f"{run.cached_step_macs(last):,} with {last}; only the 2td part grows.",
                         style="dim")
        legend = Text("without a cache every step runs the whole prefix again; with it, only the "
                      "new token, whose query meets the cached keys (q·k per layer and head)",
                      style="dim")
        text = Text("\n" + " ".join(run.prompt_tokens) + " ", style="bold")
        text.append(" ".join(run.tokens_with), style="cyan")
        return Group(head, text, Text(""), table, legend, total)


# --------------------------------------------------------------------------- attention_heads
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
        *_select_keys("cursor", "head"),
        Binding("e", "edit('prompt')", "Prompt", id="lab.prompt", tooltip="type a new prompt"),
    ]
    #: The most keys drawn (the last ones: the prompt's end matters most for the next token).
    MAX_KEYS = 8

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.shown_layer = 0

    def compute(self) -> labs.HeadAttention:
        p = self.preset
        return labs.head_attention(str(p["prompt"]), p.get("model"))

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

    def draw(self, h: labs.HeadAttention) -> RenderableType:
        shades = " ░▒▓█"
        layer = min(self.shown_layer, h.layers - 1)
        head = Text()
        head.append(f"{h.model}", style="bold")
        head.append(f" · layer {layer + 1} of {h.layers} · {h.heads} heads · rows: heads, "
                    f"columns: the keys the last position ('{h.keys[-1]}') may attend to, "
                    "cells: α = softmax(q·k/√d_head)", style="dim")
        first = max(len(h.keys) - self.MAX_KEYS, 0)
        keys = h.keys[first:]
        table = _table("<head", *[f"<{k[:6]}" for k in keys], "<looks at")
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


# --------------------------------------------------------------------------- softmax_gradient
class SoftmaxGradientView(LabView):
    """The loss −ln p_target, its gradient p − y on the logits, and gradient steps."""

    KIND = "softmax_gradient"
    HELP_TITLE = "Gradient lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        *_select_keys("cursor", "token"),
        Binding("t", "target", "Make target", id="lab.target",
                tooltip="make the selected token the correct next token (y = 1 there)"),
        Binding("g", "step", "Gradient step", id="lab.step",
                tooltip="take one gradient-descent step z ← z − η (p − y)"),
        Binding("right", "rate(1)", "η +", show=False, id="lab.rate_up", key_display="→",
                tooltip="double the step size η"),
        Binding("left", "rate(-1)", "η −", show=False, id="lab.rate_down", key_display="←",
                tooltip="halve the step size η"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="back to the lesson's logits"),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.logits = [_number(x) for x in lab.preset["logits"]]
        self.target = int(lab.preset["target"])
        self.learning_rate = _number(lab.preset.get("learning_rate", 1.0))
        self.steps = 0
        self.cursor = self.target
        #: the loss before each step taken, to show it falling
        self.losses: list[float] = []

    def compute(self) -> labs.SoftmaxGradient:
        return labs.softmax_gradient(self.logits, self.target, self.preset.get("tokens"),
                                     self.learning_rate, self.preset.get("prompt", ""))

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(delta, len(self.logits))

    def action_target(self) -> None:
        self.target = self.cursor
        self.losses = []
        self.steps = 0
        self.recompute()

    def action_step(self) -> None:
        if self.result is None:
            return
        self.losses.append(self.result.loss)
        self.logits = [row.next_logit for row in self.result.rows]
        self.steps += 1
        self.recompute()

    def action_rate(self, direction: int) -> None:
        rate = self.learning_rate * (2.0 if direction > 0 else 0.5)
        self.learning_rate = min(max(rate, 1 / 64), 64.0)
        self.recompute()

    def action_reset(self) -> None:
        self.logits = [_number(x) for x in self.lab.preset["logits"]]
        self.target = int(self.lab.preset["target"])
        self.learning_rate = _number(self.lab.preset.get("learning_rate", 1.0))
        self.steps, self.losses, self.cursor = 0, [], self.target
        self.recompute()

    def draw(self, g: labs.SoftmaxGradient) -> RenderableType:
        head = Text()
        if g.prompt:
            head.append(f"Next token after \"{g.prompt}\"", style="bold")
            head.append(" · ")
        head.append(f"target: {g.rows[g.target].token} · step size η = {g.learning_rate:g} · "
                    f"{self.steps} step{'s' if self.steps != 1 else ''} taken", style="dim")
        table = _table("<token", "logit z", "p", "<", "y", "p − y", "z after a step")
        for i, row in enumerate(g.rows):
            style = "reverse" if i == self.cursor else ""
            grad = Text(f"{row.gradient:+.3f}", style="green" if row.gradient < 0 else "red")
            table.add_row(Text(row.token, style="bold" if row.target else ""),
                          f"{row.logit:+.3f}", num(row.prob), bar(row.prob, 14),
                          str(row.target), grad, f"{row.next_logit:+.3f}", style=style)
        foot = Text("\n")
        foot.append(f"loss ℓ = −ln p({g.rows[g.target].token}) = {g.loss:.3f} nats", style="bold")
        foot.append(f"  → {g.next_loss:.3f} after one step", style="cyan")
        if self.losses:
            history = " → ".join(f"{x:.3f}" for x in [*self.losses[-4:], g.loss])
            foot.append(f"\nso far: {history}", style="dim")
        foot.append(f"\nΣ (p − y) = {g.gradient_sum:+.3f}: the target's logit rises by η(1 − p), "
                    "every other one falls by η·p.", style="dim")
        foot.append("\n↑↓ choose a token, t makes it the target, g steps, ←→ η", style="dim")
        return Group(head, Text(""), table, foot)


# --------------------------------------------------------------------------- entropy_kl
class EntropyKLView(LabView):
    """H(p), H(p, q) and KL(p ‖ q) while the learner moves q's bars."""

    KIND = "entropy_kl"
    HELP_TITLE = "Entropy lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        *_select_keys("cursor", "outcome"),
        Binding("left", "move(-0.05)", "q −", id="lab.less", key_display="←",
                tooltip="move 0.05 of q's mass away from the selected outcome"),
        Binding("right", "move(0.05)", "q +", id="lab.more", key_display="→",
                tooltip="move 0.05 of q's mass onto the selected outcome"),
        Binding("shift+left", "move(-0.01)", "q −0.01", show=False, id="lab.less_fine",
                tooltip="move 0.01 of q's mass away from the selected outcome"),
        Binding("shift+right", "move(0.01)", "q +0.01", show=False, id="lab.more_fine",
                tooltip="move 0.01 of q's mass onto the selected outcome"),
        Binding("u", "unit", "nats/bits", id="lab.unit", tooltip="switch between nats and bits"),
        Binding("c", "copy", "q = p", id="lab.copy", tooltip="set q equal to p"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="back to the lesson's q"),
    ]

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.q = tuple(_number(x) for x in lab.preset["q"])

    def compute(self) -> labs.InformationSplit:
        p = self.preset
        return labs.information_split([_number(x) for x in p["p"]], self.q,
                                      p.get("unit", "nats"), p.get("labels"))

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(delta, len(self.q))

    def action_move(self, delta: float) -> None:
        self.q = labs.move_mass(self.q, self.cursor, delta)
        self.recompute()

    def action_unit(self) -> None:
        self.preset["unit"] = "bits" if self.preset.get("unit", "nats") == "nats" else "nats"
        self.recompute()

    def action_copy(self) -> None:
        self.q = tuple(_number(x) for x in self.preset["p"])
        self.recompute()

    def action_reset(self) -> None:
        self.q = tuple(_number(x) for x in self.lab.preset["q"])
        self.recompute()

    def draw(self, s: labs.InformationSplit) -> RenderableType:
        table = _table("<outcome", "p", "<", "q", "<", "−log q")
        log = math.log(2) if s.unit == "bits" else 1.0
        for i, (label, p, q) in enumerate(zip(s.labels, s.p, s.q)):
            surprise = math.inf if q <= 0 else -math.log(q) / log
            style = "reverse" if i == self.cursor else ""
            table.add_row(label, f"{p:.2f}", bar(p, 16), f"{q:.2f}", bar(q, 16),
                          num(surprise), style=style)
        u = s.unit

        def value(x: float) -> str:
            return "∞" if math.isinf(x) else f"{x:.3f}"

        lines = Text("\n")
        for name, formula, x, note, style in (
            ("H(p)", "−Σ p log p", s.entropy, "fixed: the weather's own", "bold"),
            ("H(p, q)", "−Σ p log q", s.cross_entropy, "the forecaster's surprise", "bold"),
            ("KL(p ‖ q)", "Σ p log(p/q)", s.kl, "the excess, 0 only if q = p", "bold red"),
        ):
            lines.append(f"{name:<9} = {formula:<12} = {value(x):>6} {u}", style=style)
            lines.append(f"   {note}\n", style="dim")
        split = Text("H(p, q) = ")
        if math.isfinite(s.cross_entropy) and s.cross_entropy > 0:
            width = 40
            h = round(width * s.entropy / s.cross_entropy)
            split.append("█" * h, style="cyan")
            split.append("█" * (width - h), style="red")
            split.append("  H(p) + KL", style="dim")
        else:
            split.append("∞: q gives 0 to an outcome p can produce", style="bold red")
        split.append("\n↑↓ choose an outcome, ←→ move q's mass onto it or away (shift: 0.01)",
                     style="dim")
        return Group(table, lines, split)


# --------------------------------------------------------------------------- sampling_histogram
class SamplingHistogramView(LabView):
    """Draws from a next-token distribution against its probabilities."""

    KIND = "sampling_histogram"
    HELP_TITLE = "Sampling lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "draw(10)", "Draw 10", id="lab.draw10", key_display="space",
                tooltip="draw 10 more tokens"),
        Binding("d", "draw(1)", "Draw 1", show=False, id="lab.draw1", tooltip="draw one more token"),
        Binding("n", "draw_batch", "Draw many", id="lab.draw_many",
                tooltip="draw as many tokens as the lesson suggests"),
        Binding("left", "temperature(-0.1)", "T −", id="lab.colder", key_display="←",
                tooltip="lower the temperature (sharper)"),
        Binding("right", "temperature(0.1)", "T +", id="lab.hotter", key_display="→",
                tooltip="raise the temperature (flatter)"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="forget every draw"),
    ]
    MAX_ROWS = 12

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.n = 0
        self.temperature = float(lab.preset.get("temperature", 1.0))
        self._model: Any = None
        #: True right after a temperature change emptied the histogram
        self.restarted = False

    def compute(self) -> labs.Histogram:
        p = self.preset
        if self._model is None:
            self._model = labs.lab_model(p)
        knobs = {k: p[k] for k in DECODING_PLAYGROUND_KNOBS if k != "temperature" and k in p}
        probs, names = labs.sampling_distribution(self._model, p.get("context", ""),
                                                  temperature=self.temperature, **knobs)
        return labs.sample_histogram(probs, names, self.n, int(p.get("seed", 0)))

    def action_draw(self, count: int) -> None:
        self.n += count
        self.restarted = False
        self.recompute()

    def action_draw_batch(self) -> None:
        self.action_draw(int(self.preset.get("n", 100)))

    def action_temperature(self, delta: float) -> None:
        """A new temperature is a new distribution: the draws start again, so that the
        histogram is only ever compared with the distribution it was drawn from."""
        temperature = _step(self.temperature, delta, 0.1, 5.0, 2)
        if temperature != self.temperature:
            self.temperature = temperature
            self.n = 0
            self.restarted = True
        self.recompute()

    def action_reset(self) -> None:
        self.n = 0
        self.recompute()

    def draw(self, h: labs.Histogram) -> RenderableType:
        context = self.preset.get("context", "")
        head = Text()
        head.append(f"Next token after \"{context}\"" if context else "The first token",
                    style="bold")
        head.append(f" · temperature {self.temperature:g} · {h.n} draws (seed {h.seed})")
        table = _table("<token", "p", "drawn", "<frequency  (│ marks p)", "count")
        width = 30
        for token, p, f, c in list(zip(h.tokens, h.probs, h.frequencies, h.counts))[
                : self.MAX_ROWS]:
            drawn = list(bar(f, width))
            mark = min(round(p * width), width - 1)
            drawn[mark] = "│"
            table.add_row(token, num(p), num(f) if h.n else "–", Text("".join(drawn),
                                                                       style="cyan"), str(c))
        foot = Text()
        if h.n:
            foot.append(f"\ntotal-variation distance ½Σ|frequency − p| = {h.tv_distance:.3f}",
                        style="bold")
            foot.append(f"   (shrinks like 1/√n; 1/√n = {1 / math.sqrt(h.n):.3f})", style="dim")
        else:
            if self.restarted:
                foot.append(f"\nnew temperature, new distribution: the draws start again at "
                            f"T = {self.temperature:g}.", style="yellow")
            foot.append("\nno draws yet: space draws 10, d draws 1, n draws "
                        f"{self.preset.get('n', 100)}", style="dim")
        return Group(head, Text(""), table, foot)


# --------------------------------------------------------------------------- registry
LAB_VIEWS: dict[str, type[LabView]] = {
    view.KIND: view
    for view in (
        TrigramTableView, ChainRuleView, BpeStepsView, PlaygroundView, GreedyBeamView,
        GradientNormsView, CausalMaskView, KVCacheView, AttentionHeadsView,
        SoftmaxGradientView, EntropyKLView, SamplingHistogramView,
    )
}


def make_lab_view(lab: Lab, *, id: str | None = None) -> LabView:
    """The live view of ``lab`` (ValueError for a kind without a view)."""
    try:
        view_class = LAB_VIEWS[lab.kind]
    except KeyError:
        raise ValueError(
            f"lab.kind must be one of {', '.join(LAB_VIEWS)}, got {lab.kind!r}"
        ) from None
    return view_class(lab, id=id)
