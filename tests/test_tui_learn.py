"""The learning screens driven as a learner would: the lesson list, the reader, the self-check,
every lab, a review session and the statistics (Textual Pilot), plus snapshots of the reader and
the review screen at a fixed size."""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from textual.app import App
from textual.screen import Screen
from textual.widgets import DataTable, Input, Markdown, OptionList, Static
from tui_helpers import settle, wait_until

from arlm_tui.learn.cards import Deck, Flashcard
from arlm_tui.learn.lessons import format_number, load_lessons
from arlm_tui.learn.store import Store
from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.screens.home import HomeScreen
from arlm_tui.tui.screens.lab import LabScreen, TextPrompt
from arlm_tui.tui.screens.lessons import LessonListScreen
from arlm_tui.tui.screens.reader import LessonReaderScreen
from arlm_tui.tui.screens.review import ReviewScreen
from arlm_tui.tui.screens.selfcheck import SelfCheckScreen
from arlm_tui.tui.screens.stats import StatsScreen
from arlm_tui.tui.settings import Settings
from arlm_tui.tui.widgets.labs import LAB_VIEWS, LabView

LESSONS = load_lessons()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class LearnApp(App[None]):
    """A bare app that opens one screen, as the real app will."""

    def __init__(self, make_screen: Callable[[], Screen], animate: bool = False) -> None:
        super().__init__()
        self.make_screen = make_screen
        if not animate:
            self.animation_level = "none"

    def on_mount(self) -> None:
        self.push_screen(self.make_screen())


@pytest.fixture
def store():
    with Store.open() as opened:
        yield opened


def plain(renderable, width: int = 100) -> str:
    """A Rich renderable as plain text, its lines joined by spaces."""
    console = Console(width=width, file=io.StringIO(), record=True)
    console.print(renderable)
    return " ".join(console.export_text().split())


def text_of(screen: Screen, selector: str) -> str:
    return plain(screen.query_one(selector, Static).content)


def drawn(view: LabView) -> str:
    """What a lab view draws, as plain text."""
    return plain(view.render())


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def answer(pilot, check: SelfCheckScreen, question) -> None:
    """Answer ``question`` correctly: press the choice's letter, or type the answer."""
    if question.kind == "choice":
        await pilot.press("abcdefgh"[int(question.answer)])
        return
    text = format_number(float(question.answer)) if question.kind == "numeric" \
        else question.answer[0]
    check.query_one(Input).value = text
    await pilot.press("enter")


# --------------------------------------------------------------------------- a whole lesson
class ReadingClock:
    """The reader's clock, moved by hand: ``await clock.wait(pilot, reader, seconds)`` lets that
    much reading time pass on the current screen and has the reader look."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def wait(self, pilot, reader: LessonReaderScreen, seconds: float) -> None:
        await pilot.wait_for_scheduled_animations()  # a scroll has come to rest
        reader.look()  # the scroll position reached so far counts from now
        while seconds > 0:  # one look per second at most, as the reader's own timer does
            step = min(seconds, 1.0)
            self.now += step
            seconds -= step
            reader.look()


def reading_clock(reader: LessonReaderScreen) -> ReadingClock:
    clock = ReadingClock()
    reader.clock = clock
    reader.look()
    return clock


async def read_to_the_end(pilot, reader: LessonReaderScreen, per_page: float = 60.0) -> None:
    clock = reading_clock(reader)
    body = reader.query_one("#reader-body")
    await clock.wait(pilot, reader, per_page)
    for _ in range(200):
        if body.scroll_y >= body.max_scroll_y:
            break
        await pilot.press("pagedown")
        await clock.wait(pilot, reader, per_page)
    await pilot.pause()


async def test_a_whole_lesson_read_checked_and_completed(store):
    lesson = LESSONS.get("02-chain-rule")
    app = LearnApp(lambda: LessonListScreen(store, LESSONS))
    async with app.run_test(size=(100, 70)) as pilot:
        await settle(pilot)
        listing = app.screen
        assert isinstance(listing, LessonListScreen)
        table = listing.query_one(DataTable)
        assert table.row_count == len(LESSONS)
        assert "0 completed" in text_of(listing, "#lessons-summary")

        await pilot.press("down", "enter")  # lesson 02
        await settle(pilot)
        reader = app.screen
        assert isinstance(reader, LessonReaderScreen) and reader.lesson.id == lesson.id
        assert len(store.lesson_progress(lesson.id).steps_read) < len(lesson.toc)
        await read_to_the_end(pilot, reader)
        assert set(store.lesson_progress(lesson.id).steps_read) == set(lesson.toc)
        toc = reader.query_one("#reader-toc", OptionList)
        labels = [str(toc.get_option_at_index(i).prompt) for i in range(len(lesson.toc))]
        assert all(label.startswith("✓") for label in labels)
        assert f"{len(lesson.toc)}/{len(lesson.toc)} sections read" in text_of(
            reader, "#reader-status")
        assert not store.lesson_progress(lesson.id).completed  # the self-check is still open

        await pilot.press("l")  # the lesson's lab
        await settle(pilot)
        lab = app.screen
        assert isinstance(lab, LabScreen) and lab.lab is lesson.labs[0]
        joint = lab.view.result.joint
        await pilot.press("right")
        assert lab.view.result.joint > joint
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is reader

        await pilot.press("k")
        await settle(pilot)
        check = app.screen
        assert isinstance(check, SelfCheckScreen)
        for number, question in enumerate(lesson.questions, start=1):
            assert check.question is question
            assert question.explanation not in text_of(check, "#check-feedback")
            await answer(pilot, check, question)
            assert check.phase == "answered", question.id
            assert question.explanation in text_of(check, "#check-feedback")
            assert len(store.attempts(lesson.id)) == number  # committed at once
            await pilot.press("enter")
        assert check.phase == "done"
        assert f"{len(lesson.questions)} of {len(lesson.questions)} right" in text_of(
            check, "#check-prompt")
        assert all(a.correct for a in store.attempts(lesson.id))

        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is reader
        assert store.lesson_progress(lesson.id).completed
        assert "lesson completed" in text_of(reader, "#reader-status")

        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is listing
        assert "1 completed" in text_of(listing, "#lessons-summary")
        row = listing.query_one(DataTable).get_row(lesson.id)
        assert "done" in str(row[2]) and row[3] == f"{len(lesson.questions)}/{len(lesson.questions)}"


async def test_a_broken_lesson_is_listed_with_its_error(store, tmp_path):
    import shutil

    for lesson in LESSONS:
        shutil.copytree(lesson.folder, tmp_path / lesson.id)
    meta = tmp_path / "02-chain-rule" / "lesson.yaml"
    meta.write_text(meta.read_text(encoding="utf-8").replace("order: 2", "order: two", 1),
                    encoding="utf-8")
    lessons = load_lessons(tmp_path)
    assert len(lessons) == len(LESSONS) - 1 and len(lessons.broken) == 1
    app = LearnApp(lambda: LessonListScreen(store, lessons))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        listing = app.screen
        assert listing.query_one(DataTable).row_count == len(LESSONS) - 1
        broken = text_of(listing, "#lessons-broken")
        assert "02-chain-rule" in broken and "lesson.yaml:" in broken and "order" in broken
        assert "1 could not be loaded" in text_of(listing, "#lessons-summary")


async def test_jumping_reads_only_what_was_shown_and_contents_jump(store):
    lesson = LESSONS.get("05-ngrams")
    store.mark_lesson_step(lesson.id, lesson.toc[0])
    app = LearnApp(lambda: LessonReaderScreen(store, LESSONS, lesson.id), animate=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        reader = app.screen
        clock = reading_clock(reader)
        toc = reader.query_one("#reader-toc", OptionList)
        assert str(toc.get_option_at_index(0).prompt).startswith("✓")  # read before
        assert str(toc.get_option_at_index(1).prompt).startswith("○")
        await pilot.press("end")  # the animated scroll flies past the middle of the lesson
        await pilot.wait_for_scheduled_animations()
        await clock.wait(pilot, reader, 120)  # then rests at the end long enough to read it
        read = set(store.lesson_progress(lesson.id).steps_read)
        assert lesson.toc[-1] in read
        assert len(read) < len(lesson.toc) // 2
        assert str(toc.get_option_at_index(len(lesson.toc) - 1).prompt).startswith("✓")

        await pilot.press("t")
        assert toc.has_focus
        target = lesson.toc.index("How many parameters?")  # a short section
        assert lesson.toc[target] not in read
        toc.highlighted = target
        await pilot.press("enter")
        await clock.wait(pilot, reader, 2)  # too short to read anything
        assert "How many parameters?" not in store.lesson_progress(lesson.id).steps_read
        assert "reading “How many parameters?”" in text_of(reader, "#reader-status")
        await clock.wait(pilot, reader, 60)
        assert "How many parameters?" in store.lesson_progress(lesson.id).steps_read
        assert lesson.toc[target + 2] not in store.lesson_progress(lesson.id).steps_read


async def test_scrolling_line_by_line_reads_every_section():
    """Lesson 01 at 80×24, one line down each second: every section gets its time."""
    lesson = LESSONS.get("01-generative-models")
    with Store.open() as store:
        app = LearnApp(lambda: LessonReaderScreen(store, LESSONS, lesson.id))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            reader = app.screen
            clock = reading_clock(reader)
            body = reader.query_one("#reader-body")
            for _ in range(400):
                if body.scroll_y >= body.max_scroll_y:
                    break
                await pilot.press("down")
                await clock.wait(pilot, reader, 1.0)
            await clock.wait(pilot, reader, 30)  # and the end of the text is read too
            assert set(store.lesson_progress(lesson.id).steps_read) == set(lesson.toc)


async def test_flying_through_with_page_up_reads_nothing_more():
    lesson = LESSONS.get("01-generative-models")
    with Store.open() as store:
        app = LearnApp(lambda: LessonReaderScreen(store, LESSONS, lesson.id))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            reader = app.screen
            clock = reading_clock(reader)
            body = reader.query_one("#reader-body")
            await pilot.press("end")
            await clock.wait(pilot, reader, 0.5)
            while body.scroll_y > 0:
                await pilot.press("pageup")
                await clock.wait(pilot, reader, 0.5)
            assert tuple(store.lesson_progress(lesson.id).steps_read) == ()
            assert f"0/{len(lesson.toc)} sections read" in text_of(reader, "#reader-status")


async def test_page_down_at_a_large_size_reads_every_section():
    lesson = LESSONS.get("06-decoding")
    with Store.open() as store:
        app = LearnApp(lambda: LessonReaderScreen(store, LESSONS, lesson.id))
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            reader = app.screen
            await read_to_the_end(pilot, reader, per_page=40.0)
            assert set(store.lesson_progress(lesson.id).steps_read) == set(lesson.toc)


def test_section_words_follow_the_table_of_contents():
    from arlm_tui.tui.screens.reader import section_words

    for lesson in LESSONS:
        words = section_words(lesson.body_markdown)
        assert len(words) == len(lesson.toc) and all(w > 1 for w in words)
    assert section_words("# T\nintro words\n## A\none two\n```\n## not a heading\n```\n"
                         "## B\nx") == [10, 3]


async def test_lesson_links_open_other_lessons_and_escape_comes_back(store):
    app = LearnApp(lambda: LessonReaderScreen(store, LESSONS, "02-chain-rule"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        reader = app.screen
        markdown = reader.query_one(Markdown)
        markdown.post_message(Markdown.LinkClicked(markdown, "lesson:03-maximum-likelihood"))
        await settle(pilot)
        assert isinstance(app.screen, LessonReaderScreen)
        assert app.screen.lesson.id == "03-maximum-likelihood"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is reader
        # the contents list the linked lessons too
        toc = reader.query_one("#reader-toc", OptionList)
        ids = [toc.get_option_at_index(i).id for i in range(toc.option_count)]
        assert "link-04-tokenization" in ids and "link-10-causal-transformers" in ids
        assert "check" in ids and "lab-0" in ids
        await pilot.press("p")
        await settle(pilot)
        assert app.screen.lesson.id == "01-generative-models"
        await pilot.press("p")  # no lesson before the first
        assert app.screen.lesson.id == "01-generative-models"


# --------------------------------------------------------------------------- self-check
async def test_self_check_grades_tolerates_and_retries(store):
    lesson = LESSONS.get("05-ngrams")
    questions = [*lesson.questions[:2], next(q for q in lesson.questions if q.kind == "text")]
    app = LearnApp(lambda: SelfCheckScreen(store, lesson, questions))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        check = app.screen
        q1 = check.question
        assert q1.kind == "numeric" and check.query_one(Input).has_focus
        # the precision the answer is graded at is said before answering
        assert f"accepted within ±{format_number(q1.tolerance)}" in text_of(check, "#check-hint")
        await pilot.press(*"abc", "enter")  # unreadable: not graded, not recorded
        assert check.phase == "asking" and store.attempts(lesson.id) == []
        assert "Could not read a number" in text_of(check, "#check-feedback")
        check.query_one(Input).value = ""
        await pilot.press(*"1/3", "enter")  # a fraction within the tolerance
        assert check.phase == "answered" and check.results[q1.id] is True
        assert store.attempts(lesson.id)[-1].response == "1/3"
        await pilot.press("enter")
        q2 = check.question
        await pilot.press(*"0.5", "enter")  # wrong
        assert check.results[q2.id] is False
        assert "Not quite" in text_of(check, "#check-feedback")
        assert format_number(float(q2.answer)) in text_of(check, "#check-feedback")
        await pilot.press("enter")
        while check.phase != "done":
            await answer(pilot, check, check.question)
            await pilot.press("enter")
        assert check.correct_count == len(questions) - 1
        await pilot.press("r")  # retry the one missed
        assert check.question is q2 and check.phase == "asking"
        await answer(pilot, check, q2)
        assert check.results == {q2.id: True}
        assert [a.correct for a in store.attempts(lesson.id, q2.id)] == [False, True]


async def test_self_check_choice_marks_the_answers(store):
    lesson = LESSONS.get("05-ngrams")
    choice = next(q for q in lesson.questions if q.kind == "choice")
    wrong = next(i for i in range(len(choice.choices)) if i != choice.answer)
    app = LearnApp(lambda: SelfCheckScreen(store, lesson, [choice]))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        check = app.screen
        options = check.query_one("#check-choices", OptionList)
        assert options.has_focus and options.option_count == len(choice.choices)
        for _ in range(wrong):
            await pilot.press("down")
        await pilot.press("enter")
        assert check.results == {choice.id: False}
        marks = [str(options.get_option_at_index(i).prompt)[0] for i in range(len(choice.choices))]
        assert marks[choice.answer] == "✓" and marks[wrong] == "✗"
        await pilot.press("a", "b", "c")  # no second answer once committed
        assert len(store.attempts(lesson.id)) == 1
        await pilot.press("enter")
        assert check.phase == "done"


# --------------------------------------------------------------------------- labs
async def test_every_shipped_lab_opens_with_a_live_view():
    shipped = [(lesson, lab) for lesson in LESSONS for lab in lesson.labs]
    assert {lab.kind for _, lab in shipped} <= set(LAB_VIEWS)
    app = LearnApp(Screen)
    async with app.run_test(size=(100, 30)) as pilot:
        for lesson, lab in shipped:
            app.push_screen(LabScreen(lab, lesson.title))
            await settle(pilot)
            screen = app.screen
            view = screen.query_one(LabView)
            assert isinstance(view, LAB_VIEWS[lab.kind])
            assert view.has_focus, lab.id
            assert view.error is None and view.result is not None, (lesson.id, lab.id)
            assert lab.title in text_of(screen, "#lab-title")
            assert drawn(view)
            await pilot.press("escape")
            assert app.screen is not screen


@asynccontextmanager
async def open_lab(lesson_id: str, lab_id: str):
    """The lab screen of one lesson's lab, settled: yields (pilot, its LabView)."""
    lesson = LESSONS.get(lesson_id)
    lab = next(lab for lab in lesson.labs if lab.id == lab_id)
    app = LearnApp(lambda: LabScreen(lab, lesson.title))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        yield pilot, app.screen.query_one(LabView)


async def test_trigram_lab_smoothing_order_and_typed_context():
    async with open_lab("05-ngrams", "lab1") as (pilot, view):
        assert view.result.sentence_prob == 0
        await pilot.press("s")
        assert view.result.smoothing == "addk" and view.result.sentence_prob > 0
        await pilot.press("o")
        assert view.result.order == 4
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(pilot.app.screen, TextPrompt)
        pilot.app.screen.query_one(Input).value = "cats"
        await pilot.press("enter")
        await settle(pilot)
        assert view.result.context == ("<s>", "<s>", "cats")
        assert view.result.context_rows[0].token == "chase"


async def test_chain_rule_bpe_and_playground_controls():
    async with open_lab("02-chain-rule", "lab1") as (pilot, view):
        joint = view.result.joint
        await pilot.press("down", "right", "right")  # falls: 0.25 → 0.27
        assert view.result.factors[1].prob == pytest.approx(0.27)
        assert view.result.joint == pytest.approx(joint * 0.27 / 0.25)
        await pilot.press("r")
        assert view.result.joint == pytest.approx(joint)

    async with open_lab("04-tokenization", "lab1") as (pilot, view):
        assert view.position == 0
        await pilot.press("right", "right", "left", "right", "right")
        assert view.position == 3
        assert "Merge 3 of 4" in drawn(view)

    async with open_lab("06-decoding", "lab1") as (pilot, view):
        assert view.result.kept == 4
        from arlm_tui.tui.widgets.labs import PLAYGROUND_KNOBS

        rows = [name for name, *_ in PLAYGROUND_KNOBS]
        await pilot.press(*["down"] * rows.index("top_p"), *["left"] * 4)  # top-p 1 → 0.8
        assert view.knobs["top_p"] == pytest.approx(0.8) and view.result.kept == 2


async def test_gradient_lab_recomputes_in_a_worker():
    async with open_lab("09-lstm-gru", "lab1") as (pilot, view):
        before = {c.cell: c.state_norms[-1] for c in view.result.curves}
        await pilot.press("down", "right", "right", "right", "right")  # forget bias 1 → 3
        await settle(pilot)
        assert view.params["forget_bias"] == 3.0
        after = {c.cell: c.state_norms[-1] for c in view.result.curves}
        assert after["lstm"] > 10 * before["lstm"] and after["rnn"] == before["rnn"]


async def test_a_torch_lab_says_so_when_torch_is_missing(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)
    async with open_lab("08-recurrent-networks", "lab1") as (pilot, view):
        assert view.result is None and "needs PyTorch" in view.error
        assert "needs PyTorch" in drawn(view)


async def test_causal_mask_lab_switches_the_mask():
    async with open_lab("10-causal-transformers", "lab1") as (pilot, view):
        assert view.result.masked and "copy" not in drawn(view)
        await pilot.press("m")
        assert not view.result.masked
        assert "could simply copy the answer" in drawn(view)
        await pilot.press("m")
        # weights: a masked cell holds the weight 0, never the score −∞
        assert view.cells == "weights" and "−∞" not in drawn(view)
        await pilot.press("s")
        scores = drawn(view)
        assert view.cells == "scores" and "−∞" in scores and "q_i·k_j" in scores
        first_score = f"{float(view.result.scores[0, 0]):+.2f}"
        assert first_score in scores


async def test_gradient_lab_steps_lower_the_loss_and_the_target_can_change():
    async with open_lab("07-feedforward-lm", "lab1") as (pilot, view):
        first = view.result.loss
        assert "p − y" in drawn(view)
        await pilot.press("g", "g")
        await settle(pilot)
        assert view.steps == 2 and view.result.loss < first
        assert view.result.rows[0].logit > 1.2  # "mat" climbed
        await pilot.press("down", "t")  # make "sofa" the target
        await settle(pilot)
        assert view.result.target == 1 and view.steps == 0
        await pilot.press("r")
        await settle(pilot)
        assert view.result.loss == pytest.approx(first)


async def test_attention_heads_lab_steps_through_layers_and_takes_a_prompt():
    async with open_lab("10-causal-transformers", "lab3") as (pilot, view):
        await wait_until(pilot, lambda: view.result is not None)
        await settle(pilot)
        assert view.result is not None and "layer 1 of 4" in drawn(view)
        assert " <s> " in drawn(view)  # a key written like a tag keeps its brackets
        await pilot.press("right", "right", "down")
        assert view.shown_layer == 2 and view.cursor == 1
        key, weight = view.result.focus(2, 1)
        assert f"Head 2 of layer 3 gives {weight:.0%} of its attention to '{key}'" in drawn(view)
        view.set_text("prompt", "the cat found a")
        await wait_until(pilot, lambda: len(view.result.keys) == 5)
        await settle(pilot)
        assert view.result.keys == ("<s>", "the", "cat", "found", "a")
        assert view.shown_layer == 0


async def test_histogram_lab_restarts_the_draws_when_the_temperature_changes():
    async with open_lab("06-decoding", "lab3") as (pilot, view):
        await pilot.press("n")
        await settle(pilot)
        assert view.n == 500 and view.result.n == 500
        await pilot.press("right")  # T 1 → 1.1: a new distribution
        await settle(pilot)
        assert view.temperature == pytest.approx(1.1)
        assert view.n == 0 and view.result.n == 0
        assert "draws start again" in drawn(view)
        await pilot.press("space")
        await settle(pilot)
        assert view.result.n == 10 and "start again" not in drawn(view)


# --------------------------------------------------------------------------- review and stats
def small_deck(store: Store) -> Deck:
    cards = [Flashcard(f"test/c{i}", f"Question {i}?", f"Answer {i}.", "test") for i in range(3)]
    return Deck(store, cards, new_per_day=10)


async def test_review_session_commits_every_rating(store):
    deck = small_deck(store)
    clock = Clock()
    app = ArlmApp(settings=Settings(), save_settings=False, store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_review(deck, clock=clock)  # what the home screen's "cards" does, with this deck
        await settle(pilot)
        review = app.screen
        assert review.current.card.id == "test/c0"
        assert "Question 0?" in text_of(review, "#review-front")
        assert not review.query_one("#review-back").display
        await pilot.press("3")  # no rating before the answer is shown
        assert store.review_count() == 0
        await pilot.press("space")
        assert "Answer 0." in text_of(review, "#review-back")
        ratings = text_of(review, "#review-ratings")
        assert "1 Again" in ratings and "10 min" in ratings
        await pilot.press("3")
        assert store.review_count() == 1  # committed before the next card shows
        assert store.reviews()[0].rating == 3 and store.reviews()[0].card_id == "test/c0"
        saved = text_of(review, "#review-saved")
        assert "Good" in saved and "comes back in 10 min" in saved
        assert review.current.card.id == "test/c1"
        for rating in ("1", "4"):
            await pilot.press("space", rating)
        assert [r.rating for r in store.reviews()] == [3, 1, 4]
        assert "days" in text_of(review, "#review-saved")
        # c1 (Again) comes back in a minute; learning steps due within 20 min come early
        clock.now += timedelta(minutes=2)
        assert review.current is not None
        for _ in range(10):
            if review.current is None:
                break
            await pilot.press("space", "3")
        assert review.current is None
        assert "Nothing is due" in text_of(review, "#review-front")
        assert store.review_count() == review.done >= 5
        assert {r.card_id for r in store.reviews()} == set(deck.cards)
        await pilot.press("s")  # through the app: the screens do not import each other
        await settle(pilot)
        stats = app.screen
        assert isinstance(stats, StatsScreen) and stats.deck is deck
        numbers = text_of(stats, "#stats-numbers")
        assert f"{review.done} in total" in numbers and "streak" in numbers
        assert stats.stats.retention == pytest.approx((review.done - 1) / review.done)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, HomeScreen)


async def test_stats_screen_forecast_and_review_shortcut(store):
    deck = small_deck(store)
    deck.answer("test/c0", 3, NOW - timedelta(days=1))  # due 10 min later: overdue today
    app = ArlmApp(settings=Settings(), save_settings=False, store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_stats(deck, clock=Clock())
        await settle(pilot)
        stats = app.screen.stats
        assert stats.reviews_total == 1 and stats.streak == 1
        assert stats.due_today == 1 and sum(n for _, n in stats.forecast) == 0
        assert "1 day in a row" in text_of(app.screen, "#stats-numbers")
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen) and app.screen.deck is deck


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_stats_screen_charts_fit_on_the_screen(store, size):
    """Both charts are whole on the screen, above the footer, without scrolling (at 80×24 they
    ran below it); the forecast's table shows where there is room for it too."""
    from arlm_tui.tui.app import ArlmApp

    class SizedApp(LearnApp):  # the real app's size classes (-tiny … -very-tall)
        HORIZONTAL_BREAKPOINTS = ArlmApp.HORIZONTAL_BREAKPOINTS
        VERTICAL_BREAKPOINTS = ArlmApp.VERTICAL_BREAKPOINTS

    deck = small_deck(store)
    app = SizedApp(lambda: StatsScreen(deck, clock=Clock()))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        footer_top = screen.query_one("ArlmFooter").region.y
        for chart in ("#stats-forecast-chart", "#stats-history-chart"):
            region = screen.query_one(chart).region
            assert region.height >= 10 and region.bottom <= footer_top, (chart, region)
        assert screen.query_one("#stats-forecast").display == (size[1] >= 44)


# --------------------------------------------------------------------------- snapshots
def test_reader_snapshot(snap_compare):
    with Store.open() as opened:
        def make() -> LessonReaderScreen:
            screen = LessonReaderScreen(opened, LESSONS, "02-chain-rule")
            screen.clock = lambda: 0.0  # no reading time passes: the status is deterministic
            return screen

        app = LearnApp(make)
        assert snap_compare(app, terminal_size=(100, 30))


def test_review_snapshot(snap_compare):
    with Store.open() as opened:
        deck = Deck(opened, [Flashcard("lesson/c1", "What does the chain rule say?",
                                       "p(x₁ … x_T) = ∏_t p(x_t | x_<t), exactly.", "lesson")],
                    new_per_day=5)
        app = LearnApp(lambda: ReviewScreen(deck, clock=Clock()))
        assert snap_compare(app, press=["space"], terminal_size=(80, 24))


async def test_rating_on_a_locked_database_keeps_the_answer_and_the_app(tmp_path, monkeypatch):
    import sqlite3

    from arlm_tui.learn import store as store_module

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.05)
    path = tmp_path / "progress.sqlite3"
    with Store.open(path) as store:
        store._conn.execute("PRAGMA busy_timeout = 50")
        deck = small_deck(store)
        app = LearnApp(lambda: ReviewScreen(deck, clock=Clock()))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("space", "3")
            assert store.review_count() == 1
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # another process holds the lock past the timeout
            try:
                await pilot.press("space", "4")
                await settle(pilot)
                review = app.screen
                assert isinstance(review, ReviewScreen)  # still running, next card shown
                assert "kept, not saved yet" in text_of(review, "#review-saved")
                assert store.unsaved == 1 and store.review_count() == 1
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            await pilot.press("space", "2")  # the next rating saves the waiting one first
            assert store.unsaved == 0 and [r.rating for r in store.reviews()] == [3, 4, 2]


async def test_the_app_tells_the_learner_when_progress_cannot_be_saved(monkeypatch):
    import os

    from arlm_tui.learn import store as store_module
    from arlm_tui.tui.app import ArlmApp
    from arlm_tui.tui.settings import Settings

    with Store.open() as store:  # a healthy database in ARLM_HOME ...
        store.record_attempt("l", "q", "r", True)
    real_access = os.access
    monkeypatch.setattr(store_module.os, "access",  # ... that this user may not write
                        lambda p, mode: False if mode == os.W_OK else real_access(p, mode))
    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        opened = app.progress_store
        assert opened.read_only and len(opened.attempts()) == 1
        notes: list[str] = []
        monkeypatch.setattr(app, "notify", lambda message, **kw: notes.append(message))
        assert opened.record_attempt("l", "q2", "r", True) is False  # no exception
        assert notes and "kept in memory" in notes[-1]
