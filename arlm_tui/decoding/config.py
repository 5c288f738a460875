"""The decoding knobs in one validated value: strategy, temperature, top-k, ..., beam width, seed.

``DecodingConfig`` is immutable: ``replace(**changes)`` returns a new, validated config.
``KNOBS`` describes every knob (type, range, fine and coarse steps, "off" value, one-line help)
so that the TUI and the CLI can build their controls from one place. It is derived: the
processors' knobs come from their classes (``processors.PROCESSORS``), the strategies' own
knobs are declared here, and ``DecodingConfig`` has one field per knob, in ``KNOBS`` order.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from arlm_tui.decoding.knobs import (
    BEAM,
    CONTRASTIVE,
    GROUPS,
    SAMPLE,
    STRATEGIES,
    Knob,
    KnobValueError,
    TokenBias,
)
from arlm_tui.decoding.processors import (
    PROCESSOR_KNOBS,
    WARPER_KNOBS,
    LogitsProcessor,
    build_processors,
)
from arlm_tui.errors import ArlmError

__all__ = ["KNOBS", "STRATEGIES", "DecodingConfig", "Knob", "KnobError"]

_SAMPLE = SAMPLE

#: The knobs of the strategies themselves (not of a processor).
STRATEGY_KNOBS: tuple[Knob, ...] = (
    Knob("strategy", str, 0, 0, 0, 0, "greedy",
         "how the next token is chosen: the arg-max, a random draw, a beam of hypotheses, or "
         "the likeliest token least like the text so far (contrastive)",
         choices=STRATEGIES, group="strategy"),
    Knob("max_tokens", int, 1, 10_000, 1, 10, 50,
         "stop after this many new tokens (</s> included)", group="length",
         short=("max-tok",)),
    Knob("beam_width", int, 1, 1024, 1, 4, 4,
         "how many hypotheses beam search keeps at each step", strategies=BEAM, group="beam",
         short=("beam-w",)),
    Knob("length_penalty", float, -5.0, 5.0, 0.1, 0.5, 1.0,
         "finished score = log p / length^α: α > 0 favours longer texts, 0 = raw log p",
         strategies=BEAM, group="beam", short=("length-pen", "len-pen")),
    Knob("early_stopping", bool, 0, 1, 1, 1, True,
         "stop the beam as soon as beam_width hypotheses have ended", strategies=BEAM,
         group="beam", short=("early-stop", "early")),
    # diverse beam search (Vijayakumar et al. 2016), as Hugging Face's group beam search
    Knob("num_beam_groups", int, 1, 1024, 1, 1, 1,
         "diverse beam search: split the beam into this many groups (must divide beam_width); "
         "1 = ordinary beam search", strategies=BEAM, group="beam",
         title="beam-groups", short=("groups",)),
    Knob("diversity_penalty", float, 0.0, 100.0, 0.1, 0.5, 0.0,
         "diverse beam search: a group's score for a token drops by λ for every earlier group "
         "that chose it at this step (Hamming diversity)", strategies=BEAM, group="beam",
         title="diversity", short=("div-pen", "div"), needs="num_beam_groups"),
    # contrastive search (Su et al. 2022), as Hugging Face's penalty_alpha and top_k
    Knob("penalty_alpha", float, 0.0, 1.0, 0.05, 0.2, 0.0,
         "contrastive search: score = (1 − α)·p − α·(max cosine similarity of the candidate's "
         "hidden state to the earlier ones); 0 = greedy", strategies=CONTRASTIVE,
         group="contrastive", title="penalty-α", short=("α",)),
    Knob("contrastive_top_k", int, 1, 100, 1, 4, 4,
         "contrastive search: how many of the most probable tokens are candidates",
         strategies=CONTRASTIVE, group="contrastive", title="contrastive-k",
         short=("c-top-k", "c-k")),
    Knob("seed", int, 0, 2**63 - 1, 1, 100, 0,
         "random seed: the same seed gives the same text", strategies=SAMPLE, group="random"),
)

#: Stop strings: a knob of the token-by-token strategies (not of a processor: they end the
#: text, the Session checks them after each step).
STOP_KNOBS: tuple[Knob, ...] = (
    Knob("stop", tuple, 0, 0, 0, 0, (),
         "stop when the generated text ends with this string; repeat for more strings "
         "(none = off)", strategies=("greedy", "sample", "contrastive"), group="length",
         switchable=True),
)

#: Every knob, in the order controls should show them (by group, then processor order).
KNOBS: dict[str, Knob] = {
    k.name: k
    for k in sorted((STRATEGY_KNOBS[0], *PROCESSOR_KNOBS.values(), *STRATEGY_KNOBS[1:],
                     *STOP_KNOBS),
                    key=lambda k: GROUPS.index(k.group))
}


for _knob in KNOBS.values():  # a knob that needs another names one of the same strategies
    if _knob.needs and not set(_knob.strategies) <= set(KNOBS[_knob.needs].strategies):
        raise ValueError(f"knob {_knob.name}: needs {_knob.needs!r}, a knob of its strategies")


#: The knobs the labs' decoding playground offers (those with a ``playground`` step and range).
PLAYGROUND_KNOBS: dict[str, Knob] = {
    name: knob for name, knob in KNOBS.items() if knob.playground is not None
}


_KNOB_NAME = re.compile(r"\b(" + "|".join(sorted(map(re.escape, KNOBS), key=len, reverse=True))
                        + r")\b")


def knob_names_as_shown(message: str) -> str:
    """``message`` with every knob named as the knob panel shows it: "top_p must be …" →
    "top-p must be …" (only whole names: "top_pie" stays)."""
    return _KNOB_NAME.sub(lambda match: KNOBS[match.group(1)].title, message)


class KnobError(ArlmError, ValueError):
    """A knob set to a value the chosen strategy cannot use (it would be ignored).
    ``message(spell)``: the message with each knob's name spelled by ``spell``."""

    def __init__(self, message: Callable[[Callable[[str], str]], str]) -> None:
        super().__init__(message(str))
        self._message = message

    def spelled(self, spell: Callable[[str], str]) -> str:
        return " ".join(self._message(spell).split())


def _knob_fields(cls: type) -> type:
    """``cls`` as a frozen dataclass with one field per knob of ``KNOBS`` (default: its off
    value), so that a new processor's knob becomes a config field by itself."""
    cls.__annotations__ = {
        name: "TokenBias" if knob.type is dict else "tuple[str, ...]" if knob.type is tuple
        else knob.type.__name__ for name, knob in KNOBS.items()}
    for name, knob in KNOBS.items():
        setattr(cls, name, knob.off)
    return dataclasses.dataclass(frozen=True)(cls)


@_knob_fields
class DecodingConfig:
    """All the knobs of one decoding run; validated on creation (ValueError names the knob).

    Greedy and beam search use only min_tokens, repetition_penalty and no_repeat_ngram from the
    processors; the sampling knobs (temperature ... eta) shape the sampling distribution, as
    in Hugging Face transformers where warpers only run with ``do_sample=True``. ``temperature
    = 0`` with ``strategy = "sample"`` is greedy.
    """

    if TYPE_CHECKING:  # the fields come from KNOBS (``_knob_fields``); these are for readers
        strategy: str
        temperature: float
        top_n_sigma: float
        top_k: int
        top_p: float
        min_p: float
        typical_p: float
        epsilon: float
        eta: float
        xtc_probability: float
        xtc_threshold: float
        mirostat_tau: float
        mirostat_eta: float
        logit_bias: TokenBias
        stop: tuple[str, ...]
        repetition_penalty: float
        frequency_penalty: float
        presence_penalty: float
        dry_multiplier: float
        dry_base: float
        dry_allowed_length: int
        no_repeat_ngram: int
        min_tokens: int
        max_tokens: int
        beam_width: int
        length_penalty: float
        early_stopping: bool
        num_beam_groups: int
        diversity_penalty: float
        penalty_alpha: float
        contrastive_top_k: int
        seed: int

        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

        def __init__(self, **knobs: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, KNOBS[f.name].check(getattr(self, f.name)))
        _check_beam_groups(self.beam_width, self.num_beam_groups)

    def validate(self) -> DecodingConfig:
        """Check every knob again (creation already does); returns self."""
        for f in dataclasses.fields(self):
            KNOBS[f.name].check(getattr(self, f.name))
        _check_beam_groups(self.beam_width, self.num_beam_groups)
        return self

    def replace(self, **changes: Any) -> DecodingConfig:
        """A copy with ``changes`` applied and validated; unknown knob names raise ValueError."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    @property
    def sampling(self) -> bool:
        """True when the choice is a random draw (strategy sample with T > 0)."""
        return self.strategy == "sample" and self.temperature > 0

    def processors(
        self, eos_id: int, prompt_length: int, breakers: frozenset[int] = frozenset(),
        token_id: Callable[[str], int] | None = None,
    ) -> list[LogitsProcessor]:
        """The active processors for this strategy, in the fixed order (see ``processors``);
        ``breakers``: DRY's sequence breakers (``processors.dry_breaker_ids``); ``token_id``:
        how the logit bias finds a token's id (``strategies.model_token_id``)."""
        return build_processors(self.processor_knobs(), eos_id=eos_id,
                                prompt_length=prompt_length, sampling=self.sampling,
                                breakers=breakers, seed=self.seed, token_id=token_id)

    def processor_knobs(self) -> dict[str, Any]:
        """The value of every processor knob (``processors.PROCESSOR_KNOBS``), by name."""
        return {name: getattr(self, name) for name in PROCESSOR_KNOBS}

    def warp_knobs(self) -> dict[str, Any]:
        """The warpers' knobs as ``processors.warp`` takes them; none unless sampling."""
        if not self.sampling:
            return {}
        return {name: getattr(self, name) for name in WARPER_KNOBS}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict of every knob (a logit bias as a dict with "-inf" for a ban,
        stop strings as a list: ``Knob.to_json``)."""
        return {f.name: KNOBS[f.name].to_json(getattr(self, f.name))
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DecodingConfig:
        """Inverse of ``to_dict``; missing knobs take their defaults, unknown ones raise."""
        _check_names(d)
        return cls(**dict(d))

    def unused_because(self, name: str) -> str | None:
        """Why knob ``name`` has no effect in this config, whatever its value, or None when
        it has one: ``"strategy"`` (a knob of another strategy: ``temperature`` with greedy,
        ``beam_width`` with sampling), ``"temperature"`` (a sampling knob, seed included, at
        temperature 0, which is greedy), or the name of the knob it ``needs``, which is off
        (``xtc_threshold`` while ``xtc_probability`` is 0)."""
        knob = KNOBS[name]
        if name == "strategy":
            return None
        if self.strategy not in knob.strategies:
            return "strategy"
        if (self.strategy == "sample" and self.temperature == 0 and name != "temperature"
                and knob.strategies == _SAMPLE):
            return "temperature"
        if knob.needs and getattr(self, knob.needs) == KNOBS[knob.needs].off:
            return knob.needs
        return None

    def ignored_knobs(self) -> list[str]:
        """The knobs set away from their "off" value that this config does not use
        (``unused_because``)."""
        return [name for name, knob in KNOBS.items()
                if getattr(self, name) != knob.off and self.unused_because(name) is not None]

    def check_knobs_apply(self) -> DecodingConfig:
        """Self, or KnobError (one line) if a knob is set that this config would ignore: a
        one-shot generation refuses such a knob rather than drop it silently. (A Session keeps
        every knob, as a learner switches strategy back and forth.)"""
        by_reason: dict[str, list[str]] = {}
        for name in self.ignored_knobs():
            by_reason.setdefault(str(self.unused_because(name)), []).append(name)
        if not by_reason:
            return self
        values = {n: KNOBS[n].to_json(getattr(self, n)) for names in by_reason.values()
                  for n in names}

        def sentence(reason: str, names: list[str], spell: Callable[[str], str]) -> str:
            shown = ", ".join(f"{spell(n)}={values[n]!r}" for n in names)
            verb, them = ("has", "it") if len(names) == 1 else ("have", "them")
            if reason == "temperature":
                why = "at temperature 0, which always takes the most probable token"
                fix = "raise the temperature"
            elif reason == "strategy":
                users = sorted({s for n in names for s in KNOBS[n].strategies})
                why = (f"with strategy {self.strategy} (only with strategy "
                       f"{' or '.join(users)})")
                fix = "change the strategy"
            else:  # the knob that switches them on is off
                why = f"while {spell(reason)} is {KNOBS[reason].off:g} (off)"
                fix = f"set {spell(reason)}"
            return f"{shown} {verb} no effect {why}: leave {them} out or {fix}"

        raise KnobError(lambda spell: "; ".join(
            sentence(reason, names, spell) for reason, names in by_reason.items()))

    def active_knobs(self) -> dict[str, Any]:
        """The knobs that differ from their "off" value and matter for this strategy."""
        out: dict[str, Any] = {}
        for name, knob in KNOBS.items():
            value = getattr(self, name)
            if name == "strategy" or self.strategy in knob.strategies and value != knob.off:
                out[name] = value
        return out


def _check_beam_groups(beam_width: int, num_beam_groups: int) -> None:
    """Diverse beam search splits the beam into groups of equal size: G must divide B."""
    if beam_width % num_beam_groups:
        raise KnobValueError("num_beam_groups", f"num_beam_groups must divide the beam width "
                             f"({beam_width}), got {num_beam_groups}")


def _check_names(names: Mapping[str, Any]) -> None:
    unknown = [n for n in names if n not in KNOBS]
    if unknown:
        raise ValueError(
            f"unknown decoding knob {unknown[0]!r}; knobs are: {', '.join(KNOBS)}"
        )

