"""The transformer's one-token decode step as one compiled loop nest (numba).

Written with torch or numpy calls, a step is ~100 small operations, and each costs 1–7 µs of
interpreter and dispatch however small its arrays: more than the arithmetic. Here the whole
step is one call: numba compiles these loops to machine code (LLVM, vectorised for this CPU)
the first time a transformer decodes and caches the result next to this file (or in the user's
cache directory), so later runs start at once. Without numba, or with ``ARLM_NO_JIT=1``, the
transformer runs the same step with torch calls (``TransformerLM.forward_cached``).

A step for B rows, row b at window position p_b (its keys and values for positions < p_b are
in the pool's slots ``slots[b, :p_b]``, the new ones go to slot ``slots[b, p_b]``):

    x = E[w] + P[p_b]
    for each block:  q, k, v = LN_1(x) W_qkvᵀ + b_qkv;  K[slot] = k;  V[slot] = v
                     a = softmax(q Kᵀ / √d_head) over keys 0 … p_b;  x += (a V) W_oᵀ + b_o
                     x += GELU(LN_2(x) W_fcᵀ + b_fc) W_pᵀ + b_p
    log p = log_softmax(LN_f(x) Eᵀ + c)   (in float64; c = 0 but c[<s>] = −∞)

with LN(x) = (x − mean) / √(var + eps) · g + b. The block matrices sit in one flat buffer
(``fastpath.StepWeights``), stored (out, in) as ``nn.Linear`` keeps them, so each output is a
dot product over a contiguous row (``_affine``), or (in, out) as a memory-mapped GPT-2
checkpoint keeps them, so each input adds a contiguous row to the outputs (``_affine_in_out``).
Either way four batch rows share every weight read, which keeps a beam's step at about one
read of the weights. Reading them is
the step's floor: 3.1 MB in float32 for the bundled model, more than a core's 2 MB L2 cache. A
model whose weights are all bfloat16 numbers (the bundled transformer is stored so) has its
matrices kept as their 16-bit patterns and widened on the fly (``weight``): the same numbers,
half the bytes, and they stay in L2 between steps.

Floating point: float32 like the torch model, summed in a different order (vectorised), so a
step matches the full forward pass to ~1e-6, not bit for bit. ``fastmath`` here allows
reassociation and fused multiply-add only: no assumption that values are finite (``<s>`` is −∞).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

_GELU_C = math.sqrt(2.0 / math.pi)
_LOG2E = np.float32(1.0 / math.log(2.0))
#: 2^f ≈ 1 + f·P(f) on |f| ≤ ½ (Cephes' exp2f; relative error < 2e-7)
_P = tuple(np.float32(c) for c in (
    1.535336188319500e-4, 1.339887440266574e-3, 9.618437357674640e-3,
    5.550332471162809e-2, 2.402264791363012e-1, 6.931472028550421e-1,
))  # fmt: skip
#: reassociate sums (vectorised dot products) and fuse multiply-adds; infinities stay legal
_MATH = {"reassoc", "contract", "nsz", "arcp"}
#: outputs per tile of ``_affine_in_out``: four weight rows' tiles (16 KB) stay in a core's
#: 32 KB L1 cache while every batch row uses them (2048 measured up to 2× slower for beams;
#: reading one row at a time in 4 KB tiles was 2–3× slower: the prefetcher stops at pages)
_TILE = 1024
#: fewer than four rows go over whole weight rows when their outputs (B·m floats, at most
#: 24 KB) fit in the L1 cache, else in tiles of ``_TILE`` (``_affine_in_out_few``)
_WHOLE_ROWS = 6144
_JIT: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": _MATH, "error_model": "numpy"}


@intrinsic
def _bf16_to_f32(typingctx, half):
    """The float32 whose top 16 bits are ``half`` (a bfloat16's bits): shift and reinterpret."""
    if half != types.uint16:
        return None

    def codegen(context, builder, signature, args):
        wide = builder.shl(builder.zext(args[0], ir.IntType(32)), ir.Constant(ir.IntType(32), 16))
        return builder.bitcast(wide, ir.FloatType())

    return types.float32(types.uint16), codegen


def weight(w):
    """A weight as float32: itself, or widened from its bfloat16 bits (uint16). This is the
    plain-Python meaning; compiled code uses the overload below."""
    if isinstance(w, np.uint16):
        return (np.array([w], dtype=np.uint32) << 16).view(np.float32)[0]
    return np.float32(w)


@overload(weight, jit_options={"fastmath": _MATH})
def _weight(w):
    if isinstance(w, types.Float):
        return lambda w: w
    if w == types.uint16:
        return lambda w: _bf16_to_f32(w)
    return None


@nb.njit(**_JIT)
def _affine(x, wt, bias, y):
    """y = x Wᵀ + bias for x (B, n), wt (m, n), y (B, m); rows in fours share each wt row.
    W is float32, or bfloat16 bits (uint16: half the bytes to read, converted on the fly)."""
    B, n = x.shape
    m = wt.shape[0]
    b = 0
    while b + 4 <= B:
        for j in range(m):
            s0 = np.float32(0.0)
            s1 = np.float32(0.0)
            s2 = np.float32(0.0)
            s3 = np.float32(0.0)
            for i in range(n):
                w = weight(wt[j, i])
                s0 += x[b, i] * w
                s1 += x[b + 1, i] * w
                s2 += x[b + 2, i] * w
                s3 += x[b + 3, i] * w
            y[b, j] = s0 + bias[j]
            y[b + 1, j] = s1 + bias[j]
            y[b + 2, j] = s2 + bias[j]
            y[b + 3, j] = s3 + bias[j]
        b += 4
    while b < B:
        for j in range(m):
            s = np.float32(0.0)
            for i in range(n):
                s += x[b, i] * weight(wt[j, i])
            y[b, j] = s + bias[j]
        b += 1


@nb.njit(**_JIT)
def _axpy8(out, x, b, i, w, j0, j1):
    """out += x[b, i]·w[i, j0:j1] + … + x[b, i+7]·w[i+7, j0:j1]: eight weight rows in one pass
    over ``out``, summed exactly as two passes of four would sum them."""
    r0, r1, r2, r3 = w[i, j0:j1], w[i + 1, j0:j1], w[i + 2, j0:j1], w[i + 3, j0:j1]
    r4, r5, r6, r7 = w[i + 4, j0:j1], w[i + 5, j0:j1], w[i + 6, j0:j1], w[i + 7, j0:j1]
    x0, x1, x2, x3 = x[b, i], x[b, i + 1], x[b, i + 2], x[b, i + 3]
    x4, x5, x6, x7 = x[b, i + 4], x[b, i + 5], x[b, i + 6], x[b, i + 7]
    for j in range(j1 - j0):
        first = (x0 * weight(r0[j]) + x1 * weight(r1[j])) + (x2 * weight(r2[j]) + x3 * weight(r3[j]))
        second = (x4 * weight(r4[j]) + x5 * weight(r5[j])) + (x6 * weight(r6[j]) + x7 * weight(r7[j]))
        out[j] = (out[j] + first) + second


@nb.njit(**_JIT)
def _affine_in_out_few(x, w, bias, y):
    """``_affine_in_out`` for B < 4 rows, the same sums in the same order: eight weight rows
    a pass over the outputs (``_axpy8``: one load and store of each output where four rows
    took two), over whole weight rows when the B rows' outputs fit in L1 (B·m ≤ ``_WHOLE_ROWS``
    floats), so that the matrix is read front to back as one stream. GPT-2 small's blocks, one
    row: 20.3 → 17.4 ms a step (16.8 → 19.5 GB/s read; a plain sum reads ~26 GB/s)."""
    B, n = x.shape
    m = w.shape[1]
    span = m if B * m <= _WHOLE_ROWS else _TILE
    for j0 in range(0, m, span):
        j1 = min(j0 + span, m)
        size = j1 - j0
        tile = bias[j0:j1]
        for b in range(B):
            out = y[b, j0:j1]
            for j in range(size):
                out[j] = tile[j]
        i = 0
        while i + 8 <= n:
            for b in range(B):
                _axpy8(y[b, j0:j1], x, b, i, w, j0, j1)
            i += 8
        while i + 4 <= n:
            r0, r1, r2, r3 = w[i, j0:j1], w[i + 1, j0:j1], w[i + 2, j0:j1], w[i + 3, j0:j1]
            for b in range(B):
                x0, x1, x2, x3 = x[b, i], x[b, i + 1], x[b, i + 2], x[b, i + 3]
                out = y[b, j0:j1]
                for j in range(size):
                    out[j] += (x0 * weight(r0[j]) + x1 * weight(r1[j])) + (
                        x2 * weight(r2[j]) + x3 * weight(r3[j])
                    )
            i += 4
        while i < n:
            r0 = w[i, j0:j1]
            for b in range(B):
                x0 = x[b, i]
                out = y[b, j0:j1]
                for j in range(size):
                    out[j] += x0 * weight(r0[j])
            i += 1


@nb.njit(**_JIT)
def _affine_in_out(x, w, bias, y):
    """y = x W + bias for x (B, n), w (n, m) stored as (in, out), GPT-2's ``Conv1D`` layout:
    inputs i … i+3 add x[b, i]·w[i] + … + x[b, i+3]·w[i+3] (contiguous rows) to y[b], a
    vectorised axpy, so a memory-mapped checkpoint is read in place. Outputs go in tiles of
    ``_TILE``: the four weight rows' tile is read from memory once and stays in the L1 cache
    while every batch row uses it, four rows at a time. Fewer than four rows (greedy, sampling)
    go through ``_affine_in_out_few``. (Loops run over slices from 0: an index the compiler
    cannot prove non-negative blocks vectorisation.)"""
    B, n = x.shape
    m = w.shape[1]
    if B < 4:
        _affine_in_out_few(x, w, bias, y)
        return
    for j0 in range(0, m, _TILE):
        j1 = min(j0 + _TILE, m)
        size = j1 - j0
        tile = bias[j0:j1]
        for b in range(B):
            out = y[b, j0:j1]
            for j in range(size):
                out[j] = tile[j]
        i = 0
        while i < n:
            if i + 4 <= n:
                r0, r1, r2, r3 = w[i, j0:j1], w[i + 1, j0:j1], w[i + 2, j0:j1], w[i + 3, j0:j1]
                b = 0
                while b + 4 <= B:  # four batch rows at once: each weight loaded once for four
                    y0, y1, y2, y3 = y[b, j0:j1], y[b + 1, j0:j1], y[b + 2, j0:j1], y[b + 3, j0:j1]
                    a00, a01, a02, a03 = x[b, i], x[b, i + 1], x[b, i + 2], x[b, i + 3]
                    a10, a11, a12, a13 = x[b + 1, i], x[b + 1, i + 1], x[b + 1, i + 2], x[b + 1, i + 3]
                    a20, a21, a22, a23 = x[b + 2, i], x[b + 2, i + 1], x[b + 2, i + 2], x[b + 2, i + 3]
                    a30, a31, a32, a33 = x[b + 3, i], x[b + 3, i + 1], x[b + 3, i + 2], x[b + 3, i + 3]
                    for j in range(size):
                        w0, w1, w2, w3 = weight(r0[j]), weight(r1[j]), weight(r2[j]), weight(r3[j])
                        y0[j] += (a00 * w0 + a01 * w1) + (a02 * w2 + a03 * w3)
                        y1[j] += (a10 * w0 + a11 * w1) + (a12 * w2 + a13 * w3)
                        y2[j] += (a20 * w0 + a21 * w1) + (a22 * w2 + a23 * w3)
                        y3[j] += (a30 * w0 + a31 * w1) + (a32 * w2 + a33 * w3)
                    b += 4
                while b < B:
                    x0, x1, x2, x3 = x[b, i], x[b, i + 1], x[b, i + 2], x[b, i + 3]
                    out = y[b, j0:j1]
                    for j in range(size):
                        out[j] += (x0 * weight(r0[j]) + x1 * weight(r1[j])) + (
                            x2 * weight(r2[j]) + x3 * weight(r3[j])
                        )
                    b += 1
                i += 4
            else:
                r0 = w[i, j0:j1]
                for b in range(B):
                    x0 = x[b, i]
                    out = y[b, j0:j1]
                    for j in range(size):
                        out[j] += x0 * weight(r0[j])
                i += 1


@nb.njit(**_JIT)
def _linear(x, mats, offset, n_out, in_out, bias, y):
    """y = x Wᵀ + bias with W (n_out, n_in) the matrix starting at ``mats[offset]``: stored
    (out, in) (arlm's, ``nn.Linear``'s) or, with ``in_out``, (in, out) (GPT-2's)."""
    n_in = x.shape[1]
    flat = mats[offset : offset + n_in * n_out]
    if in_out:
        _affine_in_out(x, flat.reshape((n_in, n_out)), bias, y)
    else:
        _affine(x, flat.reshape((n_out, n_in)), bias, y)


@nb.njit(**_JIT)
def _exp(a, m, bits, scale):
    """a[:m] = exp(a[:m]) in one vectorised pass (the C library's expf is one value at a time,
    ~4× slower here): e^x = 2^y, y = x·log₂e = n + f with n an integer and |f| ≤ ½, 2^f by a
    polynomial and 2^n built from its exponent bits (``bits`` int32 scratch, ``scale`` its
    float32 view). y is clamped to [−126, 126]: e^x below 1e-38 becomes 1e-38 (a softmax term
    that small counts for nothing) and nothing overflows."""
    p0, p1, p2, p3, p4, p5 = _P
    for t in range(m):
        y = min(max(a[t] * _LOG2E, np.float32(-126.0)), np.float32(126.0))
        n = np.floor(y + np.float32(0.5))
        f = y - n
        a[t] = (((((p0 * f + p1) * f + p2) * f + p3) * f + p4) * f + p5) * f + np.float32(1.0)
        bits[t] = (np.int32(n) + np.int32(127)) << 23
    for t in range(m):
        a[t] *= scale[t]


@nb.njit(**_JIT)
def _layer_norm(x, gain, bias, eps, out):
    """out = (x − mean) / √(var + eps) · gain + bias per row (biased variance)."""
    B, d = x.shape
    for b in range(B):
        mean = np.float32(0.0)
        for i in range(d):
            mean += x[b, i]
        mean /= np.float32(d)
        var = np.float32(0.0)
        for i in range(d):
            c = x[b, i] - mean
            var += c * c
        var /= np.float32(d)
        inv = np.float32(1.0) / np.sqrt(var + eps)
        for i in range(d):
            out[b, i] = (x[b, i] - mean) * inv * gain[i] + bias[i]


@nb.njit(**_JIT)
def _attend(q, k_pool, v_pool, slots, length, scores, bits, scale, out):
    """One row of one layer: out[h] = softmax_t(q[h] · K[slots[t], h]) V[slots[t], h] over
    t < length, for every head h. q, out: (H, d_head); k/v_pool: (S, H, d_head) this layer's
    slots; scores: (H, ≥ length) scratch. Each slot's keys (all heads) are one contiguous row."""
    H, dh = q.shape
    for t in range(length):
        key = k_pool[slots[t]]
        for h in range(H):
            s = np.float32(0.0)
            for i in range(dh):
                s += q[h, i] * key[h, i]
            scores[h, t] = s
    for h in range(H):
        row = scores[h]
        top = np.float32(-np.inf)
        for t in range(length):
            top = max(top, row[t])
        for t in range(length):
            row[t] -= top
        _exp(row, length, bits, scale)
        total = np.float32(0.0)
        for t in range(length):
            total += row[t]
        inv = np.float32(1.0) / total
        for t in range(length):
            row[t] *= inv
        for i in range(dh):
            out[h, i] = 0.0
    for t in range(length):
        value = v_pool[slots[t]]
        for h in range(H):
            a = scores[h, t]
            for i in range(dh):
                out[h, i] += a * value[h, i]


@nb.njit(**_JIT)
def decode_step(
    wte, wpe, ln_1, mats, offsets, in_out, qkv_b, o_b, ln_2, fc_b, p_b, ln_f, head_t, head_b,
    scale, eps, idx, positions, slots, k_pool, v_pool, logprobs, queries,
):  # fmt: skip
    """One token per row: idx (B,) at window positions ``positions`` (B,). ``slots`` (B, ≥
    max position + 1): row b's keys and values are in pool slots slots[b, :positions[b]], and
    its new ones are written to slot slots[b, positions[b]] of k/v_pool (L, S, H, d_head).
    Writes log p (B, V) float64 into ``logprobs`` and each layer's query, times ``scale``
    (1/√d_head), into ``queries`` (L, B, H, d_head). The weights: see ``fastpath.StepWeights``
    (``ln_*``: (…, 2, d) gain and bias; ``mats``, ``offsets``, ``in_out``: the block matrices)."""
    L, _, H, dh = k_pool.shape
    B = idx.shape[0]
    d = wte.shape[1]
    longest = 1
    for b in range(B):
        longest = max(longest, positions[b] + 1)
    eps32 = np.float32(eps)
    scale32 = np.float32(scale)
    x = np.empty((B, d), np.float32)
    n = np.empty((B, d), np.float32)
    qkv = np.empty((B, 3 * d), np.float32)
    att = np.empty((B, d), np.float32)
    hidden = np.empty((B, 4 * d), np.float32)
    delta = np.empty((B, d), np.float32)
    scores = np.empty((H, longest), np.float32)
    gelu = np.empty(4 * d, np.float32)
    bits = np.empty(max(longest, 4 * d), np.int32)  # scratch of ``_exp``
    powers = bits.view(np.float32)
    for b in range(B):
        for i in range(d):
            x[b, i] = wte[idx[b], i] + wpe[positions[b], i]
    c1 = np.float32(_GELU_C)
    c3 = np.float32(0.044715 * _GELU_C)
    for layer in range(L):
        _layer_norm(x, ln_1[layer, 0], ln_1[layer, 1], eps32, n)
        _linear(n, mats, offsets[layer, 0], 3 * d, in_out, qkv_b[layer], qkv)
        k_layer, v_layer = k_pool[layer], v_pool[layer]
        for b in range(B):
            new = slots[b, positions[b]]
            q = qkv[b, :d].reshape((H, dh))
            q *= scale32
            k_layer[new] = qkv[b, d : 2 * d].reshape((H, dh))
            v_layer[new] = qkv[b, 2 * d :].reshape((H, dh))
            queries[layer, b] = q
            _attend(q, k_layer, v_layer, slots[b], positions[b] + 1, scores, bits, powers,
                    att[b].reshape((H, dh)))  # fmt: skip
        _linear(att, mats, offsets[layer, 1], d, in_out, o_b[layer], delta)
        x += delta
        _layer_norm(x, ln_2[layer, 0], ln_2[layer, 1], eps32, n)
        _linear(n, mats, offsets[layer, 2], 4 * d, in_out, fc_b[layer], hidden)
        for b in range(B):  # GELU(u) = ½u(1 + tanh z) = u / (1 + e^(−2z)), z = c₁u + c₃u³
            row = hidden[b]
            for j in range(4 * d):
                u = row[j]
                gelu[j] = np.float32(-2.0) * u * (c1 + c3 * u * u)
            _exp(gelu, 4 * d, bits, powers)
            for j in range(4 * d):
                row[j] /= np.float32(1.0) + gelu[j]
        _linear(hidden, mats, offsets[layer, 3], d, in_out, p_b[layer], delta)
        x += delta
    _layer_norm(x, ln_f[0], ln_f[1], eps32, n)
    V = head_t.shape[0]
    z = np.empty((B, V), np.float32)
    _affine(n, head_t, head_b, z)
    for b in range(B):  # log-softmax in float64
        top = -np.inf
        for j in range(V):
            top = max(top, np.float64(z[b, j]))
        total = 0.0
        for j in range(V):
            total += np.exp(np.float64(z[b, j]) - top)
        lse = top + np.log(total)
        for j in range(V):
            logprobs[b, j] = np.float64(z[b, j]) - lse


@nb.njit(**_JIT)
def extend_step(
    wte, wpe, ln_1, mats, offsets, in_out, qkv_b, o_b, ln_2, fc_b, p_b, ln_f, head_t, head_b,
    scale, eps, idx, lengths, old_slots, old_ids, first, slots, ids, k_pool, v_pool, logprobs,
    queries,
):  # fmt: skip
    """``TransformerLM.extend``'s usual case in one call: row b's window grows by token
    idx[b] read into the new slot first + b. ``slots``/``ids`` (B, W + 1) receive the old
    (B, W) ones with the new entry at lengths[b] (0 past it); then ``decode_step``."""
    B, W = old_slots.shape
    for b in range(B):
        n = lengths[b]
        for t in range(n):
            slots[b, t] = old_slots[b, t]
            ids[b, t] = old_ids[b, t]
        slots[b, n] = first + b
        ids[b, n] = idx[b]
        for t in range(n + 1, W + 1):
            slots[b, t] = 0
            ids[b, t] = 0
    decode_step(wte, wpe, ln_1, mats, offsets, in_out, qkv_b, o_b, ln_2, fc_b, p_b, ln_f,
                head_t, head_b, scale, eps, idx, lengths, slots, k_pool, v_pool, logprobs,
                queries)  # fmt: skip


def disabled() -> bool:
    """``ARLM_NO_JIT=1`` turns the compiled step off (torch calls run it instead)."""
    return os.environ.get("ARLM_NO_JIT", "") not in ("", "0")
