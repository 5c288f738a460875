"""Mirostat v2, logit bias and stop strings: worked examples by hand, properties, and their
state through a Session (undo, redo, save and replay)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlm_tui.decoding import DecodingConfig, Mirostat, Session, explain, softmax
from arlm_tui.lm.table import TableModel

WORDS = ["a", "b", "c", "d", "e"]
#: surprises -log2 p: 1, 2, 3, 4, 4 bits
HALVES = {"a": 0.5, "b": 0.25, "c": 0.125, "d": 0.0625, "e": 0.0625}


@pytest.fixture
def halves() -> TableModel:
    """Every context gives the same distribution HALVES (and </s> never)."""
    return TableModel(WORDS, 1, {}, default=HALVES, name="halves")


def ids(model, *words):
    return [model.tokenizer.encode(w)[0] for w in words]


# ------------------------------------------------------------------------------ mirostat
def test_mirostat_cuts_by_surprise_in_bits():
    z = np.log(np.array([0.5, 0.25, 0.125, 0.0625, 0.0625]))
    m = Mirostat(1.5, 0.1)  # μ starts at 2τ = 3 bits: keeps surprise <= 3, i.e. p >= 1/8
    assert m.mu == 3.0
    assert np.isfinite(m(None, z)).tolist() == [True, True, True, False, False]
    m.mu = 1.0  # only the 1-bit token is allowed
    assert np.isfinite(m(None, z)).tolist() == [True, False, False, False, False]
    m.mu = -5.0  # nothing is allowed: the most probable token stays
    assert np.isfinite(m(None, z)).tolist() == [True, False, False, False, False]
    assert "μ = -5.00 bits" in m.label


def test_mirostat_updates_mu_by_hand(halves):
    """τ = 1.5, η = 0.1: μ₀ = 3 keeps a, b, c (p ≥ 1/8), renormalised to 4/7, 2/7, 1/7.
    Choosing b: surprise -log2(2/7) = log2 3.5 ≈ 1.80736 bits (the renormalised p, as llama.cpp
    does), so μ₁ = 3 - 0.1·(1.8074 - 1.5) ≈ 2.96926; μ₁ < 3 now cuts c (exactly 3 bits)."""
    a, b, c = ids(halves, "a", "b", "c")
    s = Session(halves, "a", strategy="sample", mirostat_tau=1.5, mirostat_eta=0.1, seed=3)
    first = s.force("b")
    step = first.mirostat
    assert step.mu_before == 3.0 and step.tau == 1.5 and step.eta == 0.1
    assert first.chosen_prob == pytest.approx(2 / 7)
    assert step.surprise == pytest.approx(math.log2(3.5))
    mu1 = 3.0 - 0.1 * (math.log2(3.5) - 1.5)
    assert step.mu_after == pytest.approx(mu1)
    assert mu1 == pytest.approx(2.969264, abs=1e-6)
    second = s.preview()
    assert second.mirostat.mu_before == pytest.approx(mu1)
    assert np.flatnonzero(second.final_probs).tolist() == [a, b]  # c (3 bits > μ₁) is cut
    assert second.removed_by.get(c) == "mirostat"
    # a choice of a (surprise log2(3/2) ≈ 0.585 < τ) raises μ again
    third = s.force("a")
    surprise = math.log2(1.5)
    assert third.mirostat.mu_after == pytest.approx(mu1 - 0.1 * (surprise - 1.5))
    line = explain(third)
    assert "mirostat μ 2.97 → 3.06 bits" in line and "target τ = 1.5" in line
    data = third.to_dict()
    assert data["mirostat"]["mu_before"] == pytest.approx(mu1)


def test_a_forced_token_mirostat_removed_leaves_mu_alone(halves):
    s = Session(halves, "a", strategy="sample", mirostat_tau=0.5, seed=1)  # μ = 1: only a
    trace = s.force("d")
    assert trace.mirostat.surprise is None
    assert trace.mirostat.mu_after == trace.mirostat.mu_before == 1.0
    assert "μ stays 1.00 bits" in explain(trace)


def test_mu_restarts_from_2tau_when_tau_changes_or_mirostat_was_off(halves):
    s = Session(halves, "a", strategy="sample", mirostat_tau=2.0, seed=4)
    s.step()
    s.step()
    assert s.last_trace.mirostat.mu_before != 4.0  # it has learned
    s.configure(mirostat_eta=0.5)  # η changes: μ carries on
    assert s.preview().mirostat.mu_before == s.last_trace.mirostat.mu_after
    s.configure(mirostat_tau=1.0)  # τ changes: a new controller
    assert s.step().mirostat.mu_before == 2.0
    s.configure(mirostat_tau=0.0)
    assert s.step().mirostat is None
    s.configure(mirostat_tau=1.0)
    assert s.step().mirostat.mu_before == 2.0


def test_undo_redo_and_replay_restore_mu():
    from arlm_tui.lm.registry import load_model

    model = load_model("oracle-kn3")
    knobs = dict(strategy="sample", mirostat_tau=3.0, mirostat_eta=0.3, seed=8, max_tokens=30,
                 min_tokens=30)
    s = Session(model, "the", **knobs)
    for _ in range(12):
        s.step()
    mus = [t.mirostat.mu_after for t in s.traces]
    assert len(set(mus)) > 5  # μ moved
    s.undo()
    s.undo()
    assert s.preview().mirostat.mu_before == mus[9]
    s.redo()
    assert s.last_trace.mirostat.mu_after == mus[10]
    s.undo()
    again = s.step()  # the same step again: the same μ, draw and choice
    assert again.mirostat.mu_after == mus[10]
    while s.step() is not None:
        pass
    loaded = Session.from_json(s.to_json(), model=model)  # ReplayError if a choice differs
    assert [t.mirostat.mu_after for t in loaded.traces] == [t.mirostat.mu_after
                                                             for t in s.traces]
    assert [t.chosen_id for t in s.replay()] == [t.chosen_id for t in s.traces]
    fresh = Session(model, "the", **knobs)
    while fresh.step() is not None:
        pass
    assert fresh.generated_ids == s.generated_ids
    step = json.loads(s.to_json())["steps"][3]["trace"]["mirostat"]
    assert step["mu_before"] == pytest.approx(s.traces[3].mirostat.mu_before)
    plain = Session(model, "the", **{**knobs, "mirostat_tau": 0.0})
    while plain.step() is not None:
        pass
    assert plain.generated_ids != s.generated_ids  # it does change the text


@settings(max_examples=200, deadline=None)
@given(z=st.lists(st.floats(-30.0, 10.0), min_size=1, max_size=40),
       mu=st.floats(-20.0, 40.0), tau=st.floats(0.01, 20.0))
def test_mirostat_never_empties_the_kept_set(z, mu, tau):
    logits = np.array(z)
    m = Mirostat(tau)
    m.mu = mu
    out = m(None, logits)
    left = np.isfinite(out)
    assert left.any()
    assert left[int(np.argmax(logits))]  # the most probable token is always among them
    probs = softmax(logits)
    surprise = -np.log2(probs)
    assert np.all(surprise[left] <= mu) or left.sum() == 1
    np.testing.assert_array_equal(out[left], logits[left])


def test_mirostat_knobs_are_checked():
    with pytest.raises(ValueError, match="mirostat_tau"):
        DecodingConfig(mirostat_tau=-1)
    with pytest.raises(ValueError, match="mirostat_eta"):
        DecodingConfig(mirostat_eta=2)
    assert DecodingConfig(strategy="greedy", mirostat_tau=5.0).ignored_knobs() == ["mirostat_tau"]
