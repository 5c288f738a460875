"""The uniform draws of sampling, many steps at a time.

Step i of a generation with seed s draws u = ``np.random.default_rng([s, i]).random()``: a
choice depends only on (seed, step, distribution), so undo, redo and replay repeat it. Building
a generator costs ~10 µs (and ~40 µs inside a generation loop, whose other work has pushed
numpy's seeding code out of the CPU caches), more than the rest of a sampling step's
arithmetic. This module computes the same numbers for 256 steps at once with array arithmetic,
following numpy's algorithms step by step (``SeedSequence`` hashing, then ``PCG64``'s seeding
and first output, then ``Generator.random``'s 53-bit conversion); a test checks it against
``default_rng`` itself, bit for bit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

BLOCK = 256
_U32 = np.uint32
_U64 = np.uint64
# SeedSequence's hash constants (numpy/random/bit_generator.pyx)
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
# PCG64's 128-bit multiplier, as two 64-bit halves
_PCG_MULT = (2549297995355413924 << 64) + 4865540595714422341
_M_HI, _M_LO = _U64(_PCG_MULT >> 64), _U64(_PCG_MULT & (2**64 - 1))
_LO32 = _U64(0xFFFFFFFF)

_cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
_lock = threading.Lock()


def _words(n: int) -> list[int]:
    """A non-negative int as little-endian 32-bit words, as numpy coerces seeds (0 → [0])."""
    if n < 0:
        raise ValueError(f"seed must be a non-negative integer, got {n}")
    out = [n & 0xFFFFFFFF]
    n >>= 32
    while n:
        out.append(n & 0xFFFFFFFF)
        n >>= 32
    return out


class _Hash:
    """SeedSequence's running hash constant and ``hashmix`` over arrays of words."""

    def __init__(self) -> None:
        self.const = _INIT_A

    def mix(self, value: np.ndarray) -> np.ndarray:
        value = value ^ _U32(self.const)
        self.const = (self.const * _MULT_A) & 0xFFFFFFFF
        value = value * _U32(self.const)
        return value ^ (value >> _U32(16))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = _U32(_MIX_L) * x - _U32(_MIX_R) * y
    return result ^ (result >> _U32(16))


def _pool(entropy: list[np.ndarray]) -> list[np.ndarray]:
    """SeedSequence.mix_entropy for a batch: entropy words (each an array over the batch)."""
    h = _Hash()
    zero = np.zeros_like(entropy[0])
    pool = [h.mix(entropy[i] if i < len(entropy) else zero) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = _mix(pool[dst], h.mix(pool[src]))
    for src in range(_POOL, len(entropy)):
        for dst in range(_POOL):
            pool[dst] = _mix(pool[dst], h.mix(entropy[src]))
    return pool


def _state_words(pool: list[np.ndarray]) -> list[np.ndarray]:
    """SeedSequence.generate_state(4, uint64): four 64-bit words from eight 32-bit ones."""
    const = _INIT_B
    words32 = []
    for i in range(8):
        value = pool[i % _POOL] ^ _U32(const)
        const = (const * _MULT_B) & 0xFFFFFFFF
        value = value * _U32(const)
        words32.append(value ^ (value >> _U32(16)))
    return [words32[2 * i].astype(_U64) | (words32[2 * i + 1].astype(_U64) << _U64(32))
            for i in range(4)]  # fmt: skip


def _mul_hi(a: np.ndarray, b: np.uint64) -> np.ndarray:
    """The high 64 bits of the 128-bit products a·b (uint64 arrays, via 32-bit halves)."""
    a_lo, a_hi = a & _LO32, a >> _U64(32)
    b_lo, b_hi = b & _LO32, b >> _U64(32)
    lo_lo = a_lo * b_lo
    mid1 = a_hi * b_lo + (lo_lo >> _U64(32))
    mid2 = a_lo * b_hi + (mid1 & _LO32)
    return a_hi * b_hi + (mid1 >> _U64(32)) + (mid2 >> _U64(32))


def _step(hi: np.ndarray, lo: np.ndarray, inc_hi: np.ndarray, inc_lo: np.ndarray):
    """PCG's state update s ← s·M + inc, mod 2^128, on (hi, lo) halves."""
    new_lo = lo * _M_LO
    new_hi = hi * _M_LO + lo * _M_HI + _mul_hi(lo, _M_LO)
    out_lo = new_lo + inc_lo
    carry = (out_lo < new_lo).astype(_U64)
    return new_hi + inc_hi + carry, out_lo


def _uniforms(seed: int, steps: np.ndarray) -> np.ndarray:
    """default_rng([seed, step]).random() for every step in ``steps`` (each < 2**32)."""
    with np.errstate(over="ignore"):  # every product here is meant to wrap around
        entropy = [np.full(len(steps), w, dtype=_U32) for w in _words(int(seed))]
        entropy.append(steps.astype(_U32))
        s_hi, s_lo, i_hi, i_lo = _state_words(_pool(entropy))
        # pcg64_set_seed: inc = (initseq << 1) | 1; state = 0; step; state += initstate; step
        inc_hi = (i_hi << _U64(1)) | (i_lo >> _U64(63))
        inc_lo = (i_lo << _U64(1)) | _U64(1)
        zero = np.zeros_like(s_hi)
        hi, lo = _step(zero, zero, inc_hi, inc_lo)
        lo2 = lo + s_lo
        hi = hi + s_hi + (lo2 < lo).astype(_U64)
        hi, lo = _step(hi, lo2, inc_hi, inc_lo)
        # next64: step, then XSL-RR output: rotate (hi ^ lo) right by hi >> 58
        hi, lo = _step(hi, lo, inc_hi, inc_lo)
        value = hi ^ lo
        rot = hi >> _U64(58)
        out = (value >> rot) | (value << ((_U64(64) - rot) & _U64(63)))
    return (out >> _U64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def step_draw(seed: int, step_index: int) -> float:
    """u for step ``step_index`` of seed ``seed``: ``default_rng([seed, step]).random()``,
    from a cached block of 256 steps."""
    seed, step_index = int(seed), int(step_index)
    if not 0 <= step_index < 2**32:
        return float(np.random.default_rng([seed, step_index]).random())
    key = (seed, step_index // BLOCK)
    block = _cache.get(key)
    if block is None:
        first = key[1] * BLOCK
        block = _uniforms(seed, np.arange(first, first + BLOCK, dtype=np.int64))
        with _lock:
            _cache[key] = block
            while len(_cache) > 64:
                _cache.popitem(last=False)
    return float(block[step_index % BLOCK])
