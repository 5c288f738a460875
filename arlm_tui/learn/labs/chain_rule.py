"""The chain-rule lab: p(x₁ … x_T) = ∏_t p(x_t | x_<t), factor by factor (``chain_rule``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arlm_tui.learn.labs.base import register_lab
from arlm_tui.learn.lessons.validation import as_number
from arlm_tui.lm.information import perplexity


@dataclass(frozen=True)
class ChainFactor:
    """Factor t: p(x_t | x_<t), the joint ∏_{s≤t} so far, the NLL −Σ_{s≤t} ln p so far, and
    this factor's share of the total surprise −ln p(x_t | x_<t) / NLL."""

    token: str
    prob: float
    joint: float
    nll: float
    share: float | None


@dataclass(frozen=True)
class ChainRule:
    """p(x₁ … x_T) = ∏_t p(x_t | x_<t); NLL = −Σ_t ln p(x_t | x_<t); perplexity exp(NLL / T)."""

    factors: tuple[ChainFactor, ...]

    @property
    def joint(self) -> float:
        return self.factors[-1].joint if self.factors else 1.0

    @property
    def nll(self) -> float:
        return self.factors[-1].nll if self.factors else 0.0

    @property
    def bits(self) -> float:
        return self.nll / math.log(2)

    @property
    def perplexity(self) -> float:
        if not self.factors:
            return 1.0
        return perplexity(self.nll, len(self.factors))


def _surprisal(p: float) -> float:
    return math.inf if p <= 0 else -math.log(p)


def chain_rule(conditionals: Sequence[Mapping[str, Any] | float]) -> ChainRule:
    """Multiply the conditionals left to right. Items are ``{token, prob}`` mappings or bare
    probabilities (then named x₁, x₂, …)."""
    tokens, probs = [], []
    for t, item in enumerate(conditionals, start=1):
        value = item.get("prob") if isinstance(item, Mapping) else item
        p = as_number(value)
        if p is None or not 0 <= p <= 1:
            raise ValueError(f"conditionals[{t - 1}] must be a probability in [0, 1], got {value!r}")
        token = str(item.get("token", f"x{t}")) if isinstance(item, Mapping) else f"x{t}"
        tokens.append(token)
        probs.append(p)
    total = sum(_surprisal(p) for p in probs)
    factors, joint, nll = [], 1.0, 0.0
    for token, p in zip(tokens, probs):
        joint *= p
        nll += _surprisal(p)
        share: float | None
        if math.isinf(total):
            share = 1.0 if p <= 0 else 0.0
        else:
            share = _surprisal(p) / total if total > 0 else None
        factors.append(ChainFactor(token, p, joint, nll, share))
    return ChainRule(tuple(factors))


@register_lab(
    "chain_rule",
    ("conditionals",),
    ("sentence",),
    description="`conditionals`: a list of {token, prob} read left to right; the lab "
    "multiplies them and shows the running joint probability and NLL",
)
def from_preset(p: dict[str, Any]) -> ChainRule:
    return chain_rule(p["conditionals"])
