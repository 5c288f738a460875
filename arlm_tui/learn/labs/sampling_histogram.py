"""The sampling lab: n draws from a next-token distribution against its probabilities
(``sampling_distribution``, ``sample_histogram``)."""

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
from arlm_tui.lm.base import LanguageModel


@dataclass(frozen=True)
class Histogram:
    """n draws from p: counts per token against p (tokens with p > 0 or drawn, p descending).

    tv = ½ Σ_w |count(w)/n − p(w)|, the total-variation distance, shrinks like 1/√n."""

    tokens: tuple[str, ...]
    probs: tuple[float, ...]
    counts: tuple[int, ...]
    n: int
    seed: int

    @property
    def frequencies(self) -> tuple[float, ...]:
        return tuple(c / self.n if self.n else 0.0 for c in self.counts)

    @property
    def tv_distance(self) -> float:
        if not self.n:
            return 0.0
        return 0.5 * sum(abs(f - p) for f, p in zip(self.frequencies, self.probs))


def sampling_distribution(
    model: LanguageModel, context: str, **warp_knobs: Any
) -> tuple[np.ndarray, list[str]]:
    """p' = ``decoding.warp``(log p(· | context), temperature, top-k, top-p, min-p, ...)."""
    from arlm_tui.decoding import warp

    logprobs, names = next_token_distribution(model, context)
    knobs = {k: v for k, v in warp_knobs.items() if k != "seed"}
    return warp(logprobs, **knobs), names


def sample_histogram(
    probs: Sequence[float] | np.ndarray, tokens: Sequence[str], n: int, seed: int = 0
) -> Histogram:
    """Draw ``n`` tokens by inverse CDF, w = first id with Σ_{j≤w} p_j > u, u ~ U[0, 1) from
    ``np.random.default_rng(seed)``; the first n draws are the same whatever n, so drawing
    more only adds to the histogram."""
    p = np.asarray(probs, dtype=np.float64)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a whole number >= 0, got {n!r}")
    if len(tokens) != p.size:
        raise ValueError(f"tokens must name every probability: {len(tokens)} for {p.size}")
    u = np.random.default_rng(int(seed)).random(n)
    cdf = np.cumsum(p)
    picks = np.minimum(np.searchsorted(cdf, u, side="right"), int(np.flatnonzero(p)[-1]))
    counts = np.bincount(picks, minlength=p.size)
    shown = [i for i in np.argsort(-p, kind="stable").tolist() if p[i] > 0 or counts[i] > 0]
    return Histogram(
        tokens=tuple(str(tokens[i]) for i in shown),
        probs=tuple(float(p[i]) for i in shown),
        counts=tuple(int(counts[i]) for i in shown),
        n=n,
        seed=int(seed),
    )


@register_lab(
    "sampling_histogram",
    ("model", "context", "n"),
    WARP_KEYS + MODEL_KEYS,
    description="draw `n` next tokens after `context` and compare the histogram with the "
    "model's probabilities",
)
def from_preset(p: dict[str, Any]) -> Histogram:
    probs, names = sampling_distribution(lab_model(p), p["context"], **warp_knobs(p))
    return sample_histogram(probs, names, p["n"], p.get("seed", 0))
