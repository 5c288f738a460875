"""The text so far: the prompt, then each generated token shaded by its probability.

Shades go from calm (the model expected the token) to loud (a surprise), so the eye finds the
unlikely choices; the token the latest step chose is bold. With the focus, ←/→ select a generated
token and the screen shows the step that chose it (``GeneratedText.StepSelected``); escape
returns to the live view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from arlm_tui.tui.play_state import TokenPiece

#: Lower bounds of the probability shades, most probable first.
SHADE_BOUNDS: tuple[float, ...] = (0.5, 0.2, 0.05, 0.01, 0.0)


def shade_of(prob: float) -> int:
    """Index into SHADE_BOUNDS: 0 for p ≥ 0.5 ... 4 for p < 0.01."""
    for index, bound in enumerate(SHADE_BOUNDS):
        if prob >= bound:
            return index
    return len(SHADE_BOUNDS) - 1


class GeneratedText(Widget, can_focus=True):
    """Prompt and generated tokens; a cursor selects a generated token."""

    HELP_TITLE = "Generated text"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "Previous token", show=False, id="text.left",
                tooltip="select the previous generated token (its step is shown)"),
        Binding("right", "move(1)", "Next token", show=False, id="text.right",
                tooltip="select the next generated token"),
        Binding("home", "move_to(0)", "First token", show=False, id="text.home",
                tooltip="select the first generated token"),
        Binding("end", "move_to(-1)", "Last token", show=False, id="text.end",
                tooltip="select the last generated token"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "generated-text--prompt",
        "generated-text--p0",
        "generated-text--p1",
        "generated-text--p2",
        "generated-text--p3",
        "generated-text--p4",
        "generated-text--forced",
        "generated-text--cursor",
        "generated-text--last",
        "generated-text--legend",
    }
    DEFAULT_CSS = """
    GeneratedText { height: auto; min-height: 1; padding: 0 1; }
    GeneratedText > .generated-text--prompt { color: $text-muted; }
    GeneratedText > .generated-text--p0 { background: $success 15%; }
    GeneratedText > .generated-text--p1 { background: $success 35%; }
    GeneratedText > .generated-text--p2 { background: $warning 35%; }
    GeneratedText > .generated-text--p3 { background: $error 40%; }
    GeneratedText > .generated-text--p4 { background: $error 75%; }
    GeneratedText > .generated-text--forced { text-style: underline; }
    GeneratedText > .generated-text--cursor { text-style: reverse; }
    GeneratedText > .generated-text--last { text-style: bold; }
    GeneratedText > .generated-text--legend { color: $text-muted; }
    """

    prompt_text: reactive[str] = reactive("")
    pieces: reactive[tuple[TokenPiece, ...]] = reactive(tuple)
    cursor: reactive[int | None] = reactive(None)
    legend: reactive[bool] = reactive(True)

    class StepSelected(Message):
        """The learner selected generated token ``index`` (None: back to the latest step)."""

        def __init__(self, index: int | None) -> None:
            super().__init__()
            self.index = index

    def set_text(self, prompt_text: str, pieces: Sequence[TokenPiece]) -> None:
        self.prompt_text = prompt_text
        self.pieces = tuple(pieces)
        if self.cursor is not None and self.cursor >= len(self.pieces):
            self.cursor = None

    def select(self, index: int | None) -> None:
        if index is not None and not self.pieces:
            index = None
        if index is not None:
            index = max(0, min(len(self.pieces) - 1, index))
        if index != self.cursor:
            self.cursor = index
            self.post_message(self.StepSelected(index))

    def action_move(self, delta: int) -> None:
        if not self.pieces:
            return
        if self.cursor is None:
            self.select(len(self.pieces) - 1 if delta < 0 else 0)
        else:
            self.select(self.cursor + delta)

    def action_move_to(self, index: int) -> None:
        if self.pieces:
            self.select(index % len(self.pieces))

    def on_click(self, event: events.Click) -> None:
        index = event.style.meta.get("token") if event.style.meta else None
        if index is not None:
            self.focus()
            self.select(int(index))

    def render(self) -> Text:
        styles = {name: self.get_component_rich_style(f"generated-text--{name}")
                  for name in ("prompt", "p0", "p1", "p2", "p3", "p4", "forced", "cursor",
                               "last", "legend")}
        out = Text(self.prompt_text, style=styles["prompt"])
        for index, piece in enumerate(self.pieces):
            leading = len(piece.text) - len(piece.text.lstrip(" "))
            if leading:
                out.append(piece.text[:leading])
            style = styles[f"p{shade_of(piece.prob)}"]
            if piece.forced:
                style = style + styles["forced"]
            if index == self.cursor:
                style = style + styles["cursor"]
            elif self.cursor is None and index == len(self.pieces) - 1:
                style = style + styles["last"]  # the token the latest step chose
            out.append(piece.text[leading:], style + Style(meta={"token": index}))
        if not self.prompt_text and not self.pieces:
            out.append("(empty prompt: the model starts a new text)", styles["prompt"])
        if self.legend:
            out.append("\n")
            out.append("p(token):", styles["legend"])
            for index, label in enumerate(("≥.5", "≥.2", "≥.05", "≥.01", "<.01")):
                out.append(" ")
                out.append(f" {label} ", styles[f"p{index}"])
            out.append("  forced", styles["legend"] + styles["forced"])
        return out
