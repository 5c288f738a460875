"""The help screen (``?``) and the command palette's entries, read from the bindings themselves.

The help lists the ``BINDINGS`` of the app, of the screen and of every arlm widget on it (read
with Textual's public ``Binding.make_bindings``), so it cannot drift from what the keys really
do. A screen may add a paragraph, ``HELP_TEXT``. The palette gets one command per key active
right now (``Screen.active_bindings``: the screen's and the focused widget's, without those
``check_action`` turns off), see ``binding_commands``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


def _bindings_of(node: DOMNode, *, arlm_only: bool = False) -> list[Binding]:
    """The bindings ``node``'s class declares (``BINDINGS`` of the class and of its bases; a
    class's binding of a key replaces its bases'), system bindings left out; ``arlm_only``:
    only those declared by arlm's classes (not Textual's own, such as tab for the focus)."""
    by_key: dict[str, Binding] = {}
    for cls in reversed(type(node).__mro__):
        if arlm_only and not cls.__module__.startswith("arlm_tui."):
            continue
        declared = cls.__dict__.get("BINDINGS")
        if declared:
            for binding in Binding.make_bindings(declared):
                by_key[binding.key] = binding
    seen: set[tuple[str, str]] = set()
    out = []
    for binding in by_key.values():
        if binding.system or (binding.key, binding.action) in seen:
            continue
        seen.add((binding.key, binding.action))
        out.append(binding)
    return out


def section_title(node: DOMNode) -> str:
    """What the help and the palette call ``node``: its ``HELP_TITLE`` or its class name."""
    title = getattr(node, "HELP_TITLE", None)
    if title:
        return str(title)
    name = type(node).__name__
    return name.removesuffix("Screen") if isinstance(node, Screen) else name


def binding_commands(screen: Screen) -> Iterator[SystemCommand]:
    """One command palette entry per action a key runs on ``screen`` right now (its own keys and
    the focused widget's; the app's are left to ``App.get_system_commands``): title "Section:
    Description", help "tooltip (keys)"; choosing it runs the action as the key would."""
    app = screen.app
    found: dict[tuple[int, str], tuple[DOMNode, Binding, str, list[str]]] = {}
    ours: dict[int, set[tuple[str, str]]] = {}
    for active in screen.active_bindings.values():
        node, binding = active.node, active.binding
        if (node is app or binding.system or not active.enabled or not binding.description):
            continue
        if id(node) not in ours:
            ours[id(node)] = {(b.key, b.action) for b in _bindings_of(node, arlm_only=True)}
        if (binding.key, binding.action) not in ours[id(node)]:
            continue  # Textual's own (tab, copy): the palette lists what arlm adds
        entry = found.setdefault((id(node), binding.action),
                                 (node, binding, active.tooltip or binding.description, []))
        entry[3].append(app.get_key_display(binding))
    for node, binding, tooltip, keys in found.values():
        title = section_title(node).removesuffix(" screen")
        yield SystemCommand(f"{title}: {binding.description}",
                            f"{tooltip} ({' '.join(dict.fromkeys(keys))})",
                            partial(app.run_action, binding.action, node))


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

    title = section_title(screen)
    if screen_rows := rows(screen):
        sections.append((title, screen_rows))
    seen_classes: set[type] = set()
    for widget in screen.query("*"):
        cls = type(widget)
        if cls in seen_classes or not cls.__module__.startswith("arlm_tui."):
            continue
        seen_classes.add(cls)
        if widget_rows := rows(widget):
            sections.append((f"{section_title(widget)} (when it has the focus)", widget_rows))
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
