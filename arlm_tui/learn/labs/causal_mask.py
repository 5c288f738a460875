"""The causal-mask lab: one attention head's pattern with and without the mask
(``attention_pattern``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from arlm_tui.learn.labs.base import register_lab

#: Score added to query i's key i + 1 in the "trained with a leak" pattern: such a model learns
#: to look at the very token it must predict.
LEAK_BONUS = 3.0


@dataclass(frozen=True)
class AttentionPattern:
    """α = softmax(S + M) row by row, S_ij = q_i · k_j / √d_k (+ LEAK_BONUS on j = i + 1 when
    ``leak``), M_ij = −∞ for j > i under the causal mask, 0 otherwise."""

    tokens: tuple[str, ...]
    masked: bool
    leak: bool
    scores: np.ndarray  # (T, T) before the mask
    weights: np.ndarray  # (T, T), rows sum to 1

    @property
    def targets(self) -> tuple[str | None, ...]:
        """The token each position must predict (the next one; None for the last)."""
        return tuple(self.tokens[1:]) + (None,)

    @property
    def target_weights(self) -> tuple[float, ...]:
        """α_{i,i+1}: how much position i looks at the answer it must predict."""
        t = len(self.tokens)
        return tuple(float(self.weights[i, i + 1]) if i + 1 < t else 0.0 for i in range(t))

    def sees(self, query: int) -> tuple[int, ...]:
        """The positions whose tokens can change the output at ``query`` (α > 0)."""
        return tuple(int(j) for j in np.flatnonzero(self.weights[query] > 0))


def attention_pattern(
    length: int,
    tokens: Sequence[Any] | None = None,
    *,
    masked: bool = True,
    leak: bool = True,
    d_k: int = 8,
    seed: int = 0,
) -> AttentionPattern:
    """One attention head over ``length`` positions with random queries and keys (seeded)."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a whole number >= 1, got {length!r}")
    names = [str(t) for t in (tokens or [])][:length]
    names += [f"x{i + 1}" for i in range(len(names), length)]
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((length, d_k))
    k = rng.standard_normal((length, d_k))
    scores = q @ k.T / math.sqrt(d_k)
    if leak:
        for i in range(length - 1):
            scores[i, i + 1] += LEAK_BONUS
    z = scores.copy()
    if masked:
        z[np.triu_indices(length, k=1)] = -np.inf
    z = z - z.max(axis=1, keepdims=True)
    weights = np.exp(z)
    weights /= weights.sum(axis=1, keepdims=True)
    return AttentionPattern(tuple(names), masked, leak, scores, weights)


@register_lab(
    "causal_mask",
    ("length",),
    ("tokens", "show_leak"),
    description="the attention pattern of a sequence of `length` positions with and "
    "without the causal mask",
)
def from_preset(p: dict[str, Any]) -> AttentionPattern:
    return attention_pattern(p["length"], p.get("tokens"), leak=p.get("show_leak", True))
