"""Logits processors, ``warp`` and ``DecodingConfig``: Hugging Face semantics on hand examples,
validation messages, and the property that ``warp`` always returns a distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import every_processor_on
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from arlm_tui.decoding import (
    KNOBS,
    PROCESSOR_ORDER,
    XTC,
    DecodingConfig,
    Dry,
    Epsilon,
    Eta,
    FrequencyPenalty,
    MinLength,
    MinP,
    NoRepeatNGram,
    PresencePenalty,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopNSigma,
    TopP,
    TypicalP,
    make_processors,
    softmax,
    warp,
)
from arlm_tui.decoding.processors import (
    _top_p_by_full_sort,
    _typical_p_by_full_sort,
    apply_processors,
    entropy,
)

NEG = -np.inf


def logits_of(*probs: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.array(probs, dtype=np.float64))


def kept(z: np.ndarray) -> list[int]:
    return np.flatnonzero(np.isfinite(z)).tolist()


# ------------------------------------------------------------------------------ top-k
def test_top_k_keeps_ties_with_the_kth_value():
    z = np.array([3.0, 2.0, 2.0, 1.0, 2.0])
    assert kept(TopK(2)(None, z)) == [0, 1, 2, 4]
    assert kept(TopK(1)(None, z)) == [0]
    assert kept(TopK(4)(None, z)) == [0, 1, 2, 4]  # the 4th largest is 2.0; 1.0 goes
    assert kept(TopK(10)(None, z)) == [0, 1, 2, 3, 4]


def test_top_k_keeps_the_k_largest_and_leaves_values_unchanged():
    z = np.array([0.5, -1.0, 4.0, 2.0, -3.0])
    out = TopK(2)(None, z)
    assert kept(out) == [2, 3]
    assert out[2] == 4.0 and out[3] == 2.0


# ------------------------------------------------------------------------------ top-nσ
def test_top_n_sigma_worked_example():
    # logits 2, 1, 0, -1: max 2, mean 0.5, σ = sqrt((2.25 + 0.25 + 0.25 + 2.25) / 4) = 1.118
    z = np.array([2.0, 1.0, 0.0, -1.0, NEG])  # the impossible token is not in σ
    assert TopNSigma(1.0).cutoff(z) == pytest.approx(2 - math.sqrt(1.25))
    assert kept(TopNSigma(1.0)(None, z)) == [0, 1]  # cut 0.882
    assert kept(TopNSigma(2.0)(None, z)) == [0, 1, 2]  # cut -0.236
    assert kept(TopNSigma(0.5)(None, z)) == [0]  # cut 1.441
    assert kept(TopNSigma(1e-9)(None, np.array([1.0, 1.0, 0.0]))) == [0, 1]  # ties stay
    out = TopNSigma(1.0)(None, z)
    assert out[0] == 2.0 and out[1] == 1.0  # kept tokens keep their logits


@settings(max_examples=200, deadline=None)
@given(
    z=st.lists(st.floats(-30.0, 30.0), min_size=1, max_size=30),
    n=st.floats(0.01, 4.0),
    t=st.floats(0.05, 20.0),
)
def test_top_n_sigma_keeps_the_same_tokens_at_every_temperature(z, n, t):
    logits = np.array(z)
    # exact in arithmetic; in floating point a token lying on the cut (to rounding) may fall
    # either side once the logits are divided by T: such ties are not what this tests
    cut = TopNSigma(n).cutoff(logits)
    assume(np.all(np.abs(logits - cut) > 1e-9 * (1.0 + np.abs(logits).max())))
    alone = kept(TopNSigma(n)(None, logits))
    assert kept(TopNSigma(n)(None, Temperature(t)(None, logits))) == alone
    chain = make_processors(temperature=t, top_n_sigma=n)
    assert kept(apply_processors(chain, (), logits)) == alone
    # (warp's probabilities can underflow to 0 for a kept token at a tiny T: not compared)
    assert set(np.flatnonzero(warp(logits, temperature=t, top_n_sigma=n))) <= set(alone)


# ------------------------------------------------------------------------------ top-p
def test_top_p_keeps_the_token_that_crosses_p():
    z = logits_of(0.5, 0.3, 0.15, 0.05)
    assert kept(TopP(0.6)(None, z)) == [0, 1]  # 0.5 < 0.6, 0.5 + 0.3 crosses: both kept
    assert kept(TopP(0.81)(None, z)) == [0, 1, 2]
    assert kept(TopP(0.4)(None, z)) == [0]


def test_top_p_exact_boundary_is_the_smallest_set_reaching_p():
    z = logits_of(0.5, 0.3, 0.2)
    assert kept(TopP(0.8)(None, z)) == [0, 1]  # 0.5 + 0.3 = 0.8 reaches p exactly
    assert kept(TopP(0.5)(None, z)) == [0]
    assert TopP(0.8).kept_count(z) == 2


def test_top_p_order_does_not_depend_on_position():
    z = logits_of(0.05, 0.15, 0.5, 0.3)
    assert kept(TopP(0.6)(None, z)) == [2, 3]


def test_top_p_tiny_p_keeps_only_the_most_probable():
    z = logits_of(0.2, 0.5, 0.3)
    assert kept(TopP(1e-9)(None, z)) == [1]


@settings(max_examples=200, deadline=None)
@given(
    z=st.lists(st.one_of(st.floats(-20, 20), st.sampled_from([NEG, 0.0, 1.0])), min_size=1,
               max_size=400).filter(lambda v: any(math.isfinite(x) for x in v)),
    p=st.floats(1e-6, 1.0),
)
def test_top_p_partial_sort_equals_full_sort(z, p):
    z = np.array(z)
    assert kept(TopP(p)(None, z)) == kept(_top_p_by_full_sort(p, z))


# ------------------------------------------------------------------------------ min-p
def test_min_p_removes_strictly_below_threshold():
    z = logits_of(0.5, 0.25, 0.125, 0.125)
    # threshold 0.5 * 0.5 = 0.25: the token at exactly 0.25 stays
    assert kept(MinP(0.5)(None, z)) == [0, 1]
    assert kept(MinP(0.51)(None, z)) == [0]
    assert kept(MinP(0.25)(None, z)) == [0, 1, 2, 3]
    assert kept(MinP(1.0)(None, z)) == [0]


def test_min_p_is_relative_to_the_top_probability():
    flat = logits_of(0.26, 0.25, 0.25, 0.24)
    peaked = logits_of(0.9, 0.05, 0.03, 0.02)
    assert kept(MinP(0.1)(None, flat)) == [0, 1, 2, 3]
    assert kept(MinP(0.1)(None, peaked)) == [0]


# ------------------------------------------------------------------------------ typical-p
def test_typical_p_can_remove_the_most_probable_token():
    # H ≈ 1.28 nats; surprisals 0.92, 1.20, 1.61, 2.30: the 0.3 and 0.2 tokens are the most
    # typical, then the 0.4 token, then the 0.1 token
    z = logits_of(0.4, 0.3, 0.2, 0.1)
    assert kept(TypicalP(0.45)(None, z)) == [1, 2]
    assert kept(TypicalP(0.55)(None, z)) == [0, 1, 2]
    assert kept(TypicalP(0.2)(None, z)) == [1]
    assert kept(TypicalP(1.0)(None, z)) == [0, 1, 2, 3]


# ------------------------------------------------------------------------------ epsilon
def test_epsilon_drops_tokens_below_epsilon_but_keeps_the_top():
    z = logits_of(0.6, 0.3, 0.0999, 0.0001)
    assert kept(Epsilon(0.001)(None, z)) == [0, 1, 2]
    assert kept(Epsilon(0.1)(None, z)) == [0, 1]
    assert kept(Epsilon(0.99)(None, z)) == [0]


# ------------------------------------------------------------------------------ eta
def test_eta_cut_follows_the_entropy():
    # a flat distribution has a high entropy, so its cut sqrt(eps)·e^-H is below eps
    eps = 0.09
    flat = logits_of(*([0.01] * 100))  # H = ln 100: eta = 0.3 / 100 = 0.003 < 0.01: all stay
    assert kept(Eta(eps)(None, flat)) == list(range(100))
    z = logits_of(0.7, 0.25, 0.04, 0.01)
    h = -sum(p * math.log(p) for p in (0.7, 0.25, 0.04, 0.01))
    cut = min(eps, math.sqrt(eps) * math.exp(-h))  # H = 0.771: 0.3 · e^-H = 0.139 > eps, so eta = eps
    assert cut == pytest.approx(0.09)
    assert Eta(eps).cutoff(softmax(z)) == pytest.approx(cut)
    assert kept(Eta(eps)(None, z)) == [0, 1]
    assert kept(Eta(0.99)(None, z)) == [0]  # the most probable token always stays


@settings(max_examples=150, deadline=None)
@given(
    z=st.lists(st.floats(-12.0, 4.0), min_size=1, max_size=40),
    eps=st.floats(1e-5, 0.999),
    impossible=st.lists(st.booleans(), min_size=40, max_size=40),
)
def test_eta_matches_transformers_eta_warper(z, eps, impossible):
    import torch
    from hypothesis import assume
    from transformers.generation.logits_process import EtaLogitsWarper

    logits = np.array(z)
    logits[np.array(impossible[: len(z)]) & (logits < logits.max())] = NEG
    ours = Eta(eps)(None, logits)
    probs = softmax(logits)
    cut = Eta(eps).cutoff(probs)
    # float32 (HF keeps epsilon as a float32 tensor) against float64: skip knife-edge ties
    assume(np.all(np.abs(probs - cut) > 1e-6 * max(cut, 1e-30)))
    hf = EtaLogitsWarper(eps)(None, torch.tensor(logits, dtype=torch.float64)[None, :])[0]
    assert kept(ours) == kept(hf.numpy())
    np.testing.assert_array_equal(ours[np.isfinite(ours)], logits[np.isfinite(ours)])


# ------------------------------------------------------------------------------ XTC
def test_xtc_removes_the_top_choices_but_the_least_probable_of_them():
    z = logits_of(0.4, 0.05, 0.3, 0.15, 0.1)
    always = XTC(1.0, 0.12)
    assert kept(always(None, z)) == [1, 3, 4] and always.fired  # 0.4 and 0.3 go, 0.15 stays
    assert "fired" in always.label
    assert kept(XTC(1.0, 0.35)(None, z)) == [0, 1, 2, 3, 4]  # only one token above: no change
    assert kept(XTC(1.0, 0.6)(None, z)) == [0, 1, 2, 3, 4]  # none above
    ties = np.log(np.array([0.3, 0.3, 0.3, 0.1]))
    assert kept(XTC(1.0, 0.2)(None, ties)) == [2, 3]  # ties ranked by id: the last one stays


@settings(max_examples=200, deadline=None)
@given(z=st.lists(st.floats(-8.0, 4.0), min_size=1, max_size=30),
       threshold=st.floats(0.001, 0.6), seed=st.integers(0, 2**32), step=st.integers(0, 40))
def test_xtc_never_removes_all_and_keeps_exactly_one_above_the_threshold(z, threshold, seed,
                                                                        step):
    logits = np.array(z)
    probs = softmax(logits)
    xtc = XTC(0.5, threshold, seed=seed)
    out = xtc(list(range(step)), logits)
    assert np.isfinite(out).any()
    above = probs >= threshold
    left = np.isfinite(out)
    if xtc.fired and above.sum() >= 2:
        assert int(np.sum(left & above)) == 1  # exactly one top choice is left ...
        assert probs[left & above][0] == probs[above].min()  # ... the least probable one
        assert np.array_equal(left & ~above, ~above)  # the others all stay
    else:
        assert left.all()
    # the draw is the step's: the same (seed, step) always decides the same way
    assert XTC(0.5, threshold, seed=seed).draw(list(range(step))) == xtc.draw(range(step))


def test_xtc_fires_at_the_rate_of_its_probability_and_replays_exactly():
    from arlm_tui.decoding import Session
    from arlm_tui.lm.registry import load_model

    fired = [XTC(0.3, 0.1, seed=7).draw(list(range(i))) < 0.3 for i in range(2000)]
    assert 0.25 < sum(fired) / len(fired) < 0.35
    model = load_model("oracle-kn3")
    knobs = dict(strategy="sample", xtc_probability=0.5, xtc_threshold=0.05, seed=11,
                 max_tokens=25)
    session = Session(model, "the", **knobs)
    while session.step() is not None:
        pass
    labels = [s.label for t in session.traces for s in t.stages if s.name == "xtc"]
    assert any("(fired" in x for x in labels) and any("did not fire" in x for x in labels)
    replayed = Session.from_json(session.to_json(), model=model)  # ReplayError if a choice differs
    assert replayed.generated_ids == session.generated_ids
    again = Session(model, "the", **knobs)
    while again.step() is not None:
        pass
    assert again.generated_ids == session.generated_ids
    plain = Session(model, "the", **{**knobs, "xtc_probability": 0.0})
    while plain.step() is not None:
        pass
    assert plain.generated_ids != session.generated_ids  # it does change the text


# ------------------------------------------------------------------------------ temperature
def test_temperature_matches_powered_probabilities():
    p = np.array([0.5, 0.3, 0.2])
    for t in (0.5, 2.0):
        got = softmax(Temperature(t)(None, np.log(p)))
        expected = p ** (1 / t) / np.sum(p ** (1 / t))
        assert np.allclose(got, expected, rtol=1e-12)


# ------------------------------------------------------------------------------ repetition
def test_repetition_penalty_hf_rule():
    z = np.array([2.0, -1.0, 0.5, -3.0])
    out = RepetitionPenalty(2.0)([0, 1, 1], z)
    assert out.tolist() == [1.0, -2.0, 0.5, -3.0]  # positive / 2, negative * 2, others unchanged
    out = RepetitionPenalty(0.5)([0, 1], z)
    assert out.tolist() == [4.0, -0.5, 0.5, -3.0]
    logprobs = logits_of(0.5, 0.3, 0.2)
    penalised = softmax(RepetitionPenalty(1.5)([0], logprobs))
    assert penalised[0] < 0.5 and penalised[1] > 0.3


# ------------------------------------------------------------------------------ no-repeat-n-gram
def test_frequency_and_presence_penalties_openai_rule():
    # prompt [1, 2] (not counted), then generated 3, 3, 4: counts 3 -> 2, 4 -> 1
    context = [1, 2, 3, 3, 4]
    z = np.array([-1.0, -1.0, -1.0, -1.0, -1.0, NEG])
    freq = FrequencyPenalty(0.5, prompt_length=2)(context, z)
    assert freq.tolist() == [-1.0, -1.0, -1.0, -2.0, -1.5, NEG]
    pres = PresencePenalty(0.4, prompt_length=2)(context, z)
    assert pres.tolist() == pytest.approx([-1.0, -1.0, -1.0, -1.4, -1.4, NEG])
    # beside the repetition penalty, which scales every token of the context once (prompt too)
    rep = RepetitionPenalty(2.0)(context, z)
    assert rep.tolist() == [-1.0, -2.0, -2.0, -2.0, -2.0, NEG]
    # a negative value favours repeats; nothing generated yet: nothing changes
    assert FrequencyPenalty(-1.0, prompt_length=2)(context, z)[3] == 1.0
    assert PresencePenalty(2.0, prompt_length=5)(context, z).tolist() == z.tolist()
    # through make_processors the prompt length comes from the build context
    (proc,) = make_processors(frequency_penalty=0.5, prompt_length=2)
    assert proc(context, z).tolist() == freq.tolist() and proc.label == "frequency penalty = 0.5"


def _dry_reference(ids, multiplier, base, allowed, breakers):
    """text-generation-webui's DRYLogitsProcessor loop, written out: {token: penalty}."""
    last = ids[-1]
    if last in breakers:
        return {}
    lengths = {}
    for i in [k for k, v in enumerate(ids[:-1]) if v == last]:
        following = ids[i + 1]
        if following in breakers:
            continue
        n = 1
        while n < 50:
            j = i - n
            if j < 0 or ids[j] != ids[-(n + 1)] or ids[-(n + 1)] in breakers:
                break
            n += 1
        lengths[following] = max(n, lengths.get(following, 0))
    return {t: multiplier * base ** (n - allowed) for t, n in lengths.items() if n >= allowed}


def test_dry_worked_example():
    # 5 6 7 8 | 1 | 5 6 7: the text ends with "5 6 7", which was followed by 8: a repeat of 3
    z = np.zeros(10)
    dry = Dry(0.8, 1.75, 2)
    out = dry([5, 6, 7, 8, 1, 5, 6, 7], z)
    assert out[8] == pytest.approx(-0.8 * 1.75 ** (3 - 2))
    assert np.count_nonzero(out) == 1 and dry.note == (3, 8)
    # a breaker inside the span cuts the repeat to "7": below allowed_length, no penalty
    out = Dry(0.8, 1.75, 2, breakers={6})([5, 6, 7, 8, 1, 5, 6, 7], z)
    assert np.count_nonzero(out) == 0
    # a breaker as the last token, or as the token that would follow: no penalty either
    assert np.count_nonzero(Dry(0.8, 1.75, 2, breakers={7})([5, 6, 7, 8, 1, 5, 6, 7], z)) == 0
    assert np.count_nonzero(Dry(0.8, 1.75, 2, breakers={8})([5, 6, 7, 8, 1, 5, 6, 7], z)) == 0


@pytest.mark.parametrize("allowed", [1, 2, 3])
def test_dry_penalty_grows_with_the_repeat_length(allowed):
    z = np.zeros(40)
    penalties = []
    for m in range(1, 12):  # the text repeats the first m tokens of 10 11 12 ...
        span = list(range(10, 10 + m + 1))
        context = span + [1] + span[:m]
        out = Dry(0.5, 1.5, allowed)(context, z)
        penalties.append(-out[span[m]])  # the token that would extend the repeat
        assert np.count_nonzero(out) == (1 if m >= allowed else 0)
    grown = penalties[allowed - 1:]
    assert grown[0] == pytest.approx(0.5)  # n = allowed_length: multiplier · base^0
    assert all(b == pytest.approx(a * 1.5) for a, b in zip(grown, grown[1:]))
    assert all(p == 0 for p in penalties[: allowed - 1])


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(st.integers(0, 4), min_size=1, max_size=80),
       allowed=st.integers(1, 4), breakers=st.sets(st.integers(0, 4), max_size=2))
def test_dry_matches_the_reference_loop_and_its_memo(ids, allowed, breakers):
    from arlm_tui.decoding.tokens import TokenSeq

    z = np.full(5, -1.0)
    expected = z.copy()
    for token, penalty in _dry_reference(ids, 0.7, 1.75, allowed, breakers).items():
        expected[token] -= penalty
    np.testing.assert_allclose(Dry(0.7, 1.75, allowed, breakers)(ids, z), expected)
    remembering = Dry(0.7, 1.75, allowed, breakers)  # stepping a TokenSeq: the same result
    seq = TokenSeq.of([])
    for token in ids:
        seq = seq.append(token)
        remembering(seq, z)
    np.testing.assert_allclose(remembering(seq, z), expected)


def test_dry_breakers_come_from_the_tokenizer():
    from arlm_tui.decoding.processors import dry_breaker_ids
    from arlm_tui.lm.registry import load_model

    class Letters:
        unk_id = 0

        def encode(self, text):
            return [ord(c) for c in text] if text != "*" else [0]

    assert dry_breaker_ids(Letters()) == frozenset({ord("\n"), ord(":"), ord('"')})
    words = load_model("oracle-kn3").tokenizer  # a word-level tokenizer knows none of them
    assert dry_breaker_ids(words) == frozenset()


def test_dry_on_a_word_model_a_breaker_token_ends_a_repeat():
    """A word-level model: its ``"``, ``:`` and ``*`` are tokens of their own (a line break is
    whitespace, no token); a repeat followed back stops at one, and one never extends it."""
    from arlm_tui.decoding.processors import dry_breaker_ids
    from arlm_tui.lm.registry import load_model

    model = load_model("pyref-word-kn3")
    tok = model.tokenizer
    breakers = dry_breaker_ids(tok)
    assert {tok.vocab[i] for i in breakers} == {'"', ":", "*"}
    ids = tok.encode("is : the value of it : the value")
    assert tok.unk_id not in ids
    of, colon = tok.encode("of")[0], tok.encode(":")[0]
    assert Dry(1.0, 2.0, 1).repeat_lengths(ids) == {of: 3}  # "is"/"it" differ: ": the value"
    dry = Dry(1.0, 2.0, 1, breakers)
    assert dry.repeat_lengths(ids) == {of: 2}  # the ":" ends the match: "the value"
    z = np.zeros(model.vocab_size)
    out = dry(ids, z)
    assert out[of] == pytest.approx(-1.0 * 2.0 ** (2 - 1)) and dry.note == (2, of)
    # a breaker is never the token a repeat would continue with
    again = tok.encode("value : the value")
    assert Dry(1.0, 2.0, 1).repeat_lengths(again) == {colon: 1}
    assert dry.repeat_lengths(again) == {}
    # the processors a generation builds for the model give its Dry these breakers
    from arlm_tui.decoding.strategies import processors_for

    built = processors_for(model, DecodingConfig(dry_multiplier=0.8), len(ids))
    assert [p.breakers for p in built if isinstance(p, Dry)] == [breakers]


def test_dry_a_token_containing_a_breaker_is_a_breaker():
    """As llama.cpp: a token whose text holds a breaker breaks a repeat too (a BPE model's
    ' "' and '."', a word model's token 'a:b'), not only the token that is the breaker."""
    from arlm_tui.decoding.processors import dry_breaker_ids
    from arlm_tui.text.tokenizers import BPETokenizer, WordTokenizer

    words = WordTokenizer.from_vocab(["he", "said:", "it", ":", "**", "no"])
    assert {words.vocab[i] for i in dry_breaker_ids(words)} == {"said:", ":", "**"}
    texts = ['He said: "stop it." She said: "no."\n\nThen *nothing* happened.\n'] * 100
    bpe = BPETokenizer.train(texts, vocab_size=400)
    pieces = {bpe.token_text(i) for i in bpe.encode('He said: "stop it."\n\nThen')}
    assert {' "', '."', "\n"} <= pieces  # the quote comes with a space, or after a stop
    breaking = {bpe.token_text(i) for i in dry_breaker_ids(bpe)}
    assert {' "', '."', ":", "\n"} <= breaking
    assert not any(t.strip() in ("said", "stop", "it", "Then") for t in breaking)


def test_no_repeat_ngram_bans_completions_of_seen_ngrams():
    z = np.zeros(10)
    ctx = [5, 6, 7, 5, 6]
    assert kept(NoRepeatNGram(3)(ctx, z)) == [i for i in range(10) if i != 7]
    assert kept(NoRepeatNGram(2)(ctx, z)) == [i for i in range(10) if i != 7]
    assert kept(NoRepeatNGram(1)(ctx, z)) == [i for i in range(10) if i not in (5, 6, 7)]
    assert kept(NoRepeatNGram(4)([5, 6], z)) == list(range(10))  # too short to repeat
    assert NoRepeatNGram(2).banned([1, 2, 1, 3, 1]).tolist() == [2, 3]
    # a context of n-1 tokens holds no n-gram yet (it used to raise from numpy)
    for n in (2, 3, 4):
        assert kept(NoRepeatNGram(n)(list(range(1, n)), z)) == list(range(10))


# ------------------------------------------------------------------------------ min length
def test_min_length_blocks_eos_until_enough_new_tokens():
    z = logits_of(0.1, 0.0, 0.6, 0.3)  # id 2 = </s>
    proc = MinLength(2, eos_id=2, prompt_length=2)
    assert kept(proc([7, 7, 3], z)) == [0, 3]  # one new token: </s> blocked
    assert kept(proc([7, 7, 3, 3], z)) == [0, 2, 3]  # two new tokens: allowed
    only_eos = logits_of(0.0, 0.0, 1.0, 0.0)
    assert kept(proc([7, 7], only_eos)) == [2]  # at least one token survives


# ------------------------------------------------------------------------------ common rules
ALL_PROCESSORS = [
    MinLength(3, 2, 0),
    RepetitionPenalty(1.7),
    NoRepeatNGram(1),
    Temperature(0.3),
    TopK(1),
    TopP(0.01),
    MinP(1.0),
    TypicalP(0.01),
    Epsilon(0.9),
    Eta(0.5),
    TopNSigma(0.5),
    FrequencyPenalty(0.7),
    PresencePenalty(-0.7),
    Dry(1.0, 1.75, 1),
    XTC(1.0, 0.1),
]


@pytest.mark.parametrize("proc", ALL_PROCESSORS, ids=lambda p: p.name)
def test_processor_never_mutates_input_and_keeps_one_token(proc):
    z = np.array([-0.5, -2.0, -0.7, NEG, -1.0, -0.5])
    before = z.copy()
    out = proc([0, 1, 2, 4, 5], z)
    assert np.array_equal(z, before, equal_nan=True)
    assert out is not z
    assert np.isfinite(out).sum() >= 1
    assert np.isneginf(out[3])  # an impossible token stays impossible
    assert proc.name in PROCESSOR_ORDER and proc.label


def test_processor_order_and_off_values_make_no_processor():
    assert make_processors() == []
    assert make_processors(temperature=0.0, top_k=5) == []  # T = 0 is greedy
    procs = make_processors(**every_processor_on(  # a processor not named here: on too
        min_tokens=1, repetition_penalty=1.2, frequency_penalty=0.3, presence_penalty=0.2,
        dry_multiplier=0.5, no_repeat_ngram=2, temperature=0.7,
        top_n_sigma=2.0, top_k=5,
        top_p=0.9, min_p=0.05, typical_p=0.95, epsilon=1e-4, eta=1e-3,
        xtc_probability=0.5, mirostat_tau=5.0, logit_bias={"x": 1.0},
    ), token_id=lambda t: 0)
    assert [p.name for p in procs] == list(PROCESSOR_ORDER)
    assert [p.name for p in make_processors(top_p=0.9, min_tokens=2, sampling=False)] == [
        "min_length"
    ]


@pytest.mark.parametrize(
    ("make", "name", "allowed"),
    [
        (lambda: TopK(0), "top_k", "[1,"),
        (lambda: TopK(2.5), "top_k", "integer"),
        (lambda: TopP(0.0), "top_p", "(0, 1]"),
        (lambda: TopP(1.5), "top_p", "(0, 1]"),
        (lambda: MinP(-0.1), "min_p", "[0, 1]"),
        (lambda: MinP(1.1), "min_p", "[0, 1]"),
        (lambda: TypicalP(0), "typical_p", "(0, 1]"),
        (lambda: Epsilon(1.0), "epsilon", "[0, 1)"),
        (lambda: Eta(1.0), "eta", "(0, 1)"),
        (lambda: TopNSigma(-1), "top_n_sigma", "[0,"),
        (lambda: FrequencyPenalty(2.5), "frequency_penalty", "[-2, 2]"),
        (lambda: Dry(0.5, 1.0), "dry_base", "(1,"),
        (lambda: XTC(1.5), "xtc_probability", "[0, 1]"),
        (lambda: warp(np.zeros(3), xtc_threshold=0), "xtc_threshold", "(0, 1]"),
        (lambda: make_processors(dry_allowed_length=0), "dry_allowed_length", "[1, 50]"),
        (lambda: make_processors(presence_penalty=-3), "presence_penalty", "[-2, 2]"),
        (lambda: warp(np.zeros(3), top_n_sigma=101), "top_n_sigma", "[0, 100]"),
        (lambda: warp(np.zeros(3), eta=-0.1), "eta", "[0, 1)"),
        (lambda: Temperature(0), "temperature", "(0,"),
        (lambda: Temperature(float("nan")), "temperature", "(0,"),
        (lambda: RepetitionPenalty(0), "repetition_penalty", "(0,"),
        (lambda: NoRepeatNGram(0), "no_repeat_ngram", "[1,"),
        (lambda: MinLength(-1, 2), "min_tokens", "[0,"),
        (lambda: warp(np.zeros(3), temperature=-1), "temperature", "[0,"),
        (lambda: warp(np.zeros(3), top_k=-3), "top_k", "[0,"),
        (lambda: warp(np.zeros(3), top_p=2), "top_p", "(0, 1]"),
        (lambda: warp(np.zeros(3), min_p="lots"), "min_p", "[0, 1]"),
    ],
)
def test_invalid_arguments_name_the_parameter_and_range(make, name, allowed):
    with pytest.raises(ValueError) as err:
        make()
    message = str(err.value)
    assert name in message and allowed in message and "\n" not in message


# ------------------------------------------------------------------------------ warp
def test_warp_defaults_to_softmax_and_zero_temperature_is_argmax():
    z = np.array([1.0, 3.0, 3.0, NEG])
    assert np.allclose(warp(z), softmax(z))
    assert warp(z, temperature=0).tolist() == [0.0, 1.0, 0.0, 0.0]  # first arg-max on ties
    probs = warp(logits_of(0.5, 0.3, 0.15, 0.05), top_k=2)
    assert np.allclose(probs, [0.625, 0.375, 0, 0]) and probs[2] == 0 and probs[3] == 0


def test_warp_rejects_bad_logits():
    with pytest.raises(ValueError, match="logits"):
        warp(np.array([NEG, NEG]))
    with pytest.raises(ValueError, match="logits"):
        warp(np.array([0.0, np.nan]))


def test_top_p_kept_count_matches_syllabus_definition():
    # the smallest set whose probability reaches p
    probs = np.array([0.05, 0.4, 0.25, 0.2, 0.1])
    out = warp(np.log(probs), top_p=0.7)
    assert np.count_nonzero(out) == 3  # 0.4 + 0.25 = 0.65 < 0.7, + 0.2 = 0.85


logit_values = st.one_of(
    st.floats(-60, 60, allow_nan=False),
    st.sampled_from([NEG, 0.0, 1.0, -1.0]),  # -inf and repeated values (ties)
)


@settings(max_examples=300, deadline=None)
@given(
    z=st.lists(logit_values, min_size=1, max_size=12).filter(
        lambda v: any(math.isfinite(x) for x in v)
    ),
    log_t=st.floats(-6, 6),
    top_k=st.integers(0, 13),
    top_p=st.floats(1e-6, 1.0),
    min_p=st.floats(0.0, 1.0),
    typical_p=st.floats(1e-6, 1.0),
    epsilon=st.floats(0.0, 0.999),
    use=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_warp_is_always_a_distribution(z, log_t, top_k, top_p, min_p, typical_p, epsilon, use):
    z = np.array(z)
    knobs = {
        "top_k": top_k if use[0] else 0,
        "top_p": top_p if use[1] else 1.0,
        "min_p": min_p if use[2] else 0.0,
        "typical_p": typical_p if use[3] else 1.0,
        "epsilon": epsilon if use[4] else 0.0,
    }
    before = z.copy()
    probs = warp(z, temperature=10.0**log_t, **knobs)
    assert np.array_equal(z, before)
    assert probs.dtype == np.float64 and probs.shape == z.shape
    assert not np.isnan(probs).any() and (probs >= 0).all()
    assert abs(probs.sum() - 1.0) < 1e-9
    assert (probs[np.isneginf(z)] == 0).all()
    if knobs["typical_p"] == 1.0:
        assert probs[int(np.argmax(z))] > 0  # every other filter keeps the most probable token
    greedy = warp(z, temperature=0, **knobs)
    assert greedy.sum() == 1.0 and greedy[int(np.argmax(z))] == 1.0


@settings(max_examples=100, deadline=None)
@given(
    z=st.lists(st.floats(-30, 30), min_size=2, max_size=10),
    t1=st.floats(0.05, 20),
    t2=st.floats(0.05, 20),
)
def test_entropy_grows_with_temperature(z, t1, t2):
    z = np.array(z)
    lo, hi = sorted((t1, t2))
    assert entropy(warp(z, temperature=lo)) <= entropy(warp(z, temperature=hi)) + 1e-9


# ------------------------------------------------------------------------------ config
def test_config_validates_and_names_the_knob():
    with pytest.raises(ValueError, match="beam_width"):
        DecodingConfig(strategy="beam", beam_width=0)
    with pytest.raises(ValueError, match="greedy, sample, beam"):
        DecodingConfig(strategy="nucleus")
    with pytest.raises(ValueError, match="top_p.*\\(0, 1\\]"):
        DecodingConfig().replace(top_p=0)
    with pytest.raises(ValueError, match="unknown decoding knob 'topk'"):
        DecodingConfig().replace(topk=3)
    assert DecodingConfig().validate() == DecodingConfig()


def test_config_round_trip_and_processors_per_strategy():
    config = DecodingConfig(strategy="sample", temperature=0.7, top_k=5, min_tokens=2, seed=9)
    assert DecodingConfig.from_dict(config.to_dict()) == config
    assert config.replace(top_k=6).top_k == 6 and config.top_k == 5
    assert [p.name for p in config.processors(2, 4)] == ["min_length", "temperature", "top_k"]
    greedy = config.replace(strategy="greedy")
    assert [p.name for p in greedy.processors(2, 4)] == ["min_length"]
    assert config.replace(temperature=0).sampling is False
    assert config.active_knobs() == {
        "strategy": "sample", "temperature": 0.7, "top_k": 5, "min_tokens": 2, "seed": 9,
    }


def test_knobs_metadata_covers_every_config_field():
    fields = list(DecodingConfig().to_dict())
    assert list(KNOBS) == fields
    for name, knob in KNOBS.items():
        assert knob.help and "\n" not in knob.help
        default = getattr(DecodingConfig(), name)
        if name not in ("strategy", "max_tokens", "beam_width", "seed"):
            assert default == knob.off, name  # defaults are the "off" values
        assert knob.check(default) == default
        if knob.type in (int, float):
            assert knob.fine_step <= knob.coarse_step


@settings(max_examples=60, deadline=None)
@given(moves=st.lists(st.one_of(st.integers(0, 5), st.just(-1)), min_size=1, max_size=60),
       n=st.integers(1, 4), penalty=st.sampled_from([0.7, 1.5]))
def test_context_memo_gives_the_same_result_as_reading_afresh(moves, n, penalty):
    """Processors remember the last TokenSeq read; stepping, undoing (-1) and stepping again
    must give what a fresh processor gives for the same context as a list."""
    from arlm_tui.decoding.tokens import TokenSeq

    z = np.log(np.full(6, 1 / 6)) + np.arange(6) * 0.1
    remembering = [NoRepeatNGram(n), RepetitionPenalty(penalty),
                   FrequencyPenalty(penalty - 1, prompt_length=2),
                   PresencePenalty(penalty - 1, prompt_length=2)]
    history = [TokenSeq.of([1, 2])]
    for move in moves:
        if move == -1:
            if len(history) > 1:
                history.pop()
        else:
            history.append(history[-1].append(move))
        context = history[-1]
        for processor in remembering:
            if isinstance(processor, NoRepeatNGram):
                fresh = NoRepeatNGram(n)
            elif isinstance(processor, RepetitionPenalty):
                fresh = RepetitionPenalty(penalty)
            else:
                fresh = type(processor)(penalty - 1, prompt_length=2)
            np.testing.assert_array_equal(processor(context, z), fresh(context.tolist(), z))


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1025, 6000),
    spread=st.floats(0.1, 30.0),
    ties=st.integers(0, 50),
    removed=st.floats(0.0, 0.9),
    p=st.floats(1e-6, 0.999),
    seed=st.integers(0, 2**32 - 1),
)
def test_large_vocabularies_bin_instead_of_sorting_and_agree_with_a_full_sort(
    size, spread, ties, removed, p, seed
):
    """Top-p and typical-p over more than 1024 tokens sort only the bin where the mass
    crosses p; they keep exactly what one full sort keeps (ties and -inf tokens included).
    (p near 1 is left out: there the running mass meets p among tokens of ~1e-16, where two
    summation orders round differently.)"""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(size) * spread
    z[rng.integers(0, size, ties)] = z[0]  # equal logits, ranked by id
    z[rng.random(size) < removed] = NEG
    z[rng.integers(0, size)] = 0.0  # at least one finite token
    assert kept(TopP(p)(None, z)) == kept(_top_p_by_full_sort(p, z))
    assert kept(TypicalP(p)(None, z)) == kept(_typical_p_by_full_sort(p, z))


# ------------------------------------------------------------------------------ the registry
def test_every_processor_declares_its_knobs_and_builds_itself():
    from arlm_tui.decoding.processors import PROCESSORS, BuildContext

    assert [cls.name for cls in PROCESSORS] == list(PROCESSOR_ORDER)
    off = {name: knob.off for name, knob in KNOBS.items()}
    context = BuildContext(eos_id=2, prompt_length=1, token_id=lambda token: 0)
    for cls in PROCESSORS:
        assert cls.knobs, cls.name
        for knob in cls.knobs:
            assert KNOBS[knob.name] is knob  # the config's knob is the processor's own
            assert knob.title and " " not in knob.title and knob.help
        assert cls.build(off, context) is None  # at its off value it is left out
        on = dict(off)
        knob = cls.knobs[0]
        if knob.type is dict:  # the logit bias: one token
            on[knob.name] = knob.check({"x": knob.fine_step})
        else:
            on[knob.name] = (knob.fine_step if knob.off == knob.min
                             else knob.off - knob.fine_step)
        built = cls.build(on, context)
        assert built is not None and built.name == cls.name and built.label


def test_make_processors_and_warp_take_the_processor_knobs_only():
    with pytest.raises(ValueError, match="unknown processor knob 'beam_width'"):
        make_processors(beam_width=3)
    with pytest.raises(ValueError, match="unknown processor knob 'min_tokens'"):
        warp(np.zeros(3), min_tokens=2)  # warp takes the warpers' knobs
    with pytest.raises(ValueError, match=r"top_k must be an integer in \[0, 100000\]"):
        make_processors(top_k=100_001)  # the knob's range, the same as the config's


def test_knob_order_follows_the_groups_and_config_fields_follow_knobs():
    from arlm_tui.decoding.knobs import GROUPS

    groups = [GROUPS.index(k.group) for k in KNOBS.values()]
    assert groups == sorted(groups)
    assert list(DecodingConfig().to_dict()) == list(KNOBS)
    assert DecodingConfig().warp_knobs() == {}
    sample = DecodingConfig(strategy="sample", top_k=3)
    assert sample.warp_knobs()["top_k"] == 3 and "min_tokens" not in sample.warp_knobs()
    assert KNOBS["temperature"].range_text == "[0, ∞)"


def test_the_command_line_and_the_knob_panel_offer_every_knob():
    from arlm_tui.cli import KNOB_FLAGS, KNOB_NAMES, build_parser
    from arlm_tui.tui.widgets.knob_panel import PANEL_KNOBS, SWITCHABLE, knob_title

    assert set(KNOB_NAMES) == set(KNOBS) - {"strategy"}
    assert {flag: text for flag, _, text in KNOB_FLAGS}["--typical-p"] == KNOBS["typical_p"].help
    args = build_parser().parse_args(["generate", "--model", "m", "--typical-p", "0.5"])
    assert args.typical_p == 0.5 and args.top_k is None  # not given: filled in below
    from arlm_tui.cli.base import knobs_with_preset

    strategy, knobs = knobs_with_preset(args)
    assert strategy == "greedy" and knobs["typical_p"] == 0.5
    assert knobs["top_k"] == KNOBS["top_k"].off
    assert PANEL_KNOBS == tuple(KNOBS)
    assert "typical_p" in SWITCHABLE and "temperature" not in SWITCHABLE
    assert knob_title("typical_p") == "typical-p" and knob_title("typical_p", 8) == "typical"


def test_the_why_line_says_top_n_sigma_does_not_depend_on_temperature():
    from arlm_tui.decoding import Session, explain
    from arlm_tui.lm.registry import load_model

    model = load_model("oracle-kn3")
    lines = []
    for t in (0.5, 2.0):
        session = Session(model, "the", strategy="sample", temperature=t, top_n_sigma=0.5,
                          seed=1, max_tokens=3)
        trace = session.step()
        assert trace is not None and trace.kept < len(trace.final_probs)
        lines.append(explain(trace))
        assert "top-nσ = 0.5 kept" in lines[-1] and "same tokens at any T" in lines[-1]
    assert lines[0].split(" kept ")[1][:3] == lines[1].split(" kept ")[1][:3]  # same count


def test_the_why_line_names_the_span_dry_punished():
    from arlm_tui.decoding import Session, explain
    from arlm_tui.lm.registry import load_model

    model = load_model("oracle-kn3")
    session = Session(model, "the", strategy="greedy", dry_multiplier=1.0, max_tokens=40,
                      min_tokens=40)
    lines = []
    while (trace := session.step()) is not None:
        stage = next(s for s in trace.stages if s.name == "dry")
        if stage.note is not None:
            length, token = stage.note
            span = " ".join(trace.text_of(i) for i in [*trace.context.tail(length), token])
            line = explain(trace)
            assert f"DRY lowered {trace.text_of(token)!r}" in line and repr(span) in line
            lines.append(line)
    assert lines  # greedy on this model loops, so DRY had something to punish
