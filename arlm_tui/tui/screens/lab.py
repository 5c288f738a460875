"""The lab screen: a lesson lab's title and introduction above its live view.

``LabScreen(lab, lesson_title)`` shows the view ``make_lab_view(lab)`` picks for the lab's kind;
the view's keys are in the footer. A view that needs typed text (a context, a sentence, a prompt)
asks through ``LabView.EditRequested``; this screen opens ``TextPrompt`` and hands the text back.
Escape goes back.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from arlm_tui.learn.lessons.model import Lab
from arlm_tui.tui.screens.learn_base import LearnScreen
from arlm_tui.tui.widgets.labs import LabView, make_lab_view


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text; dismisses with it (stripped), or None on escape."""

    CSS_PATH = "../learn.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
    ]

    def __init__(self, title: str, value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.initial = value

    def compose(self) -> ComposeResult:
        with Vertical(id="text-prompt"):
            yield Static(Text(self.title_text, style="bold"))
            yield Input(self.initial, id="text-prompt-input")
            yield Static("[dim]⏎ accept · esc cancel[/dim]")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class LabScreen(LearnScreen[None]):
    """One lab: ``lab`` (from a lesson's ``labs``) and the title of its lesson."""

    HELP_TITLE = "Lab"
    HELP_TEXT = ("A lab is a live view of the engine: move its controls and watch the numbers "
                 "change. Every number on it is computed by arlm's own code.")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="lab.back", tooltip="back to the lesson"),
    ]

    def __init__(self, lab: Lab, lesson_title: str = "") -> None:
        super().__init__()
        self.lab = lab
        self.lesson_title = lesson_title
        self.sub_title = f"lab · {lesson_title}" if lesson_title else "lab"

    @property
    def view(self) -> LabView:
        return self.query_one(LabView)

    def compose_body(self) -> ComposeResult:
        with Vertical(id="lab-head"):
            yield Static(Text(self.lab.title, style="bold"), id="lab-title")
            yield Static(self.lab.intro, id="lab-intro")
        with VerticalScroll(id="lab-body"):
            yield make_lab_view(self.lab, id="lab-view")

    def on_mount(self) -> None:
        self.view.focus()

    def on_lab_view_edit_requested(self, event: LabView.EditRequested) -> None:
        event.stop()
        view = event.view

        def done(value: str | None) -> None:
            if value is not None:
                view.set_text(event.field, value)

        self.app.push_screen(TextPrompt(event.title, event.value), done)
