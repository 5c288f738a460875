"""Grading (``arlm_tui.learn.grading``): every shipped question accepts the right answers in the
forms a learner types them, and refuses near-misses."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from arlm_tui.learn import load_lessons
from arlm_tui.learn.grading import (
    expand_answer,
    format_number,
    grade,
    normalize_text,
    parse_number,
    precision_hint,
)
from arlm_tui.learn.lessons import LessonLoadError, Question, load_lesson

SHIPPED = load_lessons()
QUESTIONS = [(lesson.id, q) for lesson in SHIPPED for q in lesson.questions]
CASES = yaml.safe_load((Path(__file__).parent / "data" / "answer_cases.yaml").read_text("utf-8"))
TEXT = [(lid, q) for lid, q in QUESTIONS if q.kind == "text"]
NUMERIC = [(lid, q) for lid, q in QUESTIONS if q.kind == "numeric"]
CHOICE = [(lid, q) for lid, q in QUESTIONS if q.kind == "choice"]


def _ids(items):
    return [f"{lid}:{q.id}" for lid, q in items]


# ---------------------------------------------------------------------------- text questions
@pytest.mark.parametrize(("lesson_id", "question"), TEXT, ids=_ids(TEXT))
def test_text_question_accepts_its_phrasings_and_refuses_near_misses(lesson_id, question):
    case = CASES.get(lesson_id, {}).get(question.id)
    assert case, f"tests/data/answer_cases.yaml needs cases for {lesson_id}:{question.id}"
    assert len(case["refuse"]) >= 3
    for typed in [*case["accept"], question.answer[0]]:
        assert grade(question, typed).correct, (lesson_id, question.id, typed)
    for typed in case["refuse"]:
        verdict = grade(question, typed)
        assert verdict.readable and not verdict.correct, (lesson_id, question.id, typed)


def test_every_answer_case_names_a_text_question():
    known = {(lid, q.id) for lid, q in TEXT}
    listed = {(lid, qid) for lid, cases in CASES.items() for qid in cases}
    assert listed == known


# ---------------------------------------------------------------------------- numeric questions
def _spellings(value: float) -> list[str]:
    """The same number written the ways a learner might."""
    scientific = np.format_float_scientific(value, unique=True, trim="-")  # exact, shortest
    forms = [format_number(value), scientific, scientific.upper()]
    mantissa, exponent = scientific.split("e")
    exponent_int = int(exponent)
    forms += [f"{mantissa} × 10^{exponent_int}", f"{mantissa}·10^{exponent_int}",
              f"{mantissa}x10**{exponent_int}", f"{mantissa} * 10^({exponent_int})",
              f"≈ {format_number(value)}", f"{format_number(value)} nats"]
    superscript = str(exponent_int).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    forms.append(f"{mantissa} × 10{superscript}")
    if float(value).is_integer() and abs(value) >= 1000:
        forms += [f"{int(value):,}", f"{int(value):,}".replace(",", " "),
                  f"{int(value):_}"]
    return forms


@pytest.mark.parametrize(("lesson_id", "question"), NUMERIC, ids=_ids(NUMERIC))
def test_numeric_question_reads_every_spelling_and_states_its_precision(lesson_id, question):
    answer = float(question.answer)
    for typed in _spellings(answer):
        assert grade(question, typed).correct, (lesson_id, question.id, typed)
    hint = precision_hint(question)
    assert hint
    tolerance = max(question.tolerance or 0.0, (question.rel_tolerance or 0.0) * abs(answer))
    # the precision the hint announces is really accepted ...
    match = re.search(r"(one|two|three|four) decimals?", hint)
    if match:
        decimals = ["one", "two", "three", "four"].index(match.group(1)) + 1
        rounded = f"{answer:.{decimals}f}"
        assert grade(question, rounded).correct, (lesson_id, question.id, rounded, hint)
        assert 0.5 * 10**-decimals <= tolerance + 1e-12
    # ... and so is the precision the prompt itself asks for
    asked = re.search(r"\((one|two|three|four) decimals", question.prompt)
    if asked:
        decimals = ["one", "two", "three", "four"].index(asked.group(1)) + 1
        assert grade(question, f"{answer:.{decimals}f}").correct, (lesson_id, question.id)
    # near-misses: off by three tolerances, or by a factor of ten
    step = max(3 * tolerance, 0.01 * abs(answer), 1e-3)
    for wrong in (answer + step, answer - step, answer * 10 or 1.0, answer / 10 or -1.0):
        verdict = grade(question, format_number(wrong))
        assert verdict.readable and not verdict.correct, (lesson_id, question.id, wrong)


def test_lesson_05_q3_reads_powers_of_ten_and_q2_says_how_precise():
    lesson = SHIPPED.get("05-ngrams")
    q3, q2 = lesson.question("q3"), lesson.question("q2")
    for typed in ("1.25 × 10^11", "1.25·10^11", "1.25e11", "1.25 × 10¹¹", "124,975,000,000",
                  "124 975 000 000", "1.2498e11"):
        assert grade(q3, typed).correct, typed
    for typed in ("1.25", "1.25 × 10^10", "1.3e11"):
        assert not grade(q3, typed).correct, typed
    assert not grade(q3, "1.25 × 10").readable  # not misread as 1.25
    assert grade(q2, "1/6").correct and grade(q2, "0.167").correct
    assert not grade(q2, "0.17").correct
    assert "±0.002" in precision_hint(q2) and "three decimals" in precision_hint(q2)


# ---------------------------------------------------------------------------- choice questions
@pytest.mark.parametrize(("lesson_id", "question"), CHOICE, ids=_ids(CHOICE))
def test_choice_question_accepts_its_answer_only(lesson_id, question):
    right = int(question.answer)
    assert grade(question, right).correct
    assert grade(question, "abcdefgh"[right]).correct
    assert grade(question, f"({'abcdefgh'[right].upper()})").correct
    assert grade(question, question.choices[right]).correct
    for wrong in range(len(question.choices)):
        if wrong != right:
            assert not grade(question, wrong).correct
            assert not grade(question, question.choices[wrong]).correct
    assert len({normalize_text(c) for c in question.choices}) == len(question.choices)


def test_gradient_question_is_a_choice_without_a_second_right_answer():
    q = SHIPPED.get("07-feedforward-lm").question("q3")
    assert q.kind == "choice" and q.choices[int(q.answer)] == "p − y"
    q5 = SHIPPED.get("07-feedforward-lm").question("q5")
    assert not any("never outputs zero" in choice for choice in q5.choices)


# ---------------------------------------------------------------------------- the reader itself
@pytest.mark.parametrize(
    ("typed", "value"),
    [("0.06", 0.06), ("6e-2", 0.06), ("1/3", 1 / 3), ("2.81 nats", 2.81), ("≈ 2.8", 2.8),
     ("6%", 0.06), ("8,300,500", 8300500), ("1,5", 1.5), ("−0.5", -0.5),
     ("1.25 × 10^11", 1.25e11), ("1.25·10^11", 1.25e11), ("1.25x10^11", 1.25e11),
     ("1.25 * 10**11", 1.25e11), ("1.25 × 10¹¹", 1.25e11), ("9.5 × 10⁻⁷", 9.5e-7),
     ("10^3", 1000), ("1.25E+11", 1.25e11), ("1 618 320", 1618320), ("1_618_320", 1618320),
     ("1,618,320.5", 1618320.5), ("about 3", 3), ("approx. 0.5", 0.5)],
)
def test_parse_number_reads(typed, value):
    assert parse_number(typed) == pytest.approx(value)


@pytest.mark.parametrize(
    "typed", ["", "abc", "1/0", "nats", "1.25 × 10", "2 + 3", "3 4", "1e999", "10^400", "0.5 0.3"]
)
def test_parse_number_refuses_what_it_cannot_read_completely(typed):
    assert parse_number(typed) is None


def test_normalize_text_and_patterns():
    assert normalize_text("  The End-of-Sequence token. ") == "end of sequence token"
    assert normalize_text("p − y") == "p - y" and normalize_text("-p y") == "-p y"
    assert normalize_text("update gate (z_t)") == "update gate z t"
    assert set(expand_answer("[a] b {c|d}")) == {"a b c", "a b d", " b c", " b d"}
    assert math.isclose(float(parse_number("2/12")), 1 / 6)


def test_a_lesson_whose_first_answer_uses_the_pattern_notation_is_refused(tmp_path):
    source = Path(SHIPPED.get("06-decoding").folder)
    folder = tmp_path / "06-decoding"
    folder.mkdir()
    (folder / "lesson.md").write_text((source / "lesson.md").read_text("utf-8"), "utf-8")
    meta = (source / "lesson.yaml").read_text("utf-8")
    broken = meta.replace('answer: ["beam search", ', 'answer: ["[the] beam search", ')
    assert broken != meta
    (folder / "lesson.yaml").write_text(broken, "utf-8")
    with pytest.raises(LessonLoadError, match=r"lesson.yaml:\d+: .*first accepted answer"):
        load_lesson(folder)


def test_text_grading_of_a_hand_made_question():
    q = Question("t", "text", "?", ("beam search", "beam"), "why")
    assert grade(q, "Beam-Search").correct and not grade(q, "greedy").correct
    assert not grade(q, "   ").readable
