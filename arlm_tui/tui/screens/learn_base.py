"""What the learning screens share (lesson list, reader, self-check, lab, review, statistics):
the learn stylesheet, a header and a footer around each screen's own widgets, and ``back``,
which dismisses the screen with its result."""

from __future__ import annotations

from typing import TypeVar

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Header

from arlm_tui.tui.widgets.footer import ArlmFooter

ResultType = TypeVar("ResultType")


class LearnScreen(Screen[ResultType]):
    """Base of the learning screens. Subclasses yield their widgets from ``compose_body()``
    and, if going back returns something, override ``back_result()``."""

    CSS_PATH = "../learn.tcss"

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.compose_body()
        yield ArlmFooter()

    def compose_body(self) -> ComposeResult:
        """The screen's widgets, between the header and the footer."""
        yield from ()

    def back_result(self) -> ResultType | None:
        """What the screen dismisses with when the learner goes back (None here)."""
        return None

    def action_back(self) -> None:
        self.dismiss(self.back_result())
