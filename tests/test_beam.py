"""Beam search against exact enumeration, the greedy trap, batching and the BeamStep records."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import CountingModel
from hypothesis import given, settings
from hypothesis import strategies as st

from arlm_tui.decoding import (
    BeamSearch,
    DecodingConfig,
    beam_search,
    exact_search,
    generate_ids,
    greedy,
)
from arlm_tui.lm.base import EOS
from arlm_tui.lm.table import TableModel, greedy_trap_model, random_model


def sequence_logprob(model, prompt, ids):
    """Σ log p(w_t | prompt, w_<t), straight from next_logprobs."""
    total, context = 0.0, list(prompt)
    for w in ids:
        total += model.next_logprobs(context)[w]
        context.append(w)
    return total


def words(model, ids):
    return [model.vocab[i] for i in ids]


# ------------------------------------------------------------------------------ the greedy trap
def test_greedy_misses_the_most_probable_sequence_on_the_trap():
    trap = greedy_trap_model()
    best_ids, best_score = exact_search(trap, [], 4, length_penalty=0.0)[0]
    assert words(trap, best_ids) == ["a", "dog", EOS] and math.isclose(best_score, math.log(0.36))
    g = greedy(trap, [])
    assert words(trap, g.ids) == ["the", "dog", EOS]
    assert math.isclose(g.logprob, math.log(0.175)) and g.logprob < best_score
    ids, score = beam_search(trap, [], width=2, max_tokens=4, length_penalty=0.0)[0]
    assert ids == best_ids and math.isclose(score, best_score)
    assert beam_search(trap, [], width=1, max_tokens=4, length_penalty=0.0)[0][0] == g.ids


# ------------------------------------------------------------------------------ beam == exact
@settings(max_examples=60, deadline=None)
@given(
    vocab_size=st.integers(4, 5),
    order=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    max_tokens=st.integers(1, 4),
    length_penalty=st.sampled_from([0.0, 0.5, 1.0, 2.0, -1.0]),
    min_tokens=st.integers(0, 2),
    early_stopping=st.booleans(),
    prompt=st.lists(st.integers(3, 3), max_size=2),
)
def test_wide_beam_equals_exact_enumeration(
    vocab_size, order, seed, max_tokens, length_penalty, min_tokens, early_stopping, prompt
):
    model = random_model(vocab_size, order=order, seed=seed, concentration=0.7)
    exact = exact_search(model, prompt, max_tokens, length_penalty, min_tokens=min_tokens)
    width = vocab_size**max_tokens  # keeps every hypothesis
    beam = beam_search(model, prompt, width, max_tokens, length_penalty,
                       early_stopping=early_stopping, min_tokens=min_tokens)
    assert [ids for ids, _ in beam] == [ids for ids, _ in exact]
    assert np.allclose([s for _, s in beam], [s for _, s in exact], rtol=1e-12, atol=1e-12)
    for ids, score in exact[:5]:
        assert ids[-1] == model.eos_id or len(ids) == max_tokens
        assert model.eos_id not in ids[:min_tokens]
        logprob = sequence_logprob(model, prompt, ids)
        assert math.isclose(score, logprob / len(ids) ** length_penalty, rel_tol=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), width=st.integers(1, 4), alpha=st.sampled_from([0.0, 1.0]))
def test_narrow_beam_results_are_scored_correctly_and_sorted(seed, width, alpha):
    model = random_model(6, order=2, seed=seed)
    results = beam_search(model, [], width, 6, alpha)
    assert 1 <= len(results) <= width
    scores = [s for _, s in results]
    assert scores == sorted(scores, reverse=True)
    best_exact = exact_search(model, [], 6, alpha, limit=10**6)[0][1]
    for ids, score in results:
        expected = sequence_logprob(model, [], ids) / len(ids) ** alpha
        assert math.isclose(score, expected, rel_tol=1e-9) and score <= best_exact + 1e-12
    # continuing past the first `width` finished hypotheses can only improve the best
    patient = beam_search(model, [], width, 6, alpha, early_stopping=False)
    assert patient[0][1] >= results[0][1] - 1e-12


def test_length_penalty_changes_the_winner():
    # "x </s>" has p = 0.5; "y y y </s>" has p = 0.5 · 0.9 · 0.9 · 1 ≈ 0.41 but is longer
    table = {
        ("<s>",): {"x": 0.5, "y": 0.5},
        ("x",): {EOS: 1.0},
        ("y",): {"y": 0.9, EOS: 0.1},
    }
    m = TableModel(["x", "y"], 2, table)
    raw = beam_search(m, [], 3, 4, length_penalty=0.0)
    assert words(m, raw[0][0]) == ["x", EOS]
    # early stopping ends the search once 3 hypotheses have finished, before "y y y y" is seen
    hasty = beam_search(m, [], 3, 4, length_penalty=1.0)
    assert words(m, hasty[0][0]) == ["x", EOS]
    normalised = beam_search(m, [], 3, 4, length_penalty=1.0, early_stopping=False)
    assert words(m, normalised[0][0]) == ["y", "y", "y", "y"]  # cut at max_tokens
    assert math.isclose(normalised[0][1], math.log(0.5 * 0.9**3) / 4)


# ------------------------------------------------------------------------------ BeamSearch
def test_beam_search_is_batched_one_select_and_extend_per_step():
    m = CountingModel(["w3", "w4", "w5"], 2, {}, name="uniform")
    search = BeamSearch(m, [], DecodingConfig(strategy="beam", beam_width=3, max_tokens=5,
                                              early_stopping=False))
    steps = search.run()
    assert search.done and len(steps) >= 2
    assert m.calls["start"] == 1
    assert m.calls["extend"] == m.calls["select"] == len(steps) - 1


def test_beam_step_records():
    m = random_model(7, order=2, seed=3)
    search = BeamSearch(m, [], DecodingConfig(strategy="beam", beam_width=3, max_tokens=6))
    step = search.step()
    assert step.step == 0 and step.num_candidates == 6  # 7 tokens minus <s>, one beam
    assert len(step.survivors) == 3 and len(step.finished) <= 3
    logprobs = [h.logprob for h in step.survivors]
    assert logprobs == sorted(logprobs, reverse=True)
    shown = {(c.parent, c.token_id) for c in step.candidates}
    for h in step.survivors:
        assert (h.parent, h.ids[-1]) in shown
    pruned = {(c.parent, c.token_id) for c in step.pruned}
    assert not pruned & {(h.parent, h.ids[-1]) for h in step.survivors}
    second = search.step()
    assert second.num_candidates == 6 * len(step.survivors)
    for h in second.survivors:
        parent = step.survivors[h.parent]
        assert h.ids[:-1] == parent.ids
        assert math.isclose(h.logprob, sequence_logprob(m, [], h.ids))
    scores = [h.score for h in search.finished]
    assert scores == sorted(scores, reverse=True)
    assert step.to_dict()["survivors"][0]["ids"] == step.survivors[0].ids


def test_beam_trace_describes_the_best_hypothesis():
    trap = greedy_trap_model()
    search = BeamSearch(trap, [], DecodingConfig(strategy="beam", beam_width=2, max_tokens=4,
                                                 length_penalty=0.0))
    traces = []
    while not search.done:
        traces.append(search.step_trace())
    assert [t.strategy for t in traces] == ["beam"] * len(traces)
    assert all(t.beam is not None and not t.forced for t in traces)
    assert traces[0].chosen_token == "the"  # the most probable first word...
    last = traces[-1]
    assert last.beam.done and words(trap, search.best.ids) == ["a", "dog", EOS]
    assert last.chosen_token == EOS and math.isclose(last.cum_logprob, math.log(0.36))
    assert last.context_ids == trap.tokenizer.encode("a dog")
    assert np.allclose(last.raw_logprobs, trap.next_logprobs(last.context_ids))
    result = generate_ids(trap, [], DecodingConfig(strategy="beam", beam_width=2, max_tokens=4,
                                                   length_penalty=0.0))
    assert words(trap, result.ids) == ["a", "dog", EOS] and result.finished
    assert math.isclose(result.logprob, math.log(0.36))


def test_beam_applies_min_tokens_and_no_repeat():
    m = random_model(6, order=1, seed=1, concentration=0.3)
    config = DecodingConfig(strategy="beam", beam_width=2, max_tokens=4, min_tokens=3,
                            no_repeat_ngram=1)
    results = BeamSearch(m, [], config).results()
    for ids, _ in results:
        assert m.eos_id not in ids[:3]
        assert len(set(ids)) == len(ids)


def test_argument_errors():
    m = greedy_trap_model()
    with pytest.raises(ValueError, match="width"):
        beam_search(m, [], 0, 4)
    with pytest.raises(ValueError, match="n_best"):
        beam_search(m, [], 2, 4, n_best=3)
    with pytest.raises(ValueError, match="max_tokens.*limit"):
        exact_search(m, [], 20)
    with pytest.raises(ValueError, match="prompt_ids"):
        beam_search(m, [99], 2, 4)
