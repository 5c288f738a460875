"""How numbers read on screen: one module of formats, used across the app (TUI, CLI, HTML).

The same value always reads the same, wherever it is shown: a probability of at least 0.001
with three decimals ("0.412", "0.001"), a smaller one with two significant digits in scientific
notation ("9.9e-4", "1.6e-10"), exactly 0 as "0"; log-probabilities, NLL and entropies in nats
with two decimals ("-3.12"); perplexities with one ("12.3"); shares as whole percentages
("42%"); infinities as "∞" / "−∞"; a missing value (None, or NaN where it means "not yet") as
"–". ``fmt_number`` is the general table format of the labs (any magnitude, a few digits).
"""

from __future__ import annotations

import math

#: Below this, probabilities switch to scientific notation.
SMALL_PROB = 0.001
#: How a value that is not there (yet) reads.
MISSING = "–"


def _infinite(x: float) -> str:
    return "∞" if x > 0 else "−∞"


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
        return _infinite(x)
    return f"{x:.2f}"


def fmt_fixed(x: float | None, digits: int = 3) -> str:
    """A number with ``digits`` decimals: 3.14159, 2 → "3.14"; ±∞ as "∞" / "−∞"; None or NaN
    as "–"."""
    if x is None or math.isnan(float(x)):
        return MISSING
    x = float(x)
    return _infinite(x) if math.isinf(x) else f"{x:.{digits}f}"


def fmt_perplexity(x: float | None) -> str:
    """A perplexity (or any exp of nats, such as effective choices): one decimal, "12.3"; ∞ when
    a token had probability 0; "–" before anything was scored."""
    return fmt_fixed(x, 1)


def fmt_percent(share: float | None) -> str:
    """A share of 1 as a whole percentage: 0.416 → "42%"; None → "–"."""
    if share is None or math.isnan(float(share)):
        return MISSING
    return f"{float(share):.0%}"


def fmt_number(x: float | None, digits: int = 3) -> str:
    """A number for a table, whatever its size: ∞, 0, ``digits`` decimals from 1 up (trailing
    zeros dropped: 2.5 → "2.5"), ``digits`` significant digits below 1 (0.01234 → "0.0123"),
    scientific when tiny or huge (1.5e-05 → "1.50e-5"); None → "–"."""
    if x is None:
        return MISSING
    x = float(x)
    if math.isinf(x):
        return _infinite(x)
    if math.isnan(x):
        return "nan"
    if x == 0:
        return "0"
    size = abs(x)
    if size >= 1e5 or size < 1e-4:
        return f"{x:.2e}".replace("e-0", "e-").replace("e+0", "e+")
    if size >= 1:
        return f"{x:.{digits}f}".rstrip("0").rstrip(".")
    return f"{x:.{digits}g}"
