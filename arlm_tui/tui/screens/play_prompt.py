"""The play screen's prompt line: the text to continue, and a note on the words the model lacks.

What is typed there is applied with ⏎ only: the session starts again from the new prompt (the
knobs stay). Until then the steps taken so far are kept, and moving the focus away with an
edit pending says so. While the line has the focus, the note beside it marks the typed words
the model reads as <unk>; a prompt written there by the screen (a model switched, a session
opened or taken up again) keeps the note the screen gave it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Input, Label

from arlm_tui.decoding.snapshot import unknown_words
from arlm_tui.tui.widgets.knob_panel import KnobPanel

if TYPE_CHECKING:
    from arlm_tui.tui.screens.play import PlayScreen


class PromptLine:
    """The play screen's ``#prompt`` input and its ``#prompt-note``."""

    def __init__(self, screen: PlayScreen) -> None:
        self.screen = screen

    @property
    def value(self) -> str:
        """The prompt line as it reads now (typed words included)."""
        return self.screen.query_one("#prompt", Input).value

    @value.setter
    def value(self, text: str) -> None:
        self.screen.query_one("#prompt", Input).value = text

    def focus(self) -> None:
        self.screen.query_one("#prompt", Input).focus()

    def show_unknown(self, unknown: list[str], model_name: str) -> None:
        """Mark the words the model reads as <unk> on the prompt line, and name the model."""
        note = self.screen.query_one("#prompt-note", Label)
        if not unknown:
            note.update("")
            note.display = False
            return
        shown = ", ".join(f"{word} → <unk>" for word in unknown[:4])
        more = f" (+{len(unknown) - 4})" if len(unknown) > 4 else ""
        note.update(Text(f"{shown}{more} (unknown to {model_name})"))
        note.display = True

    def changed(self, message: Input.Changed) -> None:
        """A key typed in the line: the note follows what is typed."""
        session = self.screen.session
        if message.input.id != "prompt" or session is None:
            return
        if not message.input.has_focus:
            return  # the screen wrote the session's prompt there: its note stays
        self.show_unknown(unknown_words(session.model, message.value), session.model.name)

    def left(self, widget: Widget) -> None:
        """The focus left ``widget``: if it is the prompt line with an edit pending, say so."""
        # the prompt keeps what was typed when the focus moves away (tab, a click): it is
        # applied with ⏎, and a message says so
        session = self.screen.session
        if not isinstance(widget, Input) or widget.id != "prompt" or session is None:
            return
        current = session.model.tokenizer.decode(session.prompt_ids)
        if widget.value != current:
            self.screen.notify("the prompt was edited: p then ⏎ starts again from it (the "
                               "steps taken so far are kept until then)", timeout=4)

    def submitted(self, message: Input.Submitted) -> None:
        """⏎ in the line: start again from the prompt (before a model: the prompt to load)."""
        if message.input.id != "prompt":
            return
        message.stop()
        screen = self.screen
        if screen.session is None:
            screen.initial_prompt = message.value
            return
        text = message.value
        screen.selected = None
        screen.replay_total = None
        screen.run_engine(lambda: screen.session.set_prompt(text))
        screen.query_one(KnobPanel).focus()
