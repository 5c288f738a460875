"""Nothing the learner built on the play screen is lost: leaving and coming back resumes the
session, a new play gets its own seed, unknown words are marked, sessions are saved where arlm
keeps its data and typed text is never thrown away."""

from __future__ import annotations

import json
import os

import pytest
from tui_helpers import make_play_app, rendered, settle, start_play

from arlm_tui.errors import ArlmError
from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.screens.dialogs import FileDialog
from arlm_tui.tui.screens.home import HomeScreen
from arlm_tui.tui.screens.play import PlayScreen
from arlm_tui.tui.session_files import (
    open_name_problem,
    save_name_problem,
    session_path,
    sessions_dir,
    write_session_file,
)
from arlm_tui.tui.settings import Settings
from arlm_tui.tui.widgets.knob_panel import KnobPanel


async def test_leaving_play_and_coming_back_resumes_the_session():
    app = ArlmApp(settings=Settings(model="pyref-word-kn3"), save_settings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        screen = await start_play(pilot)
        await pilot.press("p")
        screen.query_one("#prompt").value = "the dragon of"
        await pilot.press("enter")
        panel = screen.query_one(KnobPanel)
        panel.focus()
        panel.select("temperature")
        await pilot.press("left", "left")  # T = 0.9
        await pilot.press("space", "space", "space", "backspace", "2")
        session = screen.session
        text, traces = session.text, list(session.traces)
        assert len(traces) == 2 and session.can_redo
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)

        await pilot.press("p")
        again = await start_play(pilot)
        assert again is not screen and again.session is session  # the same session, resumed
        assert again.session.text == text and again.session.traces == traces
        assert again.session.config.temperature == 0.9 and again.session.can_redo
        assert again.view == "beam"
        assert again.query_one(KnobPanel).config.temperature == 0.9
        assert again.snap is not None and len(again.snap.pieces) == 2
        assert again.query_one("#prompt").value == "the dragon of"  # as typed, not "<unk>"
        assert "dragon → <unk>" in rendered(again.query_one("#prompt-note"))
        await pilot.press("r")  # the history came along: redo still works
        assert len(again.session.traces) == 3

        await pilot.press("ctrl+n")  # a new play on request
        await settle(pilot)
        fresh = app.screen
        assert isinstance(fresh, PlayScreen) and fresh is not again
        assert fresh.session is not session and fresh.session.traces == []
        assert fresh.session.model.name == "pyref-word-kn3"


async def test_a_new_play_gets_a_fresh_seed_shown_in_the_title(monkeypatch):
    monkeypatch.delenv("ARLM_SEED")
    seeds = set()
    for _ in range(3):
        app = make_play_app(strategy="sample")
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await start_play(pilot)
            seed = screen.session.config.seed
            seeds.add(seed)
            assert f"seed {seed}" in screen.sub_title
    assert len(seeds) >= 2  # three draws from a million: equal only by a one-in-10¹² chance
    app = make_play_app(strategy="sample", knobs={"seed": 42})  # a given seed is kept
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        assert screen.session.config.seed == 42 and "seed 42" in screen.sub_title


async def test_words_outside_the_vocabulary_are_marked_on_the_prompt_line():
    app = make_play_app(prompt="the dragon of", strategy="greedy")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        note = screen.query_one("#prompt-note")
        assert note.display
        assert "dragon → <unk>" in rendered(note) and "pyref-word-kn3" in rendered(note)
        await pilot.press("p")
        prompt = screen.query_one("#prompt")
        prompt.value = "the value of"
        await pilot.pause()
        assert not note.display  # every word known
        prompt.value = "the wyvern and the dragon"
        await pilot.pause()
        assert "wyvern → <unk>, dragon → <unk>" in rendered(note)


async def test_switching_to_a_model_that_lacks_a_word_says_so():
    app = make_play_app(model="oracle", prompt="one morning , a", strategy="greedy")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        assert not screen.query_one("#prompt-note").display
        screen.session.force("climber")
        screen.load_model("pyref-word-kn3")
        await settle(pilot)
        note = rendered(screen.query_one("#prompt-note"))
        assert "→ <unk>" in note and "pyref-word-kn3" in note


async def test_tab_keeps_a_typed_prompt():
    app = make_play_app(strategy="greedy")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "p")
        prompt = screen.query_one("#prompt")
        prompt.value = "the object"
        await pilot.press("tab")
        assert screen.focused is not prompt
        assert prompt.value == "the object"  # kept
        assert any("prompt was edited" in n.message for n in app._notifications)
        await pilot.press("space")
        assert prompt.value == "the object"  # a step does not throw it away either
        await pilot.press("p", "enter")
        assert screen.session.text == "the object" and screen.session.traces == []


async def test_ctrl_s_saves_into_the_sessions_folder_and_open_lists_it(tmp_path):
    app = make_play_app(strategy="sample", knobs={"seed": 5})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space")
        await pilot.press("ctrl+s")
        dialog = app.screen
        assert isinstance(dialog, FileDialog)
        assert str(sessions_dir()) in rendered(dialog.query_one(".dialog-help"))
        dialog.query_one("#dialog-input").value = str(tmp_path)  # a folder: refused
        await pilot.press("enter")
        assert app.screen is dialog
        assert "is a directory" in rendered(dialog.query_one("#dialog-error"))
        dialog.query_one("#dialog-input").value = "mine"
        await pilot.press("enter")
        saved = sessions_dir() / "mine.json"
        assert app.screen is screen and saved.is_file()
        assert json.loads(saved.read_text())["model"] == "pyref-word-kn3"
        assert not list(sessions_dir().glob("*.partial"))

        await pilot.press("ctrl+o")
        dialog = app.screen
        assert isinstance(dialog, FileDialog)
        listed = dialog.query_one("#file-list")
        assert [str(listed.get_option_at_index(i).id) for i in range(listed.option_count)] == [
            str(saved)]
        dialog.query_one("#dialog-input").value = str(sessions_dir())
        await pilot.press("enter")
        assert app.screen is dialog
        assert "is a directory" in rendered(dialog.query_one("#dialog-error"))
        dialog.query_one("#dialog-input").value = "mine"  # a name alone: in sessions/
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.replay_total == 2


def test_session_paths():
    assert session_path("mine") == sessions_dir() / "mine.json"
    assert session_path("mine.txt") == sessions_dir() / "mine.txt"
    assert session_path("./mine.json").name == "mine.json"
    assert session_path("./mine.json").parent != sessions_dir()
    assert session_path("/tmp/x/y.json").as_posix() == "/tmp/x/y.json"


def test_typed_session_names_are_checked_and_a_failed_save_is_one_line(tmp_path):
    assert save_name_problem(str(tmp_path)) == f"{tmp_path} is a directory: add a file name"
    assert save_name_problem(str(tmp_path / "new.json")) is None
    assert "is a directory: choose a session file" in open_name_problem(str(tmp_path))
    assert open_name_problem(str(tmp_path / "gone.json")) == f"no such file: {tmp_path}/gone.json"
    os.mkfifo(tmp_path / "pipe.json")
    assert open_name_problem(str(tmp_path / "pipe.json")).endswith("is not a regular file")
    write_session_file(tmp_path / "deeper" / "s.json", '{"format": "arlm-session"}')
    assert open_name_problem(str(tmp_path / "deeper" / "s.json")) is None
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArlmError, match=r"^could not save .*file/s\.json: ") as info:
        write_session_file(tmp_path / "file" / "s.json", "{}")  # its folder is a file
    assert "\n" not in str(info.value)
