"""One-line summaries of the learner's progress for the home screen (no Textual here).

Each function returns a short sentence and never raises: a part of arlm that is missing or
broken is reported as such ("not available yet", "could not read ...") instead of a crash, and
nothing is created on disk just by looking (the progress database is opened only if it exists).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arlm_tui import paths


def play_summary() -> str:
    """How many models there are to play with."""
    try:
        from arlm_tui.lm.registry import list_models

        entries = list_models()
    except Exception as exc:  # noqa: BLE001 - a summary must never stop the home screen
        return f"could not list models ({exc.__class__.__name__})"
    if not entries:
        return "no model installed yet (build one with python -m arlm_tui.build_models)"
    names = ", ".join(e.name for e in entries[:3]) + (" …" if len(entries) > 3 else "")
    plural = "s" if len(entries) != 1 else ""
    return f"step through generation · {len(entries)} model{plural}: {names}"


def _store() -> Any | None:
    database = paths.user_home() / "progress.sqlite3"
    if not database.exists():
        return None
    try:
        from arlm_tui.learn.store import Store

        return Store.open(database)
    except Exception:  # noqa: BLE001
        return None


def _count_in_store(count: Callable[[Any], int]) -> int:
    """``count(store)`` on the progress store; 0 when there is no store or it cannot be read."""
    store = _store()
    if store is None:
        return 0
    try:
        return count(store)
    except Exception:  # noqa: BLE001
        return 0
    finally:
        store.close()


def lessons_summary() -> str:
    """Lessons written and completed."""
    try:
        from arlm_tui.learn import load_lessons

        lessons = load_lessons()
    except Exception:  # noqa: BLE001
        return "not available yet"
    done = _count_in_store(
        lambda store: sum(1 for lesson in lessons if store.lesson_completion(lesson.id) >= 1.0))
    return f"{len(lessons)} lessons, {done} completed · read, check yourself, open the labs"


def cards_summary() -> str:
    """Cards written in the lessons and reviews done."""
    try:
        from arlm_tui.learn import load_lessons

        count = sum(len(lesson.cards) for lesson in load_lessons())
    except Exception:  # noqa: BLE001
        return "not available yet"
    reviews = _count_in_store(lambda store: store.review_count())
    return f"{count} cards, {reviews} reviews · spaced repetition (FSRS)"


def games_summary() -> str:
    """Level, XP and streak from the progress store (nothing is created just by looking)."""
    store = _store()
    if store is None:
        return "be the model, name that strategy, beat greedy, tune the knobs"
    try:
        from arlm_tui.games.progression import summary_line

        return summary_line(store)
    except Exception:  # noqa: BLE001
        return "could not read your scores"
    finally:
        store.close()
