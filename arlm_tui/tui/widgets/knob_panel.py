"""The knob panel: every decoding knob with its value, adjusted with the arrow keys or typed.

The panel only shows a ``DecodingConfig`` it is given and asks for changes with messages
(``KnobPanel.Changed``, ``KnobPanel.EditRequested``); the screen validates them, applies them to
the Session and gives the panel the new config. Knobs that do not matter for the current
strategy are dimmed (and those that need another knob that is off, e.g. xtc-threshold while
xtc-probability is off, or every sampling knob at temperature 0), knobs at their "off" value
read "off".
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from arlm_tui.decoding.config import KNOBS, Knob, knob_names_as_shown
from arlm_tui.decoding.knobs import format_collection

#: The knobs the panel shows, in order.
PANEL_KNOBS: tuple[str, ...] = tuple(KNOBS)

#: Knobs whose "off" value switches their processor off (the others are always in use).
SWITCHABLE: frozenset[str] = frozenset(name for name, knob in KNOBS.items() if knob.switchable)

#: Shorter names for narrow panels, longest first.
SHORT_TITLES: dict[str, tuple[str, ...]] = {
    name: knob.short for name, knob in KNOBS.items() if knob.short
}


def knob_title(name: str, width: int | None = None) -> str:
    """The knob's name as shown (``top_k`` → ``top-k``), shortened if it does not fit."""
    title = KNOBS[name].title if name in KNOBS else name.replace("_", "-")
    if width is not None:
        for shorter in SHORT_TITLES.get(name, ()):
            if len(title) <= width:
                break
            title = shorter
    return title


def clip_name(title: str, width: int) -> str:
    """A knob title cut to ``width`` with "…" when even its shortest form is too long."""
    return title if len(title) <= width else title[: max(width - 1, 0)] + "…"


def unused_note(config: Any, name: str) -> str:
    """Why the knob ``name`` is dimmed, as the panel's help says it (`` (not used by
    greedy)``), or "" when it is in use."""
    reason = config.unused_because(name)
    if reason is None:
        return ""
    if reason == "strategy":
        return f" (not used by {config.strategy})"
    if reason == "temperature":
        return " (no effect at temperature 0, which is greedy)"
    return f" (no effect while {reason} is {format_value(KNOBS[reason], KNOBS[reason].off)})"


def format_value(knob: Knob, value: Any) -> str:
    """How a knob's value reads in the panel ("off" at the off value of a switchable knob)."""
    if knob.choices:
        return str(value)
    if knob.collection:  # a logit bias or stop strings: off, the one entry, or how many
        if not value:
            return "off"
        if len(value) == 1:
            return clip_name(format_collection(knob, value), 14)
        return f"{len(value)} {'tokens' if knob.type is dict else 'strings'}"
    if knob.type is bool:
        return "on" if value else "off"
    if knob.name == "temperature":
        return "0 greedy" if value == 0 else f"{value:g}"
    if knob.name in SWITCHABLE and value == knob.off:
        return "off"
    if knob.type is int:
        return str(int(value))
    return f"{value:.4g}"


def step_value(knob: Knob, value: Any, direction: int, coarse: bool = False) -> Any:
    """The value one fine (or coarse) step up (direction 1) or down (-1), kept in range."""
    if knob.choices:
        choices = list(knob.choices)
        i = choices.index(value) if value in choices else 0
        return choices[(i + direction) % len(choices)]
    if knob.type is bool:
        return not value
    if knob.collection:  # typed in a dialog, not stepped
        return value
    step = knob.coarse_step if coarse else knob.fine_step
    new = float(value) + direction * step
    lo = knob.min + (knob.fine_step if knob.min_open else 0)
    hi = knob.max - (knob.fine_step if knob.max_open else 0)
    new = min(max(new, lo), hi)
    if knob.type is int:
        return round(new)
    digits = max(0, -math.floor(math.log10(knob.fine_step))) + 2
    return round(new, digits)


def allowed_step(config: Any, knob: Knob, direction: int, coarse: bool = False) -> Any:
    """The knob's value one step on from ``config``'s, skipping values the other knobs rule
    out (beam groups must divide the beam width: from 2 groups of a beam of 4, → gives 4); the
    plain step if no value within 64 steps is allowed (the screen then says why)."""
    current = getattr(config, knob.name)
    candidate = current
    for _ in range(64):
        following = step_value(knob, candidate, direction, coarse)
        if following == candidate:
            break
        candidate = following
        try:
            config.replace(**{knob.name: candidate})
        except ValueError:
            continue
        return candidate
    return step_value(knob, current, direction, coarse)


class KnobPanel(Widget, can_focus=True):
    """The decoding knobs; ↑↓ choose, ←→ adjust (shift: coarse), enter types a value."""

    HELP_TITLE = "Knob panel"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Previous knob", show=False, id="knobs.up",
                tooltip="select the previous knob"),
        Binding("down", "move(1)", "Next knob", show=False, id="knobs.down",
                tooltip="select the next knob"),
        Binding("left,minus", "adjust(-1)", "Less", show=False, id="knobs.less", key_display="←",
                tooltip="decrease the selected knob by a fine step"),
        Binding("right,plus", "adjust(1)", "More", show=False, id="knobs.more", key_display="→",
                tooltip="increase the selected knob by a fine step"),
        Binding("shift+left,pagedown", "adjust(-1, True)", "Less (coarse)", show=False,
                id="knobs.less_coarse", tooltip="decrease the selected knob by a coarse step"),
        Binding("shift+right,pageup", "adjust(1, True)", "More (coarse)", show=False,
                id="knobs.more_coarse", tooltip="increase the selected knob by a coarse step"),
        Binding("enter", "edit", "Type value", show=False, id="knobs.edit",
                tooltip="type a value for the selected knob"),
        Binding("delete", "off", "Off", show=False, id="knobs.off",
                tooltip="set the selected knob to its off value"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "knob-panel--name",
        "knob-panel--value",
        "knob-panel--off",
        "knob-panel--inactive",
        "knob-panel--cursor",
        "knob-panel--help",
    }
    DEFAULT_CSS = """
    KnobPanel { width: 30; height: 1fr; padding: 0 1; text-wrap: nowrap; }
    KnobPanel > .knob-panel--value { color: $accent; text-style: bold; }
    KnobPanel > .knob-panel--off { color: $text-muted; }
    KnobPanel > .knob-panel--inactive { color: $text-disabled; }
    KnobPanel > .knob-panel--cursor { background: $block-cursor-blurred-background; }
    KnobPanel:focus > .knob-panel--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
    }
    KnobPanel > .knob-panel--help { color: $text-muted; }
    """

    config: reactive[Any] = reactive(None, always_update=True)
    cursor: reactive[int] = reactive(0)

    class Changed(Message):
        """The learner wants knob ``name`` set to ``value`` (not yet validated)."""

        def __init__(self, name: str, value: Any) -> None:
            super().__init__()
            self.name = name
            self.value = value

    class EditRequested(Message):
        """The learner wants to type a value for knob ``name``."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    @property
    def selected(self) -> str:
        return PANEL_KNOBS[self.cursor]

    def select(self, name: str) -> None:
        self.cursor = PANEL_KNOBS.index(name)

    def action_move(self, delta: int) -> None:
        self.cursor = (self.cursor + delta) % len(PANEL_KNOBS)

    def action_adjust(self, direction: int, coarse: bool = False) -> None:
        if self.config is None:
            return
        knob = KNOBS[self.selected]
        if knob.collection:  # a logit bias or stop strings: ←/→ open the dialog to type them
            self.action_edit()
            return
        value = allowed_step(self.config, knob, direction, coarse)
        self.post_message(self.Changed(knob.name, value))
        # shown at once, so that keys arriving before the screen answers build on this value
        # (the screen gives the panel its config again, and a refused value is undone then)
        try:
            self.config = self.config.replace(**{knob.name: value})
        except ValueError:
            pass

    def action_off(self) -> None:
        knob = KNOBS[self.selected]
        if not knob.choices:
            self.post_message(self.Changed(knob.name, knob.off))

    def action_edit(self) -> None:
        self.post_message(self.EditRequested(self.selected))

    def on_click(self, event: events.Click) -> None:
        row = event.style.meta.get("knob") if event.style.meta else None
        if row is not None:
            self.cursor = int(row)
            if event.chain >= 2:
                self.action_edit()

    def render(self) -> Text:
        config = self.config
        if config is None:
            return Text("")
        width = max(self.size.width, 12)
        height = max(self.size.height, 1)
        spare = height - len(PANEL_KNOBS)
        help_lines = max(spare, 3) if spare >= 3 else (2 if height >= 10 else 0)
        visible = max(height - help_lines, 1)
        top = min(max(self.cursor - visible // 2, 0), max(len(PANEL_KNOBS) - visible, 0))
        styles = {n: self.get_component_rich_style(f"knob-panel--{n}")
                  for n in ("name", "value", "off", "inactive", "cursor", "help")}
        out = Text(no_wrap=True, overflow="ellipsis")
        lines = []
        for index in range(top, min(top + visible, len(PANEL_KNOBS))):
            knob = KNOBS[PANEL_KNOBS[index]]
            value = getattr(config, knob.name)
            active = config.unused_because(knob.name) is None  # else dimmed
            shown = format_value(knob, value)
            # each row gives its name the room its value leaves (a value is never cut)
            name_w = max(width - 2 - 1 - len(shown), 3)
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("▸ " if index == self.cursor else "  ")
            name_style = styles["name"] if active else styles["inactive"]
            title = knob_title(knob.name, name_w)
            line.append(clip_name(title, name_w).ljust(name_w), name_style)
            if not active:
                value_style = styles["inactive"]
            elif shown == "off":
                value_style = styles["off"]
            else:
                value_style = styles["value"]
            line.append(" " + shown.rjust(width - 3 - name_w), value_style)
            if index == self.cursor:
                line.stylize(styles["cursor"])
            line.stylize(Style(meta={"knob": index}))
            lines.append(line)
        out = Text("\n", no_wrap=True).join(lines)
        if help_lines:
            knob = KNOBS[self.selected]
            note = unused_note(config, knob.name)
            # the full name first when the row had to shorten it
            value = format_value(knob, getattr(config, knob.name))
            full = knob_title(knob.name)
            named = f"{full}: " if len(full) > width - 3 - len(value) else ""
            typed = " ⏎ or → types it." if knob.collection else ""
            text = knob_names_as_shown(f"{named}{knob.help}{note}. Range {knob.range_text}."
                                       f"{typed}")
            wrapped = list(Text(text, style=styles["help"]).wrap(self.app.console, width))
            if len(wrapped) > help_lines:  # say that there is more (? and ⏎ show all of it)
                last = wrapped[help_lines - 1]
                last.truncate(width - 1)
                last.append("…", styles["help"])
            for line in wrapped[:help_lines]:
                out.append("\n")
                out.append_text(line)
        return out
