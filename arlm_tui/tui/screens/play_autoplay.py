"""Autoplay on the play screen: one step at a time on a timer, until paused or the text ends.

The interval is a setting (``[`` and ``]`` step through ``AUTOPLAY_INTERVALS``, saved with the
other settings). A tick that finds the engine busy waits for the next one; forcing a token or a
finished text stops autoplay. The stats line says when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.timer import Timer

from arlm_tui.tui.settings import AUTOPLAY_INTERVALS

if TYPE_CHECKING:
    from arlm_tui.tui.screens.play import PlayScreen


class Autoplay:
    """The play screen's autoplay timer: start, pause, speed, one step per tick."""

    def __init__(self, screen: PlayScreen) -> None:
        self.screen = screen
        self.timer: Timer | None = None

    def toggle(self) -> None:
        """Start autoplay, or pause it when it runs."""
        screen = self.screen
        if self.timer is not None:
            self.stop()
            screen.notify("autoplay paused", timeout=2)
            return
        if screen.session is None or screen.session.done:
            screen.notify("nothing to play: the text is finished", timeout=2)
            return
        screen.leave_force_mode()
        interval = screen.app.settings.autoplay_interval
        self.timer = screen.set_interval(interval, self.tick)
        screen.notify(f"autoplay: one step every {interval:g} s (a pauses, [ ] speed)",
                      timeout=3)
        if screen.snap is not None:
            screen.drawing.draw_stats(screen.snap)

    def tick(self) -> None:
        screen = self.screen
        if screen.busy or screen.session is None:
            return
        if screen.session.done or screen.force_mode:
            self.stop()
            return
        screen.selected = None
        screen.run_engine(screen.session.step)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
            if self.screen.snap is not None:
                self.screen.drawing.draw_stats(self.screen.snap)

    def speed(self, direction: int) -> None:
        """One notch slower (-1) or faster (1); saved with the settings."""
        screen = self.screen
        app = screen.app
        settings = app.settings
        index = AUTOPLAY_INTERVALS.index(settings.autoplay_interval)
        index = max(0, min(len(AUTOPLAY_INTERVALS) - 1, index + direction))
        settings.autoplay_interval = AUTOPLAY_INTERVALS[index]
        if app._save_settings:
            settings.save()
        if self.timer is not None:
            self.timer.stop()
            self.timer = screen.set_interval(settings.autoplay_interval, self.tick)
        screen.notify(f"autoplay speed: one step every {settings.autoplay_interval:g} s",
                      timeout=2)
        if screen.snap is not None:
            screen.drawing.draw_stats(screen.snap)
        screen.call_after_refresh(screen.drawing.retitle)  # the hint fits the view's new width
