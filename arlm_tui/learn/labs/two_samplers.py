"""The two-samplers lab: two sampler settings side by side on one next-token distribution
(``two_samplers``), e.g. top-p 0.9 against min-p 0.1, or top-nσ against temperature.

Each side is one sampling knob and its value (``decoding.processors.WARPER_KNOBS``, the knobs
the processors declare), applied by the same processors as generation (``playground``). What
each side keeps is compared on the same p: how many tokens, how much of p's mass, and the
entropy of the renormalised p'.

A sampler that carries a state from step to step (mirostat: its bound μ starts at 2τ and moves
after every choice) would be shown at its first step only. With a model and a context the lab
also runs such a side for ``STATE_STEPS`` steps with a Session (``run_steps``): per step the
token drawn, how many tokens the cut kept, and μ before and after, from the steps' Traces.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.knobs import Knob
from arlm_tui.decoding.processors import PROCESSORS, WARPER_KNOBS, make_processors
from arlm_tui.learn.labs.base import MODEL_KEYS, lab_model, next_token_distribution, register_lab
from arlm_tui.learn.labs.decoding_playground import playground

if TYPE_CHECKING:
    from arlm_tui.lm.base import LanguageModel

#: Rows a lab shows by default (the most probable tokens); the counts cover every token.
SHOWN_ROWS = 12
#: How many steps a side whose sampler carries a state (mirostat) is run from the context.
STATE_STEPS = 6


def on_value(knob: Knob) -> Any:
    """A value that switches ``knob``'s processor on: one coarse step from its off value, into
    its range (top-p 1 → 0.9, min-p 0 → 0.1, top-k 0 → 10, temperature 1 → 1.5)."""
    lo, hi = value_range(knob)
    toward_low = knob.off >= hi
    value = knob.off - knob.coarse_step if toward_low else knob.off + knob.coarse_step
    value = min(max(value, lo), hi)
    return knob.type(value) if knob.type is int else round(float(value), 6)


def value_range(knob: Knob) -> tuple[float, float]:
    """The values a control offers for ``knob``: the playground's range when the knob has one,
    else its own range (an open end moved in by one fine step; an infinite top capped)."""
    if knob.playground is not None:
        _, lo, hi = knob.playground
        return float(lo), float(hi)
    lo = knob.min + (knob.fine_step if knob.min_open else 0)
    hi = knob.max - (knob.fine_step if knob.max_open else 0)
    if not np.isfinite(hi):
        hi = knob.off + 10 * knob.coarse_step
    return float(lo), float(hi)


def sampler_knobs() -> dict[str, Knob]:
    """The knobs a side may pick: every sampling warper's knob that acts on its own (XTC's
    threshold does nothing without its probability, so it is left out)."""
    return {name: knob for name, knob in WARPER_KNOBS.items()
            if make_processors(**{name: on_value(knob)})}


def sampler_setting(setting: Mapping[str, Any], what: str = "a sampler") -> tuple[str, Any]:
    """``{knob: value}`` with exactly one sampling knob, checked against its range."""
    if not isinstance(setting, Mapping) or len(setting) != 1:
        raise ValueError(f"{what} must be one sampling knob and its value, e.g. {{top_p: 0.9}}, "
                         f"got {setting!r}")
    (name, value), = setting.items()
    knobs = sampler_knobs()
    if name not in knobs:
        raise ValueError(f"{what}: {name!r} is not a sampling knob (choose from "
                         f"{', '.join(knobs)})")
    return str(name), knobs[name].check(value)


def stateful_knobs() -> frozenset[str]:
    """The sampler knobs whose processor carries a state from step to step (mirostat-τ):
    one step shows only its first state."""
    return frozenset(cls.knobs[0].name for cls in PROCESSORS if cls.carries_state)


@dataclass(frozen=True)
class StateStep:
    """One step of a sampler run from the context by a Session: the token drawn, how many
    tokens the cut kept, and mirostat's bound μ before and after the step (bits) with the
    surprise −log₂ p' of the token drawn (None when the sampler is not mirostat)."""

    token: str
    kept: int
    mu_before: float | None
    mu_after: float | None
    surprise: float | None


def run_steps(model: LanguageModel, context: str, setting: Mapping[str, Any], *,
              steps: int = STATE_STEPS, seed: int = 0) -> tuple[StateStep, ...]:
    """Sample ``steps`` tokens after ``context`` with ``setting``'s sampler alone (a Session:
    strategy sample, seed ``seed``, the state carried from step to step as in generation); one
    ``StateStep`` per step, read from its Trace. Fewer when the text ends (``</s>``)."""
    from arlm_tui.decoding.session import Session

    name, value = sampler_setting(setting)
    config = DecodingConfig(strategy="sample", seed=seed, max_tokens=steps, **{name: value})
    session = Session(model, context, config)
    out: list[StateStep] = []
    while len(out) < steps:
        trace = session.step()
        if trace is None:
            break
        state = trace.mirostat
        out.append(StateStep(
            token=trace.text_of(trace.chosen_id),
            kept=trace.kept,
            mu_before=None if state is None else state.mu_before,
            mu_after=None if state is None else state.mu_after,
            surprise=None if state is None else state.surprise,
        ))
    return tuple(out)


@dataclass(frozen=True)
class SamplerSide:
    """One side: its knob and value, p' = the renormalised distribution after its processors,
    and what it kept of p."""

    knob: str
    value: Any
    title: str  # "top-p = 0.9"
    stages: tuple[str, ...]  # the processors' labels (empty when the knob is at its off value)
    final: tuple[float, ...]  # p' of each shown row
    removed_by: tuple[str | None, ...]  # per shown row
    kept: int  # tokens with p' > 0 (all of them, not only the shown rows)
    kept_mass: float  # Σ p over the kept tokens: how much of the model's mass survives
    entropy: float  # H(p') in nats
    stateful: bool = False  # its sampler carries a state: this p' is its first step only
    steps: tuple[StateStep, ...] = ()  # the steps run from the context (``run_steps``)


@dataclass(frozen=True)
class TwoSamplers:
    """Two samplers on the same distribution p (rows: the most probable tokens first)."""

    prompt: str
    tokens: tuple[str, ...]
    probs: tuple[float, ...]
    size: int  # tokens with p > 0
    entropy: float  # H(p) in nats
    a: SamplerSide
    b: SamplerSide
    both: int  # tokens both sides keep
    only_a: int
    only_b: int


def _title(name: str, value: Any) -> str:
    knob = WARPER_KNOBS[name]
    shown = "off" if value == knob.off and knob.switchable else f"{value:g}"
    return f"{knob.title} = {shown}"


def two_samplers(
    logits: Sequence[float] | np.ndarray,
    tokens: Sequence[str] | None,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    prompt: str = "",
    top: int | None = SHOWN_ROWS,
) -> TwoSamplers:
    """Apply sampler ``a`` and sampler ``b`` (each ``{knob: value}``) to the same ``logits``
    with ``playground`` and compare what they keep: counts and mass over every token, the
    ``top`` most probable rows for display."""
    sides = []
    full = []
    for label, setting in (("sampler a", a), ("sampler b", b)):
        name, value = sampler_setting(setting, label)
        result = playground(logits, tokens, prompt=prompt, **{name: value})
        full.append(result)
        sides.append((name, value, result))
    first = full[0]
    probs = np.array([row.prob for row in first.rows])
    kept = [np.array([row.final > 0 for row in result.rows]) for result in full]
    shown = slice(None) if top is None else slice(0, max(1, int(top)))
    out = []
    for (name, value, result), keep in zip(sides, kept):
        out.append(SamplerSide(
            knob=name,
            value=value,
            title=_title(name, value),
            stages=result.stages,
            final=tuple(row.final for row in result.rows[shown]),
            removed_by=tuple(row.removed_by for row in result.rows[shown]),
            kept=int(keep.sum()),
            kept_mass=float(probs[keep].sum()),
            entropy=result.final_entropy,
            stateful=name in stateful_knobs(),
        ))
    return TwoSamplers(
        prompt=prompt,
        tokens=tuple(row.token for row in first.rows[shown]),
        probs=tuple(float(p) for p in probs[shown]),
        size=first.size,
        entropy=first.entropy,
        a=out[0],
        b=out[1],
        both=int((kept[0] & kept[1]).sum()),
        only_a=int((kept[0] & ~kept[1]).sum()),
        only_b=int((~kept[0] & kept[1]).sum()),
    )


def with_steps(t: TwoSamplers, model: LanguageModel, context: str, *,
               steps: int = STATE_STEPS, seed: int = 0) -> TwoSamplers:
    """``t`` with each side whose sampler carries a state run for ``steps`` steps from
    ``context`` (``run_steps``); the other sides as they are."""
    sides = []
    for side in (t.a, t.b):
        if side.stateful:
            side = dataclasses.replace(side, steps=run_steps(
                model, context, {side.knob: side.value}, steps=steps, seed=seed))
        sides.append(side)
    return dataclasses.replace(t, a=sides[0], b=sides[1])


def _check_sampler(value: Any) -> str | None:
    try:
        sampler_setting(value)
    except ValueError as exc:
        return "must be one sampling knob and its value, e.g. {top_p: 0.9}: " + str(exc)
    return None


@register_lab(
    "two_samplers",
    ("sampler_a", "sampler_b"),
    ("tokens", "prompt") + MODEL_KEYS,
    one_of=(("logits",), ("model", "context")),
    description="two sampler settings (`sampler_a`, `sampler_b`: {knob: value}, e.g. "
    "{top_p: 0.9} and {min_p: 0.1}) side by side on one next-token distribution (explicit "
    "`logits` named by `tokens`, or a `model` and `context`): what each keeps and its p'; "
    "a sampler with a state (mirostat) is also run for a few steps from the `context`",
    checks={"sampler_a": _check_sampler, "sampler_b": _check_sampler},
)
def from_preset(p: dict[str, Any]) -> TwoSamplers:
    if "logits" in p:
        return two_samplers(p["logits"], p.get("tokens"), p["sampler_a"], p["sampler_b"],
                            prompt=p.get("prompt", ""))
    model = lab_model(p)
    logprobs, names = next_token_distribution(model, p["context"])
    t = two_samplers(logprobs, names, p["sampler_a"], p["sampler_b"],
                     prompt=p.get("prompt", p["context"]))
    return with_steps(t, model, p["context"])
