"""Grading self-check answers: read what a learner typed the way a teacher would.

Three kinds of question (``lessons.Question``):

- **choice**: an index, a letter (a, b, …) or the text of a choice.
- **numeric**: a number within the question's tolerance, |x − answer| ≤ tolerance or
  ≤ rel_tolerance·|answer|. ``parse_number`` reads decimals with a point or a comma, thousands
  separators (``1,618,320``, ``1 618 320``, ``1_618_320``), e-notation (``1.25e11``), powers of
  ten written ``1.25 × 10^11``, ``1.25·10^11``, ``1.25x10**11`` or ``1.25 × 10¹¹``, fractions
  (``1/6``), percentages and a leading ``≈``; units after the number are ignored. An expression it
  cannot read completely (``1.25 × 10``) is *unreadable*, never misread as its first number.
  ``precision_hint`` tells the learner, before they answer, how close the answer must be.
- **text**: against the accepted answers, ignoring case, spacing, hyphens between words,
  surrounding punctuation and a leading article ("the", "a", "an"). An accepted answer may mark
  optional words with square brackets and alternatives with braces:
  ``[average] cross{-| }entropy [loss]`` accepts "cross-entropy", "average cross entropy loss", ….
  The first accepted answer is the one shown to the learner and must not use that notation.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arlm_tui.learn.lessons.model import Question


# ---------------------------------------------------------------------------- numbers
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
_SUPERSCRIPT_RUN = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+")
# a number: thousands groups (comma, space or underscore, same separator throughout), a plain
# decimal with a point or a comma, or a bare fraction part; then an optional e-exponent
_MANTISSA = (
    r"(?:\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d*)?"
    r"|\d{1,3}(?: \d{3})+(?![\d ]*\d)(?:[.,]\d*)?"
    r"|\d{1,3}(?:_\d{3})+(?![\d_])(?:\.\d*)?"
    r"|\d+(?:[.,]\d*)?|[.,]\d+)"
)
_EXPONENT = r"(?:[eE][+-]?\d+)?"
_NUMBER = rf"[+-]?{_MANTISSA}{_EXPONENT}"
_TIMES = r"[×x*·⋅∙]"
_POWER = r"(?:\^|\*\*)"
_LEADING = re.compile(
    rf"^(?:[≈~=]|about\b|approx\.?|approximately\b|roughly\b)?\s*"
    rf"(?P<value>{_NUMBER})"
    rf"(?:\s*{_TIMES}\s*10\s*{_POWER}\s*\(?(?P<exp10>[+-]?\d+)\)?"  # 1.25 × 10^11
    rf"|\s*{_POWER}\s*\(?(?P<power>[+-]?\d+)\)?"  # 10^11, 2**10
    rf"|\s*/\s*(?P<denominator>{_NUMBER})"  # 1/6
    rf"|\s*(?P<percent>%))?"
)
# after a number, these start an expression the reader did not understand
_OPERATOR_AFTER = re.compile(rf"^\s*(?:{_TIMES}\s*[\d(]|[\^/+\-*]|\d)")


def _plain_float(token: str) -> float:
    token = token.replace("_", "").replace(" ", "")
    mantissa, _, exponent = token.lower().partition("e")
    if re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", mantissa):
        mantissa = mantissa.replace(",", "")
    else:
        mantissa = mantissa.replace(",", ".")
    return float(mantissa + (f"e{exponent}" if exponent else ""))


def _clean(text: str) -> str:
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^" + m.group().translate(_SUPERSCRIPTS), str(text))
    text = unicodedata.normalize("NFKC", text)
    return text.replace("−", "-").replace("–", "-").replace("\u00a0", " ").strip().lower()


def parse_number(text: str) -> float | None:
    """The number a learner typed, or None when there is none or the expression is not
    understood. See the module docstring for the forms read."""
    text = _clean(text)
    match = _LEADING.match(text)
    if match is None:
        return None
    if _OPERATOR_AFTER.match(text[match.end():]):
        return None  # e.g. "1.25 × 10" or "2 + 3": do not grade only the first number
    try:
        value = _plain_float(match.group("value"))
        if match.group("exp10") is not None:
            value *= 10.0 ** int(match.group("exp10"))
        elif match.group("power") is not None:
            value **= int(match.group("power"))
        elif match.group("denominator") is not None:
            denominator = _plain_float(match.group("denominator"))
            if denominator == 0:
                return None
            value /= denominator
        elif match.group("percent"):
            value /= 100
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) else None


def is_number_text(text: str) -> bool:
    """True when ``text`` is a number and nothing else (as YAML values like "2/3" are)."""
    cleaned = _clean(text)
    match = _LEADING.match(cleaned)
    return (match is not None and match.end() == len(cleaned) and not match.group("percent")
            and parse_number(text) is not None)


def close(
    x: float,
    target: float,
    tolerance: float | None,
    rel_tolerance: float | None,
    default: float = 0.0,
) -> bool:
    """|x − target| ≤ tolerance or ≤ rel_tolerance·|target| (``default``·max(1, |target|) when
    neither is given), with a hair of slack for float rounding at the boundary."""
    slack = 1e-12 * max(1.0, abs(target))
    if tolerance is None and rel_tolerance is None:
        return abs(x - target) <= default * max(1.0, abs(target)) + slack
    ok = tolerance is not None and abs(x - target) <= tolerance + slack
    ok |= rel_tolerance is not None and abs(x - target) <= rel_tolerance * abs(target) + slack
    return ok


def format_number(value: float) -> str:
    """A short, exact-looking rendering: 6469408, 0.06, 2.813, 1.5e-07."""
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.6g}"


def _decimals_for(tolerance: float) -> int:
    """The fewest decimals d such that rounding to d places (error ≤ ½·10^−d) stays within
    ``tolerance``."""
    for d in range(0, 13):
        if 0.5 * 10.0 ** -d <= tolerance + 1e-15:
            return d
    return 12


def precision_hint(question: Question) -> str:
    """How close a numeric answer must be, said before the learner answers ("" otherwise)."""
    if question.kind != "numeric":
        return ""
    answer = float(question.answer)  # type: ignore[arg-type]
    tolerance = question.tolerance or 0.0
    if question.rel_tolerance:
        tolerance = max(tolerance, question.rel_tolerance * abs(answer))
    if tolerance <= 0:
        return "give the exact value (a whole number, or a fraction like 1/6)"
    if question.rel_tolerance and question.rel_tolerance * abs(answer) >= tolerance:
        digits = max(1, 1 - math.floor(math.log10(question.rel_tolerance * 2)))
        return (f"accepted within {question.rel_tolerance * 100:g}% ({digits} significant "
                "digits); 1.25e11 or 1.25 × 10^11 work")
    decimals = _decimals_for(tolerance)
    places = {0: "a whole number", 1: "one decimal", 2: "two decimals", 3: "three decimals",
              4: "four decimals"}.get(decimals, f"{decimals} decimals")
    return f"accepted within ±{format_number(tolerance)}: {places} or a fraction like 1/6"


# ---------------------------------------------------------------------------- text
_ARTICLE = re.compile(r"^(?:the|a|an) ")
_HYPHEN_BETWEEN_WORDS = re.compile(r"(?<=\w)[-‐‑–—_](?=\w)")


def normalize_text(text: str) -> str:
    """Case-, space- and hyphen-insensitive form of a typed answer: surrounding punctuation and
    a leading article off, curly quotes straight, a hyphen or underscore between two word
    characters read as a space (a minus sign elsewhere stays a minus), parentheses as spaces."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    text = text.replace("’", "'").replace("‘", "'").replace("−", "-")
    text = _HYPHEN_BETWEEN_WORDS.sub(" ", text)
    text = text.replace("(", " ").replace(")", " ")
    text = " ".join(text.split())
    text = text.strip(" .,;:!?\"'`")
    return _ARTICLE.sub("", text)


PATTERN_CHARACTERS = "[]{}"


def expand_answer(pattern: str) -> tuple[str, ...]:
    """Every phrasing an accepted answer allows: ``[x]`` optional, ``{a|b}`` alternatives; the
    two nest (``[{token|marker}]``). Unbalanced brackets are read literally."""

    def sequence(i: int, stop: str) -> tuple[list[str], int]:
        """Phrasings of pattern[i:] up to the closing ``stop`` (or a '|' inside braces)."""
        results = [""]
        while i < len(pattern) and pattern[i] not in stop:
            ch = pattern[i]
            if ch in "[{":
                close = "]" if ch == "[" else "}"
                options: list[str] = [""] if ch == "[" else []
                j = i + 1
                while True:
                    part, j = sequence(j, "]" if ch == "[" else "|}")
                    options += part
                    if j >= len(pattern):
                        raise ValueError(f"unclosed {ch!r} in {pattern!r}")
                    if pattern[j] == close:
                        break
                    j += 1  # past '|'
                results = [r + o for r in results for o in options]
                i = j + 1
            else:
                results = [r + ch for r in results]
                i += 1
        return results, i

    try:
        phrasings, _ = sequence(0, "")
    except ValueError:
        return (pattern,)
    return tuple(dict.fromkeys(phrasings))


def accepted_forms(answers: tuple[str, ...]) -> frozenset[str]:
    """The normalized forms of every phrasing of ``answers``."""
    forms = {normalize_text(text) for pattern in answers for text in expand_answer(pattern)}
    forms.discard("")
    return frozenset(forms)


# ---------------------------------------------------------------------------- grading
@dataclass(frozen=True)
class Grade:
    """The verdict on one response: ``expected`` is the answer as the learner should see it."""

    correct: bool
    expected: str
    explanation: str
    readable: bool = True  # False when the response could not be read (no number, bad index)


def grade(question: Question, response: float | str) -> Grade:
    """Grade a response: choice by index (or letter a, b, ... or the choice's text), numeric
    within the question's tolerance, text against the accepted answers (see the module doc)."""
    if question.kind == "choice":
        expected = str(question.choices[int(question.answer)])  # type: ignore[arg-type]
        index = _choice_index(question, response)
        return Grade(index == question.answer, expected, question.explanation, index is not None)
    if question.kind == "numeric":
        answer = float(question.answer)  # type: ignore[arg-type]
        expected = format_number(answer)
        if isinstance(response, bool):
            value = None
        elif isinstance(response, int | float):
            value = float(response)
        else:
            value = parse_number(str(response))
        if value is None:
            return Grade(False, expected, question.explanation, readable=False)
        correct = close(value, answer, question.tolerance, question.rel_tolerance)
        return Grade(correct, expected, question.explanation)
    accepted = tuple(question.answer)  # type: ignore[arg-type]
    typed = normalize_text(str(response))
    correct = bool(typed) and typed in accepted_forms(accepted)
    return Grade(correct, accepted[0], question.explanation, readable=bool(typed))


def _choice_index(question: Question, response: float | str) -> int | None:
    if isinstance(response, bool):
        return None
    if isinstance(response, int):
        return response if 0 <= response < len(question.choices) else None
    if not isinstance(response, str):
        return None
    typed = normalize_text(response)
    for index, choice in enumerate(question.choices):
        if typed == normalize_text(choice):
            return index
    letter = typed.strip("()")
    if len(letter) == 1 and "a" <= letter <= "z":
        index = ord(letter) - ord("a")
        return index if index < len(question.choices) else None
    return None
