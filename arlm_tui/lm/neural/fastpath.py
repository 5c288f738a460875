"""The weights of the transformer's compiled decode step (``kernels.decode_step``).

Copied from the torch module once, and again whenever a weight changes (training), as numpy
arrays in the kernel's argument order: the same numbers the module holds, nothing folded or
rescaled, so the compiled step computes what ``TransformerLM.forward`` computes.

The matrices (W_qkv, W_o, W_fc, W_p per layer, and the tied output matrix E) are float32, or,
when every one of their numbers is a bfloat16 number (a float32 whose low 16 bits are zero, as
in the bundled transformer), their top 16 bits as uint16: the same values in half the bytes,
which the kernel widens back as it reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StepWeights:
    """Every weight a decode step needs, in ``kernels.decode_step``'s order."""

    wte: np.ndarray  # (V, d) token embedding E, float32
    wpe: np.ndarray  # (C, d) position embedding P, float32
    ln_1: np.ndarray  # (L, 2, d) LayerNorm 1 gain and bias
    qkv_t: np.ndarray  # (L, 3d, d) W_qkv (out, in): float32 or bfloat16 bits
    qkv_b: np.ndarray  # (L, 3d)
    o_t: np.ndarray  # (L, d, d) W_o
    o_b: np.ndarray  # (L, d)
    ln_2: np.ndarray  # (L, 2, d)
    fc_t: np.ndarray  # (L, 4d, d) W_fc
    fc_b: np.ndarray  # (L, 4d)
    p_t: np.ndarray  # (L, d, 4d) W_p
    p_b: np.ndarray  # (L, d)
    ln_f: np.ndarray  # (2, d)
    head_t: np.ndarray  # (V, d) E again, as the output projection (tied)
    head_b: np.ndarray  # (V,) 0, and −∞ at <s> (never predicted)
    scale: float  # 1/√d_head
    eps: float  # LayerNorm's ε

    @property
    def bfloat16(self) -> bool:
        """Whether the matrices are kept as bfloat16 bits."""
        return self.qkv_t.dtype == np.uint16

    def arrays(self) -> tuple:
        """The weight arguments of ``kernels.decode_step``, in order."""
        return (self.wte, self.wpe, self.ln_1, self.qkv_t, self.qkv_b, self.o_t, self.o_b,
                self.ln_2, self.fc_t, self.fc_b, self.p_t, self.p_b, self.ln_f, self.head_t,
                self.head_b, self.scale, self.eps)  # fmt: skip


def is_bfloat16(a: np.ndarray) -> bool:
    """Every number of the float32 array ``a`` is a bfloat16 number (low 16 bits zero)."""
    return not np.any(np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) & 0xFFFF)


def bfloat16_bits(a: np.ndarray) -> np.ndarray:
    """The top 16 bits of each float32 of ``a`` (exact when ``is_bfloat16(a)``)."""
    return (np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)


def step_weights(net, bos_id: int) -> StepWeights:
    """The weights of a ``TransformerLM`` as ``StepWeights`` (read through ``.detach()``)."""

    def f32(t) -> np.ndarray:
        return np.ascontiguousarray(t.detach().cpu().float().numpy())

    def stack(get) -> np.ndarray:
        return np.ascontiguousarray(np.stack([f32(get(block)) for block in net.blocks]))

    def norm(ln) -> np.ndarray:
        return np.stack([f32(ln.weight), f32(ln.bias)])

    matrices = {
        "qkv_t": stack(lambda b: b.attn.c_attn.weight),
        "o_t": stack(lambda b: b.attn.c_proj.weight),
        "fc_t": stack(lambda b: b.mlp.c_fc.weight),
        "p_t": stack(lambda b: b.mlp.c_proj.weight),
        "head_t": f32(net.wte.weight),
    }
    if all(is_bfloat16(m) for m in matrices.values()):
        matrices = {name: bfloat16_bits(m) for name, m in matrices.items()}
    head_b = np.zeros(net.config.vocab_size, dtype=np.float32)
    head_b[bos_id] = -np.inf
    return StepWeights(
        wte=f32(net.wte.weight),
        wpe=f32(net.wpe.weight),
        ln_1=np.ascontiguousarray(np.stack([norm(b.ln_1) for b in net.blocks])),
        qkv_b=stack(lambda b: b.attn.c_attn.bias),
        o_b=stack(lambda b: b.attn.c_proj.bias),
        ln_2=np.ascontiguousarray(np.stack([norm(b.ln_2) for b in net.blocks])),
        fc_b=stack(lambda b: b.mlp.c_fc.bias),
        p_b=stack(lambda b: b.mlp.c_proj.bias),
        ln_f=norm(net.ln_f),
        head_b=head_b,
        scale=1.0 / math.sqrt(net.config.d_model // net.config.heads),
        eps=float(net.ln_f.eps),
        **matrices,
    )
