"""The compare view's model chooser: tick the installed models to compare side by side.

Dismisses with the names ticked (in the order listed), or None on escape. The model in use is
always compared (it is listed ticked and cannot be unticked), so the view is never empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection


class CompareChooser(ModalScreen[list[str] | None]):
    """Tick the models of the compare view (space ticks, ⏎ accepts, a ticks all)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="chooser.cancel"),
        Binding("enter", "accept", "Accept", priority=True, id="chooser.accept",
                tooltip="compare the ticked models"),
        Binding("a", "all", "All", id="chooser.all", tooltip="tick every installed model"),
    ]

    def __init__(self, installed: Sequence[str], chosen: Sequence[str] | None,
                 current: str) -> None:
        super().__init__()
        self.installed = list(installed)
        self.chosen = set(self.installed if chosen is None else chosen) | {current}
        self.current = current

    def compose(self) -> ComposeResult:
        selections = [Selection(name + ("  (in use)" if name == self.current else ""), name,
                                name in self.chosen, disabled=name == self.current)
                      for name in self.installed]
        with Vertical(classes="dialog"):
            yield Static(Text("Models to compare", style="bold"), classes="dialog-title")
            yield Static("Each ticked model gets a column: its next-token distribution, "
                         "KL(oracle ‖ model) and p of the token just chosen.",
                         classes="dialog-help")
            yield SelectionList[str](*selections, id="chooser-list")
            yield Static("[dim]space ticks · a ticks all · ⏎ compare · esc cancel[/dim]",
                         classes="dialog-keys")

    def on_mount(self) -> None:
        # ``query``, not ``query_one``: a key that dismisses the chooser (or the app closing)
        # can come before its mount is handled, when the list is already gone
        for choices in self.query(SelectionList):
            choices.focus()

    @property
    def ticked(self) -> list[str]:
        """The names ticked, in the order listed; those it opened with while the list is not
        (or no longer) mounted."""
        shown = self.query(SelectionList)
        selected = set(shown.first().selected) if shown else set(self.chosen)
        return [name for name in self.installed if name in selected | {self.current}]

    def action_accept(self) -> None:
        self.dismiss(self.ticked)

    def action_all(self) -> None:
        for choices in self.query(SelectionList):
            choices.select_all()

    def action_cancel(self) -> None:
        self.dismiss(None)
