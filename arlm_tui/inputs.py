"""Every file arlm reads is bounded before it is read.

A corpus, ``tokenizer.json``, ``my_cards.txt``, ``config.json`` or a saved session that is a link
to ``/dev/zero``, a FIFO, a socket or a folder is refused with one line (``ArlmError`` naming the
file) instead of reading forever; a regular file larger than its stated limit is refused from its
length, before a byte is read; and ``load_json`` refuses JSON nested deeper than ``MAX_JSON_DEPTH``
with one line instead of a ``RecursionError``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from arlm_tui.errors import ArlmError

MiB = 1024 * 1024

#: Stated limits, in bytes, of the files arlm reads (a corpus: ``corpora.MAX_CORPUS_BYTES``).
LIMITS: dict[str, int] = {
    "tokenizer": 64 * MiB,
    "config": 4 * MiB,
    "session": 64 * MiB,
    "cards": 16 * MiB,
    "settings": 1 * MiB,
    "lesson": 4 * MiB,
}

#: JSON deeper than this is not something arlm wrote: refused before Python's recursion limit.
MAX_JSON_DEPTH = 64


def _size_text(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", MiB), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def check_regular_file(path: str | Path, *, limit: int | None = None, what: str = "file") -> int:
    """Return the size of ``path`` after checking that it is a regular file (links followed)
    no larger than ``limit`` bytes; one-line ``ArlmError`` otherwise. Nothing is opened, so a
    FIFO or a device is never read or blocked on."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ArlmError("no such file", path=path) from None
    except NotADirectoryError:
        raise ArlmError("no such file (a part of the path is a file, not a folder)", path=path) from None
    except OSError as exc:
        raise ArlmError(f"cannot read the {what} ({(exc.strerror or str(exc)).lower()})",
                        path=path) from None
    if stat.S_ISDIR(info.st_mode):
        raise ArlmError(f"is a folder, not a {what}", path=path)
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode)
            else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket" if stat.S_ISSOCK(info.st_mode)
            else "not a regular file"
        )
        raise ArlmError(f"is {kind}, not a regular file; arlm reads only regular files",
                        path=path)
    if limit is not None and info.st_size > limit:
        raise ArlmError(
            f"the {what} is too large ({_size_text(info.st_size)}); the limit is "
            f"{_size_text(limit)}",
            path=path,
        )
    return info.st_size


def read_bytes(path: str | Path, *, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (checked before and while
    reading, so a file that grows meanwhile is refused too)."""
    path = Path(path)
    check_regular_file(path, limit=limit, what=what)
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the check, open never blocks.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ArlmError(f"cannot read the {what} ({(exc.strerror or str(exc)).lower()})",
                        path=path) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ArlmError("is not a regular file; arlm reads only regular files", path=path)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ArlmError(f"the {what} is too large; the limit is {_size_text(limit)}", path=path)
    return data


def read_text(path: str | Path, *, limit: int, what: str = "file") -> str:
    """``read_bytes`` decoded as UTF-8 (a leading byte-order mark dropped)."""
    data = read_bytes(path, limit=limit, what=what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ArlmError(f"not valid UTF-8 (line {line}, byte offset {exc.start})", path=path,
                        line=None) from None


def json_depth_problem(text: str, limit: int = MAX_JSON_DEPTH) -> int | None:
    """The line where ``text`` nests arrays/objects deeper than ``limit``, else None.

    A linear scan that skips strings: cheap next to parsing, and it runs before ``json.loads``
    so that no nesting can reach Python's recursion limit."""
    depth, line, in_string, escaped = 0, 1, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            elif ch == "\n":
                line += 1
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return line
        elif ch in "]}":
            depth -= 1
        elif ch == "\n":
            line += 1
    return None


def parse_json(text: str, *, source: str | Path, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` of ``text`` with nesting bounded; one ArlmError line naming ``source`` for
    JSON that is too deep or not JSON at all."""
    line = json_depth_problem(text, limit)
    if line is not None:
        raise ArlmError(f"JSON nested more than {limit} levels deep", path=source, line=line)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArlmError(f"not valid JSON ({exc.msg})", path=source, line=exc.lineno) from None
    except RecursionError:  # a belt to the braces above: never a traceback
        raise ArlmError("JSON nested too deeply", path=source) from None


def load_json(path: str | Path, *, limit: int, what: str = "file") -> Any:
    """Read and parse a JSON file: a regular file, at most ``limit`` bytes, bounded depth."""
    return parse_json(read_text(path, limit=limit, what=what), source=path)


@contextmanager
def reported_as(error: type[ArlmError]) -> Iterator[None]:
    """Re-raise this module's ArlmError as ``error`` (ModelLoadError, CorpusError ...), the
    message unchanged, for callers whose users catch the narrower type."""
    try:
        yield
    except ArlmError as exc:
        if isinstance(exc, error):
            raise
        raise error(str(exc)) from None


__all__ = [
    "LIMITS",
    "MAX_JSON_DEPTH",
    "check_regular_file",
    "json_depth_problem",
    "load_json",
    "parse_json",
    "read_bytes",
    "read_text",
    "reported_as",
]
