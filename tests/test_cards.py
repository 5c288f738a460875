"""Flashcards: FSRS scheduling, the due queue, the new-card limit, statistics, the learner's own
card file, and the ``lessons``/``cards`` commands."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import fsrs
import pytest

from arlm_tui.cli import learn as cli_learn
from arlm_tui.errors import ArlmError
from arlm_tui.learn.cards import (
    DEFAULT_NEW_PER_DAY,
    MY_CARDS_FILE,
    Deck,
    Flashcard,
    format_interval,
    front_hash_id,
    lesson_cards,
    load_own_cards,
    parse_own_cards,
    parse_rating,
    set_new_per_day,
)
from arlm_tui.learn.store import Store

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning (UTC is the learner's zone here)


def _lesson(lesson_id: str, n: int) -> SimpleNamespace:
    cards = [
        SimpleNamespace(id=f"c{i}", front=f"{lesson_id} front {i}", back=f"back {i}")
        for i in range(n)
    ]
    return SimpleNamespace(id=lesson_id, cards=cards)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "progress.sqlite3") as s:
        yield s


def _deck(store: Store, n_per_lesson: int = 3, lessons: int = 2, **options) -> Deck:
    options.setdefault("scheduler", fsrs.Scheduler(enable_fuzzing=False))
    options.setdefault("tz", UTC)
    lesson_list = [_lesson(f"0{i + 1}-l", n_per_lesson) for i in range(lessons)]
    return Deck(store, lesson_cards(lesson_list), **options)


# --------------------------------------------------------------------------- scheduling
def test_good_schedules_later_than_again_for_new_and_reviewed_cards(store):
    deck = _deck(store)
    again = deck.answer("01-l/c0", fsrs.Rating.Again, T0)
    good = deck.answer("01-l/c1", fsrs.Rating.Good, T0)
    assert T0 < again < good

    # two cards brought to the Review state the same way, then rated differently
    for card_id in ("02-l/c0", "02-l/c1"):
        due = deck.answer(card_id, "easy", T0)
        assert due - T0 >= timedelta(days=1)
    later = T0 + timedelta(days=30)
    after_again = deck.answer("02-l/c0", 1, later)
    after_good = deck.answer("02-l/c1", 3, later)
    assert later < after_again < after_good
    assert after_good - later > due - T0  # a successful recall grows the interval


def test_preview_orders_the_four_ratings_and_saves_nothing(store):
    deck = _deck(store)
    preview = deck.preview("01-l/c0", T0)
    dues = [preview[r] for r in fsrs.Rating]
    assert dues == sorted(dues) and dues[0] < dues[-1]
    assert store.review_count() == 0
    assert deck.answer("01-l/c0", "good", T0) == preview[fsrs.Rating.Good]


def test_answer_commits_state_and_log_and_returns_next_due(store):
    deck = _deck(store)
    due = deck.answer("01-l/c2", "hard", T0, duration_ms=2500)
    state = store.card_state("01-l/c2")
    assert state is not None and state.due == due
    assert state.content_hash == deck.cards["01-l/c2"].content_hash
    [review] = store.reviews("01-l/c2")
    assert (review.rating, review.reviewed_at, review.due_after, review.duration_ms) == (
        int(fsrs.Rating.Hard),
        T0,
        due,
        2500,
    )
    # a reopened deck continues from the stored state
    again = _deck(store)
    assert again.due_queue(due)[0].card.id == "01-l/c2"


def test_answer_rejects_unknown_cards_and_ratings(store):
    deck = _deck(store)
    with pytest.raises(ValueError, match="card_id"):
        deck.answer("nope/c0", 3, T0)
    with pytest.raises(ValueError, match="rating"):
        deck.answer("01-l/c0", 5, T0)
    assert store.review_count() == 0


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (1, fsrs.Rating.Again),
        ("2", fsrs.Rating.Hard),
        (" Good ", fsrs.Rating.Good),
        ("EASY", fsrs.Rating.Easy),
        (fsrs.Rating.Hard, fsrs.Rating.Hard),
    ],
)
def test_parse_rating(typed, expected):
    assert parse_rating(typed) is expected


@pytest.mark.parametrize("bad", [0, 5, "ok", "", True, 2.0])
def test_parse_rating_rejects(bad):
    with pytest.raises(ValueError, match="rating must be"):
        parse_rating(bad)


# --------------------------------------------------------------------------- the queue
def test_due_queue_puts_most_overdue_first_then_new_cards_in_deck_order(store):
    deck = _deck(store, n_per_lesson=4)
    first = deck.answer("02-l/c3", "again", T0)  # due in about a minute
    second = deck.answer("01-l/c2", "good", T0)  # due in about ten minutes
    deck.answer("01-l/c0", "easy", T0)  # due in days: not in today's queue
    assert first < second

    queue = deck.due_queue(second + timedelta(seconds=1))
    ids = [item.card.id for item in queue]
    assert ids[:2] == ["02-l/c3", "01-l/c2"]
    assert [item.state for item in queue[:2]] == ["learning", "learning"]
    assert "01-l/c0" not in ids
    reviewed = {"02-l/c3", "01-l/c2", "01-l/c0"}
    new_ids = [c for c in deck.cards if c not in reviewed]
    assert ids[2:] == new_ids
    assert all(item.state == "new" and item.due is None for item in queue[2:])

    # only the first card is due a second after it; learn_ahead brings the second one forward
    early = first + timedelta(seconds=1)
    assert [i.card.id for i in deck.due_queue(early) if i.state != "new"] == ["02-l/c3"]
    ahead = deck.due_queue(early, learn_ahead=second - early)
    assert [i.card.id for i in ahead if i.state != "new"] == ["02-l/c3", "01-l/c2"]


def test_new_cards_per_day_limit(store):
    deck = _deck(store, n_per_lesson=5, new_per_day=3)
    queue = deck.due_queue(T0)
    assert [i.state for i in queue] == ["new"] * 3
    for item in queue[:2]:
        deck.answer(item.card.id, "easy", T0)  # easy: not due again today
    later = T0 + timedelta(hours=2)
    assert deck.new_remaining(later) == 1
    assert len(deck.due_queue(later)) == 1
    deck.answer(deck.due_queue(later)[0].card.id, "easy", later)
    assert deck.due_queue(later + timedelta(minutes=1)) == []
    tomorrow = T0 + timedelta(days=1)
    assert [i.state for i in deck.due_queue(tomorrow)] == ["new"] * 3


def test_new_per_day_comes_from_the_setting(store):
    assert _deck(store).new_per_day == DEFAULT_NEW_PER_DAY
    set_new_per_day(store, 4)
    assert _deck(store).new_per_day == 4
    assert len(_deck(store, n_per_lesson=5).due_queue(T0)) == 4
    set_new_per_day(store, 0)
    assert _deck(store).due_queue(T0) == []
    with pytest.raises(ValueError, match="new_per_day"):
        set_new_per_day(store, -1)
    with pytest.raises(ValueError, match="new_per_day"):
        _deck(store, new_per_day=-2)


def test_duplicate_card_ids_are_a_value_error(store):
    card = Flashcard("a/b", "f", "b", "a")
    with pytest.raises(ValueError, match="a/b"):
        Deck(store, [card, card])


# --------------------------------------------------------------------------- statistics
def test_stats_count_states_due_today_and_forecast(store):
    deck = _deck(store, n_per_lesson=5)
    dues = {
        card_id: deck.answer(card_id, rating, T0)
        for card_id, rating in [
            ("01-l/c0", "easy"),
            ("01-l/c1", "good"),
            ("01-l/c2", "good"),
            ("02-l/c0", "again"),
        ]
    }
    # Good at the end of the learning steps graduates a card to a review in a few days
    for card_id in ("01-l/c1", "01-l/c2"):
        dues[card_id] = deck.answer(card_id, "good", dues[card_id])
    dues["02-l/c1"] = deck.answer("02-l/c1", "easy", T0)
    dues["02-l/c1"] = deck.answer("02-l/c1", "easy", dues["02-l/c1"] - timedelta(days=3))
    now = T0 + timedelta(hours=1)
    stats = deck.stats(now)
    end_of_day = datetime(2025, 3, 4, tzinfo=UTC)
    assert stats.cards == 10
    assert stats.new == 10 - len(dues)
    assert stats.learning + stats.review == len(dues)
    assert stats.review == sum(
        fsrs.Card.from_json(store.card_state(c).fsrs_card).state == fsrs.State.Review for c in dues
    )
    assert stats.due_today == sum(d < end_of_day for d in dues.values())
    assert [d for d, _ in stats.forecast] == [now.date() + timedelta(days=i) for i in range(1, 8)]
    for day, count in stats.forecast:
        assert count == sum(d.date() == day for d in dues.values())
    assert sum(n for _, n in stats.forecast) >= 2 and stats.due_today >= 1
    assert stats.new_today == min(stats.new, DEFAULT_NEW_PER_DAY - 5)
    assert stats.reviews_total == store.review_count() == 8


def test_stats_retention_reviews_per_day_and_streak(store):
    deck = _deck(store, n_per_lesson=6)
    today = datetime(2025, 3, 10, 12, tzinfo=UTC)
    ratings_by_days_ago = {
        0: ["good", "again"],
        1: ["again"],
        2: ["easy", "hard", "good"],
        4: ["good"],
    }
    cards = iter(deck.cards)
    for days_ago, ratings in ratings_by_days_ago.items():
        for rating in ratings:
            deck.answer(next(cards), rating, today - timedelta(days=days_ago, hours=1))
    stats = deck.stats(today)
    all_ratings = [r for rs in ratings_by_days_ago.values() for r in rs]
    assert stats.reviews_total == len(all_ratings)
    assert stats.retention == pytest.approx(
        sum(r != "again" for r in all_ratings) / len(all_ratings)
    )
    per_day = dict(stats.reviews_per_day)
    assert len(stats.reviews_per_day) == 30 and max(per_day) == today.date()
    for days_ago in range(30):
        day = today.date() - timedelta(days=days_ago)
        assert per_day[day] == len(ratings_by_days_ago.get(days_ago, []))
    assert stats.reviews_today == 2
    assert stats.streak == 3  # today, yesterday, two days ago; three days ago is empty
    # before today's first review the streak still counts up to yesterday
    assert _deck(store, n_per_lesson=6).stats(today + timedelta(days=1)).streak == 3
    assert _deck(store, n_per_lesson=6).stats(today + timedelta(days=2)).streak == 0


def test_stats_of_an_empty_history(store):
    stats = _deck(store).stats(T0)
    assert stats.retention is None and stats.streak == 0 and stats.reviews_total == 0
    assert json.loads(json.dumps(stats.to_dict()))["forecast"][0]["due"] == 0


def test_format_interval():
    assert format_interval(T0 + timedelta(seconds=10), T0) == "now"
    assert format_interval(T0 + timedelta(minutes=10), T0) == "in 10 min"
    assert format_interval(T0 + timedelta(hours=5), T0) == "in 5 h"
    assert format_interval(T0 + timedelta(days=1), T0) == "in 1 day"
    assert format_interval(T0 + timedelta(days=12), T0) == "in 12 days"
    assert "months" in format_interval(T0 + timedelta(days=200), T0)
    assert "years" in format_interval(T0 + timedelta(days=2000), T0)


# --------------------------------------------------------------------------- own cards
OWN = """\
# my cards
What does BPE merge? :: the most frequent pair
[ppl] Perplexity of a uniform model over V tokens? :: V

Q: [lstm] Which gates
does an LSTM have?
A: forget, input
   and output
Q: Second block right after
A: fine
"""


def test_parse_own_cards_lines_ids_and_blocks():
    parsed = parse_own_cards(OWN, "cards.txt")
    assert parsed.errors == []
    by_front = {c.front: c for c in parsed.cards}
    assert [c.line for c in parsed.cards] == [2, 3, 5, 9]
    bpe = by_front["What does BPE merge?"]
    assert bpe.back == "the most frequent pair"
    assert bpe.id == front_hash_id("What does BPE merge?")
    assert by_front["Perplexity of a uniform model over V tokens?"].id == "my/ppl"
    lstm = by_front["Which gates\ndoes an LSTM have?"]
    assert (lstm.id, lstm.back) == ("my/lstm", "forget, input\nand output")
    assert by_front["Second block right after"].back == "fine"
    assert all(c.is_own and c.source == "cards.txt" for c in parsed.cards)


def test_front_hash_ignores_case_and_spacing_only():
    assert front_hash_id("What  is  BPE?") == front_hash_id("what is bpe?")
    assert front_hash_id("What is BPE?") != front_hash_id("What is BPE!")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("ok :: fine\njust words\n", 2, "expected 'front :: back'"),
        ("a :: b\n\n:: no front\n", 3, "no front"),
        ("a :: \n", 1, "no back"),
        ("# c\n[bad id!] a :: b\n", 2, "may hold only"),
        ("[x] a :: b\n[x] c :: d\n", 2, "already used on line 1"),
        ("Same front :: b\nsame   FRONT :: c\n", 2, "same front as the card on line 1"),
        ("\nA: orphan answer\n", 2, "without a 'Q:'"),
        ("a :: b\nQ: question\nmore\n\nc :: d\n", 2, "without an 'A:'"),
        ("Q: q\nA: one\nA: two\n", 3, "second 'A:'"),
    ],
)
def test_parse_errors_name_file_and_line(text, line, message):
    parsed = parse_own_cards(text, "my_cards.txt")
    assert len(parsed.errors) == 1
    error = parsed.errors[0]
    assert isinstance(error, ArlmError)
    assert str(error).startswith(f"my_cards.txt:{line}: ") and message in str(error)
    assert error.line == line


def test_good_cards_survive_bad_lines():
    parsed = parse_own_cards("a :: b\nbroken\nc :: d\n[?] e :: f\ng :: h\n")
    assert [c.front for c in parsed.cards] == ["a", "c", "g"]
    assert [e.line for e in parsed.errors] == [2, 4]


def test_load_own_cards_missing_and_undecodable(_arlm_home):
    assert load_own_cards().cards == [] and load_own_cards().errors == []
    (Path(_arlm_home) / MY_CARDS_FILE).write_bytes(b"caf\xe9 :: x\n")
    errors = load_own_cards().errors
    assert len(errors) == 1 and "UTF-8" in str(errors[0]) and MY_CARDS_FILE in str(errors[0])


def test_editing_a_card_keeps_its_history(store, _arlm_home):
    path = Path(_arlm_home) / MY_CARDS_FILE
    path.write_text("[ppl] Perplexity, uniform over V? :: V\nWhat is BPE? :: merges pairs\n")
    deck = Deck.load(store, lessons=[], scheduler=fsrs.Scheduler(enable_fuzzing=False), tz=UTC)
    assert deck.problems == []
    for card_id in deck.cards:
        deck.answer(card_id, "good", T0)
    old_ids = set(deck.cards)

    # reword the front of the card with an [id]; change the back of the one without
    path.write_text(
        "[ppl] Perplexity of a uniform model over V tokens? :: exactly V\n"
        "what is  BPE? :: it merges the most frequent adjacent pair\n"
    )
    edited = Deck.load(store, lessons=[], scheduler=fsrs.Scheduler(enable_fuzzing=False), tz=UTC)
    assert set(edited.cards) == old_ids
    queue = edited.due_queue(T0 + timedelta(hours=1))
    assert {i.card.id for i in queue} == old_ids
    assert all(i.state == "learning" and i.edited for i in queue)
    for card_id in old_ids:
        edited.answer(card_id, "good", T0 + timedelta(hours=1))
        assert len(store.reviews(card_id)) == 2
    assert not any(i.edited for i in edited.due_queue(T0 + timedelta(days=30)))

    # a new front without an [id] is a new card (documented)
    path.write_text("[ppl] Perplexity? :: V\nWhat does BPE do? :: merges\n")
    renamed = Deck.load(store, lessons=[])
    assert "my/ppl" in renamed.cards and len(set(renamed.cards) - old_ids) == 1


def test_deck_load_reads_shipped_lessons_and_own_cards(store, _arlm_home):
    from arlm_tui.learn.lessons import load_lessons

    (Path(_arlm_home) / MY_CARDS_FILE).write_text("mine :: yes\nbroken line\n")
    deck = Deck.load(store)
    expected = [f"{lesson.id}/{card.id}" for lesson in load_lessons() for card in lesson.cards]
    assert list(deck.cards) == expected + [front_hash_id("mine")]
    assert len(deck.problems) == 1 and f"{MY_CARDS_FILE}:2:" in deck.problems[0]


# --------------------------------------------------------------------------- commands
def _run(argv: list[str], capsys, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli_learn.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _own_cards(home, n: int) -> None:
    lines = [f"[k{i}] question {i} :: answer {i}" for i in range(n)]
    (Path(home) / MY_CARDS_FILE).write_text("\n".join(lines) + "\n")


def test_cli_review_loop_commits_each_rating(capsys, monkeypatch, _arlm_home):
    # an empty lessons directory keeps the queue to the learner's own cards
    monkeypatch.setattr("arlm_tui.paths.lessons_dir", lambda: Path(_arlm_home))
    _own_cards(_arlm_home, 5)
    code, out, _ = _run(["cards", "review"], capsys, "\n3\n\nx\n1\n\n4\n\nq\n", monkeypatch)
    assert code == 0
    assert out.count("saved:") == 3
    assert "type 1, 2, 3 or 4" in out
    assert "3 reviews saved" in out
    with Store.open() as store:
        reviews = store.reviews()
    assert [r.rating for r in reviews] == [3, 1, 4]
    assert [r.card_id for r in reviews] == ["my/k0", "my/k1", "my/k2"]

    code, out, _ = _run(["cards", "review", "--limit", "1"], capsys, "\n3\n\n3\n", monkeypatch)
    assert code == 0 and out.count("saved:") == 1
    code, out, _ = _run(["cards", "review"], capsys, "", monkeypatch)  # end of input at once
    assert code == 0 and "0 reviews saved" in out


def test_cli_cards_stats_json_and_text(capsys, monkeypatch, _arlm_home):
    monkeypatch.setattr("arlm_tui.paths.lessons_dir", lambda: Path(_arlm_home))
    _own_cards(_arlm_home, 4)
    _run(["cards", "review"], capsys, "\n4\n\n1\n", monkeypatch)
    code, out, _ = _run(["cards", "stats", "--json"], capsys)
    stats = json.loads(out)
    assert code == 0
    assert (stats["cards"], stats["reviews_total"], stats["retention"]) == (4, 2, 0.5)
    assert stats["streak"] == 1 and len(stats["forecast"]) == 7
    code, out, _ = _run(["cards"], capsys)
    assert code == 0 and "retention: 50%" in out and "streak: 1 day" in out


def test_cli_lessons_list(capsys):
    from arlm_tui.learn.lessons import load_lessons

    lessons = load_lessons().lessons
    with Store.open() as store:
        store.mark_lesson_completed(lessons[0].id)
    code, out, _ = _run(["lessons", "list", "--json"], capsys)
    rows = json.loads(out)
    assert code == 0
    assert [r["id"] for r in rows] == [lesson.id for lesson in lessons]
    for row, lesson in zip(rows, lessons, strict=True):
        assert (row["questions"], row["cards"], row["labs"]) == (
            len(lesson.questions),
            len(lesson.cards),
            len(lesson.labs),
        )
    assert rows[0]["completion"] == 1.0
    code, out, _ = _run(["lessons"], capsys)
    assert code == 0 and lessons[0].title in out and "100%" in out


def test_cli_errors_are_one_line_with_status_2(capsys):
    code, _, err = _run(["cards", "export"], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("arlm: error: ")
    code, _, err = _run(["cards", "review", "--limit", "0"], capsys)
    assert code == 2 and "--limit" in err
    code, _, err = _run(["cards", "settings", "--new-per-day", "-3"], capsys)
    assert code == 2 and "--new-per-day" in err


def test_cli_settings(capsys):
    code, out, _ = _run(["cards", "settings", "--new-per-day", "7"], capsys)
    assert code == 0 and "7" in out
    with Store.open() as store:
        assert Deck(store, []).new_per_day == 7


def test_cli_warns_about_a_corrupt_store(capsys, _arlm_home):
    (Path(_arlm_home) / "progress.sqlite3").write_text("garbage " * 100)
    code, _, err = _run(["cards", "settings"], capsys)
    assert code == 0 and "moved it to progress.sqlite3.corrupt-" in err
