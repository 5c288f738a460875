"""The weights of the transformer's compiled decode step (``kernels.decode_step``).

Copied from the torch module once (and again whenever a weight changes), with every LayerNorm's
gain and bias folded into the affine map after it and the attention scale 1/√d_head folded into
the query columns, so a step never applies them:

    LN(x) W + c = n(x) (diag(g) W) + (b W + c),     n(x) = (x − mean) / √(var + eps)

The folding is done in float64 and rounded once to float32. Matrices are stored transposed,
(out, in), one stack per kind over the layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StepWeights:
    """Every weight a decode step needs, float32, in ``kernels.decode_step``'s order."""

    wte: np.ndarray  # (V, d) token embedding E
    wpe: np.ndarray  # (C, d) position embedding P
    qkv_t: np.ndarray  # (L, 3d, d) (diag(g_1) W_qkv)ᵀ, query rows scaled by 1/√d_head
    qkv_b: np.ndarray  # (L, 3d) b_1 W_qkv + b_qkv, query part scaled
    o_t: np.ndarray  # (L, d, d) W_oᵀ
    o_b: np.ndarray  # (L, d)
    fc_t: np.ndarray  # (L, 4d, d) (diag(g_2) W_fc)ᵀ
    fc_b: np.ndarray  # (L, 4d) b_2 W_fc + b_fc
    p_t: np.ndarray  # (L, d, 4d) W_pᵀ
    p_b: np.ndarray  # (L, d)
    head_t: np.ndarray  # (V, d) E diag(g_f): the tied output projection
    head_b: np.ndarray  # (V,) b_f Eᵀ, −∞ at <s>
    eps: float

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The weight arguments of ``kernels.decode_step``, in order."""
        return (self.wte, self.wpe, self.qkv_t, self.qkv_b, self.o_t, self.o_b, self.fc_t,
                self.fc_b, self.p_t, self.p_b, self.head_t, self.head_b)  # fmt: skip


def step_weights(net, bos_id: int) -> StepWeights:
    """The folded float32 weights of a ``TransformerLM`` (read through ``.detach()``: no
    gradient is involved)."""

    def arr(t) -> np.ndarray:
        return t.detach().cpu().double().numpy()

    def f32(a) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float32)

    def fold(ln, linear) -> tuple[np.ndarray, np.ndarray]:
        """LN then linear as one affine map: (out, in) matrix and (out,) bias."""
        w = arr(linear.weight)  # (out, in), as nn.Linear stores it
        return w * arr(ln.weight)[None, :], w @ arr(ln.bias) + arr(linear.bias)

    d = net.config.d_model
    scale = 1.0 / math.sqrt(d // net.config.heads)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("qkv", "qkv_b", "o", "o_b", "fc",
                                                          "fc_b", "p", "p_b")}  # fmt: skip
    for block in net.blocks:
        attn, mlp = block.attn, block.mlp
        w_qkv, b_qkv = fold(block.ln_1, attn.c_attn)
        w_qkv[:d] *= scale
        b_qkv[:d] *= scale
        w_fc, b_fc = fold(block.ln_2, mlp.c_fc)
        for key, value in (("qkv", w_qkv), ("qkv_b", b_qkv), ("o", arr(attn.c_proj.weight)),
                           ("o_b", arr(attn.c_proj.bias)), ("fc", w_fc), ("fc_b", b_fc),
                           ("p", arr(mlp.c_proj.weight)), ("p_b", arr(mlp.c_proj.bias))):
            parts[key].append(value)  # fmt: skip
    embedding = arr(net.wte.weight)  # (V, d)
    head_b = f32(embedding @ arr(net.ln_f.bias))
    head_b[bos_id] = -np.inf
    stacked = {key: f32(np.stack(values)) for key, values in parts.items()}
    return StepWeights(
        wte=f32(embedding),
        wpe=f32(arr(net.wpe.weight)),
        qkv_t=stacked["qkv"],
        qkv_b=stacked["qkv_b"],
        o_t=stacked["o"],
        o_b=stacked["o_b"],
        fc_t=stacked["fc"],
        fc_b=stacked["fc_b"],
        p_t=stacked["p"],
        p_b=stacked["p_b"],
        head_t=f32(embedding * arr(net.ln_f.weight)[None, :]),
        head_b=head_b,
        eps=float(net.ln_f.eps),
    )
