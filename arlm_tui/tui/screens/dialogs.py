"""Small modal dialogs of the play screen: type a value, pick a model, choose a file.

A dialog checks what was typed with a function given by its caller (``check(text) -> error or
None``) and stays open with the error shown until the text is acceptable or escape cancels; it
never lets a bad value through and never crashes on one. A typed file or model path goes through
``paths.user_path`` / ``paths.user_model`` first: when arlm is served, a path outside the
visitor's own folder is refused here, with one line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from arlm_tui import paths
from arlm_tui.errors import ArlmError

#: What a file dialog adds to its help when arlm is served (see ``paths.user_path``).
SERVED_NOTE = "(served: files stay in your own folder)"

#: check(text) -> an error message, or None when the text is acceptable.
Check = Callable[[str], "str | None"]


class ValueDialog(ModalScreen[str | None]):
    """Ask for one line of text; dismisses with the accepted text, or None on escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, title: str, value: str = "", *, help_text: str = "",
                 check: Check | None = None, placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.initial = value
        self.help_text = help_text
        self.check = check
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            if self.help_text:
                yield Static(self.help_text, classes="dialog-help")
            yield Input(self.initial, placeholder=self.placeholder, id="dialog-input")
            yield Static("", id="dialog-error", classes="dialog-error")
            yield Static("[dim]⏎ accept · esc cancel[/dim]", classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#dialog-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        error = self.check(text) if self.check is not None else None
        if error:
            self.query_one("#dialog-error", Static).update(Text(error))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ModelPicker(ModalScreen[str | None]):
    """Pick a bundled or user-trained model, or type a path; dismisses with a name or path."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="picker.cancel")]

    def __init__(self, current: str = "") -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        from arlm_tui.lm.registry import list_models

        options = []
        for entry in list_models():
            info = entry.summary()
            ppl = info.get("heldout_perplexity")
            extra = f"held-out perplexity {ppl:.1f}" if isinstance(ppl, (int, float)) else ""
            prompt = Text()
            prompt.append(entry.name, style="bold")
            prompt.append(f"  {entry.backend} · {entry.origin}" + (" · current"
                          if entry.name == self.current else ""), style="dim")
            if extra or info.get("corpus"):
                prompt.append(f"\n  {extra}  {info.get('corpus') or ''}", style="dim")
            options.append(Option(prompt, id=entry.name))
        with Vertical(classes="dialog"):
            yield Static(Text("Switch model (the text so far is kept)", style="bold"),
                         classes="dialog-title")
            if options:
                yield OptionList(*options, id="picker-list")
            else:
                yield Static("No model is installed yet: type a path below.")
            yield Input(placeholder="…or a model name, a model directory, an .arpa file, or hf:PATH",
                        id="picker-path")
            yield Static("", id="dialog-error", classes="dialog-error")
            yield Static("[dim]⏎ choose · tab moves between list and path · esc cancel[/dim]",
                         classes="dialog-keys")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        try:  # served: a name, or a path inside the visitor's folder (paths.user_model)
            spec = str(paths.user_model(text))
            found = spec.startswith("hf:") or paths.user_path(spec).exists()
        except ArlmError as exc:
            self.query_one("#dialog-error", Static).update(Text(str(exc)))
            return
        if not found:
            from arlm_tui.lm.registry import list_models

            if spec not in {entry.name for entry in list_models()}:
                self.query_one("#dialog-error", Static).update(
                    Text(f"no model named {text!r} and no such file or directory"))
                return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FileDialog(ModalScreen[Path | None]):
    """Choose a file to save to or to open: a path, or one of the files listed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="file.cancel")]

    def __init__(self, title: str, default: Path, *, existing: list[Path] | None = None,
                 check: Check | None = None, help_text: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.default = default
        self.existing = existing or []
        self.check = check
        self.help_text = help_text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            help_text = self.help_text
            if paths.served_root() is not None:  # say the rule before anyone runs into it
                help_text = (help_text + " " if help_text else "") + SERVED_NOTE
            if help_text:
                yield Static(Text(help_text), classes="dialog-help")
            if self.existing:
                yield OptionList(*(Option(p.name, id=str(p)) for p in self.existing),
                                 id="file-list")
            yield Input("" if str(self.default) == "." else str(self.default),
                        id="dialog-input")
            yield Static("", id="dialog-error", classes="dialog-error")
            keys = "⏎ accept · tab moves between the list and the name · esc cancel" if (
                self.existing) else "⏎ accept · esc cancel"
            yield Static(f"[dim]{keys}[/dim]", classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#dialog-input", Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._accept(str(event.option.id))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._accept(event.value.strip())

    def _accept(self, text: str) -> None:
        if not text:
            return
        try:  # the one policy for typed paths (served: they stay in the visitor's folder)
            paths.user_path(text)
            error = self.check(text) if self.check is not None else None
        except ArlmError as exc:
            error = str(exc)
        if error:
            self.query_one("#dialog-error", Static).update(Text(error))
            return
        self.dismiss(Path(text).expanduser())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(ModalScreen[str | None]):
    """Ask a question with a few answers; dismisses with the chosen answer's id (None: escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel",
                                                     id="choice.cancel")]

    def __init__(self, title: str, *, choices: list[tuple[str, str]], help_text: str = "",
                 current: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.help_text = help_text
        self.choices = choices
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            if self.help_text:
                yield Static(Text(self.help_text), classes="dialog-help")
            yield OptionList(*(Option(label, id=choice) for choice, label in self.choices),
                             id="choice-list")
            yield Static("[dim]↑↓ choose · ⏎ accept · esc cancel[/dim]", classes="dialog-keys")

    def on_mount(self) -> None:
        options = self.query_one("#choice-list", OptionList)
        ids = [choice for choice, _ in self.choices]
        if self.current in ids:
            options.highlighted = ids.index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
