"""The guard around a screen's handlers (``arlm_tui.tui.textual_fixes``): a ``NoMatches`` from a
screen that is being thrown away (popped, or the app shutting down) is dropped; on an open
screen of a running app it is still an error that ends the app."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen

from arlm_tui.tui import textual_fixes


class Look(Message):
    """Asks the screen to look up a widget it does not have."""


class Looking(Screen):
    def on_look(self, _message: Look) -> None:
        self.query_one("#not-there")


async def _look_while(shutting_down: bool = False, exiting: bool = False) -> None:
    textual_fixes.install()
    app = App()
    async with app.run_test() as pilot:
        screen = Looking()
        await app.push_screen(screen)
        await pilot.pause()
        if shutting_down:  # as App._shutdown does before it closes the screens
            app._running = False
        if exiting:  # as App.exit does; the app runs on until its ExitApp message is handled
            app._exit = True
        screen.post_message(Look())
        await asyncio.sleep(0.05)
        if not (shutting_down or exiting):
            await pilot.pause()


async def test_a_lookup_on_a_screen_of_an_app_shutting_down_is_dropped():
    await _look_while(shutting_down=True)  # no exception at the end of run_test


async def test_a_lookup_on_a_screen_of_an_app_exiting_is_dropped():
    # a screen pushed after exit() was called mounts children that get no children of their own
    await _look_while(exiting=True)


async def test_a_lookup_on_an_open_screen_of_a_running_app_is_still_an_error():
    with pytest.raises(NoMatches):
        await _look_while(shutting_down=False)


async def test_thrown_away_tells_a_screen_being_discarded_from_an_open_one():
    # what a worker's answer checks before it looks a widget up (games, home, play)
    app = App()
    async with app.run_test() as pilot:
        screen = Looking()
        await app.push_screen(screen)
        await pilot.pause()
        assert not textual_fixes.thrown_away(screen)
        app._exit = True  # exit() called, the ExitApp message not handled yet
        assert textual_fixes.thrown_away(screen)
        app._exit = False
        app._running = False  # shutting down
        assert textual_fixes.thrown_away(screen)
        app._running = True
        await app.pop_screen()
        assert textual_fixes.thrown_away(screen)
        assert textual_fixes.thrown_away(Looking())  # never pushed
