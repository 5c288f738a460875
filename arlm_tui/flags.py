"""Value types for command-line flags whose mistakes read as a person would say them
(``seed must be a whole number ≥ 0, got -1``), not as a range in scientific notation."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

#: The largest seed: NumPy and torch take any 63-bit whole number.
MAX_SEED = 2**63 - 1


def seed(text: str) -> int:
    """An argparse ``type`` for ``--seed``: a whole number from 0 to 2⁶³ − 1."""
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be a whole number ≥ 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seed must be a whole number ≥ 0, got {value}")
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"seed must be a whole number ≥ 0 and below 2^63 (about 9.2 billion billion), "
            f"got {text}"
        )
    return value


def preset(text: str) -> str:
    """An argparse ``type`` for ``--preset``: a preset's name (``decoding.presets``)."""
    from arlm_tui.decoding.presets import find_preset

    try:
        return find_preset(text).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_preset_flag(group: Any) -> None:
    """``--preset NAME``: start from a well-known tool's knobs; flags given beside it win."""
    from arlm_tui.decoding.presets import PRESETS

    names = ", ".join(f"{p.name} ({p.title})" for p in PRESETS.values())
    group.add_argument("--preset", type=preset, default=None, metavar="NAME",
                       help=f"start from a preset's strategy and knobs (other knobs off); "
                       f"knob flags given too win over it: {names}")


def with_preset(args: argparse.Namespace, names: Sequence[str], defaults: dict[str, Any],
                default_strategy: str | None) -> tuple[str | None, dict[str, Any]]:
    """(strategy, knobs) from parsed flags: ``defaults``, then ``--preset``'s knobs, then the
    knob flags given (``names``; None = not given) and ``--strategy``."""
    from arlm_tui.decoding.presets import merge_knobs

    given = {name: getattr(args, name, None) for name in names}
    given["strategy"] = getattr(args, "strategy", None)
    return merge_knobs(getattr(args, "preset", None), given, defaults, default_strategy)
