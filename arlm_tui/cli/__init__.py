"""The ``arlm`` command line: it sits on top of every other package, and none imports it.

    arlm                      the full-screen app (home screen)
    arlm play ...             the play screen directly, with a model, prompt and knobs
    arlm demo                 a step-through generation printed in the terminal
    arlm generate ...         generate text with a decoding strategy; --json for machines
    arlm score ...            per-token log-probs, NLL, perplexity of a text
    arlm train ngram ...      fit an n-gram model (train rnn|gru|lstm|ffn|transformer: neural)
    arlm export-arpa ...      write an n-gram model in the ARPA format
    arlm models list / show   the bundled and user-trained models; one model's card
    arlm export-session ...   a saved play session as one HTML page (arlm serve: in a browser)
    arlm lessons / cards / games   lessons, flashcards (FSRS) and games

One module per group of commands, each with ``register(subparsers)``: ``generate`` (demo,
generate, score), ``train``, ``models`` (export-arpa, models), ``learn`` (lessons, cards),
``games``, ``play``, ``share`` (export-session, serve); ``base`` holds what they share (the
one-line-error parser, the knob flags, JSON output).

A user's mistake (bad flag value, missing file, unknown model) prints one line and exits with
status 2; nothing here prints a traceback for it. Heavy modules are imported inside the commands
so ``arlm --help`` is quick (no numpy: a command's knob flags are built when that command is
used, ``base.Parser.later``) and torch is loaded only by commands that use a neural model;
plain ``arlm`` opens the app without building the parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from arlm_tui.cli.base import EXIT_USAGE, Parser, add_knob_flags, knob_table
from arlm_tui.errors import ArlmError, flag_name

__all__ = ["EXIT_USAGE", "add_knob_flags", "build_parser", "main"]


def __getattr__(name: str) -> Any:
    """``KNOB_FLAGS``: (flag, type, help) of the decoding knobs that ``arlm generate``,
    ``demo`` and ``play`` take (every knob of ``decoding.KNOBS`` but the strategy, whose flag
    has its own choices); ``KNOB_NAMES``: their knob names (``--top-k`` -> ``top_k``). Built on
    first use: the knobs import numpy."""
    if name == "KNOB_FLAGS":
        return knob_table()[0]
    if name == "KNOB_NAMES":
        return knob_table()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_parser() -> argparse.ArgumentParser:
    """The ``arlm`` parser with every subcommand (``args.func(args)`` runs the one given)."""
    from arlm_tui import __version__
    from arlm_tui.cli import games, generate, learn, models, play, share, train

    parser = Parser(
        prog="arlm",
        description="arlm: learn how language models generate text, one token at a time.",
    )
    parser.add_argument("--version", action="version", version=f"arlm {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    # the order of `arlm --help`
    for group in (generate, train, models, learn, games, play, share):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # plain ``arlm`` opens the app at once: building the parser imports every subcommand's
    # module (the games' import numpy), which the home screen does not need
    args = build_parser().parse_args(arguments) if arguments else None
    try:
        if args is None or args.command is None:
            from arlm_tui.tui.app import run_app

            return run_app()
        return int(args.func(args) or 0)
    except ArlmError as exc:  # a knob named as typed: --top-p, not top_p
        print(f"arlm: error: {exc.spelled(flag_name)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("arlm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
