"""The entropy/KL lab: H(p, q) = H(p) + KL(p ‖ q) as the learner moves q's mass
(``information_split``, ``move_mass``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from arlm_tui.learn.labs.base import register_lab


@dataclass(frozen=True)
class InformationSplit:
    """H(p, q) = H(p) + KL(p ‖ q) for two distributions over the same outcomes."""

    p: tuple[float, ...]
    q: tuple[float, ...]
    labels: tuple[str, ...]
    unit: str
    entropy: float  # H(p) = −Σ p ln p
    cross_entropy: float  # H(p, q) = −Σ p ln q
    kl: float  # KL(p ‖ q) = Σ p ln(p / q)


def information_split(
    p: Sequence[float], q: Sequence[float], unit: str = "nats", labels: Sequence[str] | None = None
) -> InformationSplit:
    """H(p), H(p, q) and KL(p ‖ q) by ``lm.information``, in nats or bits."""
    from arlm_tui.lm.information import cross_entropy, entropy, kl_divergence

    if unit not in ("nats", "bits"):
        raise ValueError(f"unit must be 'nats' or 'bits', got {unit!r}")
    base = 2.0 if unit == "bits" else math.e
    p_arr = np.asarray([float(x) for x in p])
    q_arr = np.asarray([float(x) for x in q])
    names = list(labels) if labels else [f"x{i + 1}" for i in range(p_arr.size)]
    if len(names) != p_arr.size:
        raise ValueError(f"labels must name every outcome: {len(names)} for {p_arr.size}")
    return InformationSplit(
        p=tuple(p_arr.tolist()),
        q=tuple(q_arr.tolist()),
        labels=tuple(str(n) for n in names),
        unit=unit,
        entropy=entropy(p_arr, base=base),
        cross_entropy=cross_entropy(p_arr, q_arr, base=base),
        kl=kl_divergence(p_arr, q_arr, base=base),
    )


def move_mass(q: Sequence[float], index: int, delta: float) -> tuple[float, ...]:
    """q with q[index] changed by ``delta`` (kept in [0, 1]) and the other entries rescaled in
    proportion so that the total stays 1 (shared equally if they were all 0)."""
    values = np.asarray([float(x) for x in q], dtype=np.float64)
    if not 0 <= index < values.size:
        raise ValueError(f"index must be in 0..{values.size - 1}, got {index}")
    target = float(np.clip(values[index] + delta, 0.0, 1.0))
    rest = np.delete(values, index)
    if rest.size == 0:
        return (1.0,)
    remaining = 1.0 - target
    rest = rest * (remaining / rest.sum()) if rest.sum() > 0 else np.full(rest.size,
                                                                         remaining / rest.size)
    out = np.insert(rest, index, target)
    return tuple(float(round(x, 12)) for x in out)


@register_lab(
    "entropy_kl",
    ("p", "q"),
    ("labels", "unit"),
    description="two distributions `p` and `q` with H(p), H(p, q) and KL(p ‖ q) updated "
    "as the learner moves the bars",
)
def from_preset(p: dict[str, Any]) -> InformationSplit:
    return information_split(p["p"], p["q"], p.get("unit", "nats"), p.get("labels"))
