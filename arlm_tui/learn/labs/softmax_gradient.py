"""The softmax-gradient lab: the cross-entropy loss, its gradient p − y with respect to the
logits, and one gradient step (``softmax_gradient``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from arlm_tui.learn.labs.base import register_lab


@dataclass(frozen=True)
class GradientRow:
    """One vocabulary entry: logit z, p = softmax(z), one-hot y, ∂ℓ/∂z = p − y, and the logit
    after one gradient step z − η (p − y)."""

    token: str
    logit: float
    prob: float
    target: int
    gradient: float
    next_logit: float


@dataclass(frozen=True)
class SoftmaxGradient:
    """ℓ = −ln p_target with p = softmax(z); ∇_z ℓ = p − y; one step of size η lowers ℓ."""

    prompt: str
    rows: tuple[GradientRow, ...]  # in vocabulary order
    target: int
    learning_rate: float
    loss: float  # −ln p_target, nats
    next_loss: float  # the loss after one step

    @property
    def gradient_sum(self) -> float:
        """Σ_i (p_i − y_i) = 1 − 1 = 0: a step moves logits against each other."""
        return float(sum(row.gradient for row in self.rows))


def softmax_gradient(
    logits: Sequence[float],
    target: int,
    tokens: Sequence[str] | None = None,
    learning_rate: float = 1.0,
    prompt: str = "",
) -> SoftmaxGradient:
    """The gradient of the cross-entropy loss with respect to the logits, p − y, and the effect
    of one gradient-descent step z ← z − η (p − y) on the probabilities and the loss."""
    from arlm_tui.decoding.processors import softmax

    z = np.asarray([float(x) for x in logits], dtype=np.float64)
    if z.ndim != 1 or z.size < 2 or not np.isfinite(z).all():
        raise ValueError("logits must be a list of at least two finite numbers")
    if isinstance(target, bool) or not 0 <= int(target) < z.size:
        raise ValueError(f"target must be in 0..{z.size - 1}, got {target!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    names = list(tokens) if tokens is not None else [f"t{i}" for i in range(z.size)]
    if len(names) != z.size:
        raise ValueError(f"tokens must name every logit: {len(names)} names, {z.size} logits")
    target = int(target)
    p = softmax(z)
    y = np.zeros_like(p)
    y[target] = 1.0
    gradient = p - y
    z_next = z - float(learning_rate) * gradient
    rows = tuple(
        GradientRow(str(names[i]), float(z[i]), float(p[i]), int(y[i]), float(gradient[i]),
                    float(z_next[i]))
        for i in range(z.size)
    )
    return SoftmaxGradient(
        prompt=prompt,
        rows=rows,
        target=target,
        learning_rate=float(learning_rate),
        loss=float(-np.log(p[target])),
        next_loss=float(-np.log(softmax(z_next)[target])),
    )


@register_lab(
    "softmax_gradient",
    ("logits", "target"),
    ("tokens", "learning_rate", "prompt"),
    description="the cross-entropy loss −ln p_target of softmax(`logits`), its gradient "
    "p − y with respect to the logits, and gradient steps z ← z − η (p − y)",
)
def from_preset(p: dict[str, Any]) -> SoftmaxGradient:
    return softmax_gradient(p["logits"], p["target"], p.get("tokens"),
                            p.get("learning_rate", 1.0), p.get("prompt", ""))
