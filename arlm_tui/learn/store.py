"""The learner's progress on disk: one SQLite file holding flashcard states and reviews, answers to
lesson questions, lessons' steps read, and game events (scores, xp).

The file is ``user_home() / "progress.sqlite3"`` (``$ARLM_HOME`` moves it). It runs in WAL mode
and every write is its own committed transaction, so a crash or a kill loses at most the action
in flight. The schema carries a version; ``MIGRATIONS[i]`` brings a database from version i to
i + 1, and opening an older file upgrades it in place. A file that is not a progress database
(not SQLite at all, truncated, another program's tables, a newer arlm's schema) is never fatal:
it is renamed ``progress.sqlite3.corrupt-YYYYmmdd-HHMMSS``, a fresh database starts, and
``Store.notice`` holds a one-line message for the UI to show.

Times are stored as UTC ISO-8601 strings of one fixed shape, so comparing strings compares times.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # a library: the UI shows Store.notice, not stderr

DB_NAME = "progress.sqlite3"

#: ``MIGRATIONS[i]`` holds the SQL statements that bring a database from version i to i + 1.
#: Append new steps; never edit a released one.
MIGRATIONS: list[tuple[str, ...]] = [
    # v1: card states, reviews, question attempts, lesson steps.
    (
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
        """CREATE TABLE card_state (
            card_id TEXT PRIMARY KEY,
            fsrs_card TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        """CREATE TABLE review_log (
            id INTEGER PRIMARY KEY,
            card_id TEXT NOT NULL,
            rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4),
            reviewed_at TEXT NOT NULL,
            duration_ms INTEGER)""",
        "CREATE INDEX review_log_card ON review_log (card_id, reviewed_at)",
        """CREATE TABLE attempt (
            id INTEGER PRIMARY KEY,
            lesson_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            response TEXT NOT NULL,
            correct INTEGER NOT NULL,
            answered_at TEXT NOT NULL)""",
        "CREATE INDEX attempt_question ON attempt (lesson_id, question_id)",
        """CREATE TABLE lesson_step (
            lesson_id TEXT NOT NULL,
            step TEXT NOT NULL,
            read_at TEXT NOT NULL,
            PRIMARY KEY (lesson_id, step))""",
        """CREATE TABLE lesson_completed (
            lesson_id TEXT PRIMARY KEY,
            completed_at TEXT NOT NULL)""",
    ),
    # v2: the due time and first-review time as columns (due queue and new-card limit are
    # queries), the due time after each review, and a generic table of game events.
    (
        "ALTER TABLE card_state ADD COLUMN due TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE card_state ADD COLUMN introduced_at TEXT NOT NULL DEFAULT ''",
        "UPDATE card_state SET due = json_extract(fsrs_card, '$.due')",
        """UPDATE card_state SET introduced_at = COALESCE(
            (SELECT MIN(reviewed_at) FROM review_log r WHERE r.card_id = card_state.card_id),
            updated_at)""",
        "CREATE INDEX card_state_due ON card_state (due)",
        "ALTER TABLE review_log ADD COLUMN due_after TEXT",
        "ALTER TABLE review_log ADD COLUMN content_hash TEXT",
        """CREATE TABLE event (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            xp INTEGER NOT NULL DEFAULT 0,
            at TEXT NOT NULL)""",
        "CREATE INDEX event_kind ON event (kind, at)",
    ),
    # v3: learner settings (new cards per day, ...), JSON values.
    ("CREATE TABLE setting (key TEXT PRIMARY KEY, value TEXT NOT NULL)",),
]

SCHEMA_VERSION = len(MIGRATIONS)

#: How long a write waits for another process (the TUI and a CLI command at once) to finish.
BUSY_TIMEOUT_S = 5.0

#: The tables and columns the current version must have; anything missing means a wrong schema.
_EXPECTED_COLUMNS: dict[str, set[str]] = {
    "schema_version": {"version", "applied_at"},
    "card_state": {"card_id", "fsrs_card", "content_hash", "updated_at", "due", "introduced_at"},
    "review_log": {
        "id",
        "card_id",
        "rating",
        "reviewed_at",
        "duration_ms",
        "due_after",
        "content_hash",
    },
    "attempt": {"id", "lesson_id", "question_id", "response", "correct", "answered_at"},
    "lesson_step": {"lesson_id", "step", "read_at"},
    "lesson_completed": {"lesson_id", "completed_at"},
    "event": {"id", "kind", "payload", "xp", "at"},
    "setting": {"key", "value"},
}


class _WrongSchema(Exception):
    """The file is SQLite but not a progress database we can use."""


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class CardRecord:
    """The stored scheduling state of one flashcard."""

    card_id: str
    fsrs_card: str  # fsrs.Card.to_json()
    content_hash: str  # hash of the text the learner last reviewed
    due: datetime
    introduced_at: datetime  # first review
    updated_at: datetime


@dataclass(frozen=True)
class Review:
    """One answer to one flashcard: rating 1 Again, 2 Hard, 3 Good, 4 Easy."""

    card_id: str
    rating: int
    reviewed_at: datetime
    due_after: datetime | None
    duration_ms: int | None
    content_hash: str | None


@dataclass(frozen=True)
class Attempt:
    """One answer to one lesson question."""

    lesson_id: str
    question_id: str
    response: str
    correct: bool
    answered_at: datetime


@dataclass(frozen=True)
class LessonProgress:
    """Which steps of a lesson the learner has read, and when it was completed (if it was)."""

    lesson_id: str
    steps_read: tuple[str, ...]
    completed_at: datetime | None

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class Event:
    """A game event (a score, a badge ...) with the xp it earned."""

    kind: str
    payload: dict[str, Any]
    xp: int
    at: datetime


# --------------------------------------------------------------------------- times
def to_iso(moment: datetime) -> str:
    """A time as a sortable UTC string; a naive datetime is taken as local time."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _now_iso(now: datetime | None) -> str:
    return to_iso(now if now is not None else utc_now())


# --------------------------------------------------------------------------- the store
class Store:
    """An open progress database. ``Store.open()`` never fails on a bad file (see module doc).

    Use as a context manager or call ``close()``. Every ``record_*``/``mark_*``/``set_*`` call
    commits before it returns.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path | None, notice: str | None = None):
        self._conn = conn
        # One connection may be shared by the UI thread and workers: one transaction at a time.
        self._lock = threading.RLock()
        #: The database file (None for an in-memory fallback).
        self.path = path
        #: A one-line message for the learner when the store had to recover, else None.
        self.notice = notice

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path | None = None) -> Store:
        """Open (creating or upgrading) the progress database at ``path``.

        ``path`` defaults to ``user_home() / "progress.sqlite3"``. A corrupt, unreadable or
        foreign file is moved aside and a fresh database started; if even that fails (read-only
        directory) the store lives in memory for this session. Either way ``notice`` says so.
        """
        if path is None:
            from arlm_tui.paths import user_home

            path = user_home() / DB_NAME
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return cls(_connect_and_migrate(path), path)
        except (sqlite3.DatabaseError, _WrongSchema) as exc:
            if not _is_damage(exc):
                # Busy, locked, disk full: the file may be fine, so leave it where it is.
                return cls._in_memory(
                    f"cannot use {path} now ({_describe(exc)}); progress "
                    "will not be saved this session"
                )
            problem = _describe(exc)
        except OSError as exc:
            return cls._in_memory(
                f"cannot use {path} ({exc.strerror or exc}); progress will "
                "not be saved this session"
            )
        try:
            aside = _move_aside(path)
        except OSError as exc:
            return cls._in_memory(
                f"{path} is not a usable progress database ({problem}) and "
                f"cannot be moved aside ({exc.strerror or exc}); progress "
                "will not be saved this session"
            )
        notice = (
            f"{path.name} was not a usable progress database ({problem}); moved it to "
            f"{aside.name} and started a fresh one"
        )
        log.warning(notice)
        try:
            return cls(_connect_and_migrate(path), path, notice)
        except (sqlite3.DatabaseError, _WrongSchema, OSError) as exc:
            return cls._in_memory(
                f"{notice}, but that failed too ({_describe(exc)}); progress "
                "will not be saved this session"
            )

    @classmethod
    def _in_memory(cls, notice: str) -> Store:
        log.warning(notice)
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        _migrate(conn)
        return cls(conn, None, notice)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def journal_mode(self) -> str:
        return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()

    @property
    def schema_version(self) -> int:
        return _version_of(self._conn)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One committed unit of work; rolled back if anything inside raises."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # ------------------------------------------------------------------ flashcards
    def record_review(
        self,
        card_id: str,
        rating: int,
        *,
        fsrs_card: str,
        due: datetime,
        content_hash: str,
        reviewed_at: datetime,
        duration_ms: int | None = None,
    ) -> None:
        """Save a card's new FSRS state and append the review to the log, in one commit."""
        if int(rating) not in (1, 2, 3, 4):
            raise ValueError(f"rating must be 1, 2, 3 or 4, got {rating!r}")
        at, due_iso = to_iso(reviewed_at), to_iso(due)
        with self._transaction() as db:
            db.execute(
                """INSERT INTO card_state
                       (card_id, fsrs_card, content_hash, updated_at, due, introduced_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (card_id) DO UPDATE SET fsrs_card = excluded.fsrs_card,
                       content_hash = excluded.content_hash, updated_at = excluded.updated_at,
                       due = excluded.due""",
                (card_id, fsrs_card, content_hash, at, due_iso, at),
            )
            db.execute(
                """INSERT INTO review_log
                       (card_id, rating, reviewed_at, duration_ms, due_after, content_hash)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (card_id, int(rating), at, duration_ms, due_iso, content_hash),
            )

    def card_state(self, card_id: str) -> CardRecord | None:
        row = self._conn.execute(
            "SELECT * FROM card_state WHERE card_id = ?", (card_id,)
        ).fetchone()
        return None if row is None else _card_record(row)

    def card_states(self) -> dict[str, CardRecord]:
        rows = self._conn.execute("SELECT * FROM card_state").fetchall()
        return {row["card_id"]: _card_record(row) for row in rows}

    def reviews(self, card_id: str | None = None, *, since: datetime | None = None) -> list[Review]:
        """Reviews in the order they happened, optionally of one card / from a time on."""
        sql, args = "SELECT * FROM review_log WHERE 1", []
        if card_id is not None:
            sql += " AND card_id = ?"
            args.append(card_id)
        if since is not None:
            sql += " AND reviewed_at >= ?"
            args.append(to_iso(since))
        rows = self._conn.execute(sql + " ORDER BY reviewed_at, id", args).fetchall()
        return [
            Review(
                card_id=r["card_id"],
                rating=r["rating"],
                reviewed_at=from_iso(r["reviewed_at"]),
                due_after=from_iso(r["due_after"]) if r["due_after"] else None,
                duration_ms=r["duration_ms"],
                content_hash=r["content_hash"],
            )
            for r in rows
        ]

    def review_count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM review_log").fetchone()[0])

    def introduced_since(self, since: datetime) -> int:
        """How many cards had their first review at or after ``since`` (new-card daily limit)."""
        row = self._conn.execute(
            "SELECT COUNT(*) FROM card_state WHERE introduced_at >= ?", (to_iso(since),)
        ).fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ questions
    def record_attempt(
        self,
        lesson_id: str,
        question_id: str,
        response: str,
        correct: bool,
        now: datetime | None = None,
    ) -> None:
        """Append one answer to a lesson question."""
        with self._transaction() as db:
            db.execute(
                """INSERT INTO attempt (lesson_id, question_id, response, correct, answered_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (lesson_id, question_id, str(response), int(bool(correct)), _now_iso(now)),
            )

    def attempts(
        self, lesson_id: str | None = None, question_id: str | None = None
    ) -> list[Attempt]:
        sql, args = "SELECT * FROM attempt WHERE 1", []
        if lesson_id is not None:
            sql += " AND lesson_id = ?"
            args.append(lesson_id)
        if question_id is not None:
            sql += " AND question_id = ?"
            args.append(question_id)
        rows = self._conn.execute(sql + " ORDER BY answered_at, id", args).fetchall()
        return [
            Attempt(
                r["lesson_id"],
                r["question_id"],
                r["response"],
                bool(r["correct"]),
                from_iso(r["answered_at"]),
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ lessons
    def mark_lesson_step(
        self, lesson_id: str, step: str | int, now: datetime | None = None
    ) -> None:
        """Remember that a step (section, page) of a lesson was read; the first time counts."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO lesson_step (lesson_id, step, read_at) VALUES (?, ?, ?)",
                (lesson_id, str(step), _now_iso(now)),
            )

    def mark_lesson_completed(self, lesson_id: str, now: datetime | None = None) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO lesson_completed (lesson_id, completed_at) VALUES (?, ?)",
                (lesson_id, _now_iso(now)),
            )

    def lesson_progress(self, lesson_id: str) -> LessonProgress:
        steps = self._conn.execute(
            "SELECT step FROM lesson_step WHERE lesson_id = ? ORDER BY read_at, step",
            (lesson_id,),
        ).fetchall()
        done = self._conn.execute(
            "SELECT completed_at FROM lesson_completed WHERE lesson_id = ?", (lesson_id,)
        ).fetchone()
        return LessonProgress(
            lesson_id,
            tuple(s[0] for s in steps),
            from_iso(done[0]) if done else None,
        )

    def lesson_steps_read(
        self, since: datetime | None = None
    ) -> list[tuple[str, str, datetime]]:
        """Every lesson step read, as (lesson_id, step, read_at) in the order they were first
        read; only those read at or after ``since`` when it is given."""
        sql, args = "SELECT lesson_id, step, read_at FROM lesson_step", []
        if since is not None:
            sql += " WHERE read_at >= ?"
            args.append(to_iso(since))
        rows = self._conn.execute(sql + " ORDER BY read_at, lesson_id, step", args).fetchall()
        return [(r["lesson_id"], r["step"], from_iso(r["read_at"])) for r in rows]

    def lesson_completion(self, lesson_id: str, total_steps: int | None = None) -> float:
        """Share of the lesson done, in [0, 1]: 1 once completed, else steps read / total_steps
        (0 when ``total_steps`` is not given)."""
        if total_steps is not None and total_steps < 0:
            raise ValueError(f"total_steps must be >= 0, got {total_steps}")
        progress = self.lesson_progress(lesson_id)
        if progress.completed:
            return 1.0
        if not total_steps:
            return 0.0
        return min(len(progress.steps_read) / total_steps, 1.0)

    # ------------------------------------------------------------------ games
    def record_event(
        self,
        kind: str,
        payload: dict[str, Any] | None = None,
        *,
        xp: int = 0,
        now: datetime | None = None,
    ) -> None:
        """Append a game event (``kind`` such as "game.guess-next-token") with its xp."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO event (kind, payload, xp, at) VALUES (?, ?, ?, ?)",
                (kind, json.dumps(payload or {}, ensure_ascii=False), int(xp), _now_iso(now)),
            )

    def events(self, kind: str | None = None) -> list[Event]:
        sql, args = "SELECT * FROM event", []
        if kind is not None:
            sql += " WHERE kind = ?"
            args.append(kind)
        rows = self._conn.execute(sql + " ORDER BY at, id", args).fetchall()
        return [
            Event(r["kind"], json.loads(r["payload"]), r["xp"], from_iso(r["at"])) for r in rows
        ]

    def total_xp(self) -> int:
        return int(self._conn.execute("SELECT COALESCE(SUM(xp), 0) FROM event").fetchone()[0])

    # ------------------------------------------------------------------ settings
    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self._conn.execute("SELECT value FROM setting WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO setting (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )


# --------------------------------------------------------------------------- internals
def _card_record(row: sqlite3.Row) -> CardRecord:
    return CardRecord(
        card_id=row["card_id"],
        fsrs_card=row["fsrs_card"],
        content_hash=row["content_hash"],
        due=from_iso(row["due"]),
        introduced_at=from_iso(row["introduced_at"]),
        updated_at=from_iso(row["updated_at"]),
    )


def _connect_and_migrate(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per action.
    conn = sqlite3.connect(
        str(path), isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False
    )
    try:
        conn.row_factory = sqlite3.Row
        # Read-only checks first, so a file that is not ours is moved aside byte for byte:
        # quick_check fails on a file that is not SQLite or is truncated or damaged, and
        # _version_of on another program's tables or a newer arlm's schema.
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {check}")
        version = _version_of(conn)
        if version > SCHEMA_VERSION:
            raise _WrongSchema(
                f"schema version {version} is newer than this arlm's {SCHEMA_VERSION}"
            )
        if version == SCHEMA_VERSION:
            _check_schema(conn)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # a file system without shared memory: still durable
            log.info("progress database in %s journal mode, not WAL", mode)
        # FULL: a review survives a power cut too, not only a killed process; one fsync per
        # answer is cheap at the pace a person answers.
        conn.execute("PRAGMA synchronous = FULL")
        _migrate(conn)
        _check_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def _version_of(conn: sqlite3.Connection) -> int:
    tables = _tables(conn)
    if "schema_version" not in tables:
        if tables:
            raise _WrongSchema(f"no schema_version table (tables: {', '.join(sorted(tables))})")
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    if row[0] is None:
        raise _WrongSchema("the schema_version table is empty")
    return int(row[0])


def _migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> None:
    """Apply ``MIGRATIONS`` from the database's version up to ``target``, one transaction a
    step (a second process opening the file at the same time waits, then sees the new version)."""
    conn.row_factory = sqlite3.Row
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = _version_of(conn)
            if version > SCHEMA_VERSION:
                raise _WrongSchema(
                    f"schema version {version} is newer than this arlm's {SCHEMA_VERSION}"
                )
            if version >= target:
                conn.execute("COMMIT")
                return
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (version + 1, to_iso(utc_now())),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _check_schema(conn: sqlite3.Connection) -> None:
    for table, columns in _EXPECTED_COLUMNS.items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()}
        missing = columns - have
        if missing:
            what = "table missing" if not have else f"columns missing: {', '.join(sorted(missing))}"
            raise _WrongSchema(f"{table}: {what}")


def _move_aside(path: Path) -> Path:
    """Rename a bad database (and its -wal/-shm companions) to ``<name>.corrupt-<time>``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    path.rename(aside)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(aside.with_name(aside.name + suffix))
    return aside


#: SQLite errors that say nothing about the file's contents (it may be fine): never move it.
_TRANSIENT_ERRORS = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_FULL",
    "SQLITE_NOMEM",
    "SQLITE_INTERRUPT",
    "SQLITE_PROTOCOL",
)


def _is_damage(exc: BaseException) -> bool:
    """True when the error means the file itself is not a usable progress database."""
    name = getattr(exc, "sqlite_errorname", None)
    if name is None:
        return True  # _WrongSchema, or our own integrity-check failure
    if name.startswith("SQLITE_IOERR"):
        return name == "SQLITE_IOERR_SHORT_READ"  # a truncated file
    return not name.startswith(_TRANSIENT_ERRORS)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def create_schema(path: str | Path, version: int) -> None:
    """Create an empty database at an older schema ``version`` (tests of migrations)."""
    if not 0 <= version <= SCHEMA_VERSION:
        raise ValueError(f"version must be in 0..{SCHEMA_VERSION}, got {version}")
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        _migrate(conn, target=version)
    finally:
        conn.close()


__all__: Sequence[str] = [
    "DB_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Attempt",
    "CardRecord",
    "Event",
    "LessonProgress",
    "Review",
    "Store",
    "create_schema",
    "from_iso",
    "to_iso",
    "utc_now",
]
