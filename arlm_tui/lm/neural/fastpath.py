"""The weights of the transformer's compiled decode step (``kernels.decode_step``).

Copied from the torch module once, and again whenever a weight changes (training), as numpy
arrays in the kernel's argument order: the same numbers the module holds, nothing folded or
rescaled, so the compiled step computes what ``TransformerLM.forward`` computes. A GPT-2
checkpoint (``gpt2``) is not copied: its matrices stay in the memory-mapped file, stored
(in, out), and E, P too (``MappedMatrices``); only the small vectors are gathered here.

The matrices (W_qkv, W_o, W_fc, W_p per layer, and the tied output matrix E) are float32, or,
when every one of their numbers is a bfloat16 number (a float32 whose low 16 bits are zero, as
in the bundled transformer), their top 16 bits as uint16: the same values in half the bytes,
which the kernel widens back as it reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The four matrices of a block, in the order of ``StepWeights.offsets``' columns, with the
#: module attribute holding each.
MATRICES = (("qkv", "attn.c_attn"), ("o", "attn.c_proj"), ("fc", "mlp.c_fc"), ("p", "mlp.c_proj"))


@dataclass(frozen=True)
class StepWeights:
    """Every weight a decode step needs, in ``kernels.decode_step``'s order.

    The block matrices W_qkv (3d × d), W_o (d × d), W_fc (4d × d), W_p (d × 4d) of every layer
    live in one flat buffer ``mats``: the one of layer l's matrix k starts at
    ``mats[offsets[l, k]]``. Stored (out, in) as ``nn.Linear`` keeps them (a copy made here),
    or, with ``in_out``, (in, out) as GPT-2's ``Conv1D`` does: then ``mats`` is the float32
    data of the checkpoint's safetensors file, memory-mapped, and nothing is copied.
    """

    wte: np.ndarray  # (V, d) token embedding E, float32
    wpe: np.ndarray  # (C, d) position embedding P, float32
    ln_1: np.ndarray  # (L, 2, d) LayerNorm 1 gain and bias
    mats: np.ndarray  # (N,) every block matrix: float32, or bfloat16 bits (uint16)
    offsets: np.ndarray  # (L, 4) int64: where W_qkv, W_o, W_fc, W_p of each layer start
    in_out: bool  # the matrices are stored (in, out) rather than (out, in)
    qkv_b: np.ndarray  # (L, 3d)
    o_b: np.ndarray  # (L, d)
    ln_2: np.ndarray  # (L, 2, d)
    fc_b: np.ndarray  # (L, 4d)
    p_b: np.ndarray  # (L, d)
    ln_f: np.ndarray  # (2, d)
    head_t: np.ndarray  # (V, d) E again, as the output projection (tied)
    head_b: np.ndarray  # (V,) 0, and −∞ at ids never predicted (<s>)
    scale: float  # 1/√d_head
    eps: float  # LayerNorm's ε

    @property
    def bfloat16(self) -> bool:
        """Whether the matrices are kept as bfloat16 bits."""
        return self.mats.dtype == np.uint16

    def matrix(self, name: str, layer: int) -> np.ndarray:
        """Layer ``layer``'s matrix ``name`` (qkv, o, fc or p) as an (out, in) view."""
        k = [m for m, _ in MATRICES].index(name)
        d = self.wte.shape[1]
        n_out, n_in = {"qkv": (3 * d, d), "o": (d, d), "fc": (4 * d, d), "p": (d, 4 * d)}[name]
        start = int(self.offsets[layer, k])
        flat = self.mats[start : start + n_out * n_in]
        return flat.reshape(n_in, n_out).T if self.in_out else flat.reshape(n_out, n_in)

    def arrays(self) -> tuple:
        """The weight arguments of ``kernels.decode_step``, in order."""
        return (self.wte, self.wpe, self.ln_1, self.mats, self.offsets, self.in_out, self.qkv_b,
                self.o_b, self.ln_2, self.fc_b, self.p_b, self.ln_f, self.head_t, self.head_b,
                self.scale, self.eps)  # fmt: skip


@dataclass(frozen=True)
class MappedMatrices:
    """Block matrices that stay where a checkpoint file holds them (see ``StepWeights``):
    ``mats`` the file's float32 data, ``offsets`` (L, 4) where each matrix starts, stored
    (in, out). A net carrying one as ``net.mapped_matrices`` has its modules' weights as
    transposed views of the same memory."""

    mats: np.ndarray
    offsets: np.ndarray


def is_bfloat16(a: np.ndarray) -> bool:
    """Every number of the float32 array ``a`` is a bfloat16 number (low 16 bits zero)."""
    return not np.any(np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) & 0xFFFF)


def bfloat16_bits(a: np.ndarray) -> np.ndarray:
    """The top 16 bits of each float32 of ``a`` (exact when ``is_bfloat16(a)``)."""
    return (np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)


def step_weights(net, never: int | tuple[int, ...]) -> StepWeights:
    """The weights of a ``TransformerLM`` as ``StepWeights`` (read through ``.detach()``);
    ``never``: the id or ids whose logit is −∞ (never predicted: ``<s>``)."""

    def f32(t) -> np.ndarray:
        return np.ascontiguousarray(t.detach().cpu().float().numpy())

    def stack(get) -> np.ndarray:
        return np.ascontiguousarray(np.stack([f32(get(block)) for block in net.blocks]))

    def norm(ln) -> np.ndarray:
        return np.stack([f32(ln.weight), f32(ln.bias)])

    def module(block, path: str):
        for part in path.split("."):
            block = getattr(block, part)
        return block

    head_t = f32(net.wte.weight)
    mapped = getattr(net, "mapped_matrices", None)
    if mapped is not None:
        mats, offsets, in_out = mapped.mats, mapped.offsets, True
    else:
        blocks = [[f32(module(b, path).weight) for _, path in MATRICES] for b in net.blocks]
        sizes = np.array([[m.size for m in block] for block in blocks], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).reshape(sizes.shape)
        mats = np.concatenate([m.ravel() for block in blocks for m in block])
        in_out = False
        if is_bfloat16(mats) and is_bfloat16(head_t):
            mats, head_t = bfloat16_bits(mats), bfloat16_bits(head_t)
    head_b = np.zeros(net.config.vocab_size, dtype=np.float32)
    head_b[np.atleast_1d(np.asarray(never, dtype=np.int64))] = -np.inf
    return StepWeights(
        wte=f32(net.wte.weight),
        wpe=f32(net.wpe.weight),
        ln_1=np.ascontiguousarray(np.stack([norm(b.ln_1) for b in net.blocks])),
        mats=mats,
        offsets=np.ascontiguousarray(offsets, dtype=np.int64),
        in_out=in_out,
        qkv_b=stack(lambda b: b.attn.c_attn.bias),
        o_b=stack(lambda b: b.attn.c_proj.bias),
        ln_2=np.ascontiguousarray(np.stack([norm(b.ln_2) for b in net.blocks])),
        fc_b=stack(lambda b: b.mlp.c_fc.bias),
        p_b=stack(lambda b: b.mlp.c_proj.bias),
        ln_f=norm(net.ln_f),
        head_t=head_t,
        head_b=head_b,
        scale=1.0 / math.sqrt(net.config.d_model // net.config.heads),
        eps=float(net.ln_f.eps),
    )
