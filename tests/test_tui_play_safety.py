"""A saved session is data, not a command, and a failure in a worker never ends the app.

A session file's "model" field names the model that made it: one installed here is loaded as
named; anything else (an unknown name, a path, an hf: checkpoint) is loaded only after the
learner says so. A model that raises in the middle of a step or of a view leaves a message and
a usable screen."""

from __future__ import annotations

import json

import pytest
from tui_helpers import make_play_app, rendered, settle, start_play

from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.session import Session
from arlm_tui.lm.registry import load_model
from arlm_tui.tui.screens.dialogs import ChoiceDialog
from arlm_tui.tui.screens.play import PlayScreen
from arlm_tui.tui.session_files import sessions_dir


def saved_session(model_name: str, *, named: str | None = None, steps: int = 3) -> str:
    """A session of ``steps`` greedy steps with ``model_name``, saved in sessions/; its "model"
    field rewritten to ``named`` when given. Returns the file's bare name."""
    session = Session(load_model(model_name), "the value of" if "pyref" in model_name
                      else "one morning ,", DecodingConfig(strategy="greedy"))
    for _ in range(steps):
        session.step()
    data = json.loads(session.to_json())
    if named is not None:
        data["model"] = named
    folder = sessions_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{(named or model_name).replace('/', '_').replace(':', '_')}.json"
    (folder / name).write_text(json.dumps(data), encoding="utf-8")
    return name


async def open_by_name(pilot, name: str) -> None:
    await pilot.press("ctrl+o")
    pilot.app.screen.query_one("#dialog-input").value = name
    await pilot.press("enter")
    await settle(pilot)


async def test_a_session_of_an_installed_model_opens_without_asking():
    name = saved_session("oracle")
    app = make_play_app()  # pyref-word-kn3 in use
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await open_by_name(pilot, name)
        assert app.screen is screen
        assert screen.session.model.name == "oracle" and screen.replay_total == 3


@pytest.mark.parametrize("named", ["/dev/zero", "hf:/somewhere/gpt2", "not-installed-model"])
async def test_a_session_naming_a_path_or_unknown_model_asks_first(named, monkeypatch):
    loaded = []
    from arlm_tui.lm import registry

    real_load = registry.load_model
    monkeypatch.setattr(registry, "load_model",
                        lambda spec=None: loaded.append(spec) or real_load(spec))
    name = saved_session("pyref-word-kn3", named=named)
    app = make_play_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        before = screen.session
        await open_by_name(pilot, name)
        dialog = app.screen
        assert isinstance(dialog, ChoiceDialog)  # asked, nothing loaded yet
        assert named in rendered(dialog.query_one(".dialog-title"))
        assert named not in [str(spec) for spec in loaded]
        await pilot.press("escape")  # no: nothing happens
        await settle(pilot)
        assert app.screen is screen and screen.session is before
        assert named not in [str(spec) for spec in loaded]

        await open_by_name(pilot, name)  # replay it with the model in use instead
        dialog = app.screen
        options = dialog.query_one("#choice-list")
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids == ["named", "current", "cancel"]
        await pilot.press("enter")  # the model in use is the highlighted answer
        await settle(pilot)
        assert app.screen is screen and screen.replay_total == 3
        assert screen.session.model.name == "pyref-word-kn3"
        assert named not in [str(spec) for spec in loaded]


async def test_loading_the_named_model_on_request_fails_with_a_message_not_an_exit():
    name = saved_session("pyref-word-kn3", named="/no/such/model/dir")
    app = make_play_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await open_by_name(pilot, name)
        assert isinstance(app.screen, ChoiceDialog)
        # the highlighted answer is the safe one (the model in use): loading takes a move up
        assert app.screen.query_one("#choice-list").highlighted == 1
        await pilot.press("up", "enter")  # "load /no/such/model/dir"
        await settle(pilot)
        assert app.is_running and app.screen is screen and not screen.busy
        assert "/no/such/model/dir" in screen.last_error
        await pilot.press("space")  # the screen still works
        assert len(screen.session.traces) == 1


async def test_a_corrupt_or_deep_session_file_is_one_message():
    folder = sessions_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    app = make_play_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await open_by_name(pilot, "deep")
        assert app.is_running and "session" in screen.last_error
        await open_by_name(pilot, "binary")
        assert app.is_running and "UTF-8" in screen.last_error
        assert not screen.busy


class BrokenModel:
    """A model that fails in the middle of its work, as a corrupt checkpoint or a bug would."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def start(self, *args, **kwargs):
        raise RuntimeError("the weights are broken")

    def extend(self, *args, **kwargs):
        raise RuntimeError("the weights are broken")

    def next_logprobs(self, *args, **kwargs):
        raise RuntimeError("the weights are broken")


@pytest.mark.parametrize("threaded", [False, True])
async def test_a_model_failing_mid_step_leaves_a_message_and_a_running_app(threaded):
    app = make_play_app(strategy="sample")
    async with app.run_test(size=(100, 30)) as pilot:
        screen: PlayScreen = await start_play(pilot)
        screen.always_threaded = threaded
        good = screen.session.model
        screen.session.model = BrokenModel(good)
        await pilot.press("space")
        await settle(pilot)
        assert app.is_running and not screen.busy
        assert "RuntimeError" in screen.last_error and "broken" in screen.last_error
        # what the session holds is what the screen shows (a step may have gone through on
        # log-probs computed before the model broke; the preview after it could not)
        assert len(screen.snap.pieces) == len(screen.session.traces) <= 1
        await pilot.press("4")  # the sample-N view runs the model in its own worker
        await settle(pilot)
        assert app.is_running
        assert "broken" in rendered(screen.query_one("#view-samples"))
        screen.session.model = good  # the screen is still usable
        steps = len(screen.session.traces)
        await pilot.press("1", "space")
        await settle(pilot)
        assert len(screen.session.traces) == steps + 1
        assert len(screen.snap.pieces) == steps + 1
