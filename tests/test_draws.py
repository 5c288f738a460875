"""Sampling's uniform draws: ``draws.step_draw`` is numpy's ``default_rng([seed, step])``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlm_tui.decoding import draws


def expected(seed: int, step: int) -> float:
    return float(np.random.default_rng([seed, step]).random())


@pytest.mark.parametrize("seed", [0, 1, 7, 12345, 2**32 - 1, 2**32, 2**40 + 5, 2**100 + 3])
def test_a_block_equals_default_rng_bit_for_bit(seed):
    steps = np.arange(0, draws.BLOCK + 10)
    got = draws._uniforms(seed, steps)
    assert got.tolist() == [expected(seed, int(i)) for i in steps]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**70), step=st.integers(0, 2**32 - 1))
def test_any_seed_and_step(seed, step):
    assert draws.step_draw(seed, step) == expected(seed, step)


def test_steps_beyond_32_bits_fall_back_to_numpy():
    assert draws.step_draw(3, 2**33 + 1) == expected(3, 2**33 + 1)


def test_a_negative_seed_is_refused_as_numpy_refuses_it():
    with pytest.raises(ValueError, match="non-negative"):
        draws.step_draw(-1, 0)
    with pytest.raises(ValueError):
        np.random.default_rng([-1, 0])


def test_blocks_are_cached_and_the_cache_stays_small():
    draws._cache.clear()
    for seed in range(100):
        draws.step_draw(seed, 5)
    assert len(draws._cache) == 64
    block = draws._cache[(99, 0)]
    assert draws.step_draw(99, 7) == block[7]
