"""The checks ``tests/test_add_a_processor.py`` runs against a copy of ``arlm_tui`` whose
``decoding/processors.py`` gained the ``Floor`` class of ``floor.py`` (listed in ``PROCESSORS``
after ``TopK``) and nothing else: the new knob ``floor_p`` must then reach the config, the
processors, ``warp``, the command line and its JSON, the knob panel, the labs' playground, the
why-line, the descriptions and saved sessions by itself.

Run only in that copy (the name does not start with ``test_``, so the suite does not collect it).
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from textual.app import App
from textual.screen import Screen
from tui_helpers import make_play_app, rendered, settle, start_play

from arlm_tui import paths
from arlm_tui.cli import main
from arlm_tui.decoding import DecodingConfig, Session
from arlm_tui.decoding.config import KNOBS, PLAYGROUND_KNOBS
from arlm_tui.decoding.explain import explain
from arlm_tui.decoding.processors import (
    PROCESSOR_ORDER,
    PROCESSORS,
    TRUNCATOR_NAMES,
    WARPER_KNOBS,
    make_processors,
    softmax,
    warp,
)
from arlm_tui.lm.registry import load_model

MODEL = "pyref-word-kn3"
KNOB_ERROR = "floor_p must be a number in [0, 1), got 1.5"  # the Knob's own message


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL)


# ---------------------------------------------------------------- the class and its tables
def test_the_class_is_in_the_one_list_in_its_order():
    names = [cls.name for cls in PROCESSORS]
    assert names.index("floor") == names.index("top_k") + 1
    assert PROCESSOR_ORDER == tuple(names)
    assert "floor" in TRUNCATOR_NAMES and "floor_p" in WARPER_KNOBS


def test_floor_removes_what_is_below_it():
    z = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    (floor,) = make_processors(floor_p=0.1)
    out = floor((), z)
    assert np.isneginf(out[3]) and np.array_equal(out[:3], z[:3])
    (floor,) = make_processors(floor_p=0.9)  # nothing reaches 0.9: the most probable stays
    assert np.isfinite(floor((), z)).tolist() == [True, False, False, False]


# ---------------------------------------------------------------- config: one range, one message
def test_the_config_has_the_knob_and_checks_its_range_once():
    knob = KNOBS["floor_p"]
    assert knob.off == 0.0 and knob.group == "sampling" and knob.strategies == ("sample",)
    assert DecodingConfig().floor_p == 0.0
    config = DecodingConfig(strategy="sample", floor_p=0.2)
    assert config.floor_p == 0.2 and config.replace(floor_p=0.3).floor_p == 0.3
    assert config.to_dict()["floor_p"] == 0.2
    assert DecodingConfig.from_dict(config.to_dict()) == config
    assert config.warp_knobs()["floor_p"] == 0.2
    assert config.active_knobs()["floor_p"] == 0.2
    assert DecodingConfig(floor_p=0.2).ignored_knobs() == ["floor_p"]  # greedy ignores it
    messages = []
    for attempt in (lambda: DecodingConfig(floor_p=1.5),
                    lambda: DecodingConfig().replace(floor_p=1.5),
                    lambda: make_processors(floor_p=1.5),
                    lambda: warp(np.zeros(3), floor_p=1.5)):
        with pytest.raises(ValueError) as info:
            attempt()
        messages.append(str(info.value))
    assert messages == [KNOB_ERROR] * 4


# ---------------------------------------------------------------- processors and warp, in order
def test_make_processors_and_warp_apply_it_in_its_order():
    names = [p.name for p in make_processors(temperature=0.8, top_k=3, floor_p=0.12, top_p=0.8)]
    assert names == ["temperature", "top_k", "floor", "top_p"]
    assert "floor" not in [p.name for p in make_processors(floor_p=0.12, sampling=False)]
    z = np.log(np.array([0.4, 0.35, 0.15, 0.1]))
    # floor before top-p: 0.1 goes, then 0.4 + 0.35 of the 0.9 left covers 0.8: two tokens.
    # (Top-p first would keep three, and the floor would not cut the third.)
    assert np.count_nonzero(warp(z, floor_p=0.12, top_p=0.8)) == 2
    composed = z
    for processor in make_processors(top_k=3, floor_p=0.12, top_p=0.8):
        composed = processor((), composed)
    assert np.allclose(warp(z, top_k=3, floor_p=0.12, top_p=0.8), softmax(composed))
    assert np.count_nonzero(warp(z, top_p=0.8)) == 3


# ---------------------------------------------------------------- the command line
def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_generate_has_the_flag_and_its_json_uses_it(capsys):
    code, out, _ = run(capsys, "generate", "--help")
    assert code == 0 and "--floor-p" in out and "below floor_p" in out
    code, out, _ = run(capsys, "play", "--help")
    assert code == 0 and "--floor-p" in out
    base = ["generate", "--model", MODEL, "--prompt", "the value", "--max-tokens", "12",
            "--json"]
    code, out, _ = run(capsys, *base)
    greedy = json.loads(out)
    code, out, _ = run(capsys, *base, "--strategy", "sample", "--seed", "3", "--floor-p", "0.99")
    assert code == 0
    floored = json.loads(out)
    assert floored["config"]["floor_p"] == 0.99
    assert any(label.startswith("floor-p = 0.99") for label in floored["chain"])
    # a floor of 0.99 leaves one token at each step: sampling gives the greedy text
    assert floored["token_ids"] == greedy["token_ids"]
    assert all(step["kept"] == 1 for step in floored["steps"])
    code, _, err = run(capsys, *base, "--strategy", "sample", "--floor-p", "1.5")
    # the command line names the knob by its flag
    assert code == 2 and f"--{KNOB_ERROR.replace('floor_p', 'floor-p')}" in err
    assert len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- why-line and descriptions
def test_the_why_line_names_it_when_it_removed_tokens(model):
    session = Session(model, "the value of", strategy="sample", seed=1, floor_p=0.05)
    trace = session.step()
    stage = next(s for s in trace.stages if s.name == "floor")
    assert stage.removed  # the bundled model spreads its mass: a 5% floor cuts some tokens
    line = explain(trace)
    assert line.startswith("floor-p = 0.05 kept "), line


def test_the_html_page_of_a_session_shows_what_it_removed(model):
    from arlm_tui.export_html import session_page

    session = Session(model, "the value of", strategy="sample", seed=1, floor_p=0.05)
    session.step()
    page = session_page(session)
    assert "removed by floor" in page and "floor-p = 0.05 kept " in page


def test_the_strategy_game_describes_it():
    from arlm_tui.games.name_that_strategy import describe

    text = describe(DecodingConfig(strategy="sample", top_k=5, floor_p=0.05, top_p=0.9))
    assert text == (
        "keeps only the 5 most probable tokens, then applies floor-p = 0.05 (drop tokens whose "
        "probability is below floor_p), then keeps the most probable tokens until they cover "
        "90% of the probability, then draws one token at random"), text


# ---------------------------------------------------------------- saved sessions
def test_a_saved_session_round_trips_its_value(model):
    session = Session(model, "the value of", strategy="sample", seed=2, floor_p=0.05)
    session.step()
    session.configure(floor_p=0.1)
    session.step()
    data = json.loads(session.to_json())
    again = Session.from_json(json.dumps(data), model=model)
    assert again.config.floor_p == 0.1 and again.config == session.config
    assert [t.chosen_id for t in again.traces] == [t.chosen_id for t in session.traces]
    assert [t.config["floor_p"] for t in again.traces] == [0.05, 0.1]


# ---------------------------------------------------------------- the knob panel
async def test_the_knob_panel_shows_a_row_and_adjusts_it():
    from arlm_tui.tui.widgets.knob_panel import PANEL_KNOBS, KnobPanel

    assert "floor_p" in PANEL_KNOBS
    app = make_play_app(strategy="sample", knobs={"seed": 4, "floor_p": 0.05})
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await start_play(pilot)
        panel = screen.query_one(KnobPanel)
        panel.focus()
        panel.select("floor_p")
        await pilot.pause()
        assert "floor-p" in rendered(panel)
        assert "drop tokens whose" in rendered(panel)  # its help, under the rows
        await pilot.press("right")  # one fine step: 0.05 → 0.06
        await settle(pilot)
        assert screen.session.config.floor_p == pytest.approx(0.06)
        await pilot.press("space")
        await settle(pilot)
        trace = screen.session.traces[-1]
        assert any(s.label == "floor-p = 0.06" for s in trace.stages)


# ---------------------------------------------------------------- the labs' playground
class LabApp(App[None]):
    """A bare app that opens one screen (as in tests/test_tui_learn.py)."""

    def __init__(self, make_screen: Callable[[], Screen]) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.animation_level = "none"

    def on_mount(self) -> None:
        self.push_screen(self.make_screen())


def plain(renderable, width: int = 100) -> str:
    """A Rich renderable as plain text, its lines joined by spaces."""
    console = Console(width=width, file=io.StringIO(), record=True)
    console.print(renderable)
    return " ".join(console.export_text().split())


def lesson_with_floor(tmp_path: Path, value: str) -> Path:
    folder = tmp_path / "06-decoding"
    shutil.copytree(paths.lessons_dir() / "06-decoding", folder)
    meta = folder / "lesson.yaml"
    text = meta.read_text()
    anchor = "      min_p: 0.0\n"
    assert anchor in text
    meta.write_text(text.replace(anchor, anchor + f"      floor_p: {value}\n", 1))
    return folder


def test_a_lesson_preset_may_set_it_and_its_range_is_checked(tmp_path):
    from arlm_tui.learn.labs import preset_result
    from arlm_tui.learn.lessons.loader import LessonLoadError, load_lesson

    assert "floor_p" in PLAYGROUND_KNOBS
    lesson = load_lesson(lesson_with_floor(tmp_path / "good", "0.2"))
    lab = next(lab for lab in lesson.labs if lab.kind == "decoding_playground")
    assert lab.preset["floor_p"] == 0.2
    result = preset_result(lab.kind, lab.preset)
    removed = {row.token: row.removed_by for row in result.rows}
    # p = softmax(2, 1, 0.5, -1) = 0.61, 0.22, 0.14, 0.03: the floor of 0.2 cuts two tokens
    assert removed == {"hot": None, "cold": None, "salty": "floor-p = 0.2",
                       "purple": "floor-p = 0.2"}
    with pytest.raises(LessonLoadError) as info:
        load_lesson(lesson_with_floor(tmp_path / "bad", "1.5"))
    assert "floor_p" in str(info.value)


async def test_the_playground_lab_offers_it(tmp_path):
    from arlm_tui.learn.lessons.loader import load_lesson
    from arlm_tui.tui.screens.lab import LabScreen
    from arlm_tui.tui.widgets.labs import PLAYGROUND_KNOBS as ROWS
    from arlm_tui.tui.widgets.labs import LabView

    rows = [name for name, *_ in ROWS]
    assert "floor_p" in rows
    lesson = load_lesson(lesson_with_floor(tmp_path, "0.0"))
    lab = next(lab for lab in lesson.labs if lab.kind == "decoding_playground")

    async with LabApp(lambda: LabScreen(lab, lesson.title)).run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        view = pilot.app.screen.query_one(LabView)
        assert view.result.kept == 4
        await pilot.press(*["down"] * rows.index("floor_p"), *["right"] * 20)  # 0 -> 0.2
        await settle(pilot)
        assert view.knobs["floor_p"] == pytest.approx(0.2)
        assert view.result.kept == 2
        assert "floor-p = 0.2" in plain(view.render())
