"""Served arlm keeps every typed path in the visitor's own folder (``paths.user_path``); the
local app takes paths as typed. The policy itself here; the dialogs that use it in
test_tui_served_files.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from arlm_tui import paths
from arlm_tui.errors import ArlmError
from arlm_tui.paths import PathRefused
from arlm_tui.tui.session_files import session_path, sessions_dir

NOTICE = "files stay in your own folder"


@pytest.fixture
def visitor(tmp_path, monkeypatch) -> Path:
    """A served visitor: its folder is ARLM_HOME and ARLM_SERVED; an outside folder beside it."""
    folder = tmp_path / "served" / "visitor-0123"
    folder.mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    monkeypatch.setenv("ARLM_HOME", str(folder))
    monkeypatch.setenv(paths.SERVED_ENV, str(folder))
    return folder.resolve()


def refused(text: str) -> str:
    with pytest.raises(PathRefused) as caught:
        paths.user_path(text)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- local: as typed
def test_local_paths_are_taken_as_typed(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.SERVED_ENV, raising=False)
    assert paths.served_root() is None
    assert paths.user_path("/etc/passwd") == Path("/etc/passwd")
    assert paths.user_path("../x.json") == Path("../x.json")
    assert paths.user_path("~/x.json") == Path.home() / "x.json"
    assert paths.user_model("/etc") == "/etc"
    assert paths.user_model("hf:~/gpt2") == "hf:~/gpt2"
    assert session_path("/tmp/x/y.json") == Path("/tmp/x/y.json")
    assert session_path("mine") == sessions_dir() / "mine.json"
    with pytest.raises(ArlmError, match="no such user"):  # one line, not a RuntimeError
        paths.user_path("~nosuchuser-arlm/x.json")


# ---------------------------------------------------------------- served: the visitor's folder
def test_served_relative_paths_land_in_the_visitors_folder(visitor):
    assert paths.served_root() == visitor
    assert paths.user_path("a/b.json") == visitor / "a" / "b.json"
    assert paths.user_path("a/../b.json") == visitor / "b.json"  # a .. that stays inside
    assert paths.user_path(str(visitor / "sessions" / "x.json")) == visitor / "sessions/x.json"
    assert session_path("mine") == visitor / "sessions" / "mine.json"
    assert session_path("./notes/mine.json") == visitor / "notes" / "mine.json"


@pytest.mark.parametrize("text", ["/etc/passwd", "~/.bashrc", "~", "..", "../visitor-other/x",
                                  "a/../../x.json", "sessions/../../../etc/passwd"])
def test_served_paths_that_leave_the_folder_are_refused(visitor, text):
    message = refused(text)
    assert text in message and NOTICE in message
    with pytest.raises(PathRefused):
        session_path(text)


def test_served_absolute_path_of_another_visitor_is_refused(visitor):
    other = visitor.parent / "visitor-4567"
    other.mkdir()
    assert NOTICE in refused(str(other / "sessions" / "theirs.json"))


def test_served_symlink_out_of_the_folder_is_refused(visitor, tmp_path):
    outside = (tmp_path / "outside").resolve()
    (visitor / "sessions").mkdir()
    (visitor / "sessions" / "out").symlink_to(outside)  # a link an admin left (or anyone)
    (visitor / "bashrc.json").symlink_to(Path.home() / ".bashrc")
    for text in ("sessions/out", "sessions/out/x.json", "bashrc.json"):
        message = refused(text)
        assert str(outside) not in message and ".bashrc" not in message  # where it leads: unsaid
    (visitor / "sessions" / "rc.json").symlink_to(Path.home() / ".bashrc")
    with pytest.raises(PathRefused):
        session_path("rc")  # a bare name is sessions/rc.json: a link out is refused too
    (visitor / "sessions" / "inside").symlink_to(visitor / "notes")  # a link inside is fine
    assert paths.user_path("sessions/inside/x.json") == visitor / "notes" / "x.json"


def test_served_folder_reached_through_a_symlink_still_works(tmp_path, monkeypatch):
    real = tmp_path / "real-visitor"
    real.mkdir()
    (tmp_path / "link-visitor").symlink_to(real)
    monkeypatch.setenv(paths.SERVED_ENV, str(tmp_path / "link-visitor"))
    assert paths.user_path("x.json") == real.resolve() / "x.json"
    assert paths.user_path(str(tmp_path / "link-visitor" / "x.json")) == real.resolve() / "x.json"
    with pytest.raises(PathRefused):
        paths.user_path(str(tmp_path / "x.json"))


def test_served_models_by_name_or_inside_the_folder(visitor, tmp_path):
    assert paths.user_model("pyref-word-kn3") == "pyref-word-kn3"  # bundled: by name
    own = visitor / "models" / "mine"
    own.mkdir(parents=True)
    (own / "config.json").write_text("{}")
    assert paths.user_model("mine") == "mine"  # the visitor's own trained model, by name
    assert paths.user_model("folder/model") == str(visitor / "folder" / "model")
    assert paths.user_model("hf:gpt2") == "hf:" + str(visitor / "gpt2")
    bundled_folder = str(paths.models_dir() / "pyref-word-kn3")
    for text in ("/etc", "hf:/etc", "hf:~/gpt2", "../x", bundled_folder, "~"):
        with pytest.raises(PathRefused):
            paths.user_model(text)
    sentinel = object()  # a model object (not typed text) passes as it is
    assert paths.user_model(sentinel) is sentinel


def test_served_model_loader_refuses_an_outside_folder(visitor):
    from arlm_tui.lm.registry import load_model

    assert load_model(paths.user_model("pyref-word-kn3")).name == "pyref-word-kn3"
    with pytest.raises(PathRefused):
        load_model(paths.user_model(str(paths.models_dir() / "pyref-word-kn3")))


def test_arlm_serve_confines_each_visitor_to_its_folder(tmp_path, monkeypatch):
    """The command textual-serve runs for a visitor sets the folder as home and as the
    confinement (the app itself is not started here)."""
    import os

    from arlm_tui import serve
    from arlm_tui.tui import app

    seen = {}

    def fake_run_app() -> int:
        seen.update(home=os.environ["ARLM_HOME"], served=paths.served_root(), cwd=Path.cwd(),
                    typed=paths.user_path("x.json"))
        return 0

    monkeypatch.setattr(app, "run_app", fake_run_app)
    monkeypatch.setenv(paths.SERVED_ENV, "")  # restored after the test, as are home and cwd
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "served" / "visitor-ab"
    assert serve.run_visitor(folder) == 0
    assert seen == {"home": str(folder), "served": folder.resolve(), "cwd": folder.resolve(),
                    "typed": folder.resolve() / "x.json"}


def test_served_app_writes_nothing_outside_the_folder(visitor, tmp_path):
    """The writer checks the policy again: a path that reached it without a dialog (a bug, a
    link swapped in after the dialog's check) is refused and nothing is written."""
    from arlm_tui import outputs

    outside = tmp_path / "outside"
    (visitor / "sessions").mkdir()
    (visitor / "sessions" / "out").symlink_to(outside)
    for target in (outside / "x.json", visitor / "sessions" / "out" / "x.json",
                   visitor / ".." / "x.json"):
        with pytest.raises(PathRefused):
            outputs.write_text(target, "{}")
    assert list(outside.iterdir()) == [] and not (visitor.parent / "x.json").exists()
    outputs.write_text(visitor / "sessions" / "in.json", "{}")
    assert (visitor / "sessions" / "in.json").read_text() == "{}"


def test_local_app_writes_where_it_is_told(tmp_path, monkeypatch):
    from arlm_tui import outputs

    monkeypatch.delenv(paths.SERVED_ENV, raising=False)
    outputs.write_text(tmp_path / "anywhere.json", "{}")
    assert (tmp_path / "anywhere.json").read_text() == "{}"


def test_shown_paths_name_no_server_folder_when_served(visitor, tmp_path, monkeypatch):
    assert paths.shown(visitor / "screenshots" / "a.svg") == "screenshots/a.svg"
    assert paths.shown(tmp_path / "elsewhere" / "b.svg") == "b.svg"
    monkeypatch.delenv(paths.SERVED_ENV)
    assert paths.shown(tmp_path / "c.svg") == str(tmp_path / "c.svg")
