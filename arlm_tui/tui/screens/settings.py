"""The settings screen: light or dark theme, the model the play screen opens with, autoplay speed.

Every change applies at once and is saved to ``$ARLM_HOME/tui-settings.json``.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Label, Select, Static, Switch

from arlm_tui.tui.settings import AUTOPLAY_INTERVALS, DARK_THEME, LIGHT_THEME
from arlm_tui.tui.widgets.footer import ArlmFooter


class SettingsScreen(Screen):
    """Change how arlm looks and starts."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="settings.back"),
    ]

    def compose(self) -> ComposeResult:
        settings = self.app.settings
        yield Header()
        with VerticalScroll(id="settings-body"):
            yield Static("[b]Settings[/b]  [dim]saved as you change them[/dim]",
                         id="settings-title")
            with Horizontal(classes="setting-row"):
                yield Label("Light theme", classes="setting-label")
                yield Switch(value=not self.app.current_theme.dark, id="setting-light")
            with Horizontal(classes="setting-row"):
                yield Label("Play with model", classes="setting-label")
                yield Select(self._model_options(), value=settings.model, allow_blank=False,
                             id="setting-model")
            with Horizontal(classes="setting-row"):
                yield Label("Autoplay speed", classes="setting-label")
                yield Select(
                    [(f"one step every {s:g} s", s) for s in AUTOPLAY_INTERVALS],
                    value=settings.autoplay_interval, allow_blank=False, id="setting-speed",
                )
            yield Static(
                "[dim]ctrl+t switches the theme anywhere; the play screen's model (m) and "
                "speed (\\[ and ]) can also be changed while playing.[/dim]",
                id="settings-note",
            )
        yield ArlmFooter()

    def _model_options(self) -> list[tuple[str, str]]:
        from arlm_tui.lm.registry import list_models

        options = [(f"{e.name} ({e.backend}, {e.origin})", e.name) for e in list_models()]
        current = self.app.settings.model
        if current not in {value for _, value in options}:
            options.insert(0, (current, current))
        return options

    def on_switch_changed(self, event: Switch.Changed) -> None:
        if event.switch.id == "setting-light":
            self.app.theme = LIGHT_THEME if event.value else DARK_THEME

    def on_select_changed(self, event: Select.Changed) -> None:
        settings = self.app.settings
        if event.value is Select.BLANK:
            return
        if event.select.id == "setting-model":
            settings.model = str(event.value)
        elif event.select.id == "setting-speed":
            settings.autoplay_interval = float(event.value)
        if self.app._save_settings:
            settings.save()
