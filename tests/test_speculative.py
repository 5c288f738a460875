"""Speculative decoding gives exactly the target's distribution, whatever the draft."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from arlm_tui.decoding.speculative import (
    model_distribution,
    residual_distribution,
    same_vocabulary,
    speculative_generate,
    speculative_round,
)
from arlm_tui.lm.table import random_model


def cached(model, **warp_knobs):
    table: dict[tuple[int, ...], np.ndarray] = {}
    dist = model_distribution(model, **warp_knobs)

    def distribution(context):
        key = tuple(context)
        if key not in table:
            table[key] = dist(context)
        return table[key]

    return distribution


def exact_joint(p, eos_id, vocab_size):
    """P(first two emitted tokens) under p; a text that ends at once is (eos, None)."""
    joint = {}
    first = p([])
    for a in range(vocab_size):
        if first[a] == 0:
            continue
        if a == eos_id:
            joint[(a, None)] = first[a]
            continue
        second = p([a])
        for b in range(vocab_size):
            if second[b] > 0:
                joint[(a, b)] = first[a] * second[b]
    return joint


def chi_square(counts: Counter, expected_probs: dict, n: int) -> tuple[float, int]:
    stat = 0.0
    for cell, prob in expected_probs.items():
        expected = n * prob
        stat += (counts.get(cell, 0) - expected) ** 2 / expected
    unexpected = sum(c for cell, c in counts.items() if cell not in expected_probs)
    return (math.inf if unexpected else stat), len(expected_probs) - 1


def critical_value(df: int, z: float = 3.719) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile (z = 3.719: alpha = 1e-4)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def sample_pairs(target, draft, n, k, eos_id):
    counts: Counter = Counter()
    for seed in range(n):
        ids = speculative_generate(target, draft, [], k=k, max_tokens=2, seed=seed,
                                   eos_id=eos_id).ids
        counts[(ids[0], ids[1] if len(ids) > 1 else None)] += 1
    return counts


@pytest.mark.parametrize("k, warp", [(3, {}), (2, {"temperature": 0.7, "top_k": 3})])
def test_output_distribution_is_the_targets(k, warp):
    target_model = random_model(6, order=2, seed=11, concentration=0.8)
    draft_model = random_model(6, order=2, seed=29, concentration=0.8)
    assert same_vocabulary(target_model, draft_model)
    target, draft = cached(target_model, **warp), cached(draft_model)
    eos = target_model.eos_id
    n = 6000
    counts = sample_pairs(target, draft, n, k, eos)

    stat, df = chi_square(counts, exact_joint(target, eos, target_model.vocab_size), n)
    assert stat < critical_value(df), (stat, df)
    # The test has power: the same samples are far from the draft's own distribution.
    stat_draft, df_draft = chi_square(counts, exact_joint(draft, eos, 6), n)
    assert stat_draft > 10 * critical_value(df_draft)


def test_identical_draft_is_always_accepted():
    model = random_model(7, order=2, seed=3)
    p = cached(model)
    result = speculative_generate(p, p, [], k=4, max_tokens=30, seed=5, eos_id=None)
    assert result.acceptance_rate == 1.0
    assert all(r.outcome == "bonus" for r in result.rounds)
    assert result.tokens_per_target_call == pytest.approx(5.0)


def test_a_token_the_target_forbids_is_always_rejected():
    vocab = 5
    p = np.array([0.0, 0.0, 0.5, 0.5, 0.0])
    q = np.array([0.0, 0.0, 0.0, 0.0, 1.0])  # the draft always proposes id 4, p(4) = 0
    rng = np.random.default_rng(0)
    for _ in range(50):
        rnd = speculative_round(lambda c: p, lambda c: q, [], 3, rng)
        assert rnd.outcome == "resampled"
        assert len(rnd.proposals) == 1 and not rnd.proposals[0].accepted
        assert rnd.proposals[0].accept_prob == 0.0
        assert rnd.emitted_ids[0] in (2, 3) and len(rnd.emitted_ids) == 1
    assert vocab == p.size


def test_residual_distribution():
    p = np.array([0.5, 0.3, 0.2])
    q = np.array([0.2, 0.5, 0.3])
    np.testing.assert_allclose(residual_distribution(p, q), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(residual_distribution(p, p), p)
    with pytest.raises(ValueError, match="same shape"):
        residual_distribution(p, q[:2])


def test_drafted_end_of_text_stops_the_round_and_k_is_checked():
    eos = 2
    q = np.array([0.0, 0.0, 1.0, 0.0])
    p = np.array([0.0, 0.0, 0.5, 0.5])
    rng = np.random.default_rng(1)
    outcomes = set()
    for _ in range(40):
        rnd = speculative_round(lambda c: p, lambda c: q, [], 4, rng, eos_id=eos)
        assert rnd.drafted == 1
        outcomes.add(rnd.outcome)
        if rnd.outcome == "eos":
            assert rnd.emitted_ids == [eos]
        else:
            assert rnd.emitted_ids == [3]
    assert outcomes == {"eos", "resampled"}
    with pytest.raises(ValueError, match="k must be"):
        speculative_round(lambda c: p, lambda c: q, [], 0, rng)
