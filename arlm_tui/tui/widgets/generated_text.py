"""The text so far: the prompt, then each generated token shaded by its probability.

Shades go from calm (the model expected the token) to loud (a surprise), so the eye finds the
unlikely choices. Each shade colours the token's text, and is made legible in every theme: its
contrast ratio against the background it is drawn on is at least ``MIN_CONTRAST`` (WCAG's 3:1
for graphics and large text; the hue comes from the theme, the lightness is adjusted); the token the latest step chose is bold. With the focus, ←/→ select a generated
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
from textual.color import Color
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from arlm_tui.decoding.snapshot import TokenPiece

#: Lower bounds of the probability shades, most probable first.
SHADE_BOUNDS: tuple[float, ...] = (0.5, 0.2, 0.05, 0.01, 0.0)


#: Least contrast ratio of a shade against its background.
MIN_CONTRAST = 3.0


def relative_luminance(color: Color) -> float:
    """WCAG 2 relative luminance of an opaque colour: 0.2126 R + 0.7152 G + 0.0722 B on the
    linearised sRGB channels."""
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(color.r) + 0.7152 * linear(color.g) + 0.0722 * linear(color.b)


def contrast_ratio(first: Color, second: Color) -> float:
    """WCAG contrast ratio (L_light + 0.05) / (L_dark + 0.05), from 1 to 21."""
    a, b = relative_luminance(first), relative_luminance(second)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def legible(color: Color, background: Color, minimum: float = MIN_CONTRAST) -> Color:
    """``color`` (over ``background``) moved towards black or white, whichever contrasts more
    with the background, just enough to reach ``minimum`` against it."""
    color = background.blend(color, color.a).with_alpha(1.0) if color.a < 1 else color
    if contrast_ratio(color, background) >= minimum:
        return color
    white, black = Color(255, 255, 255), Color(0, 0, 0)
    target = white if contrast_ratio(white, background) >= contrast_ratio(black, background) \
        else black
    for step in range(1, 21):
        moved = color.blend(target, step / 20)
        if contrast_ratio(moved, background) >= minimum:
            return moved
    return target


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
    GeneratedText > .generated-text--p0 { color: $foreground; }
    GeneratedText > .generated-text--p1 { color: $success; }
    GeneratedText > .generated-text--p2 { color: $warning; }
    GeneratedText > .generated-text--p3 { color: $error; }
    GeneratedText > .generated-text--p4 { color: $error; text-style: bold italic; }
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

    def shade_styles(self) -> list[Style]:
        """The five shades' styles, most probable first, each made legible against the
        background the text is drawn on (see ``legible``)."""
        _, background = self.background_colors
        out = []
        for index in range(len(SHADE_BOUNDS)):
            style = self.get_component_rich_style(f"generated-text--p{index}")
            if style.color is not None:
                color = legible(Color.from_rich_color(style.color), background)
                style = style + Style(color=color.rich_color)
            out.append(style)
        return out

    def render(self) -> Text:
        styles = {name: self.get_component_rich_style(f"generated-text--{name}")
                  for name in ("prompt", "forced", "cursor", "last", "legend")}
        for index, style in enumerate(self.shade_styles()):
            styles[f"p{index}"] = style
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
