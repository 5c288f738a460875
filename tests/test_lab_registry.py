"""Lab kinds are registered once: one engine module (``arlm_tui.learn.labs.<kind>``) and one
view module (``arlm_tui.tui.widgets.labs.<kind>``) per kind, and ``LAB_KINDS``, the lesson
loader, ``preset_result`` and ``make_lab_view`` all read the same registry: a kind registered
in a test appears in every one of them."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text

import arlm_tui.learn.labs as engine_package
import arlm_tui.tui.widgets.labs as view_package
from arlm_tui.learn import LAB_KINDS
from arlm_tui.learn.labs import LAB_REGISTRY, preset_result, register_lab
from arlm_tui.learn.lessons import LessonLoadError, load_lesson
from arlm_tui.tui.widgets.labs import LAB_VIEWS, LabView, make_lab_view


def _modules(package: Any) -> set[str]:
    return {m.name for m in pkgutil.iter_modules(package.__path__)} - {"base"}


def test_every_kind_has_one_engine_module_and_one_view_module():
    engine_modules = _modules(engine_package)
    view_modules = _modules(view_package)
    assert len(LAB_REGISTRY) >= 12
    assert set(LAB_REGISTRY) == engine_modules == view_modules == set(LAB_VIEWS)
    assert set(LAB_KINDS) == set(LAB_REGISTRY)
    for kind, lab_kind in LAB_REGISTRY.items():
        assert lab_kind.module == f"arlm_tui.learn.labs.{kind}"
        assert LAB_VIEWS[kind].__module__ == f"arlm_tui.tui.widgets.labs.{kind}"
        assert LAB_KINDS[kind] is lab_kind.spec
        # each engine module registers exactly its own kind
        module = importlib.import_module(lab_kind.module)
        assert module.from_preset is lab_kind.from_preset


def test_a_kind_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="registered twice"):
        register_lab("chain_rule", ("conditionals",))(lambda p: None)
    with pytest.raises(TypeError, match="two views"):
        type("SecondChainRuleView", (LabView,), {"KIND": "chain_rule"})
    with pytest.raises(TypeError, match="not a lab kind"):
        type("OrphanView", (LabView,), {"KIND": "no_such_kind"})
    assert LAB_VIEWS["chain_rule"].__name__ == "ChainRuleView"


@dataclass(frozen=True)
class Doubled:
    values: tuple[float, ...]


@pytest.fixture
def doubling_kind():
    """A lab kind added the way a new one is: an engine registration and a view class."""

    @register_lab("doubling", ("values",), ("title",), description="each value times two")
    def from_preset(p: dict[str, Any]) -> Doubled:
        return Doubled(tuple(2 * float(v) for v in p["values"]))

    class DoublingView(LabView):
        KIND = "doubling"

        def compute(self) -> Doubled:
            return from_preset(dict(self.preset))

        def draw(self, result: Doubled) -> Text:
            return Text(" ".join(f"{v:g}" for v in result.values))

    try:
        yield DoublingView
    finally:
        LAB_REGISTRY.pop("doubling", None)
        LAB_VIEWS.pop("doubling", None)


LESSON_YAML = """\
id: 99-doubling
title: Doubling
order: 99
summary: A lesson with a lab kind added by a test.
questions:
  - {{id: q1, kind: choice, prompt: Two times one?, choices: ["1", "2"], answer: 1, explanation: Two.}}
cards: []
labs:
  - id: lab1
    kind: doubling
    title: Double them
    intro: Each value is doubled.
    preset: {preset}
"""


def _lesson(tmp_path: Path, preset: str) -> Path:
    folder = tmp_path / "99-doubling"
    folder.mkdir()
    (folder / "lesson.yaml").write_text(LESSON_YAML.format(preset=preset), encoding="utf-8")
    (folder / "lesson.md").write_text("# Doubling\n\nTwo times.\n", encoding="utf-8")
    return folder


def test_a_kind_registered_in_a_test_appears_everywhere(doubling_kind, tmp_path):
    assert "doubling" in LAB_KINDS and LAB_KINDS["doubling"].required == ("values",)
    lesson = load_lesson(_lesson(tmp_path, "{values: [1, 2.5]}"))
    lab = lesson.labs[0]
    assert lab.kind == "doubling"
    assert preset_result(lab.kind, lab.preset) == Doubled((2.0, 5.0))
    view = make_lab_view(lab)
    assert isinstance(view, doubling_kind)
    assert view.compute() == Doubled((2.0, 5.0))


def test_the_loader_checks_a_new_kinds_keys(doubling_kind, tmp_path):
    with pytest.raises(LessonLoadError, match="unknown key 'colour'"):
        load_lesson(_lesson(tmp_path, "{values: [1], colour: red}"))


def test_an_unregistered_kind_is_refused_everywhere(tmp_path):
    assert "doubling" not in LAB_KINDS
    with pytest.raises(LessonLoadError, match="unknown lab kind 'doubling'"):
        load_lesson(_lesson(tmp_path, "{values: [1]}"))
    with pytest.raises(ValueError, match="kind"):
        preset_result("doubling", {"values": [1]})
