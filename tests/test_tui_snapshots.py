"""Snapshots of every screen and view at 80×24 (the size most terminals open at) and 120×40,
with fixed seeds and models (baselines in tests/snapshots/).

Update them after an intended change with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at the SVGs before committing: nothing cut mid-number, the footer
keeping step/undo/help/quit. Parts of the screen that depend on what else is installed (the
model list, the lesson count) are pinned so the baselines only change when the interface does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_textual_snapshot import SVGImageExtension
from tui_helpers import settle

from arlm_tui.lm import registry
from arlm_tui.tui import summaries
from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.settings import Settings

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
PINNED_MODELS = ("pyref-word-kn3", "oracle", "oracle-kn3")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class SnapshotsFolder(SVGImageExtension):
    """Keep the SVG baselines in tests/snapshots/<test module>/ (not syrupy's __snapshots__)."""

    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(Path(test_location.filepath).parent / "snapshots" / test_location.basename)


@pytest.fixture
def snapshot(snapshot):
    """syrupy's snapshot with our folder; snap_compare's own use_extension keeps it."""
    assertion = snapshot.use_extension(SnapshotsFolder)
    object.__setattr__(assertion, "use_extension", lambda *_args, **_kwargs: assertion)
    return assertion


#: every installed model, before any test pins the list
EVERY_MODEL = registry.list_models


def pin_models(monkeypatch, names=PINNED_MODELS) -> None:
    every = EVERY_MODEL()
    monkeypatch.setattr(registry, "list_models", lambda: [e for e in every if e.name in names])


@pytest.fixture(autouse=True)
def pinned(monkeypatch):
    pin_models(monkeypatch)
    monkeypatch.setattr(summaries, "play_summary",
                        lambda: "step through generation · 3 models")
    monkeypatch.setattr(summaries, "lessons_summary",
                        lambda: "10 lessons, 0 completed · read, check yourself, open the labs")
    monkeypatch.setattr(summaries, "cards_summary",
                        lambda: "95 cards, 0 reviews · spaced repetition (FSRS)")


def home_app() -> ArlmApp:
    return ArlmApp(settings=Settings(), save_settings=False)


def play_app(model: str = "pyref-word-kn3", prompt: str = "the value of", **play) -> ArlmApp:
    knobs = {"seed": 0, **play.pop("knobs", {})}
    return ArlmApp("play", model=model, prompt=prompt, settings=Settings(), save_settings=False,
                   knobs=knobs, **play)


def keys(*presses: str):
    """run_before: settle, press the keys (each followed by settling), settle."""
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in presses:
            await pilot.press(key)
            await settle(pilot)

    return run_before


# --------------------------------------------------------------------------- home
@pytest.mark.parametrize("size", SIZES)
def test_home_screen(snap_compare, size):
    assert snap_compare(home_app(), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_settings_screen(snap_compare, size):
    assert snap_compare(home_app(), terminal_size=size, run_before=keys("s"))


# --------------------------------------------------------------------------- play, its six views
@pytest.mark.parametrize("size", SIZES)
def test_play_bars(snap_compare, size):
    app = play_app(strategy="sample", knobs={"temperature": 0.8, "top_p": 0.9})
    assert snap_compare(app, terminal_size=size, run_before=keys("space", "space", "space"))


@pytest.mark.parametrize("size", SIZES)
def test_play_beam(snap_compare, size):
    app = play_app(strategy="beam", knobs={"beam_width": 4})
    assert snap_compare(app, terminal_size=size, run_before=keys(*["space"] * 10))


@pytest.mark.parametrize("size", SIZES)
def test_play_compare(snap_compare, size):
    app = play_app("oracle-kn3", "one morning, a climber walked to the", strategy="greedy")
    assert snap_compare(app, terminal_size=size, run_before=keys("space", "3"))


@pytest.mark.parametrize("size", SIZES)
def test_play_sample_n(snap_compare, size):
    app = play_app("oracle-kn3", "one morning, a climber walked to the", strategy="sample")
    assert snap_compare(app, terminal_size=size, run_before=keys("4"))


@pytest.mark.parametrize("size", SIZES)
def test_play_attention(snap_compare, size, monkeypatch):
    pin_models(monkeypatch, (*PINNED_MODELS, "oracle-transformer"))
    app = play_app("oracle-transformer", "one morning, a climber walked to the",
                   strategy="greedy")
    assert snap_compare(app, terminal_size=size, run_before=keys("space", "5"))


@pytest.mark.parametrize("size", SIZES)
def test_play_speculative(snap_compare, size):
    app = play_app("oracle-kn3", "one morning, a climber walked to the", strategy="sample")
    assert snap_compare(app, terminal_size=size, run_before=keys("6"))


@pytest.mark.parametrize("size", SIZES)
def test_play_help(snap_compare, size):
    app = play_app(strategy="sample")
    assert snap_compare(app, terminal_size=size, run_before=keys("question_mark"))


# --------------------------------------------------------------------------- learning
@pytest.mark.parametrize("size", SIZES)
def test_lessons_list(snap_compare, size):
    assert snap_compare(home_app(), terminal_size=size, run_before=keys("l"))


def open_reader(app: ArlmApp) -> None:
    from arlm_tui.learn.lessons import load_lessons
    from arlm_tui.tui.screens.reader import LessonReaderScreen

    reader = LessonReaderScreen(app.progress_store, load_lessons(), "02-chain-rule")
    reader.clock = lambda: 0.0  # reading time stands still: the status is the same every run
    app.push_screen(reader)


@pytest.mark.parametrize("size", SIZES)
def test_lesson_reader(snap_compare, size):
    async def run_before(pilot) -> None:
        open_reader(pilot.app)
        await settle(pilot)

    assert snap_compare(home_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_lab(snap_compare, size):
    async def run_before(pilot) -> None:
        open_reader(pilot.app)
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)

    assert snap_compare(home_app(), terminal_size=size, run_before=run_before)


def small_deck(app: ArlmApp):
    from arlm_tui.learn.cards import Deck, Flashcard

    return Deck(app.progress_store, [
        Flashcard("lesson/c1", "What does the chain rule say?",
                  "p(x₁ … x_T) = ∏_t p(x_t | x_<t), exactly.", "lesson"),
        Flashcard("lesson/c2", "What is perplexity?", "exp of the mean NLL per token.",
                  "lesson")], new_per_day=5)


@pytest.mark.parametrize("size", SIZES)
def test_review(snap_compare, size):
    from arlm_tui.tui.screens.review import ReviewScreen

    async def run_before(pilot) -> None:
        pilot.app.push_screen(ReviewScreen(small_deck(pilot.app), clock=lambda: NOW))
        await settle(pilot)
        await pilot.press("space")
        await settle(pilot)

    assert snap_compare(home_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_stats(snap_compare, size):
    from arlm_tui.tui.screens.stats import StatsScreen

    async def run_before(pilot) -> None:
        pilot.app.push_screen(StatsScreen(small_deck(pilot.app), clock=lambda: NOW))
        await settle(pilot)

    assert snap_compare(home_app(), terminal_size=size, run_before=run_before)


# --------------------------------------------------------------------------- games
@pytest.mark.parametrize("size", SIZES)
def test_games_menu(snap_compare, size):
    assert snap_compare(home_app(), terminal_size=size, run_before=keys("g"))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("game", ["be-the-model", "name-that-strategy", "beat-greedy",
                                  "tune-the-knobs"])
def test_game(snap_compare, size, game):
    app = ArlmApp("games", game=game, seed=1, settings=Settings(), save_settings=False)
    assert snap_compare(app, terminal_size=size, run_before=settle)
