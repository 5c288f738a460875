"""Snapshots of the main views at a fixed size and seed (baselines in tests/snapshots/).

Update them after an intended change with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at the SVGs before committing. Parts of the screen that depend on
what else is installed (the model list, the lesson count) are pinned so the baselines only
change when the interface does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_textual_snapshot import SVGImageExtension
from tui_helpers import settle

from arlm_tui.lm import registry
from arlm_tui.tui import summaries
from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.settings import Settings

SIZE = (100, 30)
PINNED_MODELS = ("pyref-word-kn3", "oracle", "oracle-kn3")


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


@pytest.fixture(autouse=True)
def pinned(monkeypatch):
    every = registry.list_models()
    monkeypatch.setattr(registry, "list_models",
                        lambda: [e for e in every if e.name in PINNED_MODELS])
    monkeypatch.setattr(summaries, "play_summary",
                        lambda: "step through generation · 3 models")
    monkeypatch.setattr(summaries, "lessons_summary",
                        lambda: "10 lessons, 0 completed · read, check yourself, open the labs")
    monkeypatch.setattr(summaries, "cards_summary",
                        lambda: "95 cards, 0 reviews · spaced repetition (FSRS)")


def play_app(**play) -> ArlmApp:
    return ArlmApp("play", model="pyref-word-kn3", settings=Settings(), save_settings=False,
                   **play)


def test_home_screen(snap_compare):
    app = ArlmApp(settings=Settings(), save_settings=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_play_screen_sampling(snap_compare):
    app = play_app(prompt="the value of", strategy="sample",
                   knobs={"temperature": 0.8, "top_p": 0.9, "seed": 0})

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("space", "space", "space")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_play_screen_beam(snap_compare):
    app = play_app(prompt="the value of", strategy="beam", knobs={"beam_width": 4})

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("space", "space")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_compare_view(snap_compare):
    app = ArlmApp("play", model="oracle-kn3", prompt="one morning, a climber walked to the",
                  strategy="greedy", settings=Settings(), save_settings=False)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
