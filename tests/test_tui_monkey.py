"""A seeded monkey: random keys from every screen's own bindings (plus typing, arrows, tab,
escape) on home, play with the n-gram and with the transformer, lessons, review and games. Any
exception, in a handler or in a worker, fails the test (issue #12 §6). The seed is fixed, so a
failure replays exactly; ``ARLM_MONKEY_SEED`` explores other sequences locally."""

from __future__ import annotations

import asyncio
import os
import random
import unicodedata
from collections.abc import Callable

import pytest
from tui_helpers import settle

from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.settings import Settings

SEED = int(os.environ.get("ARLM_MONKEY_SEED", "20261207"))

#: Keys a person types anywhere, besides the bindings of the screen in front of them.
TYPING = [
    *"abcdefghijklmnopqrstuvwxyz0123456789", "space", "enter", "escape", "tab", "shift+tab",
    "up", "down", "left", "right", "backspace", "home", "end", "pageup", "pagedown",
    "question_mark", "full_stop", "comma", "minus", "plus",
]
#: Keys that leave the test harness itself (quit, suspend the process): never pressed.
NEVER = {"ctrl+q", "ctrl+c", "ctrl+z", "ctrl+backslash"}
#: Keys sent between two waits for the screen to catch up.
BURST = 4


def _open_games(app: ArlmApp) -> None:
    from arlm_tui.tui.screens.games import GamesScreen

    app.push_screen(GamesScreen())


def _open_home(app: ArlmApp) -> None:
    from arlm_tui.tui.screens.home import HomeScreen

    app.push_screen(HomeScreen())


async def _press(pilot, key: str, wait: bool) -> None:
    """One key, as ``pilot.press`` sends it; with ``wait``, until the screen has handled what
    was sent (not until the process goes idle, which costs ~50 ms a key): the monkey types
    fast, a few keys between looks, as a key held down does."""
    from textual import events
    from textual.keys import _character_to_key, _get_unicode_name_from_key

    app = pilot.app
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(key))
    except KeyError:
        char = key if len(key) == 1 else None
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)
    if wait:
        await pilot._wait_for_screen()


def _binding_keys(app: ArlmApp) -> list[str]:
    keys = []
    for key, active in app.active_bindings.items():
        action = active.binding.action
        if key in NEVER or "quit" in action or action.startswith("app.exit"):
            continue
        keys.append(key)
    return keys


#: (name, how the scenario's screen is opened, keys pressed, terminal size)
SCENARIOS: list[tuple[str, Callable[[ArlmApp], None], int, tuple[int, int]]] = [
    ("home", _open_home, 350, (80, 24)),
    ("play, n-gram", lambda app: app.open_play(model="pyref-word-kn3", prompt="the value of"),
     400, (100, 30)),
    ("play, transformer", lambda app: app.open_play(model="oracle-transformer",
                                                     prompt="once upon a time"), 400, (100, 30)),
    ("lessons", lambda app: app.open_lessons(), 300, (100, 30)),
    ("review", lambda app: app.open_review(), 300, (80, 24)),
    ("games", _open_games, 350, (100, 30)),
]


#: The screens each scenario is about: the first is the one it opens.
SCREEN_OF = {
    "home": ("HomeScreen",),
    "play, n-gram": ("PlayScreen",),
    "play, transformer": ("PlayScreen",),
    "lessons": ("LessonListScreen", "LessonReaderScreen", "SelfCheckScreen", "LabScreen"),
    "review": ("ReviewScreen", "StatsScreen"),
    "games": ("GamesScreen", "BeTheModelScreen", "BeatGreedyScreen", "NameThatStrategyScreen",
              "TuneTheKnobsScreen", "ScoresScreen"),
}


@pytest.mark.parametrize(("name", "open_screen", "presses", "size"), SCENARIOS,
                         ids=[s[0] for s in SCENARIOS])
async def test_random_keys_never_raise(name, open_screen, presses, size, tmp_path,
                                      monkeypatch):
    monkeypatch.chdir(tmp_path)  # a file name typed into a dialog lands here
    rng = random.Random(f"{SEED}-{name}")
    pressed, seen, on_target, away = 0, set(), 0, 0
    while pressed < presses:  # a key that quits ends one app; the next one carries on
        app = ArlmApp(settings=Settings(), save_settings=False)
        app.animation_level = "none"
        # The palette's "Save screenshot" writes to the learner's Downloads folder: not here.
        app.deliver_screenshot = lambda *args, **kwargs: None
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            open_screen(app)
            await settle(pilot)
            while pressed < presses and app.is_running:
                bindings = _binding_keys(app)
                key = rng.choice(bindings if bindings and rng.random() < 0.6 else TYPING)
                await _press(pilot, key, wait=pressed % BURST == 0)
                pressed += 1
                current = type(app.screen).__name__
                seen.add(current)
                on_target += current in SCREEN_OF[name]
                away = 0 if current in SCREEN_OF[name] else away + 1
                stack = [type(screen).__name__ for screen in app.screen_stack]
                if len(stack) <= 1 or SCREEN_OF[name][0] not in stack or away > 40:
                    open_screen(app)  # wandered off (back, or to another section): return
                    away = 0
                if pressed % 20 == 0:  # let workers and timers (autoplay) move on too
                    await asyncio.sleep(0.01)
                    await pilot._wait_for_screen()
            if app.is_running:
                await pilot._wait_for_screen()  # the keys still queued, before shutting down
                await settle(pilot)
    assert pressed == presses
    # keys reach the screen under test itself, not only its dialogs, help and sub-screens
    assert on_target >= presses // 10, (on_target, sorted(seen))
    print(f"{name}: {pressed} keys, {on_target} on {'/'.join(SCREEN_OF[name])}, "
          f"over {sorted(seen)}")
