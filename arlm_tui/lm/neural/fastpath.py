"""The transformer's one-token decode step in float32 numpy (the hot loop of generation).

A step runs one new token per row through the blocks, exactly as ``TransformerLM.forward``
would at that position, with numpy calls on a (B, d) matrix instead of torch calls (a torch
call costs ~5–7 µs however small its tensors, a numpy call ~1–3 µs); LayerNorm gains, biases
and 1/√d_head are folded into the matrices (``LayerWeights``):

    h = LN_1(x);  q, k, v = h W_qkv + b_qkv;  K[:, t] = k;  V[:, t] = v
    a = softmax(q Kᵀ / √d_head) over keys 0 … t;   x += (a V) W_o + b_o
    x += GELU(LN_2(x) W_fc + b_fc) W_p + b_p;      z = LN_f(x) Eᵀ,  z[<s>] = −∞

The weights are numpy copies made from the torch module (``StepWeights``); the keys and values
live in the ``KVCache``'s numpy buffers (its torch tensors share their memory). Measured on the
bundled 4-layer, d = 128 model: a step is bounded by reading its 3.1 MB of float32 weights, more
than one core's L2 cache holds (the 16 products alone take ~120 µs, ~45 µs when cache-hot).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import numpy as np

_GELU_C = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True)
class LayerWeights:
    """One block's weights, each affine map x W + c stored as one (in + 1, out) matrix [W; c]
    (its input then ends with a 1), each LayerNorm's gain and bias folded into the map after it:

        LN(x) W + c = n(x) (diag(g) W) + (b W + c),   n(x) = (x − mean) / √(var + eps)

    and the attention scale 1/√d_head folded into the query columns of W_qkv.
    """

    qkv: np.ndarray  # [diag(g_1) W_qkv; b_1 W_qkv + b_qkv], query columns scaled (d+1, 3d)
    o: np.ndarray  # [W_o; b_o] (d+1, d)
    fc: np.ndarray  # [diag(g_2) W_fc; b_2 W_fc + b_fc] (d+1, 4d)
    p: np.ndarray  # [W_p; b_p] (4d+1, d)


@dataclass(frozen=True)
class StepWeights:
    """Every weight a decode step needs, as float32 numpy arrays."""

    wte: np.ndarray  # (V, d)
    wpe: np.ndarray  # (C, d)
    layers: tuple[LayerWeights, ...]
    head: np.ndarray  # diag(g_f) Eᵀ (d, V)
    head_bias: np.ndarray  # b_f Eᵀ (V,), −∞ at <s>
    heads: int
    eps: float
    #: scratch inputs ending in a 1 ([n(x), 1], [a V, 1], [GELU(h), 1]) by (B, thread)
    scratch: dict[tuple[int, int], tuple[np.ndarray, ...]] = field(default_factory=dict)

    def inputs(self, batch: int) -> tuple[np.ndarray, ...]:
        """The three scratch inputs for ``batch`` rows, allocated once per batch size and
        thread (numpy releases the GIL inside a product: two threads must not share them)."""
        key = (batch, threading.get_ident())
        found = self.scratch.get(key)
        if found is None:
            d = self.wte.shape[1]
            found = tuple(np.ones((batch, n + 1), dtype=np.float32) for n in (d, d, 4 * d))
            self.scratch[key] = found
        return found


def step_weights(net, bos_id: int) -> StepWeights:
    """Numpy copies of a ``TransformerLM``'s weights, LayerNorms folded (in float64, then
    rounded once to float32)."""

    def arr(t) -> np.ndarray:
        return t.detach().cpu().double().numpy()

    def f32(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float32)

    def affine(w: np.ndarray, c: np.ndarray) -> np.ndarray:
        return f32(np.vstack([w, c[None, :]]))

    def fold(ln, linear) -> tuple[np.ndarray, np.ndarray]:
        w = arr(linear.weight).T  # (in, out)
        return arr(ln.weight)[:, None] * w, arr(ln.bias) @ w + arr(linear.bias)

    d = net.config.d_model
    scale = 1.0 / math.sqrt(d // net.config.heads)
    layers = []
    for block in net.blocks:
        attn, mlp = block.attn, block.mlp
        w_qkv, b_qkv = fold(block.ln_1, attn.c_attn)
        w_qkv[:, :d] *= scale
        b_qkv[:d] *= scale
        w_fc, b_fc = fold(block.ln_2, mlp.c_fc)
        layers.append(LayerWeights(
            affine(w_qkv, b_qkv),
            affine(arr(attn.c_proj.weight).T, arr(attn.c_proj.bias)),
            affine(w_fc, b_fc),
            affine(arr(mlp.c_proj.weight).T, arr(mlp.c_proj.bias)),
        ))  # fmt: skip
    embedding = arr(net.wte.weight).T  # (d, V)
    head_bias = f32(arr(net.ln_f.bias) @ embedding)
    head_bias[bos_id] = -np.inf
    return StepWeights(
        wte=f32(arr(net.wte.weight)),
        wpe=f32(arr(net.wpe.weight)),
        layers=tuple(layers),
        head=f32(arr(net.ln_f.weight)[:, None] * embedding),
        head_bias=head_bias,
        heads=net.config.heads,
        eps=float(net.ln_f.eps),
    )


def normalize(x: np.ndarray, eps: float, out: np.ndarray | None = None) -> np.ndarray:
    """n(x) = (x − mean) / √(var + eps) over the last axis (biased variance), into ``out``."""
    inv_d = 1.0 / x.shape[-1]
    mean = np.add.reduce(x, axis=-1, keepdims=True)
    mean *= inv_d
    centred = x - mean
    var = np.add.reduce(np.square(centred), axis=-1, keepdims=True)
    var *= inv_d
    var += eps
    np.sqrt(var, out=var)
    return np.divide(centred, var, out=out)


def gelu_tanh(u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """GELU(u) ≈ ½u(1 + tanh(√(2/π)(u + 0.044715u³))), into ``out`` (u is overwritten)."""
    inner = np.square(u)
    inner *= 0.044715 * _GELU_C
    inner += _GELU_C
    inner *= u
    np.tanh(inner, out=inner)
    inner += 1.0
    u *= 0.5
    return np.multiply(inner, u, out=out)


def decode_step(
    weights: StepWeights, idx: np.ndarray, k_cache: np.ndarray, v_cache: np.ndarray, past: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One new token per row, idx (B,), at position ``past`` after ``past`` cached keys.

    ``k_cache``/``v_cache``: (layers, B, H, C, d_head) views of the cache, written at ``past``.
    Returns logits (B, V) float32 and each layer's query (B, H, d_head).
    """
    B = idx.shape[0]
    H = weights.heads
    d = weights.wte.shape[1]
    dh = d // H
    end = past + 1
    eps = weights.eps
    normed, attended, activated = weights.inputs(B)  # each (B, n + 1), last column 1
    n_in, a_in, g_in = normed[:, :d], attended[:, :d], activated[:, : 4 * d]
    a_heads = a_in.reshape(B, H, 1, dh)
    x = weights.wte.take(idx, axis=0)
    x += weights.wpe[past]  # (B, d)
    queries = []
    for lw, k_l, v_l in zip(weights.layers, k_cache, v_cache):
        normalize(x, eps, out=n_in)
        qkv = (normed @ lw.qkv).reshape(B, 3, H, dh)  # q already scaled by 1/√d_head
        k_l[:, :, past] = qkv[:, 1]
        v_l[:, :, past] = qkv[:, 2]
        q = qkv[:, 0]  # (B, H, dh)
        scores = np.matmul(k_l[:, :, :end], q[..., None])[..., 0]  # (B, H, T)
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= np.add.reduce(scores, axis=-1, keepdims=True)
        np.matmul(scores[:, :, None, :], v_l[:, :, :end], out=a_heads)  # (B, H, 1, dh)
        x += attended @ lw.o
        normalize(x, eps, out=n_in)
        gelu_tanh(normed @ lw.fc, out=g_in)
        x += activated @ lw.p
        queries.append(q)
    logits = normalize(x, eps, out=n_in) @ weights.head
    logits += weights.head_bias  # and z[<s>] = −∞
    return logits, queries
