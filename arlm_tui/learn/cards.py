"""Flashcards with spaced repetition: one queue over every lesson's cards and the learner's own.

Scheduling is FSRS (the ``fsrs`` library). After each answer, Again / Hard / Good / Easy, FSRS
updates the card's stability S (days until recall probability falls to 90 %) and difficulty D
and schedules the next review when the predicted recall R(t) = (1 + F·t/S)^(−decay), with
F = 0.9^(−1/decay) − 1 so that R(S) = 0.9, falls to the desired retention (0.9 by default).
New cards first go through short learning steps (1 min, 10 min). A card's state lives in the
progress store under its id:

* a lesson card: ``<lesson_id>/<card_id>`` (as written in the lesson's ``lesson.yaml``);
* a card of the learner's own: ``my/<id>`` when the card carries an explicit ``[id]``, else
  ``my/#<hash of its front>``.

So editing a card's text keeps its history: always for lesson cards and for own cards with an
``[id]``; for own cards without one, as long as the front stays the same (the back, spacing and
letter case may change). ``DueCard.edited`` says the text changed since the last review.

The learner's own cards are in ``$ARLM_HOME/my_cards.txt`` (UTF-8)::

    # A line starting with '#' is a comment; blank lines are ignored.
    # One card per line, front and back separated by '::'
    What does BPE merge at each step? :: the most frequent adjacent pair of symbols
    # An optional [id] before the front keeps the card's history when you reword it:
    [ppl-uniform] Perplexity of a uniform model over V tokens? :: V

    # A card longer than one line is a block: 'Q:' starts the front, 'A:' the back, more
    # lines continue the part above them, a blank line (or the next 'Q:') ends the card.
    Q: [lstm-gates] Which gates does an LSTM cell have?
    A: a forget gate f_t, an input gate i_t
       and an output gate o_t

An id is letters, digits, '-', '_' and '.'. Problems are reported as ``my_cards.txt:LINE:
message``; the other cards still load.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import fsrs

from arlm_tui.errors import ArlmError
from arlm_tui.learn.store import Store, utc_now

MY_CARDS_FILE = "my_cards.txt"
MY_PREFIX = "my/"
NEW_PER_DAY_SETTING = "cards.new_per_day"
DEFAULT_NEW_PER_DAY = 20
FORECAST_DAYS = 7
HISTORY_DAYS = 30
#: When nothing is due, cards in their learning steps due within this long are shown early
#: (the review screen and ``arlm cards review``).
LEARN_AHEAD = timedelta(minutes=20)

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_ID_TAG = re.compile(r"^\[([^\]]*)\]\s*")
_BLOCK_START = re.compile(r"^([QA]):\s?", re.IGNORECASE)
_RATING_NAMES = {r.name.lower(): r for r in fsrs.Rating}


# --------------------------------------------------------------------------- cards
@dataclass(frozen=True)
class Flashcard:
    """One card of the queue. ``source``: the lesson id, or the path of the learner's file."""

    id: str
    front: str
    back: str
    source: str
    line: int = 0

    @property
    def content_hash(self) -> str:
        """sha256(front ␟ back), 16 hex digits: tells whether the text changed since a review."""
        text = f"{self.front}\x1f{self.back}".encode()
        return hashlib.sha256(text).hexdigest()[:16]

    @property
    def is_own(self) -> bool:
        return self.id.startswith(MY_PREFIX)


def lesson_cards(lessons: Iterable[Any]) -> list[Flashcard]:
    """The flashcards of the given lessons (objects with ``.id`` and ``.cards``), in order."""
    return [
        Flashcard(
            f"{lesson.id}/{card.id}", card.front, card.back, lesson.id, getattr(card, "line", 0)
        )
        for lesson in lessons
        for card in lesson.cards
    ]


@dataclass
class OwnCards:
    """The cards parsed from the learner's file and the problems found (``file:line: ...``)."""

    cards: list[Flashcard] = field(default_factory=list)
    errors: list[ArlmError] = field(default_factory=list)


def front_hash_id(front: str) -> str:
    """The id of an own card without ``[id]``: a hash of its front, ignoring case and spacing."""
    normalized = " ".join(front.casefold().split())
    return MY_PREFIX + "#" + hashlib.sha256(normalized.encode()).hexdigest()[:10]


def parse_own_cards(text: str, path: str | Path = MY_CARDS_FILE) -> OwnCards:
    """Parse the learner's card file (format in the module docstring); never raises for bad
    lines, each one becomes an ``ArlmError`` with ``path:line`` in ``errors``."""
    result = OwnCards()
    seen: dict[str, int] = {}  # card id -> line where it was first defined
    block: dict[str, Any] | None = None  # {"line", "front": [...], "back": [...] | None}

    def error(line: int, message: str) -> None:
        result.errors.append(ArlmError(message, path=path, line=line))

    def add(line: int, front: str, back: str) -> None:
        match = _ID_TAG.match(front)
        explicit = None
        if match:
            explicit = match.group(1).strip()
            front = front[match.end() :]
            if not _ID.fullmatch(explicit):
                error(line, f"card id [{explicit}] may hold only letters, digits, '-', '_', '.'")
                return
        front, back = front.strip(), back.strip()
        if not front:
            error(line, "the card has no front (the question)")
            return
        if not back:
            error(line, "the card has no back (the answer)")
            return
        card_id = MY_PREFIX + explicit if explicit else front_hash_id(front)
        if card_id in seen:
            if explicit:
                error(line, f"card id [{explicit}] is already used on line {seen[card_id]}")
            else:
                error(line, f"same front as the card on line {seen[card_id]}; give one an [id]")
            return
        seen[card_id] = line
        result.cards.append(Flashcard(card_id, front, back, str(path), line))

    def finish() -> None:
        nonlocal block
        if block is not None and not block.get("broken"):
            if block["back"] is None:
                error(block["line"], "'Q:' without an 'A:' (the answer)")
            else:
                add(block["line"], "\n".join(block["front"]), "\n".join(block["back"]))
        block = None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#"):
            continue
        start = _BLOCK_START.match(line)
        if start and start.group(1).upper() == "Q":
            finish()
            block = {"line": number, "front": [line[start.end() :]], "back": None}
        elif start:  # "A:"
            if block is None:
                error(number, "'A:' without a 'Q:' before it")
            elif block["back"] is not None:
                error(number, "a second 'A:' in one card; leave a blank line between cards")
                block["broken"] = True
            else:
                block["back"] = [line[start.end() :]]
        elif block is not None:
            block["back" if block["back"] is not None else "front"].append(line)
        elif "::" in line:
            front, back = line.split("::", 1)
            add(number, front, back)
        else:
            error(number, "expected 'front :: back', or a 'Q:' line starting a block")
    finish()
    return result


def load_own_cards(path: str | Path | None = None) -> OwnCards:
    """Read ``$ARLM_HOME/my_cards.txt`` (or ``path``); a missing file means no cards."""
    if path is None:
        from arlm_tui.paths import user_home

        path = user_home() / MY_CARDS_FILE
    path = Path(path)
    if not path.exists():
        return OwnCards()
    from arlm_tui import inputs

    try:  # a regular file within the size limit: a link to /dev/zero or a FIFO is refused
        text = inputs.read_text(path, limit=inputs.LIMITS["cards"], what="cards file")
    except ArlmError as exc:
        return OwnCards(errors=[exc])
    return parse_own_cards(text, path)


# --------------------------------------------------------------------------- ratings, times
def parse_rating(rating: fsrs.Rating | int | str) -> fsrs.Rating:
    """``Rating.Again`` .. ``Rating.Easy`` from a Rating, 1-4, "1"-"4" or again/hard/good/easy."""
    if isinstance(rating, fsrs.Rating):
        return rating
    if isinstance(rating, str):
        key = rating.strip().lower()
        if key in _RATING_NAMES:
            return _RATING_NAMES[key]
        if key.isdigit():
            rating = int(key)
    if isinstance(rating, int) and not isinstance(rating, bool) and 1 <= rating <= 4:
        return fsrs.Rating(rating)
    raise ValueError(f"rating must be 1-4 or again/hard/good/easy, got {rating!r}")


def format_interval(due: datetime, now: datetime) -> str:
    """How long until ``due``, for people: "now", "in 10 min", "in 5 h", "in 3 days"."""
    seconds = (due - now).total_seconds()
    if seconds < 30:
        return "now"
    if seconds < 3600:
        return f"in {max(1, round(seconds / 60))} min"
    if seconds < 86400:
        return f"in {round(seconds / 3600)} h"
    days = round(seconds / 86400)
    if days < 60:
        return f"in {days} day" + ("s" if days != 1 else "")
    if days < 730:
        return f"in {round(days / 30.4)} months"
    return f"in {days / 365.25:.1f} years"


def _fsrs_card_id(card_id: str) -> int:
    """fsrs wants an int id: 63 bits of sha256(card id)."""
    return int.from_bytes(hashlib.sha256(card_id.encode()).digest()[:8], "big") >> 1


# --------------------------------------------------------------------------- the queue
@dataclass(frozen=True)
class DueCard:
    """A card in the queue: ``state`` is new, learning, review or relearning; ``due`` is None
    for a new card; ``edited``: its text changed since it was last reviewed."""

    card: Flashcard
    state: str
    due: datetime | None
    edited: bool = False


@dataclass(frozen=True)
class CardStats:
    """Numbers for the stats view. Days are the learner's local calendar days.

    retention = reviews not rated Again / all reviews; streak = consecutive days with ≥ 1 review,
    counted back from today (or from yesterday while today has none yet)."""

    cards: int
    new: int  # never reviewed
    learning: int  # in (re)learning steps
    review: int  # graduated to day-scale intervals
    due_today: int  # reviewed cards due by the end of today
    new_today: int  # new cards the daily limit still lets in today
    forecast: tuple[tuple[date, int], ...]  # cards due on each of the next 7 days
    reviews_total: int
    reviews_today: int
    retention: float | None
    reviews_per_day: tuple[tuple[date, int], ...]  # the last 30 days, oldest first
    streak: int

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["forecast"] = [{"date": d.isoformat(), "due": n} for d, n in self.forecast]
        out["reviews_per_day"] = [
            {"date": d.isoformat(), "reviews": n} for d, n in self.reviews_per_day
        ]
        return out


class Deck:
    """One queue over ``cards``, scheduled by FSRS, with its state in ``store``.

    ``new_per_day``: how many never-seen cards may enter the queue per local day (default: the
    store's setting, else 20). ``tz``: the learner's time zone for "today" (default: local).
    """

    def __init__(
        self,
        store: Store,
        cards: Sequence[Flashcard],
        *,
        new_per_day: int | None = None,
        scheduler: fsrs.Scheduler | None = None,
        tz: tzinfo | None = None,
        problems: Sequence[str] = (),
    ):
        if new_per_day is None:
            new_per_day = get_new_per_day(store)
        if isinstance(new_per_day, bool) or not isinstance(new_per_day, int) or new_per_day < 0:
            raise ValueError(f"new_per_day must be a whole number >= 0, got {new_per_day!r}")
        self.store = store
        self.cards: dict[str, Flashcard] = {}
        for card in cards:
            if card.id in self.cards:
                raise ValueError(f"cards: two cards have the id {card.id!r}")
            self.cards[card.id] = card
        self.new_per_day = new_per_day
        self.scheduler = scheduler if scheduler is not None else fsrs.Scheduler()
        self.tz = tz
        #: One-line problems met while loading (bad lines in the learner's file).
        self.problems = list(problems)

    @classmethod
    def load(
        cls,
        store: Store,
        *,
        lessons: Iterable[Any] | None = None,
        own_cards: str | Path | None = None,
        **options: Any,
    ) -> Deck:
        """The deck of every shipped lesson's cards (or ``lessons``') and the learner's own
        (``own_cards`` file, default ``$ARLM_HOME/my_cards.txt``)."""
        if lessons is None:
            from arlm_tui.learn.lessons.loader import load_lessons

            lessons = load_lessons()
        own = load_own_cards(own_cards)
        cards = lesson_cards(lessons) + own.cards
        return cls(store, cards, problems=[str(e) for e in own.errors], **options)

    # ------------------------------------------------------------------ time helpers
    def _today(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()

    def _day_start(self, day: date) -> datetime:
        midnight = datetime(day.year, day.month, day.day)
        # A naive time is read as the system's local time (with its DST rules).
        return midnight.astimezone() if self.tz is None else midnight.replace(tzinfo=self.tz)

    # ------------------------------------------------------------------ the queue
    def new_remaining(self, now: datetime | None = None) -> int:
        """New cards still allowed today: new_per_day − cards first reviewed today."""
        now = now or utc_now()
        started = self.store.introduced_since(self._day_start(self._today(now)))
        return max(0, self.new_per_day - started)

    def due_queue(
        self, now: datetime | None = None, *, learn_ahead: timedelta = timedelta(0)
    ) -> list[DueCard]:
        """Cards to study now: reviewed cards due by ``now + learn_ahead``, most overdue first,
        then never-seen cards in deck order (lessons in order, own cards last), at most
        ``new_remaining(now)`` of them."""
        now = now or utc_now()
        horizon = now + learn_ahead
        states = self.store.card_states()
        due: list[DueCard] = []
        new: list[DueCard] = []
        for card in self.cards.values():
            record = states.get(card.id)
            if record is None:
                new.append(DueCard(card, "new", None))
            elif record.due <= horizon:
                state = fsrs.Card.from_json(record.fsrs_card).state.name.lower()
                edited = record.content_hash != card.content_hash
                due.append(DueCard(card, state, record.due, edited))
        due.sort(key=lambda d: (d.due, d.card.id))
        return due + new[: self.new_remaining(now)]

    def _fsrs_card(self, card_id: str, now: datetime) -> fsrs.Card:
        record = self.store.card_state(card_id)
        if record is not None:
            return fsrs.Card.from_json(record.fsrs_card)
        return fsrs.Card(card_id=_fsrs_card_id(card_id), due=now)

    def _card(self, card_id: str) -> Flashcard:
        try:
            return self.cards[card_id]
        except KeyError:
            raise ValueError(f"card_id {card_id!r} is not in the deck") from None

    def answer(
        self,
        card_id: str,
        rating: fsrs.Rating | int | str,
        now: datetime | None = None,
        *,
        duration_ms: int | None = None,
    ) -> datetime:
        """Rate a card, commit the review, and return when the card is due next (UTC)."""
        card = self._card(card_id)
        rating = parse_rating(rating)
        now = (now or utc_now()).astimezone(UTC)  # fsrs insists on UTC
        updated, _ = self.scheduler.review_card(
            self._fsrs_card(card_id, now), rating, now, duration_ms
        )
        self.store.record_review(
            card_id,
            int(rating),
            fsrs_card=updated.to_json(),
            due=updated.due,
            content_hash=card.content_hash,
            reviewed_at=now,
            duration_ms=duration_ms,
        )
        return updated.due

    def preview(self, card_id: str, now: datetime | None = None) -> dict[fsrs.Rating, datetime]:
        """When the card would be due after each rating, for the rating buttons. Nothing is
        saved. The scheduler adds a random few percent ("fuzz") to intervals of days so that
        cards learned together drift apart; the preview leaves it out, so ``answer`` may
        land a day or so away from it on long intervals."""
        self._card(card_id)
        now = (now or utc_now()).astimezone(UTC)  # fsrs insists on UTC
        current = self._fsrs_card(card_id, now)
        return {r: self._unfuzzed.review_card(current, r, now)[0].due for r in fsrs.Rating}

    @property
    def _unfuzzed(self) -> fsrs.Scheduler:
        settings = self.scheduler.to_dict()
        return fsrs.Scheduler.from_dict({**settings, "enable_fuzzing": False})

    # ------------------------------------------------------------------ statistics
    def stats(self, now: datetime | None = None) -> CardStats:
        now = now or utc_now()
        today = self._today(now)
        end_of_today = self._day_start(today + timedelta(days=1))
        states = self.store.card_states()
        counts: Counter[str] = Counter()
        due_today = 0
        forecast: Counter[date] = Counter()
        for card_id in self.cards:
            record = states.get(card_id)
            if record is None:
                counts["new"] += 1
                continue
            state = fsrs.Card.from_json(record.fsrs_card).state
            counts["review" if state == fsrs.State.Review else "learning"] += 1
            if record.due < end_of_today:
                due_today += 1
            else:
                forecast[self._today(record.due)] += 1
        reviews = self.store.reviews()
        per_day = Counter(self._today(r.reviewed_at) for r in reviews)
        not_again = sum(r.rating != int(fsrs.Rating.Again) for r in reviews)
        streak, day = 0, today if per_day[today] else today - timedelta(days=1)
        while per_day[day]:
            streak, day = streak + 1, day - timedelta(days=1)
        return CardStats(
            cards=len(self.cards),
            new=counts["new"],
            learning=counts["learning"],
            review=counts["review"],
            due_today=due_today,
            new_today=min(counts["new"], self.new_remaining(now)),
            forecast=tuple(
                (today + timedelta(days=i), forecast[today + timedelta(days=i)])
                for i in range(1, FORECAST_DAYS + 1)
            ),
            reviews_total=len(reviews),
            reviews_today=per_day[today],
            retention=not_again / len(reviews) if reviews else None,
            reviews_per_day=tuple(
                (today - timedelta(days=i), per_day[today - timedelta(days=i)])
                for i in range(HISTORY_DAYS - 1, -1, -1)
            ),
            streak=streak,
        )


# --------------------------------------------------------------------------- settings
def get_new_per_day(store: Store) -> int:
    value = store.get_setting(NEW_PER_DAY_SETTING, DEFAULT_NEW_PER_DAY)
    return value if isinstance(value, int) and value >= 0 else DEFAULT_NEW_PER_DAY


def set_new_per_day(store: Store, new_per_day: int) -> None:
    """Save the daily limit of new cards (0 stops new cards)."""
    if isinstance(new_per_day, bool) or not isinstance(new_per_day, int) or new_per_day < 0:
        raise ValueError(f"new_per_day must be a whole number >= 0, got {new_per_day!r}")
    store.set_setting(NEW_PER_DAY_SETTING, new_per_day)
