"""What a decoding knob is: its name, type, range, "off" value, steps, strategies and help.

A ``Knob`` is declared once, next to the code that uses it: a processor class carries the knobs
it reads (``processors.Processor.knobs``), the strategies' own knobs (``max_tokens``,
``beam_width``, ...) are declared in ``config``. ``config.KNOBS`` gathers them all, and the
config, the command line, the knob panel, the labs and the explanations are built from it.

``check`` is the one place a knob's range is checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, NoReturn

from arlm_tui.errors import flag_name, spell_knob

STRATEGIES: tuple[str, ...] = ("greedy", "sample", "beam", "contrastive")
SAMPLE: tuple[str, ...] = ("sample",)
BEAM: tuple[str, ...] = ("beam",)
CONTRASTIVE: tuple[str, ...] = ("contrastive",)  # contrastive search (Su et al. 2022)

#: Knob groups in the order controls show them (``KNOBS`` is sorted by group, stably).
GROUPS: tuple[str, ...] = ("strategy", "sampling", "penalty", "length", "beam", "contrastive",
                           "random")


class KnobValueError(ValueError):
    """A knob's value refused. The message starts with the knob's Python name (``top_p must
    be a number in (0, 1], got 1.5``, ``logit_bias: 'zzz' is not TOKEN=VALUE``), as the
    Python API and lesson files write it; ``spelled`` names it as another surface does (the
    command line's ``--top-p``, the knob panel's ``top-p``)."""

    def __init__(self, knob: str, message: str) -> None:
        super().__init__(message)
        self.knob = knob

    def spelled(self, spell: Callable[[str], str]) -> str:
        return spell_knob(str(self), self.knob, spell)


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
    labs' decoding playground offers the knob. ``group``: one of ``GROUPS``. ``needs``: the
    knob that switches this one's processor on (``xtc_probability`` for ``xtc_threshold``):
    while that one is at its off value, this one has no effect (the command line refuses it,
    the knob panel dims it).

    Values are numbers, booleans or one of ``choices``; or, for ``type`` dict, a ``TokenBias``
    (token -> bias, the logit bias) and, for ``type`` tuple, a tuple of strings (the stop
    strings). ``check``, ``to_json``, ``parse`` and ``format`` handle all of them.
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
    needs: str = ""

    def __post_init__(self) -> None:
        if not self.title:
            object.__setattr__(self, "title", self.name.replace("_", "-"))
        if self.group not in GROUPS:
            raise ValueError(f"knob {self.name}: group must be one of {', '.join(GROUPS)}")

    @property
    def collection(self) -> bool:
        """True for a knob whose value is a mapping or a list (the logit bias, stop strings):
        its flag is repeated, and the arrow keys do not step it."""
        return self.type in (dict, tuple)

    @property
    def range_text(self) -> str:
        """The allowed values, e.g. ``(0, 1]``."""
        if self.type is dict:
            return f"TOKEN=VALUE, VALUE in [{self.min:g}, {self.max:g}] or ban (-inf)"
        if self.type is tuple:
            return f"up to {MAX_STOP_STRINGS} strings of 1 to {MAX_STOP_LENGTH} characters"
        if self.choices:
            return " | ".join(self.choices)
        left = "(" if self.min_open else "["
        right = ")" if self.max_open else "]"
        high = "∞" if math.isinf(self.max) else f"{self.max:g}"
        return f"{left}{self.min:g}, {high}{right}"

    @property
    def flag(self) -> str:
        """The command-line flag, ``--top-p``."""
        return flag_name(self.name)

    def to_json(self, value: Any) -> Any:
        """``value`` as plain JSON: a logit bias as a dict ({"the": -5, "cat": "-inf"}: JSON
        has no infinity), stop strings as a list; other values as they are. ``check`` reads
        it back."""
        if self.type is dict:
            return {token: "-inf" if bias == -math.inf else bias for token, bias in value.items()}
        if self.type is tuple:
            return list(value)
        return value

    def parse(self, text: str) -> Any:
        """A typed value (a dialog's text) converted to the knob's type; ValueError with a
        one-line reason. ``off`` is the off value; a collection is read by
        ``parse_collection``."""
        name = self.name
        text = text.strip()
        if self.collection:  # the logit bias (the=-5 cat=ban) or stop strings ("." "the end")
            return parse_collection(self, text)
        if self.choices:
            return text
        if self.type is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "on", "yes"):
                return True
            if lowered in ("0", "false", "off", "no"):
                return False
            raise ValueError(f"{name} must be on or off, got {text!r}")
        if text.lower() == "off":
            return self.off
        try:
            value = float(text)
        except ValueError:
            raise ValueError(
                f"{name} must be a number in {self.range_text}, got {text!r}") from None
        if self.type is int:
            if not value.is_integer():
                raise ValueError(f"{name} must be a whole number in {self.range_text}, "
                                 f"got {text!r}")
            return int(value)
        return value

    def check(self, value: Any) -> Any:
        """``value`` converted to the knob's type, or ``KnobValueError`` (a ValueError) naming
        the knob and its range."""
        try:
            return self._check(value)
        except KnobValueError:
            raise
        except ValueError as exc:
            raise KnobValueError(self.name, str(exc)) from None

    def _check(self, value: Any) -> Any:
        if self.type is dict:
            return check_bias(self.name, value, self.min, self.max)
        if self.type is tuple:
            return check_strings(self.name, value)
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


# ------------------------------------------------------------------ knobs holding a mapping or a list
#: At most this many stop strings, each at most this long (a stop string is compared with the
#: end of the text after every step).
MAX_STOP_STRINGS = 16
MAX_STOP_LENGTH = 200
#: At most this many tokens in a logit bias.
MAX_BIAS_TOKENS = 300


class TokenBias(dict):  # type: ignore[type-arg]  # dict[str, float]
    """The logit bias: {token as typed: bias}, read-only and hashable (a ``DecodingConfig``
    is frozen and compared). A bias is a number in the knob's range or -inf (a ban). The
    tokens are those of a model's vocabulary, looked up when a model uses the config."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a logit bias is read-only: make a new one")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TokenBias({dict.__repr__(self)})"

    def __str__(self) -> str:
        """As typed: ``the=-5 cat=ban``."""
        return " ".join(f"{token}={bias_text(bias)}" for token, bias in self.items())


def _bias_value(name: str, token: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("ban", "-inf", "-infinity"):
            return -math.inf
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name}: the bias of {token!r} must be a number in [{lo:g}, "
                             f"{hi:g}] or ban, got {value!r}") from None
    if isinstance(value, Real) and not isinstance(value, bool) and value == -math.inf:
        return -math.inf
    return float(check_number(f"{name}: the bias of {token!r}", value, lo, hi))


def _bias_pairs(name: str, value: Any) -> Iterable[tuple[Any, Any]]:
    if isinstance(value, Mapping):
        return value.items()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable):
        raise ValueError(f"{name} must be TOKEN=VALUE entries or a mapping, got {value!r}")
    pairs = []
    for entry in value:
        if isinstance(entry, str):
            token, sep, bias = entry.rpartition("=")
            if not sep or not token:
                raise ValueError(f"{name}: {entry!r} is not TOKEN=VALUE (e.g. the=-5, "
                                 "the=ban)")
            pairs.append((token, bias))
        elif isinstance(entry, (tuple, list)) and len(entry) == 2:
            pairs.append((entry[0], entry[1]))
        else:
            raise ValueError(f"{name}: {entry!r} is not TOKEN=VALUE")
    return pairs


def check_bias(name: str, value: Any, lo: float, hi: float) -> TokenBias:
    """A logit bias as a ``TokenBias``: from a mapping {token: bias}, "TOKEN=VALUE" strings
    (VALUE a number or ban) or (token, bias) pairs; a later entry for a token wins, a bias of
    0 drops the token. ValueError (one line, naming the token) for anything else."""
    if value is None:
        return TokenBias()
    out: dict[str, float] = {}
    for token, bias in _bias_pairs(name, value):
        if not isinstance(token, str) or not token:
            raise ValueError(f"{name}: a token must be a non-empty string, got {token!r}")
        number = _bias_value(name, token, bias, lo, hi)
        out.pop(token, None)
        if number != 0:
            out[token] = number
    if len(out) > MAX_BIAS_TOKENS:
        raise ValueError(f"{name}: at most {MAX_BIAS_TOKENS} tokens, got {len(out)}")
    return TokenBias(out)


def check_strings(name: str, value: Any) -> tuple[str, ...]:
    """Stop strings as a tuple: from one string or a list of them; duplicates dropped, order
    kept. ValueError for an empty or too long string, or too many."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, Mapping):
        raise ValueError(f"{name} must be a string or a list of strings, got {value!r}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"{name}: each must be a non-empty string, got {item!r}")
        if len(item) > MAX_STOP_LENGTH:
            raise ValueError(f"{name}: {item[:20]!r}… is longer than {MAX_STOP_LENGTH} "
                             "characters")
        if item not in out:
            out.append(item)
    if len(out) > MAX_STOP_STRINGS:
        raise ValueError(f"{name}: at most {MAX_STOP_STRINGS} strings, got {len(out)}")
    return tuple(out)


def bias_text(value: float) -> str:
    """A bias as typed: ``ban`` for -inf, else the number (``-5``, ``+2.5``)."""
    return "ban" if value == -math.inf else f"{value:+g}"


def format_collection(knob: Knob, value: Any) -> str:
    """A logit bias or stop strings as one line to type back: ``the=-5 cat=ban`` or
    ``"." "\n"`` (each stop string as a JSON string)."""
    if knob.type is dict:  # a token with a space or quote in quotes, as a shell would read it
        return " ".join(f"{_shell_word(token)}={bias_text(bias)}" for token, bias in value.items())
    import json

    return " ".join(json.dumps(item, ensure_ascii=False) for item in value)


def _shell_word(token: str) -> str:
    """``token`` as ``shlex.split`` reads it back: quoted when it holds a space, a quote or a
    backslash, as it is otherwise."""
    import shlex

    return shlex.quote(token) if any(c.isspace() or c in "'\"\\" for c in token) else token


def parse_collection(knob: Knob, text: str) -> Any:
    """What a learner typed for a logit bias (``the=-5 cat=ban``: entries split at spaces, a
    token with a space in quotes, ``' the'=2``) or
    stop strings (``"." "the end"`` as JSON strings, or plain words split at spaces);
    ``off`` or nothing: none. ``KnobValueError`` (one line) when it cannot be read."""
    try:
        return _parse_collection(knob, text)
    except KnobValueError:
        raise
    except ValueError as exc:
        raise KnobValueError(knob.name, str(exc)) from None


def _parse_collection(knob: Knob, text: str) -> Any:
    text = text.strip()
    if text.lower() in ("", "off"):
        return knob.off
    if knob.type is dict:  # entries split as a shell would: ' the'=5 is the token " the"
        import shlex

        try:
            entries = shlex.split(text)
        except ValueError as exc:  # an unclosed quote
            raise ValueError(f"{knob.name}: cannot read {text!r}: {exc}") from None
        return check_bias(knob.name, entries, knob.min, knob.max)
    if text.startswith('"'):
        import json

        decoder = json.JSONDecoder()
        items, i = [], 0
        while i < len(text):
            try:
                item, i = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                raise ValueError(f"{knob.name}: cannot read {text[i:][:20]!r}: write each "
                                 'string in double quotes, e.g. "." "the end"') from None
            items.append(item)
            while i < len(text) and text[i].isspace():
                i += 1
        return check_strings(knob.name, items)
    return check_strings(knob.name, text.split())
