"""Learning: lessons (text, quizzes, flashcards, labs) and the facts they state.

``load_lessons()`` reads the shipped ``lessons/`` folders; ``grade(question, response)`` checks a
quiz answer; ``compute_fact(fact)`` (in ``arlm_tui.learn.facts``) recomputes a stated number with
the engine.
"""

from arlm_tui.learn.labs import LAB_KINDS
from arlm_tui.learn.lessons import (
    FACT_KINDS,
    Card,
    Fact,
    Grade,
    Lab,
    Lesson,
    LessonError,
    LessonLoadError,
    LessonSet,
    Question,
    grade,
    load_lesson,
    load_lessons,
    parse_number,
)

__all__ = [
    "FACT_KINDS",
    "LAB_KINDS",
    "Card",
    "Fact",
    "Grade",
    "Lab",
    "Lesson",
    "LessonError",
    "LessonLoadError",
    "LessonSet",
    "Question",
    "grade",
    "load_lesson",
    "load_lessons",
    "parse_number",
]
