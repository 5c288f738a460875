"""The home screen, settings, themes, the `arlm play` command and a cold start without torch."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys

import pytest
from rich.console import Console
from tui_helpers import settle

from arlm_tui.cli.play import cmd_play, knobs_from_args
from arlm_tui.cli.play import register as register_play_command
from arlm_tui.errors import ArlmError
from arlm_tui.lm.registry import DEFAULT_MODEL
from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.screens.help import HelpScreen
from arlm_tui.tui.screens.home import HomeScreen
from arlm_tui.tui.screens.play import PlayScreen
from arlm_tui.tui.screens.settings import SettingsScreen
from arlm_tui.tui.settings import DARK_THEME, LIGHT_THEME, Settings


def menu_text(screen: HomeScreen) -> str:
    """The menu's entries as plain text."""
    menu = screen.query_one("#home-menu")
    console = Console(width=300, color_system=None, file=io.StringIO())
    for i in range(menu.option_count):
        console.print(menu.get_option_at_index(i).prompt)
    return console.file.getvalue()


async def test_home_lists_sections_with_honest_summaries():
    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HomeScreen)
        text = menu_text(screen)
        for title in ("Play", "Lessons", "Review cards", "Games", "Settings"):
            assert title in text
        from arlm_tui.lm.registry import list_models

        models = list_models()  # the play summary counts and names the installed models
        assert f"{len(models)} models" in text and models[0].name in text
        assert "be the model" in text  # the games summary before any game is played
        await pilot.press("g")
        await settle(pilot)
        from arlm_tui.tui.screens.games import GamesScreen

        assert isinstance(app.screen, GamesScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


async def test_home_opens_play_and_escape_returns():
    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the highlighted first entry is Play
        await settle(pilot)
        assert isinstance(app.screen, PlayScreen)
        assert app.screen.session is not None
        assert app.screen.session.model.name == DEFAULT_MODEL
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PlayScreen)
        await pilot.press("q")
    assert not app.is_running


async def test_help_on_home_and_quit():
    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = {keys for _, rows in app.screen.sections for keys, _ in rows}
        assert {"p", "l", "c", "g", "s", "q", "?"} <= keys
        await pilot.press("question_mark")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("q")
    assert not app.is_running


async def test_theme_toggle_is_saved_and_restored():
    app = ArlmApp(settings=Settings(theme=DARK_THEME))
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.current_theme.dark
        await pilot.press("ctrl+t")
        assert app.theme == LIGHT_THEME and not app.current_theme.dark
    assert Settings.load().theme == LIGHT_THEME
    again = ArlmApp()
    async with again.run_test(size=(80, 24)):
        assert again.theme == LIGHT_THEME


async def test_settings_screen_changes_theme_model_and_speed():
    app = ArlmApp(settings=Settings())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s")
        assert isinstance(app.screen, SettingsScreen)
        screen = app.screen
        screen.query_one("#setting-light").value = True
        await pilot.pause()
        assert app.theme == LIGHT_THEME
        screen.query_one("#setting-speed").value = 0.1
        screen.query_one("#setting-model").value = "pyref-word-kn3"
        await pilot.pause()
        assert app.settings.autoplay_interval == 0.1
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("p")
        await settle(pilot)
        assert app.screen.session.model.name == "pyref-word-kn3"
    saved = json.loads(Settings.path().read_text())
    assert saved == {"theme": LIGHT_THEME, "model": "pyref-word-kn3", "autoplay_interval": 0.1}


def test_settings_file_that_is_broken_gives_defaults():
    Settings.path().parent.mkdir(parents=True, exist_ok=True)
    Settings.path().write_text("{not json")
    assert Settings.load() == Settings()
    Settings.path().write_text(json.dumps({"theme": 3, "autoplay_interval": 7.0,
                                           "model": "x"}))
    loaded = Settings.load()
    assert loaded.theme == DARK_THEME and loaded.autoplay_interval == 0.5
    assert loaded.model == "x"


# --------------------------------------------------------------------------- command line
def parse_play(argv):
    parser = argparse.ArgumentParser()
    register_play_command(parser.add_subparsers())
    return parser.parse_args(["play", *argv])


def test_play_command_arguments():
    args = parse_play(["--model", "oracle", "--prompt", "the cat", "--strategy", "beam",
                       "--beam-width", "3", "--top-p", "0.9", "--seed", "7"])
    assert args.func is cmd_play
    assert args.model == "oracle" and args.prompt == "the cat" and args.strategy == "beam"
    assert knobs_from_args(args) == {"beam_width": 3, "top_p": 0.9, "seed": 7}
    assert knobs_from_args(parse_play([])) == {}


@pytest.mark.parametrize("argv, message", [
    (["--temperature", "-1"], "temperature"),
    (["--top-p", "1.5"], "top_p"),
    (["--model", "no-such-model"], "unknown model"),
])
def test_play_command_refuses_mistakes_before_opening(argv, message):
    with pytest.raises(ArlmError, match=message):
        cmd_play(parse_play(argv))


def test_starting_on_the_play_screen():
    async def run():
        app = ArlmApp("play", model="pyref-word-kn3", prompt="the value", strategy="greedy",
                      knobs={"max_tokens": 7}, settings=Settings(), save_settings=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, PlayScreen)
            assert screen.session.config.strategy == "greedy"
            assert screen.session.config.max_tokens == 7
            assert screen.session.text == "the value"

    import asyncio

    asyncio.run(run())
    with pytest.raises(ValueError, match="initial"):
        ArlmApp("lessons")


def test_play_command_module_does_not_import_textual():
    code = ("import sys, argparse; from arlm_tui.cli.play import register; "
            "register(argparse.ArgumentParser().add_subparsers()); "
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- cold start
def test_app_starts_on_home_without_importing_torch(tmp_path):
    code = """
import asyncio, sys
from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.settings import Settings

async def main():
    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        print(type(app.screen).__name__)
        await pilot.press("p")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        print(type(app.screen).__name__, app.screen.session.model.backend)
    print("torch" in sys.modules)

asyncio.run(main())
"""
    env = {**__import__("os").environ, "ARLM_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-3:] == ["HomeScreen", "PlayScreen ngram", "False"]
