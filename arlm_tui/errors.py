"""Errors a user can cause (bad file, bad flag value, unknown model).

An ``ArlmError`` carries a one-line message that the CLI and the TUI show as is, without a
traceback. Code raises it (or a subclass) for anything the user can fix; bugs stay ordinary
exceptions.
"""

from __future__ import annotations

from pathlib import Path


class ArlmError(Exception):
    """A user-facing error whose message is one line saying what is wrong."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f":{line}"
            where += ": "
        super().__init__(where + " ".join(str(message).split()))
        self.path = path
        self.line = line


class CorpusError(ArlmError):
    """A corpus file that cannot be used (missing, empty, binary, undecodable, too large)."""


class ModelLoadError(ArlmError):
    """A model directory or file that is missing, corrupt, truncated or mismatched."""


class UnknownModelError(ArlmError):
    """A model name that is neither bundled, user-trained, nor an existing path."""
