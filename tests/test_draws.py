"""Sampling's uniform draws: step i of seed s is number i of numpy's ``default_rng(s)``;
version 1 (sessions saved in format 1) is ``default_rng([s, i]).random()``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlm_tui.decoding import draws


def stream(seed: int, n: int) -> list[float]:
    return np.random.default_rng(seed).random(n).tolist()


@pytest.mark.parametrize("seed", [0, 1, 7, 12345, 2**32 - 1, 2**32, 2**40 + 5, 2**100 + 3])
def test_the_steps_read_default_rng_in_order_bit_for_bit(seed):
    n = 2 * draws.BLOCK + 10  # three blocks, the last one partly
    assert [draws.step_draw(seed, i) for i in range(n)] == stream(seed, n)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**70), step=st.integers(0, 2**40))
def test_any_step_is_reached_directly(seed, step):
    bits = np.random.PCG64(seed)
    bits.advance(step)
    assert draws.step_draw(seed, step) == np.random.Generator(bits).random()


def test_a_far_step_equals_reading_the_stream_up_to_it():
    assert draws.step_draw(9, 5000) == stream(9, 5001)[-1]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**70), step=st.integers(0, 2**40))
def test_version_1_is_a_generator_per_step(seed, step):
    expected = float(np.random.default_rng([seed, step]).random())
    assert draws.step_draw(seed, step, version=1) == expected


def test_the_versions_differ_and_an_unknown_one_is_refused():
    assert [draws.step_draw(3, i) for i in range(5)] != [
        draws.step_draw(3, i, version=1) for i in range(5)]
    with pytest.raises(ValueError, match="draws version"):
        draws.step_draw(3, 0, version=3)


def test_a_negative_seed_or_step_is_refused():
    with pytest.raises(ValueError, match="non-negative"):
        draws.step_draw(-1, 0)
    with pytest.raises(ValueError, match="non-negative"):
        draws.step_draw(1, -1)
    with pytest.raises(ValueError):  # as numpy refuses it
        np.random.default_rng(-1)


def test_blocks_are_cached_and_the_cache_stays_small():
    draws._cache.clear()
    for seed in range(100):
        draws.step_draw(seed, 5)
    assert len(draws._cache) == draws._CACHE_BLOCKS
    block = draws._cache[(99, 0)]
    assert draws.step_draw(99, 7) == block[7]
    assert (99, 1) not in draws._cache
    draws.step_draw(99, draws.BLOCK + 1)
    assert (99, 1) in draws._cache


def test_a_processor_stream_is_its_own_numpy_stream():
    expected = np.random.default_rng([5, draws.XTC_STREAM]).random(300)
    got = [draws.step_draw(5, i, stream=draws.XTC_STREAM) for i in (0, 7, 299)]
    assert got == [expected[0], expected[7], expected[299]]
    assert draws.step_draw(5, 7) == np.random.default_rng(5).random(8)[7]  # stream 0 unchanged
    assert draws.step_draw(5, 7, version=1, stream=draws.XTC_STREAM) == got[1]
