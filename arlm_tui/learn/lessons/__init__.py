"""Lessons: load and validate ``lessons/NN-slug/`` folders, and grade quiz answers.

A lesson is a folder ``NN-slug`` holding ``lesson.md`` (the text; ``##`` headings form its table
of contents; links to other lessons are written ``[text](lesson:03-maximum-likelihood)``) and
``lesson.yaml`` (metadata, questions, flashcards, labs and facts)::

    id: 05-ngrams                  # must equal the folder name
    title: n-gram models
    order: 5
    summary: one sentence
    prerequisites: [04-tokenization]
    questions:                     # kind: choice | numeric | text
      - {id: q1, kind: choice, prompt: ..., choices: [a, b], answer: 1, explanation: ...}
      - {id: q2, kind: numeric, prompt: ..., answer: 0.06, tolerance: 0.001, explanation: ...,
         fact: f1}                 # optional: the fact whose value is the answer
      - {id: q3, kind: text, prompt: ..., answer: [greedy, "greedy {search|decoding}"],
         explanation: ...}         # first answer shown as is; [optional] and {a|b} in the others
    cards: [{id: c1, front: ..., back: ...}]
    labs: [{id: lab1, kind: trigram_table, title: ..., intro: ..., preset: {...}}]
    facts:                         # numbers the lesson states that the engine can recompute
      - {id: f1, value: 0.06, shown: "0.06", compute: {kind: chain_product, conditionals: [...]}}

The package, one job a module:

    model.py        the data: Lesson, Question, Card, Lab, Fact, LessonSet, LessonError
    loader.py       load_lessons / load_lesson: the YAML node tree → data, file:line errors
    validation.py   what a file may say: QUESTION_KINDS, FACT_KINDS, the value rules, as_number
    ../grading.py   grading a learner's answer (grade, parse_number, ...)

Lab kinds register their preset keys with the labs (``arlm_tui.learn.labs``, ``LAB_KINDS``).
Every public name of the four is importable from here: ``from arlm_tui.learn.lessons import
load_lessons, Question, grade``.
"""

from __future__ import annotations

from typing import Any

# ruff: noqa: F401  (re-exported: the lessons API)
from arlm_tui.learn.grading import (
    PATTERN_CHARACTERS,
    Grade,
    accepted_forms,
    expand_answer,
    format_number,
    grade,
    is_number_text,
    normalize_text,
    parse_number,
    precision_hint,
)
from arlm_tui.learn.lessons.loader import (
    FOLDER_PATTERN,
    LESSON_FILE,
    LINK_PATTERN,
    META_FILE,
    lesson_links,
    load_lesson,
    load_lessons,
    table_of_contents,
)
from arlm_tui.learn.lessons.model import (
    Card,
    Fact,
    Lab,
    Lesson,
    LessonError,
    LessonLoadError,
    LessonSet,
    Question,
)
from arlm_tui.learn.lessons.validation import (
    CELLS,
    FACT_KINDS,
    QUESTION_KINDS,
    SMOOTHINGS,
    UNITS,
    KindSpec,
    as_number,
    check_value,
)


def __getattr__(name: str) -> Any:
    """``LAB_KINDS`` lives with the labs (``arlm_tui.learn.labs``), which import this package."""
    if name == "LAB_KINDS":
        from arlm_tui.learn.labs import LAB_KINDS

        return LAB_KINDS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
