"""Corpora: the texts models are trained and evaluated on.

Reads a user's text file with clear errors for everything that can be wrong with it, cuts text
into sentences or lines, splits items into training and validation parts reproducibly, and
provides two built-in corpora: the n-gram lecture's three toy sentences and the Python language
reference that ships with every Python installation (``pydoc_data``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import numpy as np

from arlm_tui.errors import CorpusError

T = TypeVar("T")

#: The three sentences of the n-gram lecture's worked example.
TOY_CORPUS: tuple[str, ...] = ("i love cats", "i love dogs", "cats chase mice")

#: Largest corpus file ``read_text_file`` accepts (64 MiB): counting n-grams or training a small
#: network on more than that would take far too long in a tutor, and reading it all into memory
#: is how this module works.
MAX_CORPUS_BYTES = 64 * 1024 * 1024

#: A NUL byte within this many leading bytes marks a file as binary.
BINARY_SNIFF_BYTES = 8 * 1024

_UTF8_BOM = b"\xef\xbb\xbf"
_BLANK_LINE_RE = re.compile(r"\n[^\S\n]*\n")
#: A sentence ends at ., ! or ? (with any closing quotes or brackets right after it) followed
#: by whitespace.
_SENTENCE_END_RE = re.compile(r"""([.!?]['")\]’”]*)\s+""")


def _size_text(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def read_text_file(path: str | Path) -> str:
    """The text of a UTF-8 file (a leading byte-order mark removed).

    Raises CorpusError, one line starting with the path, for a missing file, a directory, a file
    larger than ``MAX_CORPUS_BYTES``, a binary file (NUL byte in the first 8 KiB), bytes that are
    not UTF-8 (line number and byte offset of the first bad byte), or no text at all.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError("no such file", path=path)
    if path.is_dir():
        raise CorpusError("is a directory, not a text file", path=path)
    from arlm_tui import inputs

    with inputs.reported_as(CorpusError):  # a FIFO or /dev/zero is refused, never read
        inputs.check_regular_file(path, what="corpus")
    try:
        size = path.stat().st_size
        if size > MAX_CORPUS_BYTES:
            raise CorpusError(
                f"file is too large ({_size_text(size)}, {size} bytes); the limit is "
                f"{_size_text(MAX_CORPUS_BYTES)} ({MAX_CORPUS_BYTES} bytes)",
                path=path,
            )
        with inputs.reported_as(CorpusError):
            data = inputs.read_bytes(path, limit=MAX_CORPUS_BYTES + 1, what="corpus")
    except OSError as exc:
        raise CorpusError(f"cannot read file ({exc.strerror or exc})", path=path) from None
    if len(data) > MAX_CORPUS_BYTES:  # grew since stat
        raise CorpusError(
            f"file is too large ({len(data)} bytes); the limit is {MAX_CORPUS_BYTES} bytes",
            path=path,
        )
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise CorpusError("looks like a binary file (it contains a NUL byte), not text", path=path)
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        line = data.count(b"\n", 0, offset) + 1
        err = CorpusError(
            f"not valid UTF-8: line {line}, byte offset {offset} (byte 0x{data[offset]:02x}); "
            "save the file as UTF-8",
            path=path,
        )
        err.line = line
        raise err from None
    if not text.strip():
        raise CorpusError(
            "the file is empty" if not text else "the file has only whitespace", path=path
        )
    return text


def split_sentences(text: str) -> list[str]:
    """Cut text into sentences.

    Blank lines separate paragraphs, and a sentence never runs across paragraphs. Inside a
    paragraph, line breaks and runs of spaces become single spaces. A sentence ends after
    ``.``, ``!`` or ``?`` (plus any closing quotes or brackets right after it) when whitespace
    follows; the punctuation stays with its sentence. Sentences are stripped and empty ones
    dropped. (Abbreviations such as "e.g. this" are cut too: a simple rule, on purpose.)
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    sentences: list[str] = []
    for paragraph in _BLANK_LINE_RE.split(text):
        flat = " ".join(paragraph.split())
        if not flat:
            continue
        for sentence in _SENTENCE_END_RE.sub("\\1\n", flat).split("\n"):
            sentence = sentence.strip()
            if sentence:
                sentences.append(sentence)
    return sentences


def split_lines(text: str) -> list[str]:
    """The non-blank lines of ``text``, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


CORPUS_UNITS = ("sentence", "line")

#: The two ways of reading a file into sentences: one per line (the KenLM / SRILM convention),
#: or cut at sentence punctuation (``split_sentences``, for wrapped prose).
SENTENCE_READINGS = ("lines", "punctuation")

#: Narrowest line width that counts as wrapped prose (text wrappers use 60 to 100 columns).
MIN_WRAP_WIDTH = 40
_LINE_ENDS_SENTENCE_RE = re.compile(r"""[.!?]['")\]’”]*$""")


@dataclass(frozen=True)
class SentenceReading:
    """How a text was cut into sentences: ``reading`` is one of ``SENTENCE_READINGS``,
    ``reason`` says why in a few words, ``detected`` is False when the caller forced it."""

    reading: str
    reason: str
    detected: bool = True

    def describe(self) -> str:
        """One line for the training output, naming the flag that forces the other reading."""
        if self.reading == "lines":
            what, other = "one sentence per line", "--sentences punctuation splits at . ! ? instead"
        else:
            what, other = "sentences cut at . ! ?", "--sentences lines reads one per line instead"
        if not self.detected:
            return f"{what} (as asked)"
        return f"{what}: {self.reason} ({other})"


def detect_sentence_reading(text: str) -> SentenceReading:
    """Decide whether ``text`` holds one sentence per line or prose to cut at punctuation.

    Signs of prose, on the non-blank lines (blank lines separate paragraphs):

    * most lines hold several sentences (sentence punctuation followed by more text inside the
      line), e.g. one paragraph per line;
    * the lines are *wrapped*. A greedy wrapper of width W moves a word to the next line only
      when it does not fit, so a line a followed by b in the same paragraph has
      len(a) <= W < len(a) + 1 + len(first word of b), and a often stops mid-sentence (no
      . ! ? at its end). The W (at least ``MIN_WRAP_WIDTH``) that most pairs fit is found by a
      sweep. The lines are wrapped when at most 10% of them are longer than W and the pairs
      that fit W and stop mid-sentence are at least 60% of all pairs, or 40% when W stands
      out (at least 8 times the pairs fitting a width 15 to 30 columns narrower: Markdown with
      code blocks, lists and tables); below 10 pairs, at least 80% and 2 pairs.

    Measured on random files of k sentences of the Python reference (300 files for each k,
    k = 2 to 200): one sentence a line was taken for wrapped once in 2,100 files (k = 3);
    40-to-80-character lines without final punctuation (the hardest case) in 1% of the files
    at k = 5, none from k = 20 (but 23% at k = 2: a file of 3 lines is a guess); the same
    sentences wrapped at 60 to 100 columns were cut at punctuation in 97% of the files at
    k = 5 and all but one from k = 10 (82% at k = 2). arlm's README, design notes and lessons
    (wrapped Markdown) are cut at punctuation; notes of one bullet or formula a line are not.

    A text with no sentence punctuation at all, or with neither sign, is read one sentence per
    line (the convention of KenLM, SRILM and most corpora).
    """
    paragraphs: list[list[str]] = [[]]
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    lines = [line for paragraph in paragraphs for line in paragraph]
    if not any(ch in line for line in lines for ch in ".!?"):
        return SentenceReading("lines", "the text has no . ! ? to cut at")
    several = sum(1 for line in lines if _SENTENCE_END_RE.search(line.strip()))
    if several * 2 >= len(lines):
        return SentenceReading("punctuation", "most lines hold several sentences")
    pairs = [(a, len(a), len(b.split()[0])) for p in paragraphs for a, b in zip(p, p[1:])]
    if pairs:
        top = max(length + word for _, length, word in pairs) + 2
        coverage = np.zeros(top, dtype=np.int64)
        for _, length, word in pairs:
            coverage[length] += 1  # W in [len(a), len(a) + len(word)]: a difference array
            coverage[length + word + 1] -= 1
        coverage = np.cumsum(coverage)
        coverage[:MIN_WRAP_WIDTH] = 0
        width = int(coverage.argmax())
        wrapped = sum(
            1
            for a, length, word in pairs
            if length <= width <= length + word and not _LINE_ENDS_SENTENCE_RE.search(a)
        )
        share = wrapped / len(pairs)
        narrower = coverage[max(width - 30, 0) : max(width - 15, 0)]
        stands_out = coverage[width] >= 8 * ((narrower.mean() if len(narrower) else 0.0) + 1)
        overlong = sum(1 for line in lines if len(line) > width)
        if len(pairs) >= 10:
            looks_wrapped = share >= 0.6 or (share >= 0.4 and stands_out)
        else:
            looks_wrapped = share >= 0.8 and wrapped >= 2
        if looks_wrapped and overlong * 10 <= len(lines):
            return SentenceReading(
                "punctuation",
                f"the lines look wrapped at {width} columns, sentences run across line breaks",
            )
    return SentenceReading("lines", "the lines look like one sentence each")


def read_sentences(
    path: str | Path, reading: str | None = None
) -> tuple[list[str], SentenceReading]:
    """``read_text_file`` cut into sentences, one per line or at punctuation; ``reading`` None
    detects which (``detect_sentence_reading``). Returns the sentences and the reading used."""
    if reading is not None and reading not in SENTENCE_READINGS:
        raise ValueError(
            f"reading must be one of {', '.join(SENTENCE_READINGS)}, got {reading!r}"
        )
    text = read_text_file(path)
    if reading is None:
        how = detect_sentence_reading(text)
    else:
        how = SentenceReading(reading, "forced", detected=False)
    sentences = split_lines(text) if how.reading == "lines" else split_sentences(text)
    return sentences, how


def read_corpus(path: str | Path, *, unit: str = "sentence") -> list[str]:
    """``read_text_file`` then cut into sentences (``split_sentences``) or lines."""
    if unit not in CORPUS_UNITS:
        raise ValueError(f"unit must be one of {', '.join(CORPUS_UNITS)}, got {unit!r}")
    text = read_text_file(path)
    return split_sentences(text) if unit == "sentence" else split_lines(text)


def train_valid_split(
    items: Sequence[T], valid_fraction: float = 0.1, seed: int = 0
) -> tuple[list[T], list[T]]:
    """Split ``items`` into (train, valid), reproducibly.

    ``round(n · valid_fraction)`` items, clamped to [1, n − 1] when n ≥ 2, chosen by a random
    permutation from ``numpy.random.default_rng(seed)`` go to valid; both parts keep the
    original order. A single item goes to train.
    """
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction!r}")
    n = len(items)
    if n < 2:
        return list(items), []
    n_valid = min(max(round(n * valid_fraction), 1), n - 1)
    chosen = np.random.default_rng(seed).permutation(n)[:n_valid]
    is_valid = np.zeros(n, dtype=bool)
    is_valid[chosen] = True
    train = [items[i] for i in range(n) if not is_valid[i]]
    valid = [items[i] for i in range(n) if is_valid[i]]
    return train, valid


@lru_cache(maxsize=1)
def pyref_text() -> str:
    """The Python language reference topics shipped with Python (``pydoc_data.topics``), in
    sorted topic order, separated by blank lines: a real-English corpus every install has."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise CorpusError(
            "the Python reference corpus needs the standard-library module pydoc_data, which "
            "this Python installation lacks; train on a text file instead"
        ) from None
    return "\n\n".join(topics[key].strip("\n") for key in sorted(topics))


def pyref_sentences() -> list[str]:
    """``split_sentences(pyref_text())``."""
    return list(_pyref_sentences())


@lru_cache(maxsize=1)
def _pyref_sentences() -> tuple[str, ...]:
    return tuple(split_sentences(pyref_text()))
