"""The decoding playground: one next-token distribution reshaped by the sampling knobs, one
processor at a time (``playground``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from arlm_tui.learn.labs.base import (
    MODEL_KEYS,
    WARP_KEYS,
    lab_model,
    next_token_distribution,
    register_lab,
    warp_knobs,
)
from arlm_tui.lm.information import entropy_nats


@dataclass(frozen=True)
class PlaygroundRow:
    """One token: its logit z, p = softmax(z), the final sampling probability p', and the
    processor that removed it (None if it survived)."""

    token: str
    logit: float
    prob: float
    final: float
    removed_by: str | None


@dataclass(frozen=True)
class Playground:
    """A distribution before and after the sampling warpers, in ``PROCESSOR_ORDER``."""

    prompt: str
    rows: tuple[PlaygroundRow, ...]  # most probable first
    stages: tuple[str, ...]  # labels of the active processors, in order
    entropy: float  # H(p) in nats
    final_entropy: float  # H(p') in nats
    kept: int
    size: int  # tokens with p > 0 before the warpers


def playground(
    logits: Sequence[float] | np.ndarray,
    tokens: Sequence[str] | None = None,
    *,
    prompt: str = "",
    top: int | None = None,
    **knobs: Any,
) -> Playground:
    """Apply the sampling knobs ``knobs`` (temperature, top_k, top_p, min_p, typical_p, ...:
    ``decoding.processors.WARPER_KNOBS``, off when left out) with ``decoding.make_processors``
    to ``logits`` one processor at a time; p' = softmax(processed z). temperature 0 = greedy:
    all the mass on the arg-max. ``top`` keeps only the most probable rows for display."""
    from arlm_tui.decoding.processors import WARPER_KNOBS, check_knobs, make_processors, softmax

    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 1 or z.size == 0:
        raise ValueError(f"logits must be a non-empty list of numbers, got shape {z.shape}")
    names = list(tokens) if tokens is not None else [f"t{i}" for i in range(z.size)]
    if len(names) != z.size:
        raise ValueError(f"tokens must name every logit: {len(names)} names, {z.size} logits")
    processors = make_processors(**check_knobs(knobs, WARPER_KNOBS))
    temperature = knobs.get("temperature", 1.0)
    probs = softmax(z)
    removed_by: list[str | None] = [None] * z.size
    current = z
    if temperature == 0:
        final = np.zeros_like(probs)
        best = int(np.argmax(z))
        final[best] = 1.0
        for i in range(z.size):
            if i != best and np.isfinite(z[i]):
                removed_by[i] = "greedy (T = 0)"
        labels: tuple[str, ...] = ("greedy (T = 0)",)
    else:
        for processor in processors:
            new = processor((), current)
            for index in np.flatnonzero(np.isneginf(new) & ~np.isneginf(current)):
                removed_by[int(index)] = processor.label
            current = new
        final = softmax(current)
        labels = tuple(p.label for p in processors)
    order = np.argsort(-probs, kind="stable")
    if top is not None:
        order = order[: max(1, int(top))]
    rows = tuple(
        PlaygroundRow(names[i], float(z[i]), float(probs[i]), float(final[i]), removed_by[i])
        for i in order.tolist()
    )
    return Playground(
        prompt=prompt,
        rows=rows,
        stages=labels,
        entropy=entropy_nats(probs),
        final_entropy=entropy_nats(final),
        kept=int(np.count_nonzero(final > 0)),
        size=int(np.count_nonzero(probs > 0)),
    )


@register_lab(
    "decoding_playground",
    (),
    ("tokens", "prompt") + WARP_KEYS + MODEL_KEYS,
    one_of=(("logits",), ("model", "context")),
    description="a next-token distribution (explicit `logits` named by `tokens`, or a "
    "`model` and `context`) reshaped live by temperature, top-k, top-p and min-p",
)
def from_preset(p: dict[str, Any]) -> Playground:
    knobs = warp_knobs(p)
    if "logits" in p:
        return playground(p["logits"], p.get("tokens"), prompt=p.get("prompt", ""), **knobs)
    logprobs, names = next_token_distribution(lab_model(p), p["context"])
    return playground(logprobs, names, prompt=p.get("prompt", p["context"]), **knobs)
