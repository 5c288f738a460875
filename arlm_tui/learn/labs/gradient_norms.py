"""The vanishing-gradient lab: ‖∂L/∂h_t‖ back through time for RNN, LSTM and GRU cells
(``gradient_norms``; needs torch)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from arlm_tui.learn.labs.base import import_torch, register_lab

#: Standard deviation of the random inputs x_t of the gradient lab: small enough that the
#: units work near the linear part of tanh, large enough that they are driven.
GRADIENT_INPUT_SCALE = 0.3


@dataclass(frozen=True)
class GradientCurve:
    """‖∂L/∂h_{T−k}‖ for k = 0 … T−1 steps back (``state_norms``; for the LSTM the cell state
    ‖∂L/∂c_{T−k}‖ too), already multiplied by the clipping factor ``clip_factor``."""

    cell: str
    hidden_norms: tuple[float, ...]
    cell_norms: tuple[float, ...] | None
    gradient_norm: float  # ‖∂L/∂θ‖ over the cell's parameters, before clipping
    clip_factor: float  # min(1, c / ‖∂L/∂θ‖), 1 without clipping

    @property
    def state_norms(self) -> tuple[float, ...]:
        """The curve the lab plots: the cell state for the LSTM, the hidden state otherwise."""
        return self.cell_norms if self.cell_norms is not None else self.hidden_norms

    @property
    def state_name(self) -> str:
        return "c" if self.cell_norms is not None else "h"


@dataclass(frozen=True)
class GradientNorms:
    steps: int
    hidden_size: int
    recurrent_scale: float
    forget_bias: float
    clip: float | None
    seed: int
    curves: tuple[GradientCurve, ...]


def gradient_norms(
    cells: Sequence[str],
    steps: int,
    hidden_size: int = 16,
    recurrent_scale: float = 1.0,
    forget_bias: float = 1.0,
    clip: float | None = None,
    seed: int = 0,
) -> GradientNorms:
    """Unroll each cell for ``steps`` steps on random inputs and backpropagate L = u · h_T.

    Setup, per cell (torch ``RNNCell``/``LSTMCell``/``GRUCell``, m = ``hidden_size``): inputs
    x_t ~ N(0, 0.3²), input weights ~ N(0, 1/m), each recurrent block (per gate) =
    recurrent_scale · a random orthogonal matrix, biases 0 except the LSTM forget gate's
    b_f = forget_bias and the GRU update gate's b_z = forget_bias (z_t near 1 keeps h_{t−1}),
    h_0 = c_0 = 0, u a random unit vector. Autograd gives ∂L/∂h_t for every t (and ∂L/∂c_t for
    the LSTM). ``clip``: gradient clipping by the norm c of the full parameter gradient g,
    g ← g · min(1, c / ‖g‖), which scales every backpropagated vector by the same factor.
    """
    torch = import_torch()
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
        raise ValueError(f"hidden_size must be a whole number >= 1, got {hidden_size!r}")
    if not (math.isfinite(recurrent_scale) and recurrent_scale >= 0):
        raise ValueError(f"recurrent_scale must be a number >= 0, got {recurrent_scale!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be a number > 0 or None, got {clip!r}")
    kinds = {"rnn": (torch.nn.RNNCell, 1), "lstm": (torch.nn.LSTMCell, 4),
             "gru": (torch.nn.GRUCell, 3)}
    m = hidden_size
    curves = []
    for cell_name in cells:
        if cell_name not in kinds:
            raise ValueError(f"cells must hold rnn, lstm or gru, got {cell_name!r}")
        cls, blocks = kinds[cell_name]
        generator = torch.Generator().manual_seed(int(seed))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            cell = cls(m, m)
        with torch.no_grad():
            for b in range(blocks):
                q, _ = torch.linalg.qr(torch.randn(m, m, generator=generator))
                cell.weight_hh[b * m : (b + 1) * m] = recurrent_scale * q
                cell.weight_ih[b * m : (b + 1) * m] = torch.randn(m, m, generator=generator) / m**0.5
            cell.bias_ih.zero_()
            cell.bias_hh.zero_()
            if cell_name in ("lstm", "gru"):  # torch's gate order: i, f, g, o and r, z, n
                cell.bias_ih[m : 2 * m] = forget_bias
        x = torch.randn(steps, 1, m, generator=generator) * GRADIENT_INPUT_SCALE
        u = torch.randn(m, generator=generator)
        u = u / u.norm()
        h = torch.zeros(1, m)
        c = torch.zeros(1, m)
        hs, cs = [], []
        for t in range(steps):
            if cell_name == "lstm":
                h, c = cell(x[t], (h, c))
                c.retain_grad()
                cs.append(c)
            else:
                h = cell(x[t], h)
            h.retain_grad()
            hs.append(h)
        loss = (hs[-1][0] * u).sum()
        loss.backward()
        grad_norm = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in cell.parameters()))
        factor = 1.0 if clip is None or grad_norm <= clip else clip / grad_norm
        hidden = tuple(float(v.grad.norm()) * factor for v in reversed(hs))
        cell_norms = tuple(float(v.grad.norm()) * factor for v in reversed(cs)) if cs else None
        curves.append(GradientCurve(cell_name, hidden, cell_norms, grad_norm, factor))
    return GradientNorms(
        steps=steps,
        hidden_size=m,
        recurrent_scale=float(recurrent_scale),
        forget_bias=float(forget_bias),
        clip=None if clip is None else float(clip),
        seed=int(seed),
        curves=tuple(curves),
    )


@register_lab(
    "gradient_norms",
    ("cells", "steps"),
    ("hidden_size", "recurrent_scale", "forget_bias", "clip", "seed"),
    description="norm of ∂L/∂h_t (or ∂L/∂c_t) against the distance back in time, for "
    "each cell type in `cells` unrolled for `steps` steps",
)
def from_preset(p: dict[str, Any]) -> GradientNorms:
    return gradient_norms(p["cells"], p["steps"], p.get("hidden_size", 16),
                          p.get("recurrent_scale", 1.0), p.get("forget_bias", 1.0),
                          p.get("clip"), p.get("seed", 0))
