"""Helpers shared by the Pilot-driven TUI tests: waiting for workers, reading widgets, the play
screen started on the bundled n-gram model."""

from __future__ import annotations

from textual.worker import WorkerCancelled

from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.screens.play import PlayScreen
from arlm_tui.tui.settings import Settings

PROMPT = "the value of"


async def settle(pilot) -> None:
    """Let workers (model loading, analysis views) finish and the screen redraw.

    A worker replaced by a newer one of its group while it is waited for (an analysis view
    asked again when a step ends) is cancelled, which ``wait_for_complete`` raises: the
    newer one is then waited for."""
    await pilot.pause()
    for _ in range(100):
        try:
            await pilot.app.workers.wait_for_complete()
            break
        except WorkerCancelled:
            await pilot.pause()
    await pilot.pause()


async def wait_until(pilot, done, timeout: float = 20.0) -> None:
    """Pause until ``done()`` is true: for what a timer or a background thread finishes, which
    takes longer on a loaded machine than on an idle one. Fails after ``timeout`` seconds."""
    import time

    end = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < end, "the screen never reached the state waited for"
        await pilot.pause(0.05)
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            pass


def rendered(widget) -> str:
    return widget.render().plain


def make_play_app(**play) -> ArlmApp:
    """The app opened on the play screen, by default with PROMPT and the bundled word trigram."""
    play.setdefault("prompt", PROMPT)
    play.setdefault("model", "pyref-word-kn3")
    return ArlmApp("play", settings=Settings(), save_settings=False, **play)


async def start_play(pilot) -> PlayScreen:
    """Wait until the play screen has loaded its model and holds a Session."""
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PlayScreen)
    assert screen.session is not None, screen.last_error
    return screen
