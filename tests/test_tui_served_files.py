"""The served app (``$ARLM_SERVED``, as ``arlm serve`` sets it for each visitor) refuses every
typed path outside the visitor's folder, in the dialogs themselves, and writes nothing outside;
paths inside work as before. The local app keeps saving wherever it is told."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tui_helpers import make_play_app, rendered, settle, start_play, wait_until

from arlm_tui import paths
from arlm_tui.tui.screens.dialogs import SERVED_NOTE, FileDialog, ModelPicker

NOTICE = "files stay in your own folder"


@pytest.fixture
def served(_arlm_home, tmp_path, monkeypatch) -> Path:
    """This test's app is served: its data folder (ARLM_HOME) is the visitor's folder."""
    monkeypatch.setenv(paths.SERVED_ENV, str(_arlm_home))
    (tmp_path / "outside").mkdir()
    return _arlm_home.resolve()


async def type_into(pilot, dialog, text: str) -> None:
    dialog.query_one("#dialog-input").value = text
    await pilot.press("enter")


async def test_served_save_refuses_outside_paths_and_saves_inside(served, tmp_path):
    outside = tmp_path / "outside"
    victim = outside / "bashrc"
    victim.write_text("keep me\n")
    app = make_play_app(strategy="sample", knobs={"seed": 5})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space")
        await pilot.press("ctrl+s")
        dialog = app.screen
        assert isinstance(dialog, FileDialog)
        help_text = rendered(dialog.query_one(".dialog-help"))
        assert SERVED_NOTE in help_text  # said before typing
        # the visitor's own words for where things go, no folder of the server's
        assert "saved in sessions" in help_text and str(served) not in help_text
        assert "elsewhere" not in help_text
        for text in (str(victim), str(outside / "new.json"), "../escape.json", "~/.bashrc",
                     "sessions/../../x.json"):
            await type_into(pilot, dialog, text)
            assert app.screen is dialog, text
            error = rendered(dialog.query_one("#dialog-error"))
            assert NOTICE in error and text in error and "\n" not in error
        assert victim.read_text() == "keep me\n" and sorted(outside.iterdir()) == [victim]
        assert not (served.parent / "escape.json").exists()

        await type_into(pilot, dialog, "notes/mine.json")  # a relative path: in the folder
        assert app.screen is screen
        await wait_until(pilot, lambda: any("saved notes/mine.json" in str(n.message)
                                            for n in app._notifications))
        saved = served / "notes" / "mine.json"
        assert json.loads(saved.read_text())["model"] == "pyref-word-kn3"
        await pilot.press("ctrl+s")
        await type_into(pilot, app.screen, "mine")  # a name alone: sessions/ as before
        assert app.screen is screen and (served / "sessions" / "mine.json").is_file()


async def test_served_save_refuses_a_symlink_out_of_the_folder(served, tmp_path):
    outside = tmp_path / "outside"
    (served / "sessions").mkdir()
    (served / "sessions" / "out").symlink_to(outside)
    app = make_play_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await start_play(pilot)
        await pilot.press("ctrl+s")
        dialog = app.screen
        await type_into(pilot, dialog, "sessions/out/x.json")
        assert app.screen is dialog
        error = rendered(dialog.query_one("#dialog-error"))
        assert NOTICE in error and str(outside) not in error
        assert list(outside.iterdir()) == []


async def test_served_open_refuses_outside_files_and_opens_inside(served, tmp_path):
    app = make_play_app(strategy="sample", knobs={"seed": 5})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space")
        session_json = screen.session.to_json()
        outside = tmp_path / "outside" / "theirs.json"  # a valid session, outside the folder
        outside.write_text(session_json)
        (served / "sessions").mkdir()
        (served / "sessions" / "mine.json").write_text(session_json)
        await pilot.press("ctrl+o")
        dialog = app.screen
        assert isinstance(dialog, FileDialog)
        for text in (str(outside), "/etc/passwd", "../" * 12 + "etc/passwd"):
            await type_into(pilot, dialog, text)
            assert app.screen is dialog, text
            error = rendered(dialog.query_one("#dialog-error"))
            assert NOTICE in error and "root:" not in error
        assert screen.replay_total is None  # nothing was opened
        await type_into(pilot, dialog, "mine")  # listed and typed by name: inside, opens
        await settle(pilot)
        assert app.screen is screen and screen.replay_total == 2


async def test_served_session_naming_an_outside_model_is_not_loaded(served):
    """A session file's "model" may be a path (it is data): loading it as named goes through
    the same policy, so a folder outside the visitor's is refused, not read."""
    outside_model = paths.models_dir() / "pyref-word-kn3"  # loadable, but not the visitor's
    app = make_play_app(model="oracle-kn3")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        data = json.loads(screen.session.to_json())
        data["model"] = str(outside_model)
        file = served / "sessions" / "crafted.json"
        file.parent.mkdir()
        file.write_text(json.dumps(data))
        screen.open_session(file, model_choice="named")
        await settle(pilot)
        assert screen.session.model.name == "oracle-kn3" and screen.replay_total is None
        assert NOTICE in (screen.runner.last_error or "")


async def test_served_model_picker_refuses_outside_folders(served):
    app = make_play_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("m")
        picker = app.screen
        assert isinstance(picker, ModelPicker)
        path_input = picker.query_one("#picker-path")
        for text in (str(paths.models_dir() / "oracle-kn3"), "/etc", "hf:/etc", "../../x"):
            path_input.value = text
            path_input.focus()
            await pilot.press("enter")
            assert app.screen is picker, text
            assert NOTICE in rendered(picker.query_one("#dialog-error"))
        path_input.value = "oracle-kn3"  # a bundled model by name still loads
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.session.model.name == "oracle-kn3"


async def test_served_exports_stay_in_the_folder(served, tmp_path):
    outside = tmp_path / "outside"
    app = make_play_app(strategy="sample", knobs={"seed": 2})
    async with app.run_test(size=(100, 30)) as pilot:
        await start_play(pilot)
        await pilot.press("space")
        await settle(pilot)
        await pilot.press("e")  # the session as a page
        await wait_until(pilot, lambda: any((served / "sessions").glob("*.html")))
        # Textual's own screenshot action names any folder and file: ours ignores them
        app.action_screenshot("bashrc", str(outside))
        await wait_until(pilot, lambda: any((served / "screenshots").glob("*.svg")))
        assert list(outside.iterdir()) == []


async def test_local_app_saves_anywhere_it_is_told(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.SERVED_ENV, raising=False)
    app = make_play_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "ctrl+s")
        dialog = app.screen
        assert SERVED_NOTE not in rendered(dialog.query_one(".dialog-help"))
        await type_into(pilot, dialog, "~nosuchuser-arlm/s.json")  # a line, not a crash
        assert app.screen is dialog
        assert "no such user" in rendered(dialog.query_one("#dialog-error"))
        await type_into(pilot, dialog, str(tmp_path / "elsewhere" / "s.json"))
        assert app.screen is screen
        assert (tmp_path / "elsewhere" / "s.json").is_file()


async def test_any_browser_server_confines_paths_too(_arlm_home, monkeypatch):
    """Served by something else than ``arlm serve`` (``textual serve "arlm"``): the app sees it
    runs in a browser and keeps typed paths in its data folder all the same."""
    from arlm_tui.tui.app import ArlmApp
    from arlm_tui.tui.settings import Settings

    monkeypatch.setenv(paths.SERVED_ENV, "")  # so that the test's change is undone after it
    monkeypatch.delenv(paths.SERVED_ENV)
    monkeypatch.setattr(ArlmApp, "is_web", property(lambda self: True))
    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert paths.served_root() == _arlm_home.resolve()
        with pytest.raises(paths.PathRefused):
            paths.user_path("/etc/passwd")


async def test_local_model_picker_takes_paths_and_says_what_is_wrong(monkeypatch):
    monkeypatch.delenv(paths.SERVED_ENV, raising=False)
    app = make_play_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("m")
        picker = app.screen
        path_input = picker.query_one("#picker-path")
        path_input.focus()
        for text, needle in (("~nosuchuser-arlm/m", "no such user"),
                             ("/nonexistent-arlm/m", "no such file or directory")):
            path_input.value = text
            await pilot.press("enter")
            assert app.screen is picker and needle in rendered(picker.query_one("#dialog-error"))
        path_input.value = str(paths.models_dir() / "oracle-kn3")  # any folder, locally
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.session.model.name == "oracle-kn3"


async def test_served_screenshot_folder_linked_out_is_a_line_not_a_crash(served, tmp_path):
    outside = tmp_path / "outside"
    (served / "screenshots").symlink_to(outside)
    app = make_play_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await start_play(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert app.is_running and list(outside.iterdir()) == []
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert any("could not save the screenshot in screenshots" in m and NOTICE in m
                   for m in errors), errors
        await pilot.press("e")  # the page goes to sessions/, a real folder: saved
        await wait_until(pilot, lambda: any((served / "sessions").glob("*.html")))
        assert any(n.message.startswith("page saved: sessions/") for n in app._notifications)
