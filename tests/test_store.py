"""The progress store: WAL, commits as they happen, migrations, and recovery from a bad file."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from arlm_tui.learn import store as store_module
from arlm_tui.learn.store import (
    DB_NAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    Store,
    create_schema,
    from_iso,
    to_iso,
)

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
ASIDE = re.compile(re.escape(DB_NAME) + r"\.corrupt-\d{8}-\d{6}(-\d+)?$")


def _aside_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ASIDE.match(p.name)]


def _review(store: Store, card_id: str, rating: int, at: datetime) -> None:
    due = at + timedelta(days=rating)
    card = {
        "card_id": 1,
        "state": 2,
        "step": None,
        "stability": 2.0,
        "difficulty": 5.0,
        "due": due.isoformat(),
        "last_review": at.isoformat(),
    }
    store.record_review(
        card_id,
        rating,
        fsrs_card=json.dumps(card),
        due=due,
        content_hash="h1",
        reviewed_at=at,
        duration_ms=1200,
    )


# --------------------------------------------------------------------------- basics
def test_default_path_is_in_arlm_home_and_uses_wal(_arlm_home):
    with Store.open() as store:
        assert store.path == Path(_arlm_home) / DB_NAME
        assert store.path.is_file()
        assert store.journal_mode == "wal"
        assert store.schema_version == SCHEMA_VERSION
        assert store.notice is None


def test_every_write_is_visible_to_another_connection_before_close(tmp_path):
    path = tmp_path / DB_NAME
    store = Store.open(path)
    store.record_attempt("01-x", "q1", "0.5", True, now=T0)
    _review(store, "01-x/c1", 3, T0)
    store.mark_lesson_step("01-x", "Intro", now=T0)
    other = sqlite3.connect(path)
    try:
        assert other.execute("SELECT COUNT(*) FROM attempt").fetchone()[0] == 1
        assert other.execute("SELECT COUNT(*) FROM review_log").fetchone()[0] == 1
        assert other.execute("SELECT COUNT(*) FROM lesson_step").fetchone()[0] == 1
    finally:
        other.close()
        store.close()


def test_everything_persists_across_reopen(tmp_path):
    path = tmp_path / DB_NAME
    with Store.open(path) as store:
        store.record_attempt("01-x", "q1", "greedy", False, now=T0)
        store.record_attempt("01-x", "q1", "beam search", True, now=T0 + timedelta(minutes=1))
        store.record_attempt("02-y", "q7", "3", True, now=T0)
        _review(store, "01-x/c1", 1, T0)
        _review(store, "01-x/c1", 3, T0 + timedelta(minutes=10))
        _review(store, "my/#abc", 4, T0)
        store.mark_lesson_step("01-x", "Intro", now=T0)
        store.mark_lesson_step("01-x", 2, now=T0 + timedelta(seconds=5))
        store.mark_lesson_completed("02-y", now=T0)
        store.record_event("game.guess", {"score": 7}, xp=15, now=T0)
        store.record_event("game.beam", {"score": 2}, xp=5, now=T0)
        store.set_setting("cards.new_per_day", 12)

    with Store.open(path) as store:
        assert store.notice is None
        attempts = store.attempts("01-x", "q1")
        assert [(a.response, a.correct) for a in attempts] == [
            ("greedy", False),
            ("beam search", True),
        ]
        assert attempts[0].answered_at == T0
        assert len(store.attempts()) == 3
        reviews = store.reviews("01-x/c1")
        assert [r.rating for r in reviews] == [1, 3]
        assert reviews[1].due_after == T0 + timedelta(minutes=10, days=3)
        assert reviews[0].duration_ms == 1200
        assert store.review_count() == 3
        state = store.card_state("01-x/c1")
        assert state is not None
        assert state.due == reviews[-1].due_after
        assert state.introduced_at == T0  # the first review, not the latest
        assert set(store.card_states()) == {"01-x/c1", "my/#abc"}
        progress = store.lesson_progress("01-x")
        assert progress.steps_read == ("Intro", "2") and not progress.completed
        assert store.lesson_progress("02-y").completed_at == T0
        assert [e.payload["score"] for e in store.events("game.guess")] == [7]
        assert store.total_xp() == 20
        assert store.get_setting("cards.new_per_day") == 12
        assert store.get_setting("missing", "default") == "default"


def test_lesson_steps_read_lists_first_reads_in_order_and_since(tmp_path):
    with Store.open(tmp_path / DB_NAME) as store:
        assert store.lesson_steps_read() == []
        store.mark_lesson_step("02-y", "b", now=T0 + timedelta(hours=2))
        store.mark_lesson_step("01-x", "a", now=T0)
        store.mark_lesson_step("01-x", 3, now=T0 + timedelta(days=1))
        store.mark_lesson_step("01-x", "a", now=T0 + timedelta(days=2))  # read again: ignored
        read = store.lesson_steps_read()
        assert read == [
            ("01-x", "a", T0),
            ("02-y", "b", T0 + timedelta(hours=2)),
            ("01-x", "3", T0 + timedelta(days=1)),
        ]
        assert all(at.tzinfo is not None for _, _, at in read)
        assert store.lesson_steps_read(since=T0 + timedelta(hours=2)) == read[1:]
        assert store.lesson_steps_read(since=T0 + timedelta(days=3)) == []
        version = store.schema_version
    with Store.open(tmp_path / DB_NAME) as store:  # a read-only query: nothing else changed
        assert store.lesson_steps_read() == read and store.schema_version == version


def test_lesson_completion(tmp_path):
    with Store.open(tmp_path / DB_NAME) as store:
        assert store.lesson_completion("01-x", 4) == 0.0
        store.mark_lesson_step("01-x", "a")
        store.mark_lesson_step("01-x", "b")
        store.mark_lesson_step("01-x", "a")  # reading a step twice counts once
        assert store.lesson_completion("01-x", 4) == pytest.approx(0.5)
        assert store.lesson_completion("01-x") == 0.0
        store.mark_lesson_completed("01-x")
        assert store.lesson_completion("01-x", 4) == 1.0
        assert store.lesson_completion("01-x") == 1.0
        with pytest.raises(ValueError, match="total_steps"):
            store.lesson_completion("01-x", -1)


def test_bad_rating_is_a_value_error_and_writes_nothing(tmp_path):
    with Store.open(tmp_path / DB_NAME) as store:
        with pytest.raises(ValueError, match="rating"):
            _review(store, "c", 5, T0)
        assert store.review_count() == 0 and store.card_states() == {}


def test_times_round_trip_as_utc_and_sort_as_strings():
    later = T0 + timedelta(microseconds=1)
    assert from_iso(to_iso(T0)) == T0
    assert to_iso(T0) < to_iso(later)
    other_zone = T0.astimezone(__import__("datetime").timezone(timedelta(hours=-5)))
    assert to_iso(other_zone) == to_iso(T0)


# --------------------------------------------------------------------------- migrations
def test_migrating_a_v1_database_keeps_its_data(tmp_path):
    path = tmp_path / DB_NAME
    create_schema(path, 1)
    due = T0 + timedelta(days=2)
    card_json = json.dumps(
        {
            "card_id": 5,
            "state": 2,
            "step": None,
            "stability": 3.0,
            "difficulty": 4.0,
            "due": due.isoformat(),
            "last_review": T0.isoformat(),
        }
    )
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO card_state VALUES (?, ?, ?, ?)",
        ("01-x/c1", card_json, "hash", to_iso(T0 + timedelta(hours=1))),
    )
    db.executemany(
        "INSERT INTO review_log (card_id, rating, reviewed_at, duration_ms) VALUES (?, ?, ?, ?)",
        [("01-x/c1", 1, to_iso(T0), None), ("01-x/c1", 3, to_iso(T0 + timedelta(hours=1)), 800)],
    )
    db.execute(
        "INSERT INTO attempt (lesson_id, question_id, response, correct, answered_at) "
        "VALUES ('01-x', 'q1', 'a', 1, ?)",
        (to_iso(T0),),
    )
    db.execute("INSERT INTO lesson_completed VALUES ('01-x', ?)", (to_iso(T0),))
    db.commit()
    assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 1
    db.close()

    with Store.open(path) as store:
        assert store.notice is None
        assert store.schema_version == SCHEMA_VERSION
        state = store.card_state("01-x/c1")
        assert state is not None
        assert state.due == due  # backfilled from the FSRS JSON
        assert state.introduced_at == T0  # backfilled from the first review
        assert [r.rating for r in store.reviews()] == [1, 3]
        assert store.reviews()[0].due_after is None
        assert store.attempts()[0].correct
        assert store.lesson_completion("01-x") == 1.0
        # tables added by later versions work
        store.record_event("game.x", {}, xp=3)
        store.set_setting("k", [1, 2])
        assert store.total_xp() == 3 and store.get_setting("k") == [1, 2]
    db = sqlite3.connect(path)
    versions = [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY version")]
    db.close()
    assert versions == list(range(1, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("start", range(len(MIGRATIONS)))
def test_every_older_version_upgrades_cleanly(tmp_path, start):
    path = tmp_path / DB_NAME
    create_schema(path, start)
    with Store.open(path) as store:
        assert store.notice is None
        assert store.schema_version == SCHEMA_VERSION
        store.record_attempt("l", "q", "r", True)
    assert not _aside_files(tmp_path)


# --------------------------------------------------------------------------- bad files
def _truncated(path: Path) -> None:
    with Store.open(path) as store:
        for i in range(400):
            store.record_attempt("l", f"q{i}", "x" * 300, True)
    data = path.read_bytes()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(data[: len(data) // 2])


def _not_a_database(path: Path) -> None:
    path.write_text("this is a shopping list, not a database\n" * 50)


def _foreign_tables(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE songs (title TEXT)")
    db.commit()
    db.close()


def _newer_version(path: Path) -> None:
    create_schema(path, SCHEMA_VERSION)
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_version VALUES (?, ?)", (SCHEMA_VERSION + 7, to_iso(T0)))
    db.commit()
    db.close()


def _missing_column(path: Path) -> None:
    create_schema(path, SCHEMA_VERSION)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE attempt")
    db.execute("CREATE TABLE attempt (id INTEGER PRIMARY KEY, lesson_id TEXT)")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    "damage", [_truncated, _not_a_database, _foreign_tables, _missing_column]
)
def test_a_bad_file_is_moved_aside_and_a_fresh_store_starts(tmp_path, damage):
    path = tmp_path / DB_NAME
    damage(path)
    original = path.read_bytes()

    store = Store.open(path)
    try:
        assert store.path == path
        assert store.notice is not None and "\n" not in store.notice
        aside = _aside_files(tmp_path)
        assert len(aside) == 1
        assert aside[0].name in store.notice and "fresh" in store.notice
        assert aside[0].read_bytes() == original  # moved, not modified
        assert store.schema_version == SCHEMA_VERSION and store.journal_mode == "wal"
        assert store.review_count() == 0 and store.attempts() == []
        store.record_attempt("l", "q", "r", True)
    finally:
        store.close()
    with Store.open(path) as again:
        assert again.notice is None
        assert len(again.attempts()) == 1
    assert len(_aside_files(tmp_path)) == 1


def test_two_bad_files_in_the_same_second_get_distinct_names(tmp_path):
    path = tmp_path / DB_NAME
    for _ in range(2):
        _not_a_database(path)
        Store.open(path).close()
    assert len(_aside_files(tmp_path)) == 2


def test_a_busy_database_is_not_moved_aside(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.05)
    path = tmp_path / DB_NAME
    create_schema(path, 1)  # needs migrating, so opening must write
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = Store.open(path)
        assert store.path is None  # an in-memory store for this session
        assert store.notice is not None and "not be saved" in store.notice
        store.record_attempt("l", "q", "r", True)  # still usable
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not _aside_files(tmp_path)
    with Store.open(path) as store:
        assert store.notice is None and store.schema_version == SCHEMA_VERSION


def test_create_schema_rejects_unknown_versions(tmp_path):
    with pytest.raises(ValueError, match="version"):
        create_schema(tmp_path / "x.sqlite3", SCHEMA_VERSION + 1)



# --------------------------------------------------------------------------- healthy, not writable
def test_a_newer_arlms_database_is_left_alone_and_read(tmp_path):
    path = tmp_path / DB_NAME
    _newer_version(path)
    original = path.read_bytes()
    with Store.open(path) as store:
        assert store.read_only and store.notice is not None and "newer" in store.notice
        assert store.record_attempt("l", "q", "r", True) is False
        assert store.unsaved == 1
    assert path.read_bytes() == original and not _aside_files(tmp_path)


# A forked child (as ``nobody`` when the tests run as root, where chmod stops nothing; the
# interpreter itself may be private to root, so the child forks rather than execs) opens a healthy
# database it may not write, tries to save an answer, and reports what it saw as JSON.
def _as_other_user(db: Path) -> dict:
    import os

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            store = Store.open(db)
            seen = [a.question_id for a in store.attempts()]
            saved = store.record_attempt("l", "new", "r", True)
            report = {"path": str(store.path) if store.path else None, "notice": store.notice,
                      "read_only": store.read_only, "seen": seen, "saved": saved,
                      "unsaved": store.unsaved}
            store.close()
            os.write(write_end, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(data)


def _healthy(folder: Path) -> Path:
    path = folder / DB_NAME
    with Store.open(path) as store:
        store.record_attempt("l", "old", "r", True)
    for f in folder.iterdir():
        f.chmod(0o666)
    return path


@pytest.fixture
def shared_dir():
    """A folder another user can enter (pytest's tmp_path is private to root)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="arlm-store-"))
    folder.chmod(0o777)
    yield folder
    folder.chmod(0o777)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("mistake", ["read-only file", "read-only folder", "mode 000"])
def test_a_healthy_database_that_cannot_be_written_is_never_moved_aside(shared_dir, mistake):
    path = _healthy(shared_dir)
    if mistake == "read-only file":
        path.chmod(0o444)
    elif mistake == "mode 000":
        path.chmod(0o000)
    before = path.read_bytes()
    if mistake == "read-only folder":
        shared_dir.chmod(0o555)
    try:
        seen = _as_other_user(path)
    finally:
        shared_dir.chmod(0o777)
    path.chmod(0o666)
    assert path.read_bytes() == before  # nothing moved, nothing written (SQLite may add its
    assert not _aside_files(shared_dir)  # -shm companion next to a read-only file, as any reader)
    assert not _aside_files(shared_dir)
    notice = seen["notice"]
    assert notice and "\n" not in notice and "corrupt" not in notice and "moved" not in notice
    if mistake == "mode 000":
        assert seen["path"] is None and "permission denied" in notice and seen["saved"]
    else:
        # read-only: what was saved is shown; the new answer waits in memory
        assert seen["read_only"] and seen["seen"] == ["old"]
        assert seen["saved"] is False and seen["unsaved"] == 1
    with Store.open(path) as store:
        assert store.notice is None and [a.question_id for a in store.attempts()] == ["old"]


def test_a_database_locked_by_another_process_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.05)
    path = tmp_path / DB_NAME
    with Store.open(path) as store:
        store.record_attempt("l", "old", "r", True)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = Store.open(path)
        assert store.notice is not None and "corrupt" not in store.notice
        assert store.record_attempt("l", "q", "r", True) in (True, False)
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not _aside_files(tmp_path)
    with Store.open(path) as store:
        assert store.notice is None and [a.question_id for a in store.attempts()] == ["old"]


def test_a_write_that_fails_while_running_is_kept_and_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.05)
    path = tmp_path / DB_NAME
    store = Store.open(path)
    messages: list[tuple[str, str]] = []
    store.on_message = lambda text, severity: messages.append((text, severity))
    store._conn.execute(f"PRAGMA busy_timeout = {50}")
    _review(store, "c1", 3, T0)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        _review(store, "c2", 4, T0 + timedelta(minutes=1))  # must not raise
        assert store.record_attempt("l", "q1", "r", True, now=T0) is False
        assert store.unsaved == 2
        assert messages and messages[-1][1] == "warning" and "kept in memory" in messages[-1][0]
        assert "\n" not in messages[-1][0]
        assert store.review_count() == 1  # what was committed stays committed
        assert store.retry_unsaved() == 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.retry_unsaved() == 0
    assert messages[-1][1] == "information" and "saved 2" in messages[-1][0]
    assert [r.card_id for r in store.reviews()] == ["c1", "c2"]
    assert [a.answered_at for a in store.attempts()] == [T0]  # the time of the answer
    store.close()


def test_a_full_disk_keeps_the_answer_and_the_committed_data(tmp_path):
    path = tmp_path / DB_NAME
    with Store.open(path) as store:
        _review(store, "c1", 3, T0)
        page_count = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {page_count}")  # SQLITE_FULL from now on
        big = "x" * 200_000
        assert store.record_attempt("l", "q", big, True) is False
        assert store.unsaved == 1 and store.review_count() == 1
        store._conn.execute("PRAGMA max_page_count = 1073741823")
        assert store.retry_unsaved() == 0
        assert len(store.attempts()) == 1


def test_a_programming_error_still_raises(tmp_path):
    with Store.open(tmp_path / DB_NAME) as store:
        with pytest.raises(sqlite3.IntegrityError):
            store._write(lambda db: db.execute(
                "INSERT INTO review_log (card_id, rating, reviewed_at) VALUES ('c', 9, 'x')"))
        assert store.unsaved == 0
