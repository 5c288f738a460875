"""The uniform draws of sampling: step i of seed s reads number i of one numpy stream.

Step i of a generation with seed s draws u = the i-th number of ``np.random.default_rng(s)``
(``random()``, counting from 0): a choice depends only on (seed, step, distribution), so undo,
redo and replay repeat it. numpy's own bit generator gives random access to the stream:
``PCG64(s).advance(i)`` skips i outputs in O(log i), and each ``random()`` reads exactly one
64-bit output. Blocks of 256 steps are computed at once (~10 µs, numpy's seeding is most of it)
and cached, so a generation costs well under a microsecond per step.

Version 1 of the draws (sessions saved before ``Session`` format 2) used a fresh
``default_rng([s, i])`` for each step; ``step_draw(..., version=1)`` still computes it, with
numpy itself (~10 µs a step), so an old saved session replays to the same choices.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

#: The draws used for new generations (``Session`` files record which one they used).
VERSION = 2
VERSIONS = (1, 2)
#: The stream of XTC's "does it fire at this step" draws.
XTC_STREAM = 1
BLOCK = 256
_CACHE_BLOCKS = 64

_cache: OrderedDict[tuple[int, ...], np.ndarray] = OrderedDict()
_lock = threading.Lock()


def _block(seed: int, index: int, stream: int = 0) -> np.ndarray:
    """Numbers ``index·BLOCK`` ... ``index·BLOCK + BLOCK - 1`` of ``default_rng(seed)``
    (stream 0) or of ``default_rng([seed, stream])``."""
    bits = np.random.PCG64(seed if stream == 0 else [seed, stream])
    bits.advance(index * BLOCK)
    return np.random.Generator(bits).random(BLOCK)


def step_draw(seed: int, step_index: int, version: int = VERSION, stream: int = 0) -> float:
    """u in [0, 1) for step ``step_index`` of seed ``seed``: number ``step_index`` of
    ``default_rng(seed)`` (version 2), or ``default_rng([seed, step_index]).random()``
    (version 1, the draws of sessions saved in format 1).

    ``stream``: 0 for the sampling draw; another number gives an independent stream of
    version 2, number ``step_index`` of ``default_rng([seed, stream])``, for a processor that
    needs its own randomness at each step (XTC: ``XTC_STREAM``)."""
    seed, step_index = int(seed), int(step_index)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if step_index < 0:
        raise ValueError(f"step must be a non-negative integer, got {step_index}")
    if version not in VERSIONS:
        raise ValueError(f"draws version must be one of {VERSIONS}, got {version!r}")
    if stream:
        version = VERSION  # a processor's own stream is new: always the current draws
    elif version == 1:
        return float(np.random.default_rng([seed, step_index]).random())
    key = (seed, step_index // BLOCK) + ((stream,) if stream else ())
    block = _cache.get(key)
    if block is None:
        block = _block(seed, key[1], stream)
        with _lock:
            _cache[key] = block
            while len(_cache) > _CACHE_BLOCKS:
                _cache.popitem(last=False)
    return float(block[step_index % BLOCK])
