"""The interface's own settings (theme, default model, autoplay speed), kept in a small JSON file.

The file is ``$ARLM_HOME/tui-settings.json``. A missing, unreadable or partly wrong file gives
the defaults for what is wrong (a settings file must never stop the program from starting).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from arlm_tui import paths
from arlm_tui.lm.registry import DEFAULT_MODEL

DARK_THEME = "textual-dark"
LIGHT_THEME = "textual-light"

#: Autoplay intervals (seconds between steps) the speed keys move through.
AUTOPLAY_INTERVALS: tuple[float, ...] = (2.0, 1.0, 0.5, 0.25, 0.1, 0.05)


@dataclass
class Settings:
    theme: str = DARK_THEME
    model: str = field(default=DEFAULT_MODEL)
    autoplay_interval: float = 0.5

    @staticmethod
    def path() -> Path:
        return paths.user_home() / "tui-settings.json"

    @classmethod
    def load(cls) -> Settings:
        """The saved settings, or the defaults for anything missing or malformed."""
        settings = cls()
        from arlm_tui import inputs
        from arlm_tui.errors import ArlmError

        if not cls.path().exists():
            return settings
        try:
            data = inputs.load_json(cls.path(), limit=inputs.LIMITS["settings"], what="settings")
        except ArlmError:
            return settings
        if not isinstance(data, dict):
            return settings
        for f in fields(cls):
            value = data.get(f.name)
            if isinstance(value, type(getattr(settings, f.name))):
                setattr(settings, f.name, value)
        if settings.autoplay_interval not in AUTOPLAY_INTERVALS:
            settings.autoplay_interval = 0.5
        return settings

    def save(self) -> None:
        """Write the settings; a read-only home directory is not an error worth stopping for."""
        from arlm_tui.errors import ArlmError
        from arlm_tui.outputs import write_text

        try:
            self.path().parent.mkdir(parents=True, exist_ok=True)
            # renamed into place; no fsync on the UI thread for a file this unimportant
            write_text(self.path(), json.dumps(asdict(self), indent=2), durable=False)
        except (OSError, ArlmError):
            pass
