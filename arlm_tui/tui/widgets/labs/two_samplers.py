"""The view of the ``two_samplers`` lab; what it draws is computed by
``arlm_tui.learn.labs.two_samplers``: two sampler settings side by side on one distribution."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.decoding.processors import WARPER_KNOBS
from arlm_tui.learn.labs.base import lab_model, next_token_distribution
from arlm_tui.learn.labs.two_samplers import (
    SamplerSide,
    TwoSamplers,
    on_value,
    sampler_knobs,
    sampler_setting,
    two_samplers,
    value_range,
    with_steps,
)
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.numbers import fmt_nats, fmt_percent, fmt_prob
from arlm_tui.tui.widgets.labs.base import LabView, clamp_step, select_keys, table_of
from arlm_tui.tui.widgets.token_bars import bar

#: The two sides' colours (the bars of p' and their headings).
SIDE_STYLE = ("cyan", "magenta")
SIDE_NAMES = ("A", "B")


class TwoSamplersView(LabView):
    """Two samplers (a knob and a value each) on the same next-token distribution."""

    KIND = "two_samplers"
    HELP_TITLE = "Two-samplers lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        *select_keys("control", "control", ("Previous control", "Next control")),
        Binding("left", "adjust(-1)", "Less", id="lab.less", key_display="←",
                tooltip="previous sampler, or a smaller value"),
        Binding("right", "adjust(1)", "More", id="lab.more", key_display="→",
                tooltip="next sampler, or a larger value"),
        Binding("shift+left", "adjust(-1, True)", "Less ×", show=False, id="lab.less_coarse",
                tooltip="a smaller value, by a coarse step"),
        Binding("shift+right", "adjust(1, True)", "More ×", show=False, id="lab.more_coarse",
                tooltip="a larger value, by a coarse step"),
        Binding("x", "swap", "Swap", id="lab.swap", tooltip="swap samplers A and B"),
        Binding("c", "edit('context')", "Context", id="lab.context",
                tooltip="type the context whose next token is sampled"),
        Binding("r", "reset", "Reset", id="lab.reset", tooltip="back to the lesson's samplers"),
    ]
    #: The controls ↑/↓ move between: (side, "knob" | "value").
    CONTROLS: ClassVar[tuple[tuple[int, str], ...]] = ((0, "knob"), (0, "value"),
                                                       (1, "knob"), (1, "value"))
    MAX_ROWS = 15

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(lab, id=id)
        self.knob_names = tuple(sampler_knobs())
        self.sides = self._initial()
        self._distribution: tuple[Any, list[str]] | None = None
        self._seen_context: str | None = None
        self._model: Any = None  # the preset's model, loaded once

    def _initial(self) -> list[list[Any]]:
        return [list(sampler_setting(self.lab.preset[key], key))
                for key in ("sampler_a", "sampler_b")]

    # ------------------------------------------------------------------ computing
    def compute(self) -> TwoSamplers:
        p = self.preset
        a, b = ({name: value} for name, value in self.sides)
        if "logits" in p:
            tokens = [str(t) for t in p.get("tokens", [])] or None
            return two_samplers(p["logits"], tokens, a, b, prompt=p.get("prompt", ""),
                                top=self.MAX_ROWS)
        context = str(p.get("context", ""))
        if self._model is None:
            self._model = lab_model(p)
        if self._distribution is None or self._seen_context != context:
            self._distribution = next_token_distribution(self._model, context)
            self._seen_context = context
        logprobs, names = self._distribution
        t = two_samplers(logprobs, names, a, b, prompt=context, top=self.MAX_ROWS)
        return with_steps(t, self._model, context)  # a sampler with a state: a few steps

    # ------------------------------------------------------------------ controls
    def action_control(self, delta: int) -> None:
        self.move_cursor(delta, len(self.CONTROLS), wrap=True)

    def action_adjust(self, direction: int, coarse: bool = False) -> None:
        side, part = self.CONTROLS[self.cursor]
        name, value = self.sides[side]
        if part == "knob":
            names = self.knob_names
            name = names[(names.index(name) + direction) % len(names)]
            self.sides[side] = [name, on_value(WARPER_KNOBS[name])]
        else:
            knob = WARPER_KNOBS[name]
            # the playground's step where the knob has one (top-p by 0.05), else its fine step
            fine = knob.playground[0] if knob.playground is not None else knob.fine_step
            step = knob.coarse_step if coarse else fine
            lo, hi = value_range(knob)
            value = clamp_step(float(value), direction * step, lo, hi, 6)
            self.sides[side] = [name, int(value) if knob.type is int else value]
        self.recompute()

    def action_swap(self) -> None:
        self.sides.reverse()
        self.recompute()

    def action_edit(self, field: str) -> None:
        if "logits" in self.preset:
            self.notify("this lab's distribution is given by the lesson: no context to type",
                        severity="warning")
            return
        self.request_edit(field, "Context (the words before the next token)")

    def action_reset(self) -> None:
        self.sides = self._initial()
        self.recompute()

    # ------------------------------------------------------------------ drawing
    def _side(self, side: int, result: SamplerSide, t: TwoSamplers) -> Text:
        """One side's controls (the selected one reversed) and what it keeps."""
        name, value = self.sides[side]
        style = SIDE_STYLE[side]
        line = Text()
        line.append(f"{SIDE_NAMES[side]} ", style=f"bold {style}")
        for part, shown in (("knob", WARPER_KNOBS[name].title), ("value", f"{value:g}")):
            selected = self.CONTROLS[self.cursor] == (side, part)
            line.append(f" {shown} ", style="reverse" if selected else f"bold {style}")
        line.append(f" keeps {result.kept} of {t.size} tokens, {fmt_percent(result.kept_mass)}"
                    f" of p's mass · H(p') {fmt_nats(result.entropy)}")
        return line

    def _steps(self, side: int, result: SamplerSide) -> list[Text]:
        """A sampler that carries a state (mirostat): the steps run from the context, or what
        the one distribution cannot show."""
        if not result.stateful:
            return []
        style = SIDE_STYLE[side]
        if not result.steps:
            return [Text(f"   {SIDE_NAMES[side]}'s μ starts at 2τ and moves after every token: "
                         "above is its first step only (a model and a context show more)",
                         style="dim")]
        lines = [Text(f"   {SIDE_NAMES[side]} run from the context (μ carried from step to "
                      "step, in bits):", style="dim")]
        for i, step in enumerate(result.steps, 1):
            line = Text(f"   {i} ")
            line.append(f"{step.token!r:<14}", style=f"bold {style}")
            line.append(f" keeps {step.kept:<5}")
            if step.mu_before is not None and step.mu_after is not None:
                line.append(f" μ {step.mu_before:.2f} → {step.mu_after:.2f}")
            if step.surprise is not None:
                line.append(f" · surprise {step.surprise:.2f}", style="dim")
            lines.append(line)
        return lines

    def draw(self, t: TwoSamplers) -> RenderableType:
        head = Text()
        if t.prompt:
            head.append(f"After \"{t.prompt}\": ", style="bold")
        head.append(f"{t.size} tokens · H(p) {fmt_nats(t.entropy)}")
        if t.size > len(t.tokens):
            head.append(f" · the {len(t.tokens)} most probable shown", style="dim")
        width = 8
        table = table_of("<token", "p", "<", "A: p'", "<", "B: p'", "<")
        for i, token in enumerate(t.tokens):
            cells: list[Any] = [token, fmt_prob(t.probs[i]), Text(bar(t.probs[i], width),
                                                                 style="dim")]
            for side, style in ((t.a, SIDE_STYLE[0]), (t.b, SIDE_STYLE[1])):
                if side.removed_by[i]:
                    cells += [Text("✗", style="dim"), Text("cut".ljust(width), style="dim")]
                else:
                    cells += [fmt_prob(side.final[i]), Text(bar(side.final[i], width),
                                                            style=style)]
            table.add_row(*cells)
        overlap = Text(f"both keep {t.both} · only A keeps {t.only_a} · only B keeps "
                       f"{t.only_b}  (H in nats)", style="dim")
        hint = Text("↑↓ choose a control, ←→ change it (shift: coarse) · x swaps A and B",
                    style="dim")
        # what each side keeps first: at 80×24 the table scrolls, the verdict should not
        return Group(self._side(0, t.a, t), *self._steps(0, t.a), self._side(1, t.b, t),
                     *self._steps(1, t.b), overlap, Text(""), head, table, hint)
