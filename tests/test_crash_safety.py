"""A session killed with SIGKILL loses nothing it had reported as saved, and leaves a database
that opens cleanly (no recovery, no file moved aside)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from arlm_tui.learn.cards import MY_CARDS_FILE
from arlm_tui.learn.store import DB_NAME, Store

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 20.0


def _start(args: list[str], home: Path) -> tuple[subprocess.Popen, queue.Queue]:
    env = dict(os.environ, ARLM_HOME=str(home), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=home,
    )
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=TIMEOUT_S)
    assert proc.returncode == -signal.SIGKILL


def _next_line(lines: queue.Queue) -> str:
    line = lines.get(timeout=TIMEOUT_S)
    assert line is not None, "the child process ended early"
    return line


def test_killed_terminal_review_keeps_every_saved_review(tmp_path):
    lessons = tmp_path / "no-lessons"  # the queue is the learner's own cards only
    lessons.mkdir()
    (tmp_path / MY_CARDS_FILE).write_text(
        "".join(f"[k{i}] question {i} :: answer {i}\n" for i in range(30))
    )
    script = (
        "import sys; from pathlib import Path; import arlm_tui.paths as p; "
        f"p.lessons_dir = lambda: Path({str(lessons)!r}); "
        "from arlm_tui.cli.learn import main; sys.exit(main(['cards', 'review']))"
    )
    proc, lines = _start(["-c", script], tmp_path)
    try:
        shown: list[str] = []
        ratings = [3, 1, 4, 2, 3, 3, 1]
        for rating in ratings:
            line = _next_line(lines)
            while "── card" not in line:
                line = _next_line(lines)
            shown.append(line.split(" · ")[1])
            proc.stdin.write(f"\n{rating}\n")
            proc.stdin.flush()
            while "saved:" not in line:
                line = _next_line(lines)
        # mid-session: the next card is on screen and its answer revealed, not yet rated
        proc.stdin.write("\n")
        proc.stdin.flush()
        _kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert Path(tmp_path / (DB_NAME + "-wal")).exists()  # the kill left WAL content behind
    with Store.open(tmp_path / DB_NAME) as store:
        assert store.notice is None
        reviews = store.reviews()
        assert [(r.card_id, r.rating) for r in reviews] == list(zip(shown, ratings, strict=True))
        assert set(store.card_states()) == set(shown)


WRITER = """
import sys
from arlm_tui.learn.store import Store
store = Store.open()
i = 0
while True:
    store.record_attempt("01-x", f"q{i % 7}", str(i), i % 3 == 0)
    i += 1
    print(i, flush=True)
"""


def test_killed_writer_keeps_every_reported_commit(tmp_path):
    proc, lines = _start(["-c", WRITER], tmp_path)
    try:
        reported = 0
        while reported < 150:
            reported = int(_next_line(lines))
        _kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with Store.open(tmp_path / DB_NAME) as store:
        assert store.notice is None
        attempts = store.attempts()
    # everything reported before the kill is there, in order, and nothing half-written
    assert len(attempts) >= reported
    assert [a.response for a in attempts] == [str(i) for i in range(len(attempts))]
