"""The home screen: Play, Lessons, Review cards, Games and Settings, each with a one-line summary.

Summaries are computed in a thread worker after the screen is drawn, so launching stays fast.
Sections that later issues will build say so plainly instead of pretending.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.padding import Padding
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from arlm_tui.tui import summaries
from arlm_tui.tui.textual_fixes import thrown_away
from arlm_tui.tui.widgets.footer import ArlmFooter

#: (option id, title, shortcut key, placeholder summary)
SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("play", "Play", "p", "step through generation one token at a time"),
    ("lessons", "Lessons", "l", "…"),
    ("cards", "Review cards", "c", "…"),
    ("games", "Games", "g", "…"),
    ("settings", "Settings", "s", "theme, default model, autoplay speed"),
)


BANNER = (
    "[b]arlm[/b] — watch a language model choose every next token\n"
    "[dim]pick a section with ↑ ↓ and ⏎, or press its key[/dim]"
)


def section_prompt(title: str, key: str, summary: str) -> Group:
    """The section's name with its key, then the summary indented below it."""
    head = Text()
    head.append(title, style="bold")
    head.append(f"  [{key}]", style="dim")
    return Group(head, Padding(Text(summary, style="dim"), (0, 0, 0, 2)))


class HomeScreen(Screen):
    """The first screen: where to go."""

    AUTO_FOCUS = "#home-menu"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "open('play')", "Play", id="home.play"),
        Binding("l", "open('lessons')", "Lessons", id="home.lessons"),
        Binding("c", "open('cards')", "Cards", id="home.cards"),
        Binding("g", "open('games')", "Games", id="home.games"),
        Binding("s", "open('settings')", "Settings", id="home.settings"),
        Binding("q", "app.quit", "Quit", id="home.quit"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="home-body"):
            yield Static(BANNER, id="home-banner")
            yield OptionList(
                *(Option(section_prompt(title, key, summary), id=section)
                  for section, title, key, summary in SECTIONS),
                id="home-menu",
            )
        yield ArlmFooter()

    def on_mount(self) -> None:
        # after the first frame: reading the lessons (YAML) and the model list would otherwise
        # compete with drawing it
        self.call_after_refresh(self.load_summaries)

    @work(thread=True, exclusive=True, group="home-summaries")
    def load_summaries(self) -> None:
        found = {
            "play": summaries.play_summary(),
            "lessons": summaries.lessons_summary(),
            "cards": summaries.cards_summary(),
            "games": summaries.games_summary(),
        }
        self.app.call_from_thread(self._show_summaries, found)

    def _show_summaries(self, found: dict[str, str]) -> None:
        if thrown_away(self):  # closed while the worker ran
            return
        menu = self.query_one("#home-menu", OptionList)
        for section, title, key, _ in SECTIONS:
            if section in found:
                menu.replace_option_prompt(section, section_prompt(title, key, found[section]))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.action_open(event.option.id)

    def action_open(self, section: str) -> None:
        if section == "play":
            self.app.open_play()
        elif section == "settings":
            self.app.open_settings()
        elif section == "lessons":
            self.app.open_lessons()
        elif section == "cards":
            self.app.open_review()
        elif section == "games":
            self.app.open_games()
