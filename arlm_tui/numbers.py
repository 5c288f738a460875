"""How numbers read on screen: one format for probabilities and one for nats, across the app.

The same value always reads the same, wherever it is shown: a probability of at least 0.001
with three decimals ("0.412", "0.001"), a smaller one with two significant digits in scientific
notation ("9.9e-4", "1.6e-10"), exactly 0 as "0"; log-probabilities, NLL and entropies in nats
with two decimals ("-3.12"), infinities as "∞" / "−∞".
"""

from __future__ import annotations

import math

#: Below this, probabilities switch to scientific notation.
SMALL_PROB = 0.001


def fmt_prob(p: float) -> str:
    """A probability: 0.412 → "0.412"; 0.00099 → "9.9e-4"; 1.6e-10 → "1.6e-10"; 0 → "0"."""
    p = float(p)
    if math.isnan(p):
        return "nan"
    if p <= 0:
        return "0"
    if p >= SMALL_PROB:
        return f"{p:.3f}"
    mantissa, exponent = f"{p:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def fmt_nats(x: float) -> str:
    """A log-probability, NLL or entropy in nats: two decimals; ±∞ as "∞" / "−∞"."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.2f}"
