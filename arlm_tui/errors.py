"""Errors a user can cause (bad file, bad flag value, unknown model).

An ``ArlmError`` carries a one-line message that the CLI and the TUI show as is, without a
traceback. Code raises it (or a subclass) for anything the user can fix; bugs stay ordinary
exceptions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


class ArlmError(Exception):
    """A user-facing error whose message is one line saying what is wrong.

    ``knob``: the decoding knob the message starts with, by its Python name (``top_p must be
    a number in (0, 1], got 1.5``); ``spelled`` names it as a surface does (``--top-p``).
    """

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 knob: str | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f":{line}"
            where += ": "
        super().__init__(where + " ".join(str(message).split()))
        self.path = path
        self.line = line
        self.knob = knob

    def spelled(self, spell: Callable[[str], str]) -> str:
        """The message with the knob it names spelled by ``spell`` (``top_p`` -> ``--top-p``)."""
        return spell_knob(str(self), self.knob, spell)


def spell_knob(message: str, knob: str | None, spell: Callable[[str], str]) -> str:
    """``message`` with the knob name it starts with (``knob``) spelled by ``spell``; as it
    is when it does not start with ``knob``."""
    if knob and message.startswith(knob) and not message[len(knob):][:1].isidentifier():
        return spell(knob) + message[len(knob):]
    return message


def flag_name(knob: str) -> str:
    """A knob as the command line spells it: ``top_p`` -> ``--top-p``."""
    return "--" + knob.replace("_", "-")


class CorpusError(ArlmError):
    """A corpus file that cannot be used (missing, empty, binary, undecodable, too large)."""


class ModelLoadError(ArlmError):
    """A model directory or file that is missing, corrupt, truncated or mismatched."""


class UnknownModelError(ArlmError):
    """A model name that is neither bundled, user-trained, nor an existing path."""
