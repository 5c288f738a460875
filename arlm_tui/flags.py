"""Value types for command-line flags whose mistakes read as a person would say them
(``seed must be a whole number ≥ 0, got -1``), not as a range in scientific notation."""

from __future__ import annotations

import argparse

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
