"""Corpora: the texts models are trained and evaluated on.

Reads a user's text file with clear errors for everything that can be wrong with it, cuts text
into sentences or lines, splits items into training and validation parts reproducibly, and
provides two built-in corpora: the n-gram lecture's three toy sentences and the Python language
reference that ships with every Python installation (``pydoc_data``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
