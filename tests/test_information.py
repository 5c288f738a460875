"""Entropy, cross-entropy, KL, alignment across vocabularies, perplexity and the oracle floor."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlm_tui.errors import ArlmError
from arlm_tui.lm.base import LanguageModel
from arlm_tui.lm.information import (
    align,
    compare_at,
    cross_entropy,
    entropy,
    heldout_nll,
    heldout_perplexity,
    kl_divergence,
    oracle_floor,
)
from arlm_tui.lm.ngram import NGramModel
from arlm_tui.lm.oracle import OracleModel
from arlm_tui.text.tokenizers import WordTokenizer


class FixedModel(LanguageModel):
    """The same next-token log-probs whatever the context (a test double)."""

    backend = "test"

    def __init__(self, vocab: Sequence[str], logprobs: np.ndarray, *, name: str = "fixed",
                 normalized: bool = True):
        self.tokenizer = WordTokenizer.from_vocab(vocab)
        self.logprobs = np.asarray(logprobs, dtype=np.float64)
        self.name = name
        self._normalized = normalized

    @property
    def normalized(self) -> bool:
        return self._normalized

    def next_logprobs(self, context_ids: Sequence[int]) -> np.ndarray:
        return self.logprobs.copy()


class PermutedModel(LanguageModel):
    """Another model's distribution over the same tokens listed in a different order, with an
    extra token it never predicts (so alignment by id would be wrong, by string is right)."""

    backend = "test"

    def __init__(self, inner: LanguageModel):
        self.inner = inner
        words = list(reversed(inner.vocab[3:])) + ["zebra"]
        self.tokenizer = WordTokenizer.from_vocab(words)
        self.name = "permuted"
        self._to_inner = np.array([inner.tokenizer.token_to_id.get(w, -1) for w in self.vocab])

    def next_logprobs(self, context_ids: Sequence[int]) -> np.ndarray:
        inner_ids = [self.inner.tokenizer.token_to_id[self.vocab[i]] for i in context_ids]
        inner = self.inner.next_logprobs(inner_ids)
        out = np.full(self.vocab_size, -np.inf)
        known = self._to_inner >= 0
        out[known] = inner[self._to_inner[known]]
        return out


@pytest.fixture(scope="module")
def oracle() -> OracleModel:
    return OracleModel()


def probability_vectors(size: int) -> st.SearchStrategy[np.ndarray]:
    weights = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=size, max_size=size)
    return weights.filter(lambda w: sum(w) > 1e-3).map(lambda w: np.array(w) / sum(w))


# ---------------------------------------------------------------------------- the measures
def test_entropy_of_known_distributions():
    assert entropy([0.25] * 4) == pytest.approx(math.log(4))
    assert entropy([0.25] * 4, base=2) == pytest.approx(2.0)
    assert entropy([1.0, 0.0, 0.0]) == 0.0  # 0 · log 0 = 0
    assert entropy([0.5, 0.5, 0.0]) == pytest.approx(math.log(2))


def test_cross_entropy_and_kl_of_known_distributions():
    p, q = [0.5, 0.5], [0.25, 0.75]
    assert cross_entropy(p, q) == pytest.approx(-0.5 * math.log(0.25) - 0.5 * math.log(0.75))
    assert kl_divergence(p, q) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    assert kl_divergence(p, p) == 0.0
    assert kl_divergence([1.0, 0.0], [0.5, 0.5], base=2) == pytest.approx(1.0)


def test_zero_model_probability_where_the_truth_has_mass_is_infinite():
    assert cross_entropy([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
    # where p is zero, q may be zero too
    assert kl_divergence([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert cross_entropy([1.0, 0.0], [1.0, 0.0]) == 0.0


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=12).flatmap(
    lambda n: st.tuples(probability_vectors(n), probability_vectors(n))))
def test_cross_entropy_is_entropy_plus_kl(pq):
    p, q = pq
    h_pq, h_p, kl = cross_entropy(p, q), entropy(p), kl_divergence(p, q)
    assert kl >= -1e-12
    if math.isinf(h_pq):
        assert math.isinf(kl) and kl > 0
    else:
        assert h_pq == pytest.approx(h_p + kl, abs=1e-9)
        assert entropy(p, base=2) == pytest.approx(h_p / math.log(2), abs=1e-9)


@pytest.mark.parametrize("call, message", [
    (lambda: entropy([0.5, 0.6]), "sum to 1"),
    (lambda: entropy([[0.5, 0.5]]), "1-D"),
    (lambda: entropy([1.5, -0.5]), ">= 0"),
    (lambda: entropy([]), "non-empty"),
    (lambda: entropy([1.0], base=1), "base"),
    (lambda: kl_divergence([0.5, 0.5], [1.0]), "shape"),
    (lambda: cross_entropy([0.5, 0.5], [0.9, 0.9]), "at most 1"),
])
def test_bad_arguments_raise_value_errors_naming_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_align_maps_by_token_string_and_drops_missing_mass():
    p_vocab = ["<unk>", "<s>", "</s>", "a", "b", "c"]
    q_vocab = ["<unk>", "<s>", "</s>", "c", "d", "a"]
    logq = np.log([0.1, 0.0 + 1e-300, 0.2, 0.3, 0.25, 0.15])
    aligned = align(p_vocab, q_vocab, logq)
    assert aligned[3] == logq[5]  # "a"
    assert aligned[5] == logq[3]  # "c"
    assert aligned[4] == -np.inf  # "b": q has no such token
    assert np.exp(aligned).sum() == pytest.approx(1.0 - 0.25)  # "d" is lost
    assert np.array_equal(align(p_vocab, p_vocab, logq), logq)
    with pytest.raises(ValueError, match="logprobs_q"):
        align(p_vocab, q_vocab, logq[:3])


# ---------------------------------------------------------------------------- against the oracle
def test_compare_at_rows(oracle):
    words = oracle.vocab
    uniform = np.full(len(words), -math.log(len(words) - 2))
    uniform[[oracle.unk_id, oracle.bos_id]] = -np.inf
    flat = FixedModel(words[3:], uniform, name="uniform")
    context = "one day, anna went to the beach. then, she found a"
    rows = compare_at(context, oracle, [oracle, flat, PermutedModel(oracle)])
    assert [r.model for r in rows] == ["oracle", "uniform", "permuted"]
    p = np.exp(oracle.next_logprobs(oracle.tokenizer.encode(context)))
    for row in rows:
        assert row.entropy == pytest.approx(entropy(p))
        assert row.cross_entropy == pytest.approx(row.entropy + row.kl, abs=1e-9)
        assert row.possible
    assert rows[0].kl == 0.0 and rows[0].coverage == pytest.approx(1.0)
    # a uniform q over V' tokens: H(p, q) = log |V'| whatever p is
    assert rows[1].cross_entropy == pytest.approx(math.log(len(words) - 2))
    assert rows[1].kl == pytest.approx(math.log(len(words) - 2) - entropy(p))
    # the same distribution under another token order: aligned by string, KL 0
    assert rows[2].kl == pytest.approx(0.0, abs=1e-12)
    # tokens instead of text give the same numbers
    by_tokens = compare_at(oracle.tokenizer.tokenize(context), oracle, [flat])
    assert by_tokens[0].kl == pytest.approx(rows[1].kl)


def test_compare_at_renormalises_scores_and_flags_impossible_contexts(oracle):
    words = oracle.vocab
    scores = np.zeros(len(words))  # log-scores summing to V, not 1 (like stupid backoff)
    scores[oracle.bos_id] = -np.inf
    raw = FixedModel(words[3:], scores, normalized=False)
    rows = compare_at("one day, the banana", oracle, [raw])
    assert not rows[0].possible
    assert rows[0].coverage == pytest.approx(1.0)
    assert rows[0].cross_entropy == pytest.approx(math.log(len(words) - 1))


def test_heldout_perplexity_of_a_uniform_model_is_its_branching_factor():
    vocab = ["a", "b", "c", "d"]
    logprobs = np.full(len(vocab) + 3, -math.log(5))  # a, b, c, d and </s>: 1/5 each
    logprobs[[0, 1]] = -np.inf  # <unk>, <s>
    model = FixedModel(vocab, logprobs)
    texts = ["a b c", "d", "b b"]
    total, count = heldout_nll(model, texts)
    assert count == 3 + 1 + 2 + 3  # every token and one </s> per text
    assert total == pytest.approx(count * math.log(5))
    assert heldout_perplexity(model, texts) == pytest.approx(5.0)
    zero = logprobs.copy()
    zero[model.eos_id] = -np.inf
    assert heldout_perplexity(FixedModel(vocab, zero), texts) == math.inf
    with pytest.raises(ValueError, match="at least one text"):
        heldout_perplexity(model, [])
    with pytest.raises(ArlmError, match="perplexity"):
        heldout_perplexity(FixedModel(vocab, logprobs, normalized=False), texts)


def test_oracle_floor_is_the_exact_sequence_probability(oracle):
    texts = oracle.corpus(10, seed=4)
    tokens = sum(len(oracle.tokenizer.encode(t)) + 1 for t in texts)
    logprob = sum(oracle.language.sequence_logprob(oracle.tokenizer.tokenize(t)) for t in texts)
    assert oracle_floor(oracle, texts) == pytest.approx(math.exp(-logprob / tokens))


def test_no_ngram_beats_the_oracle_floor(oracle):
    train = oracle.corpus(1500, seed=0)
    heldout = oracle.corpus(150, seed=1)
    floor = oracle_floor(oracle, heldout)
    assert 1.0 < floor < 10.0
    for order in (2, 3, 4):
        ngram = NGramModel.fit([oracle.tokenizer.encode(t) for t in train], oracle.tokenizer,
                               order=order, smoothing="kn")
        assert heldout_perplexity(ngram, heldout) > floor * 1.1, order


def test_one_perplexity_helper_for_every_caller():
    from arlm_tui.lm.information import perplexity

    assert perplexity(math.log(8) * 3, 3) == pytest.approx(8.0)
    assert perplexity(math.log(5)) == pytest.approx(5.0)  # exp of a mean NLL or an entropy
    assert perplexity(math.inf, 4) == math.inf  # a token of probability 0
    assert perplexity(1e6, 1) == math.inf  # exp overflows: infinite, not an OverflowError
    assert math.isnan(perplexity(0.0, 0)) and math.isnan(perplexity(math.nan, 2))


def test_cross_entropy_nats_matches_the_checked_one():
    from arlm_tui.lm.information import cross_entropy_nats, entropy_nats

    p = np.array([0.5, 0.25, 0.25, 0.0])
    q = np.array([0.25, 0.25, 0.25, 0.25])
    assert cross_entropy_nats(p, q) == pytest.approx(cross_entropy(p, q)) == pytest.approx(
        math.log(4))
    assert cross_entropy_nats(p, p) == pytest.approx(entropy_nats(p))
    assert cross_entropy_nats(p, np.array([1.0, 0.0, 0.0, 0.0])) == math.inf
