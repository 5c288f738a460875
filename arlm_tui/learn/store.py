"""The learner's progress on disk: one SQLite file holding flashcard states and reviews, answers to
lesson questions, lessons' steps read, and game events (scores, xp).

The file is ``user_home() / "progress.sqlite3"`` (``$ARLM_HOME`` moves it). It runs in WAL mode
and every write is its own committed transaction, so a crash or a kill loses at most the action
in flight. The schema carries a version; ``MIGRATIONS[i]`` brings a database from version i to
i + 1, and opening an older file upgrades it in place. A file that is not a progress database
(not SQLite at all, truncated, another program's tables) is never fatal: it is renamed
``progress.sqlite3.corrupt-YYYYmmdd-HHMMSS``, a fresh database starts, and ``Store.notice`` holds
a one-line message for the UI to show.

A healthy file arlm may not write (a read-only file or folder, mode 000, another process holding
a lock, a newer arlm's schema) is never moved aside and never modified: the store opens it
read-only when it can be read (what was saved is shown) or runs in memory when it cannot, and
``notice`` says why. A write that fails while the app runs (read-only, a lock held past the busy
timeout, a full disk) does not raise: the action is kept in memory (``unsaved``), retried before
the next write and by ``retry_unsaved()``, and ``on_message`` (when set) tells the learner.

Times are stored as UTC ISO-8601 strings of one fixed shape, so comparing strings compares times.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
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


class _NewerSchema(_WrongSchema):
    """A newer arlm's progress database: healthy, but not ours to change."""


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

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path | None,
        notice: str | None = None,
        *,
        read_only: bool = False,
    ):
        self._conn = conn
        # One connection may be shared by the UI thread and workers: one transaction at a time.
        self._lock = threading.RLock()
        #: The database file (None for an in-memory fallback).
        self.path = path
        #: A one-line message for the learner when the store had to recover, else None.
        self.notice = notice
        #: True when the file was opened read-only: reads show it, writes wait in ``_unsaved``.
        self.read_only = read_only
        #: Writes that failed (read-only, locked, disk full), oldest first, retried in order.
        self._unsaved: list[Callable[[sqlite3.Connection], None]] = []
        #: Called with (one-line message, severity) when a write fails or waiting ones are saved.
        self.on_message: Callable[[str, str], None] | None = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path | None = None) -> Store:
        """Open (creating or upgrading) the progress database at ``path``.

        ``path`` defaults to ``user_home() / "progress.sqlite3"``. Only a file SQLite reports as
        damaged, or one holding another program's tables, is moved aside and a fresh database
        started. A healthy file that cannot be written is opened read-only (or, when it cannot
        be read either, the store lives in memory for this session) and left untouched.
        Either way ``notice`` says so.
        """
        if path is None:
            from arlm_tui.paths import user_home

            path = user_home() / DB_NAME
        path = Path(path)
        unsaved = "progress will not be saved this session"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return cls._in_memory(f"cannot use {path.parent} ({exc.strerror or exc}); {unsaved}")
        problem = _unusable_file(path)
        if problem is not None:
            return cls._in_memory(f"cannot use {path} ({problem}); {unsaved}")
        if path.exists():
            # Look before writing: a read-only check tells damage from "may not write".
            verdict = _inspect(path)
            if verdict.damage is not None:
                return cls._replace_damaged(path, verdict.damage)
            if verdict.newer:
                return cls._read_only_or_memory(
                    path, f"{path.name} was written by a newer arlm ({verdict.newer})"
                )
            if verdict.unreadable is not None:
                return cls._in_memory(
                    f"cannot read {path} ({verdict.unreadable}); the file is left as it is "
                    f"and {unsaved}"
                )
            if not os.access(path, os.W_OK):
                # SQLite would open it read-only without a word and fail on the first write.
                return cls._read_only_or_memory(path, f"{path} is read-only")
        try:
            return cls(_connect_and_migrate(path), path)
        except (sqlite3.DatabaseError, _WrongSchema) as exc:
            if _is_damage(exc):  # changed between the look and the open: rare, still damage
                return cls._replace_damaged(path, _describe(exc))
            if path.exists():
                return cls._read_only_or_memory(path, f"cannot write {path} ({_describe(exc)})")
            return cls._in_memory(f"cannot create {path} ({_describe(exc)}); {unsaved}")
        except OSError as exc:
            return cls._in_memory(f"cannot use {path} ({exc.strerror or exc}); {unsaved}")

    @classmethod
    def _replace_damaged(cls, path: Path, problem: str) -> Store:
        """Move a damaged file aside and start a fresh database in its place."""
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
    def _read_only_or_memory(cls, path: Path, why: str) -> Store:
        """The saved progress shown read-only (new answers kept until quit), else in memory."""
        conn = _connect_read_only(path)
        if conn is not None:
            notice = (
                f"{why}; showing your saved progress read-only, new answers are kept only "
                "until you quit"
            )
            log.warning(notice)
            return cls(conn, path, notice, read_only=True)
        return cls._in_memory(f"{why}; the file is left as it is and progress will not be "
                              "saved this session")
    @classmethod
    def _in_memory(cls, notice: str) -> Store:
        log.warning(notice)
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        _migrate(conn)
        return cls(conn, None, notice)

    def close(self) -> None:
        """Try the waiting writes once more, then close (what still fails is logged)."""
        with self._lock:
            if self._unsaved and not self.read_only:
                self.retry_unsaved()
            if self._unsaved:
                log.warning("%d progress write(s) could not be saved", len(self._unsaved))
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
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @property
    def unsaved(self) -> int:
        """How many actions are kept in memory because writing them failed."""
        return len(self._unsaved)

    def _write(self, apply: Callable[[sqlite3.Connection], None]) -> bool:
        """Commit ``apply`` after any waiting writes (keeping their order); True when saved.

        A failure the learner cannot fix from here (read-only, busy, disk full, I/O error)
        keeps the write in memory and tells ``on_message``; a programming error still raises.
        """
        with self._lock:
            self._unsaved.append(apply)
            had = len(self._unsaved)
            error = self._flush()
            if error is None:
                if had > 1:
                    self._tell(f"saved {had - 1} earlier answer(s) that were waiting", "information")
                return True
        where = self.path if self.path is not None else "the progress database"
        self._tell(
            f"could not save to {where} ({error}); {self.unsaved} answer(s) kept in memory "
            "and retried",
            "warning",
        )
        return False

    def retry_unsaved(self) -> int:
        """Try the waiting writes again; return how many are still waiting."""
        with self._lock:
            had = len(self._unsaved)
            if not had:
                return 0
            error = self._flush()
            saved = had - len(self._unsaved)
        if saved:
            self._tell(f"saved {saved} answer(s) that were waiting", "information")
        if error is not None:
            log.info("progress writes still waiting: %s", error)
        return len(self._unsaved)

    def _flush(self) -> str | None:
        """Commit the waiting writes in order; None when all are saved, else the first error."""
        while self._unsaved:
            apply = self._unsaved[0]
            try:
                with self._transaction() as db:
                    apply(db)
            except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
                self._unsaved.pop(0)  # a bug in the caller, not the disk: never retried
                raise
            except sqlite3.DatabaseError as exc:
                return _describe(exc)
            self._unsaved.pop(0)
        return None

    def _tell(self, message: str, severity: str) -> None:
        log.warning(message) if severity == "warning" else log.info(message)
        if self.on_message is not None:
            self.on_message(message, severity)

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
    ) -> bool:
        """Save a card's new FSRS state and append the review to the log, in one commit."""
        if int(rating) not in (1, 2, 3, 4):
            raise ValueError(f"rating must be 1, 2, 3 or 4, got {rating!r}")
        at, due_iso = to_iso(reviewed_at), to_iso(due)

        def apply(db: sqlite3.Connection) -> None:
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

        return self._write(apply)

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
    ) -> bool:
        """Append one answer to a lesson question."""
        at = _now_iso(now)  # the moment of the answer, even when saved on a retry

        def apply(db: sqlite3.Connection) -> None:
            db.execute(
                """INSERT INTO attempt (lesson_id, question_id, response, correct, answered_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (lesson_id, question_id, str(response), int(bool(correct)), at),
            )

        return self._write(apply)

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
    ) -> bool:
        """Remember that a step (section, page) of a lesson was read; the first time counts."""
        at = _now_iso(now)

        def apply(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR IGNORE INTO lesson_step (lesson_id, step, read_at) VALUES (?, ?, ?)",
                (lesson_id, str(step), at),
            )

        return self._write(apply)

    def mark_lesson_completed(self, lesson_id: str, now: datetime | None = None) -> bool:
        at = _now_iso(now)

        def apply(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR IGNORE INTO lesson_completed (lesson_id, completed_at) VALUES (?, ?)",
                (lesson_id, at),
            )

        return self._write(apply)

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
    ) -> bool:
        """Append a game event (``kind`` such as "game.guess-next-token") with its xp."""
        row = (kind, json.dumps(payload or {}, ensure_ascii=False), int(xp), _now_iso(now))

        def apply(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO event (kind, payload, xp, at) VALUES (?, ?, ?, ?)",
                row,
            )

        return self._write(apply)

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

    def set_setting(self, key: str, value: Any) -> bool:
        row = (key, json.dumps(value))

        def apply(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO setting (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                row,
            )

        return self._write(apply)


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


@dataclass(frozen=True)
class _Verdict:
    """What a read-only look at an existing file found (all None: a usable database)."""

    damage: str | None = None  # SQLite says it is malformed, or it holds other tables
    newer: str | None = None  # a newer arlm's schema: healthy, but not ours to write
    unreadable: str | None = None  # permission denied, locked: the contents are unknown


def _unusable_file(path: Path) -> str | None:
    """Why ``path`` can never be a database file (a folder, a FIFO, a device), else None."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISREG(mode):
        return None
    return "a folder, not a file" if stat.S_ISDIR(mode) else "not a regular file"


def _read_only_uri(path: Path, *, immutable: bool = False) -> str:
    from urllib.parse import quote

    return f"file:{quote(str(path.resolve()))}?mode=ro" + ("&immutable=1" if immutable else "")


def _connect_read_only(path: Path) -> sqlite3.Connection | None:
    """A read-only connection that sees the saved progress, or None when it cannot be read
    (or the schema is older than this arlm's, which only a write could upgrade)."""
    # A WAL database in a folder we may not write needs its -shm file; ``immutable`` reads
    # the main file alone (what a checkpoint has written), which is the best we can do there.
    for immutable in (False, True):
        try:
            conn = sqlite3.connect(
                _read_only_uri(path, immutable=immutable),
                uri=True,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_S,
                check_same_thread=False,
            )
        except sqlite3.Error:
            continue
        try:
            conn.row_factory = sqlite3.Row
            if _version_of(conn) >= SCHEMA_VERSION:
                _check_schema(conn)
                return conn
        except (sqlite3.Error, _WrongSchema):
            pass
        conn.close()
    return None


def _inspect(path: Path) -> _Verdict:
    """Look at an existing file without changing a byte of it: is it damaged, newer, or
    unreadable? Only SQLite's own verdict on the bytes (or foreign tables) counts as damage."""
    if not os.access(path, os.R_OK):
        return _Verdict(unreadable="permission denied")
    verdict = _inspect_once(path, immutable=False)
    if verdict.unreadable is not None:
        # A WAL file in a folder we may not write cannot be opened read-only without its
        # -shm; the main file alone still tells whether the bytes are a healthy database.
        second = _inspect_once(path, immutable=True)
        if second.unreadable is None:
            return second
    return verdict


def _inspect_once(path: Path, *, immutable: bool) -> _Verdict:
    try:
        conn = sqlite3.connect(
            _read_only_uri(path, immutable=immutable),
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_S,
        )
    except sqlite3.Error as exc:
        return _Verdict(unreadable=_describe(exc))
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            return _Verdict(damage=f"integrity check failed: {' '.join(str(check).split())[:200]}")
        try:
            version = _version_of(conn)
        except _WrongSchema as exc:
            return _Verdict(damage=_describe(exc))
        if version > SCHEMA_VERSION:
            return _Verdict(newer=f"schema version {version}, this arlm knows {SCHEMA_VERSION}")
        if version == SCHEMA_VERSION:
            try:
                _check_schema(conn)
            except _WrongSchema as exc:
                return _Verdict(damage=_describe(exc))
        return _Verdict()
    except sqlite3.DatabaseError as exc:
        if _is_damage(exc):
            return _Verdict(damage=_describe(exc))
        return _Verdict(unreadable=_describe(exc))
    finally:
        conn.close()


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
            raise _NewerSchema(
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
                raise _NewerSchema(
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


#: SQLite errors about the bytes of the file itself: only these (and another program's tables)
#: move a file aside. Read-only, permission, lock, busy and full-disk errors never do.
_DAMAGE_ERRORS = ("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_FORMAT", "SQLITE_IOERR_SHORT_READ")


def _is_damage(exc: BaseException) -> bool:
    """True when the error means the file itself is not a usable progress database."""
    if isinstance(exc, _NewerSchema):
        return False
    name = getattr(exc, "sqlite_errorname", None)
    if name is None:
        return True  # _WrongSchema, or our own integrity-check failure
    return name.startswith(_DAMAGE_ERRORS)


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
