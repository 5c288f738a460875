"""An exported ARPA file means the same model to KenLM as to arlm: every token of held-out
sentences (the first one included, with its single ``<s>``) scores the same in both."""

from __future__ import annotations

import math

import kenlm  # the test extra; builds from source (a C++ compiler and cmake, ~4 min)
import numpy as np
import pytest

from arlm_tui.lm.arpa import read_arpa, write_arpa
from arlm_tui.lm.ngram import NGramModel
from arlm_tui.text.tokenizers import WordTokenizer

WORDS = [f"w{i}" for i in range(10)]
LN10 = math.log(10.0)


def markov_sentences(count: int, seed: int) -> list[str]:
    """Sentences of 0 to 9 words from a random second-order chain: repeated n-grams of every
    order, sentences that share openings, some that do not."""
    rng = np.random.default_rng(seed)
    table = np.random.default_rng(99).dirichlet(np.full(len(WORDS), 0.3), size=(11, 11))
    sentences = []
    for _ in range(count):
        a, b, words = 10, 10, []
        for _ in range(int(rng.integers(0, 10))):
            w = int(rng.choice(len(WORDS), p=table[a, b]))
            words.append(WORDS[w])
            a, b = b, w
        sentences.append(" ".join(words))
    return sentences


@pytest.fixture(scope="module")
def data():
    tok = WordTokenizer.from_vocab(WORDS + ["never"])  # "never" is in the vocabulary, unseen
    train = [tok.encode(s) for s in markov_sentences(300, seed=1)]
    heldout = markov_sentences(40, seed=2) + ["", "never w1", "w2 zzz w3", "w0 w0 w0 w0 w0 w0"]
    return tok, train, heldout


@pytest.mark.parametrize("order", [2, 3, 4, 5])
@pytest.mark.parametrize("smoothing", ["kn", "interp", "mle"])
def test_kenlm_scores_every_token_as_arlm_does(tmp_path, data, order, smoothing):
    tok, train, heldout = data
    model = NGramModel.fit(train, tok, order=order, smoothing=smoothing)
    path = tmp_path / "m.arpa"
    write_arpa(model, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert not any(line.split("\t")[1].startswith("<s> <s>") for line in lines if "\t" in line)
    ken = kenlm.Model(str(path))
    back = read_arpa(path, tok)
    compared = 0
    for sentence in heldout:
        ids = tok.encode(sentence) + [tok.eos_id]
        ours = model.sequence_logprobs(ids)
        theirs = np.array([p for p, _, _ in ken.full_scores(sentence, bos=True, eos=True)]) * LN10
        assert len(theirs) == len(ours)
        assert np.allclose(back.sequence_logprobs(ids), ours, rtol=1e-7, atol=1e-9)  # read back
        for t, (a, b) in enumerate(zip(ours, theirs)):
            if math.isinf(a):  # probability 0 (mle): the file says -99, i.e. 10^-99 or less
                assert smoothing == "mle" and b <= -99 * LN10 + 1e-6, (sentence, t, a, b)
            else:
                assert b == pytest.approx(a, abs=1e-4), (sentence, t, a, b)
                compared += 1
    assert compared > 100
