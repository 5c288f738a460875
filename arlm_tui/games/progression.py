"""Progression: experience points, levels, achievements and the daily streak, across lessons,
flashcard reviews and games, all read from (and written to) the progress store.

Nothing here keeps its own state: every number is recomputed from the store, so whatever the
store has committed survives a crash (the store commits every write before returning).

Experience points (xp):

    xp = Σ game-event xp + Σ achievement xp
       + XP_PER_REVIEW · reviews + XP_PER_ANSWER · answers + XP_PER_CORRECT · correct answers
       + XP_PER_LESSON_STEP · lesson steps read + XP_PER_LESSON · lessons completed.

Game rounds and achievements are events in the store (kind ``game.<id>`` and ``achievement``,
with their xp); lessons and reviews are counted from their own tables. Levels grow
quadratically: level L starts at ``xp_for_level(L) = 25 · L · (L − 1)`` xp (0, 50, 150, 300,
500, …), and each is named after a model of the course, from unigram to transformer.

The streak is the number of consecutive days, in local time, with at least one review, answer,
lesson step read, completed lesson or game round, ending today, or yesterday if nothing has been done yet today
(the streak is still alive until the day is over).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from arlm_tui.games import GAME_BY_ID, GAMES
from arlm_tui.games.common import GameResult

if TYPE_CHECKING:
    from arlm_tui.learn.store import Store

XP_PER_REVIEW = 2
XP_PER_ANSWER = 1
XP_PER_CORRECT = 4  # on top of XP_PER_ANSWER
XP_PER_LESSON_STEP = 2
XP_PER_LESSON = 25
ACHIEVEMENT_XP = 10
ACHIEVEMENT_KIND = "achievement"

#: Level names, one model family a level; the last one repeats.
LEVEL_TITLES = ("unigram", "bigram", "trigram", "4-gram", "Kneser-Ney", "feed-forward net",
                "RNN", "GRU", "LSTM", "transformer")


def game_kind(game: str) -> str:
    """The store's event kind of a game's rounds: ``game.<id>``."""
    return f"game.{game}"


def xp_for_level(level: int) -> int:
    """The xp at which ``level`` starts: 25 · L · (L − 1)."""
    if isinstance(level, bool) or not isinstance(level, int) or level < 1:
        raise ValueError(f"level must be an integer >= 1, got {level!r}")
    return 25 * level * (level - 1)


def level_for(xp: int) -> int:
    """The level reached with ``xp`` points (1 at 0 xp)."""
    level = 1
    while xp_for_level(level + 1) <= xp:
        level += 1
    return level


def level_title(level: int) -> str:
    return LEVEL_TITLES[min(level, len(LEVEL_TITLES)) - 1]


# --------------------------------------------------------------------------- activity
@dataclass
class Activity:
    """What the learner has done, gathered from the store (the input of every achievement)."""

    rounds: dict[str, list[dict[str, Any]]]  # game id -> payloads, oldest first
    game_xp: int
    achievement_xp: int
    reviews: int
    answers: int
    correct_answers: int
    lesson_steps: int
    lessons_completed: int
    lessons_total: int
    days: set[date]
    streak: int
    best_streak: int

    def any_round(self, game: str, flag: str) -> bool:
        """True if some round of ``game`` has a true ``flag`` in its details."""
        return any(bool(p.get(flag)) for p in self.rounds.get(game, []))


@dataclass(frozen=True)
class Achievement:
    id: str
    title: str
    description: str
    check: Callable[[Activity], bool] = field(repr=False, compare=False)


ACHIEVEMENTS: tuple[Achievement, ...] = (
    Achievement("first-round", "First move", "finish a round of any game",
                lambda a: any(a.rounds.values())),
    Achievement("all-games", "Full set", "play each of the four games",
                lambda a: all(a.rounds.get(g.id) for g in GAMES)),
    Achievement("beat-ngram", "Better than counting",
                "Be the model: a lower perplexity than an n-gram model",
                lambda a: a.any_round("be-the-model", "beat_ngram")),
    Achievement("beat-all", "Human language model",
                "Be the model: a lower perplexity than every model (the oracle aside)",
                lambda a: a.any_round("be-the-model", "beat_all")),
    Achievement("strategist", "Strategist", "Name that strategy: all three right",
                lambda a: a.any_round("name-that-strategy", "all_correct")),
    Achievement("beat-greedy", "Look-ahead", "Beat greedy: a sentence more probable than "
                "greedy's", lambda a: a.any_round("beat-greedy", "beat_greedy")),
    Achievement("optimal", "Exact", "Beat greedy: find the most probable sentence",
                lambda a: a.any_round("beat-greedy", "optimal")),
    Achievement("first-try", "Perfect pitch", "Tune the knobs: meet a target in one try",
                lambda a: a.any_round("tune-the-knobs", "first_try")),
    Achievement("streak-3", "Three in a row", "a 3-day streak", lambda a: a.best_streak >= 3),
    Achievement("streak-7", "A week of tokens", "a 7-day streak",
                lambda a: a.best_streak >= 7),
    Achievement("reviews-50", "Spaced out", "review 50 flashcards", lambda a: a.reviews >= 50),
    Achievement("lesson-1", "First lesson", "complete a lesson",
                lambda a: a.lessons_completed >= 1),
    Achievement("lessons-all", "Graduate", "complete every lesson",
                lambda a: a.lessons_total > 0 and a.lessons_completed >= a.lessons_total),
)
ACHIEVEMENT_BY_ID = {a.id: a for a in ACHIEVEMENTS}


@lru_cache(maxsize=1)
def _shipped_lesson_ids() -> tuple[str, ...]:
    try:
        from arlm_tui.learn import load_lessons

        return tuple(lesson.id for lesson in load_lessons())
    except Exception:  # noqa: BLE001 - broken lessons must not stop the scores screen
        return ()


def _local_day(moment: datetime) -> date:
    return moment.astimezone().date()


def streaks(days: Iterable[date], today: date) -> tuple[int, int]:
    """(current streak ending today or yesterday, longest streak ever) over active ``days``."""
    active = set(days)
    current = 0
    day = today if today in active else today - timedelta(days=1)
    while day in active:
        current += 1
        day -= timedelta(days=1)
    best = run = 0
    previous: date | None = None
    for day in sorted(active):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        best = max(best, run)
        previous = day
    return current, best


def activity(store: Store, *, now: datetime | None = None,
             lesson_ids: Sequence[str] | None = None) -> Activity:
    """Gather everything the learner has done from ``store`` (an open ``Store``)."""
    now = now or datetime.now(UTC)
    lesson_ids = _shipped_lesson_ids() if lesson_ids is None else tuple(lesson_ids)
    days: set[date] = set()
    rounds: dict[str, list[dict[str, Any]]] = {g.id: [] for g in GAMES}
    game_xp = achievement_xp = 0
    for event in store.events():
        if event.kind.startswith("game."):
            rounds.setdefault(event.kind[len("game."):], []).append(event.payload)
            game_xp += event.xp
            days.add(_local_day(event.at))
        elif event.kind == ACHIEVEMENT_KIND:
            achievement_xp += event.xp
    reviews = store.reviews()
    days.update(_local_day(r.reviewed_at) for r in reviews)
    attempts = store.attempts()
    days.update(_local_day(a.answered_at) for a in attempts)
    shipped = set(lesson_ids)
    days.update(_local_day(read_at) for lesson_id, _, read_at in store.lesson_steps_read()
                if lesson_id in shipped)
    steps = completed = 0
    for lesson_id in lesson_ids:
        progress = store.lesson_progress(lesson_id)
        steps += len(progress.steps_read)
        if progress.completed_at is not None:
            completed += 1
            days.add(_local_day(progress.completed_at))
    current, best = streaks(days, _local_day(now))
    return Activity(
        rounds=rounds,
        game_xp=game_xp,
        achievement_xp=achievement_xp,
        reviews=len(reviews),
        answers=len(attempts),
        correct_answers=sum(1 for a in attempts if a.correct),
        lesson_steps=steps,
        lessons_completed=completed,
        lessons_total=len(lesson_ids),
        days=days,
        streak=current,
        best_streak=best,
    )


# --------------------------------------------------------------------------- progress
@dataclass(frozen=True)
class GameStats:
    """One game's line on the scores screen."""

    game: str
    title: str
    played: int
    best: float | None
    last: str | None  # the last round's summary
    xp: int


@dataclass(frozen=True)
class Progress:
    """Everything the scores screen shows."""

    xp: int
    level: int
    title: str
    level_start: int  # xp at which this level started
    next_level: int  # xp at which the next one starts
    streak: int
    best_streak: int
    active_today: bool
    xp_sources: dict[str, int]
    games: list[GameStats]
    achievements: list[tuple[Achievement, datetime | None]]  # None: not unlocked yet

    @property
    def level_fraction(self) -> float:
        """How far into the current level, in [0, 1)."""
        return (self.xp - self.level_start) / (self.next_level - self.level_start)


def _xp_sources(a: Activity) -> dict[str, int]:
    return {
        "games": a.game_xp,
        "achievements": a.achievement_xp,
        "reviews": XP_PER_REVIEW * a.reviews,
        "answers": XP_PER_ANSWER * a.answers + XP_PER_CORRECT * a.correct_answers,
        "lessons": XP_PER_LESSON_STEP * a.lesson_steps + XP_PER_LESSON * a.lessons_completed,
    }


def _best(game: str, payloads: list[dict[str, Any]]) -> float | None:
    better = GAME_BY_ID[game].better if game in GAME_BY_ID else "higher"
    scores = [float(p["score"]) for p in payloads
              if isinstance(p.get("score"), int | float)]
    if not scores:
        return None
    return min(scores) if better == "lower" else max(scores)


def progress(store: Store, *, now: datetime | None = None,
             lesson_ids: Sequence[str] | None = None) -> Progress:
    """The learner's xp, level, streak, per-game stats and achievements, from ``store``."""
    now = now or datetime.now(UTC)
    a = activity(store, now=now, lesson_ids=lesson_ids)
    sources = _xp_sources(a)
    xp = sum(sources.values())
    level = level_for(xp)
    games = []
    for info in GAMES:
        payloads = a.rounds.get(info.id, [])
        xp_game = sum(e.xp for e in store.events(game_kind(info.id)))
        games.append(GameStats(info.id, info.title, len(payloads), _best(info.id, payloads),
                               payloads[-1].get("summary") if payloads else None, xp_game))
    unlocked = {e.payload.get("id"): e.at for e in store.events(ACHIEVEMENT_KIND)}
    return Progress(
        xp=xp,
        level=level,
        title=level_title(level),
        level_start=xp_for_level(level),
        next_level=xp_for_level(level + 1),
        streak=a.streak,
        best_streak=a.best_streak,
        active_today=_local_day(now) in a.days,
        xp_sources=sources,
        games=games,
        achievements=[(ach, unlocked.get(ach.id)) for ach in ACHIEVEMENTS],
    )


def unlock_achievements(store: Store, *, now: datetime | None = None,
                        lesson_ids: Sequence[str] | None = None) -> list[Achievement]:
    """Record every achievement newly earned (one committed ``achievement`` event each, worth
    ``ACHIEVEMENT_XP``); returns them. Safe to call any time, e.g. after a review or a lesson."""
    a = activity(store, now=now, lesson_ids=lesson_ids)
    have = {e.payload.get("id") for e in store.events(ACHIEVEMENT_KIND)}
    new = [ach for ach in ACHIEVEMENTS if ach.id not in have and ach.check(a)]
    for ach in new:
        store.record_event(ACHIEVEMENT_KIND, {"id": ach.id, "title": ach.title},
                           xp=ACHIEVEMENT_XP, now=now)
    return new


def record_game(store: Store, result: GameResult, *, now: datetime | None = None,
                lesson_ids: Sequence[str] | None = None) -> list[Achievement]:
    """Commit a finished round (event ``game.<id>`` with its xp), then unlock achievements;
    returns the newly unlocked ones."""
    store.record_event(game_kind(result.game), result.payload(), xp=result.xp, now=now)
    return unlock_achievements(store, now=now, lesson_ids=lesson_ids)


def summary_line(store: Store, *, now: datetime | None = None) -> str:
    """One line for the home screen: level, xp, streak, rounds played."""
    p = progress(store, now=now)
    rounds = sum(g.played for g in p.games)
    days = "day" if p.streak == 1 else "days"
    return (f"level {p.level} ({p.title}) · {p.xp} xp · streak {p.streak} {days} · "
            f"{rounds} round{'s' if rounds != 1 else ''} played")
