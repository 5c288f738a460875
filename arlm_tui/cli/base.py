"""What every ``arlm`` command shares: the parser that reports a mistake in one line, the exit
status of a user's mistake, JSON output, and the decoding knobs as flags.

The knob flags come from the processors (``decoding``, which imports numpy); they are built on
first use (``Parser.later``), so plain ``arlm``, ``arlm --help`` and the subcommands without
knobs do without them.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from arlm_tui.cli import flags
from arlm_tui.errors import ArlmError

#: The exit status of a user's mistake (bad flag value, missing file, unknown model).
EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (and exit status 2), and adds the
    arguments given to ``later`` only when it parses or prints its help: a subcommand whose
    flags need the engine (the knob flags import numpy) costs nothing to ``arlm --help`` or
    to another subcommand."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._later: list[Callable[[], None]] = []

    def later(self, add: Callable[[], None]) -> None:
        """Call ``add`` (which adds this parser's arguments) when the parser is first used."""
        self._later.append(add)

    def _complete(self) -> None:
        while self._later:
            self._later.pop(0)()

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._complete()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._complete()
        return super().format_usage()

    def format_help(self) -> str:
        self._complete()
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def add_later(parser: argparse.ArgumentParser, add: Callable[[], None]) -> None:
    """Have ``add`` add ``parser``'s arguments when it is first used (a ``Parser``), or now
    (any other argparse parser)."""
    if isinstance(parser, Parser):
        parser.later(add)
    else:
        add()


@functools.cache
def knob_table() -> tuple[tuple[tuple[str, Any, str], ...], tuple[str, ...], dict[str, Any]]:
    """The knob flags (flag, type, help), their knob names (``--top-k`` -> ``top_k``) and
    ``arlm generate``'s defaults: every knob of ``decoding.KNOBS`` but the strategy, whose flag
    has its own choices."""
    from arlm_tui.decoding.config import KNOBS

    knob_flags = tuple(
        (knob.flag, flags.seed if name == "seed" else knob.type, knob.help)
        for name, knob in KNOBS.items() if name != "strategy"
    )
    names = tuple(flag[2:].replace("-", "_") for flag, _, _ in knob_flags)
    # a knob not given: its off value, but 30 tokens
    defaults = {name: KNOBS[name].off for name in names} | {"max_tokens": 30}
    return knob_flags, names, defaults


def strategy_choices() -> tuple[str, ...]:
    """The strategies ``--strategy`` takes (``decoding.STRATEGIES``)."""
    from arlm_tui.decoding.config import KNOBS

    return KNOBS["strategy"].choices


def knob_names() -> tuple[str, ...]:
    """The names of the knobs that have a flag."""
    return knob_table()[1]


def add_knob_flags(group: Any, defaults: dict[str, Any] | None = None) -> None:
    """Add the knob flags to an argparse parser or group; ``defaults`` by knob name (None:
    every knob defaults to None, "not given")."""
    knob_flags, names, _ = knob_table()
    flags.add_preset_flag(group)
    for (flag, kind, text), name in zip(knob_flags, names):
        default = None if defaults is None else defaults[name]
        if kind in (dict, tuple):  # --logit-bias the=-5 --logit-bias cat=ban, --stop .
            group.add_argument(flag, action="append", type=str, default=None, help=text,
                               metavar="TOKEN=VALUE" if kind is dict else "STRING")
        elif kind is bool:  # --flag / --no-flag
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=default,
                               help=text)
        else:
            group.add_argument(flag, type=kind, default=default, help=text)


def knobs_with_preset(args: argparse.Namespace, defaults: dict[str, Any] | None = None,
                      strategy: str | None = "greedy") -> tuple[str | None, dict[str, Any]]:
    """(strategy, knobs): ``defaults`` (``arlm generate``'s if None), then ``--preset``, then
    the flags given."""
    defaults = knob_table()[2] if defaults is None else defaults
    return flags.with_preset(args, knob_names(), defaults, strategy)


def decoding_config(strategy: str, knobs: dict[str, Any]) -> Any:
    """A checked ``DecodingConfig``; a bad value is an ``ArlmError`` (one line, exit 2)."""
    from arlm_tui.decoding import DecodingConfig

    try:
        config = DecodingConfig(strategy=strategy, **knobs)
        config.validate()
    except ValueError as exc:  # named by its flag (--top-p) when printed: ``cli.main``
        raise ArlmError(str(exc), knob=getattr(exc, "knob", None)) from None
    return config


def add_sentence_flags(parser: Any) -> None:
    """``--sentences lines|punctuation`` (how a corpus file is cut; default: detect) and its older
    spelling ``--unit line|sentence``, for every training command."""
    parser.add_argument(
        "--sentences",
        choices=("lines", "punctuation"),
        default=None,
        help="cut a corpus file one sentence per line or at . ! ? (default: detect which)",
    )
    parser.add_argument(  # the older spelling of --sentences
        "--unit",
        dest="sentences",
        choices=("lines", "punctuation"),
        type=lambda v: {"line": "lines", "sentence": "punctuation"}.get(v, v),
        help=argparse.SUPPRESS,
    )


def model_arg(parser: argparse.ArgumentParser) -> None:
    """``--model`` with the default model."""
    from arlm_tui.lm.registry import DEFAULT_MODEL

    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"model name or path (default {DEFAULT_MODEL})"
    )


def print_json(obj: Any) -> None:
    """``obj`` as indented JSON on stdout (arrays as lists, ±inf and NaN as strings)."""

    def default(o: Any) -> Any:
        if hasattr(o, "tolist"):
            return o.tolist()
        return str(o)

    json.dump(_finite(obj), sys.stdout, ensure_ascii=False, indent=2, default=default)
    sys.stdout.write("\n")


def _finite(obj: Any) -> Any:
    """JSON has no infinity: write ±inf and NaN as strings so every parser can read the output."""
    if isinstance(obj, float):
        from arlm_tui.decoding.trace import json_float

        return json_float(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj
