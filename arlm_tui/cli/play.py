"""``arlm play [--model M] [--prompt TEXT] [--strategy S] [knobs...]``: the play screen from the
command line.

Building the ``arlm`` parser does not import Textual; the app is imported when the command
runs. ``register(subparsers)`` adds the command.
"""

from __future__ import annotations

import argparse
from typing import Any

from arlm_tui.cli.base import (
    add_knob_flags,
    add_later,
    knobs_with_preset,
    strategy_choices,
)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``arlm play [--model M] [--prompt TEXT] [--strategy S] [knobs...]``.

    Knobs not given keep the play screen's defaults; the command's function is ``cmd_play``.
    """
    play = subparsers.add_parser("play", help="open the interactive play screen")
    add_later(play, lambda: _play_flags(play))  # when used: the knob flags import the engine
    play.set_defaults(func=cmd_play)
    return play


def _play_flags(play: Any) -> None:
    play.add_argument("--model", default=None, help="model name or path")
    play.add_argument("--prompt", default="", help="the text to continue")
    play.add_argument("--strategy", choices=strategy_choices(), default=None,
                      help="how the next token is chosen (default sample)")
    knobs = play.add_argument_group("decoding knobs (not given: the play screen's defaults)")
    add_knob_flags(knobs)


def knobs_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The knobs given on the command line (None = not given; a ``--preset``'s knobs first),
    validated by the play screen."""
    return _strategy_and_knobs(args)[1]


def _strategy_and_knobs(args: argparse.Namespace) -> tuple[str | None, dict[str, Any]]:
    return knobs_with_preset(args, {}, None)


def cmd_play(args: argparse.Namespace) -> int:
    """``arlm play``: check the knobs and the model first, so mistakes are one line and exit 2."""
    from arlm_tui.decoding.config import DecodingConfig
    from arlm_tui.errors import ArlmError
    from arlm_tui.lm.registry import resolve
    from arlm_tui.tui.app import run_app

    strategy, knobs = _strategy_and_knobs(args)
    try:
        DecodingConfig(strategy=strategy or "sample", **knobs)
    except ValueError as exc:
        raise ArlmError(str(exc), knob=getattr(exc, "knob", None)) from None
    if args.model is not None and not str(args.model).startswith("hf:"):
        resolve(args.model)
    return run_app("play", model=args.model, prompt=args.prompt, strategy=strategy,
                   knobs=knobs)
