"""The lesson as data: a ``Lesson`` and its questions, cards, labs and facts, frozen, each with
the line of ``lesson.yaml`` it came from; ``LessonSet`` (what loaded and what did not) and
``LessonError`` (why a folder did not, as ``file:line: message``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arlm_tui.errors import ArlmError


@dataclass(frozen=True)
class Question:
    """A quiz question. ``answer``: an index (choice), a number (numeric) or accepted strings."""

    id: str
    kind: str
    prompt: str
    answer: int | float | tuple[str, ...]
    explanation: str
    choices: tuple[str, ...] = ()
    tolerance: float | None = None
    rel_tolerance: float | None = None
    fact: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Card:
    """A flashcard."""

    id: str
    front: str
    back: str
    line: int = 0


@dataclass(frozen=True)
class Lab:
    """An interactive lab: a registered ``kind`` and the parameters it starts with."""

    id: str
    kind: str
    title: str
    intro: str
    preset: Mapping[str, Any]
    line: int = 0


@dataclass(frozen=True)
class Fact:
    """A number the lesson states, with the recipe (``compute``) the engine recomputes it by."""

    id: str
    value: float
    compute: Mapping[str, Any]
    tolerance: float | None = None
    rel_tolerance: float | None = None
    shown: str | None = None
    line: int = 0

    @property
    def kind(self) -> str:
        return str(self.compute["kind"])


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    order: int
    summary: str
    prerequisites: tuple[str, ...]
    body_markdown: str
    toc: tuple[str, ...]
    questions: tuple[Question, ...]
    cards: tuple[Card, ...]
    labs: tuple[Lab, ...]
    facts: tuple[Fact, ...]
    folder: Path

    def question(self, question_id: str) -> Question:
        return by_id(self.questions, question_id, "question")

    def fact(self, fact_id: str) -> Fact:
        return by_id(self.facts, fact_id, "fact")


@dataclass(frozen=True)
class LessonError:
    """Why one lesson folder could not be loaded: ``file:line: message``."""

    folder: Path
    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else f"{self.file}"
        return f"{where}: {self.message}"


@dataclass
class LessonSet:
    """Every lesson that loaded (ordered by ``order``) and every folder that did not."""

    lessons: list[Lesson] = field(default_factory=list)
    broken: list[LessonError] = field(default_factory=list)

    def get(self, lesson_id: str) -> Lesson | None:
        return next((lesson for lesson in self.lessons if lesson.id == lesson_id), None)

    def __iter__(self) -> Iterator[Lesson]:
        return iter(self.lessons)

    def __len__(self) -> int:
        return len(self.lessons)


class LessonLoadError(ArlmError):
    """A lesson folder that cannot be used; ``.error`` holds the structured LessonError."""

    def __init__(self, error: LessonError):
        super().__init__(error.message, path=error.file, line=error.line)
        self.error = error



def by_id(items: Iterable[Any], item_id: str, what: str) -> Any:
    for item in items:
        if item.id == item_id:
            return item
    raise KeyError(f"no {what} with id {item_id!r}")

