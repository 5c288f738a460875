"""The decoding knobs in one validated value: strategy, temperature, top-k, ..., beam width, seed.

``DecodingConfig`` is immutable: ``replace(**changes)`` returns a new, validated config.
``KNOBS`` describes every knob (type, range, fine and coarse steps, "off" value, one-line help)
so that the TUI and the CLI can build their controls from one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arlm_tui.decoding.processors import LogitsProcessor, check_number, make_processors
from arlm_tui.errors import ArlmError

STRATEGIES: tuple[str, ...] = ("greedy", "sample", "beam")


@dataclass(frozen=True)
class Knob:
    """One decoding knob as a control sees it."""

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

    @property
    def range_text(self) -> str:
        """The allowed values, e.g. ``(0, 1]``."""
        if self.choices:
            return " | ".join(self.choices)
        left = "(" if self.min_open else "["
        right = ")" if self.max_open else "]"
        return f"{left}{self.min:g}, {self.max:g}{right}"

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


_SAMPLE = ("sample",)
_ALL = STRATEGIES
_BEAM = ("beam",)

#: Every knob, in the order controls should show them.
KNOBS: dict[str, Knob] = {
    k.name: k
    for k in (
        Knob("strategy", str, 0, 0, 0, 0, "greedy",
             "how the next token is chosen: the arg-max, a random draw, or a beam of hypotheses",
             choices=STRATEGIES),
        Knob("temperature", float, 0.0, 100.0, 0.05, 0.5, 1.0,
             "divide the logits by T: below 1 sharpens, above 1 flattens; 0 means greedy",
             strategies=_SAMPLE),
        Knob("top_k", int, 0, 100_000, 1, 10, 0,
             "sample only among the k most probable tokens (0 = off)", strategies=_SAMPLE),
        Knob("top_p", float, 0.0, 1.0, 0.01, 0.1, 1.0,
             "sample from the smallest set of tokens whose probability reaches p (1 = off)",
             min_open=True, strategies=_SAMPLE),
        Knob("min_p", float, 0.0, 1.0, 0.01, 0.1, 0.0,
             "drop tokens less likely than min_p times the most likely one (0 = off)",
             strategies=_SAMPLE),
        Knob("typical_p", float, 0.0, 1.0, 0.01, 0.1, 1.0,
             "keep tokens whose surprisal is closest to the entropy, up to mass p (1 = off)",
             min_open=True, strategies=_SAMPLE),
        Knob("epsilon", float, 0.0, 1.0, 0.0001, 0.001, 0.0,
             "drop tokens whose probability is below epsilon (0 = off)",
             max_open=True, strategies=_SAMPLE),
        Knob("repetition_penalty", float, 0.0, 100.0, 0.05, 0.5, 1.0,
             "above 1, tokens already in the text become less likely (1 = off)",
             min_open=True),
        Knob("no_repeat_ngram", int, 0, 20, 1, 1, 0,
             "forbid any n-gram of this size from appearing twice (0 = off)"),
        Knob("min_tokens", int, 0, 10_000, 1, 10, 0,
             "</s> is not allowed before this many new tokens (0 = off)"),
        Knob("max_tokens", int, 1, 10_000, 1, 10, 50,
             "stop after this many new tokens (</s> included)"),
        Knob("beam_width", int, 1, 1024, 1, 4, 4,
             "how many hypotheses beam search keeps at each step", strategies=_BEAM),
        Knob("length_penalty", float, -5.0, 5.0, 0.1, 0.5, 1.0,
             "finished score = log p / length^α: α > 0 favours longer texts, 0 = raw log p",
             strategies=_BEAM),
        Knob("early_stopping", bool, 0, 1, 1, 1, True,
             "stop the beam as soon as beam_width hypotheses have ended", strategies=_BEAM),
        Knob("seed", int, 0, 2**63 - 1, 1, 100, 0,
             "random seed: the same seed gives the same text", strategies=_SAMPLE),
    )
}


class KnobError(ArlmError, ValueError):
    """A knob set to a value the chosen strategy cannot use (it would be ignored)."""


@dataclass(frozen=True)
class DecodingConfig:
    """All the knobs of one decoding run; validated on creation (ValueError names the knob).

    Greedy and beam search use only min_tokens, repetition_penalty and no_repeat_ngram from the
    processors; the sampling knobs (temperature ... epsilon) shape the sampling distribution, as
    in Hugging Face transformers where warpers only run with ``do_sample=True``. ``temperature
    = 0`` with ``strategy = "sample"`` is greedy.
    """

    strategy: str = "greedy"
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    typical_p: float = 1.0
    epsilon: float = 0.0
    repetition_penalty: float = 1.0
    no_repeat_ngram: int = 0
    min_tokens: int = 0
    max_tokens: int = 50
    beam_width: int = 4
    length_penalty: float = 1.0
    early_stopping: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, KNOBS[f.name].check(getattr(self, f.name)))

    def validate(self) -> DecodingConfig:
        """Check every knob again (creation already does); returns self."""
        for f in dataclasses.fields(self):
            KNOBS[f.name].check(getattr(self, f.name))
        return self

    def replace(self, **changes: Any) -> DecodingConfig:
        """A copy with ``changes`` applied and validated; unknown knob names raise ValueError."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    @property
    def sampling(self) -> bool:
        """True when the choice is a random draw (strategy sample with T > 0)."""
        return self.strategy == "sample" and self.temperature > 0

    def processors(self, eos_id: int, prompt_length: int) -> list[LogitsProcessor]:
        """The active processors for this strategy, in the fixed order (see ``processors``)."""
        return make_processors(
            eos_id=eos_id,
            prompt_length=prompt_length,
            min_tokens=self.min_tokens,
            repetition_penalty=self.repetition_penalty,
            no_repeat_ngram=self.no_repeat_ngram,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            min_p=self.min_p,
            typical_p=self.typical_p,
            epsilon=self.epsilon,
            sampling=self.sampling,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict of every knob."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DecodingConfig:
        """Inverse of ``to_dict``; missing knobs take their defaults, unknown ones raise."""
        _check_names(d)
        return cls(**dict(d))

    def ignored_knobs(self) -> list[str]:
        """The knobs set away from their "off" value that this config does not use: a knob
        of another strategy (``temperature`` with greedy, ``beam_width`` with sampling), or a
        sampling knob (seed included) at temperature 0, which is greedy."""
        out = []
        for name, value in self.to_dict().items():
            knob = KNOBS[name]
            if name == "strategy" or value == knob.off:
                continue
            if self.strategy not in knob.strategies or (
                self.strategy == "sample" and self.temperature == 0 and name != "temperature"
                and knob.strategies == _SAMPLE
            ):
                out.append(name)
        return out

    def check_knobs_apply(self) -> DecodingConfig:
        """Self, or KnobError (one line) if a knob is set that this config would ignore: a
        one-shot generation refuses such a knob rather than drop it silently. (A Session keeps
        every knob, as a learner switches strategy back and forth.)"""
        ignored = self.ignored_knobs()
        if not ignored:
            return self
        values = ", ".join(f"{n}={getattr(self, n)!r}" for n in ignored)
        verb = "has" if len(ignored) == 1 else "have"
        if self.strategy == "sample" and self.temperature == 0:
            why = "at temperature 0, which always takes the most probable token"
            fix = "raise the temperature"
        else:
            fix = "change the strategy"
            users = sorted({s for n in ignored for s in KNOBS[n].strategies})
            why = (f"with strategy {self.strategy} (only with strategy "
                   f"{' or '.join(users)})")
        them = "it" if len(ignored) == 1 else "them"
        raise KnobError(f"{values} {verb} no effect {why}: leave {them} out or {fix}")

    def active_knobs(self) -> dict[str, Any]:
        """The knobs that differ from their "off" value and matter for this strategy."""
        out: dict[str, Any] = {}
        for name, value in self.to_dict().items():
            knob = KNOBS[name]
            if name == "strategy" or self.strategy in knob.strategies and value != knob.off:
                out[name] = value
        return out


def _check_names(names: Mapping[str, Any]) -> None:
    unknown = [n for n in names if n not in KNOBS]
    if unknown:
        raise ValueError(
            f"unknown decoding knob {unknown[0]!r}; knobs are: {', '.join(KNOBS)}"
        )

