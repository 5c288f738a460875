"""What a decoding knob is: its name, type, range, "off" value, steps, strategies and help.

A ``Knob`` is declared once, next to the code that uses it: a processor class carries the knobs
it reads (``processors.Processor.knobs``), the strategies' own knobs (``max_tokens``,
``beam_width``, ...) are declared in ``config``. ``config.KNOBS`` gathers them all, and the
config, the command line, the knob panel, the labs and the explanations are built from it.

``check`` is the one place a knob's range is checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

STRATEGIES: tuple[str, ...] = ("greedy", "sample", "beam", "contrastive")
SAMPLE: tuple[str, ...] = ("sample",)
BEAM: tuple[str, ...] = ("beam",)
CONTRASTIVE: tuple[str, ...] = ("contrastive",)  # contrastive search (Su et al. 2022)

#: Knob groups in the order controls show them (``KNOBS`` is sorted by group, stably).
GROUPS: tuple[str, ...] = ("strategy", "sampling", "penalty", "length", "beam", "contrastive",
                           "random")


def check_number(
    name: str,
    value: object,
    lo: float,
    hi: float,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> float | int:
    """Return ``value`` as a float (or int) if it lies in the range, else ValueError naming
    ``name`` and the allowed range, e.g. ``top_p must be in (0, 1], got 1.5``."""
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    hi_text = "∞" if math.isinf(hi) else f"{hi:g}"
    allowed = f"{'an integer' if integer else 'a number'} in {left}{lo:g}, {hi_text}{right}"
    # ValueError, not TypeError, for every bad knob value: callers catch one exception type
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")  # noqa: TRY004
    if integer:
        if not isinstance(value, Integral) and not float(value).is_integer():
            raise ValueError(f"{name} must be {allowed}, got {value!r}")
        number: float | int = int(value) if isinstance(value, Integral) else int(float(value))
    else:
        number = float(value)
    if math.isnan(number):
        raise ValueError(f"{name} must be {allowed}, got nan")
    too_low = number <= lo if lo_open else number < lo
    too_high = number >= hi if hi_open else number > hi
    if too_low or too_high:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return number


@dataclass(frozen=True)
class Knob:
    """One decoding knob as a control sees it.

    ``off``: the value at which the knob changes nothing (its processor is left out); it is
    also the ``DecodingConfig`` default. ``switchable``: the off value switches a processor off
    (the panel reads "off" there). ``title``: the name shown on screen (``top-p``), ``short``:
    shorter titles for narrow panels, longest first. ``playground``: (step, min, max) when the
    labs' decoding playground offers the knob. ``group``: one of ``GROUPS``.

    Values are numbers, booleans or one of ``choices``; a knob whose value is a list or a
    mapping (a logit bias, stop strings) would add its own ``check`` here.
    """

    name: str
    type: type
    min: float
    max: float
    fine_step: float
    coarse_step: float
    off: Any
    help: str
    min_open: bool = False  # True: the minimum itself is not allowed
    max_open: bool = False
    strategies: tuple[str, ...] = STRATEGIES  # the strategies this knob affects
    choices: tuple[str, ...] = ()  # for the one text knob, "strategy"
    group: str = "sampling"
    title: str = ""
    short: tuple[str, ...] = ()
    switchable: bool = False
    playground: tuple[float, float, float] | None = field(default=None)

    def __post_init__(self) -> None:
        if not self.title:
            object.__setattr__(self, "title", self.name.replace("_", "-"))
        if self.group not in GROUPS:
            raise ValueError(f"knob {self.name}: group must be one of {', '.join(GROUPS)}")

    @property
    def range_text(self) -> str:
        """The allowed values, e.g. ``(0, 1]``."""
        if self.choices:
            return " | ".join(self.choices)
        left = "(" if self.min_open else "["
        right = ")" if self.max_open else "]"
        high = "∞" if math.isinf(self.max) else f"{self.max:g}"
        return f"{left}{self.min:g}, {high}{right}"

    @property
    def flag(self) -> str:
        """The command-line flag, ``--top-p``."""
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> Any:
        """``value`` converted to the knob's type, or ValueError naming the knob and its range."""
        if self.choices:
            if value not in self.choices:
                raise ValueError(
                    f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}"
                )
            return value
        if self.type is bool:
            if isinstance(value, bool) or value in (0, 1):
                return bool(value)
            raise ValueError(f"{self.name} must be true or false, got {value!r}")
        return check_number(
            self.name,
            value,
            self.min,
            self.max,
            lo_open=self.min_open,
            hi_open=self.max_open,
            integer=self.type is int,
        )
