"""The help screen (``?``): every key of the screen underneath, read from the bindings themselves.

The list is built from the ``BINDINGS`` of the app, of the screen and of every arlm widget on it,
so it cannot drift from what the keys really do. A screen may add a paragraph, ``HELP_TEXT``.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


def _bindings_of(node: DOMNode) -> list[Binding]:
    seen: set[tuple[str, str]] = set()
    out = []
    for _, binding in node._bindings:
        if binding.system or (binding.key, binding.action) in seen:
            continue
        seen.add((binding.key, binding.action))
        out.append(binding)
    return out


def key_sections(screen: Screen) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(section title, [(keys, what they do), ...]), ...] for ``screen`` and the app."""
    app = screen.app
    sections: list[tuple[str, list[tuple[str, str]]]] = []

    def rows(node: DOMNode) -> list[tuple[str, str]]:
        merged: dict[str, list[str]] = {}
        for binding in _bindings_of(node):
            description = binding.tooltip or binding.description
            if not description:
                continue
            merged.setdefault(description, []).append(app.get_key_display(binding))
        return [(" ".join(dict.fromkeys(keys)), text) for text, keys in merged.items()]

    title = getattr(screen, "HELP_TITLE", screen.__class__.__name__.removesuffix("Screen"))
    if screen_rows := rows(screen):
        sections.append((title, screen_rows))
    seen_classes: set[type] = set()
    for widget in screen.query("*"):
        cls = type(widget)
        if cls in seen_classes or not cls.__module__.startswith("arlm_tui."):
            continue
        seen_classes.add(cls)
        if widget_rows := rows(widget):
            section = getattr(widget, "HELP_TITLE", cls.__name__)
            sections.append((f"{section} (when it has the focus)", widget_rows))
    sections.append(("Everywhere", rows(app) + [("^p", "command palette: search every action"),
                                               ("tab / shift+tab", "move the focus")]))
    return sections


class HelpScreen(ModalScreen[None]):
    """A list of every key; escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close help", key_display="esc",
                id="help.close"),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under
        #: what the help lists: [(section title, [(keys, what they do), ...]), ...]
        self.sections = key_sections(under)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            intro = getattr(self.under, "HELP_TEXT", "")
            if intro:
                yield Static(intro, id="help-intro")
            for title, rows in self.sections:
                table = Table(title=Text(title, style="bold"), title_justify="left",
                              show_header=False, box=None, expand=True, padding=(0, 1))
                table.add_column("keys", style="bold", no_wrap=True, ratio=1)
                table.add_column("does", ratio=4)
                for keys, does in rows:
                    table.add_row(keys, does)
                yield Static(table, classes="help-section")
            yield Static("[dim]esc, q or ? closes this help[/dim]", id="help-close-hint")

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(result)
