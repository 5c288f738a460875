"""The n-gram backend: the lecture's toy facts, each smoothing's formula, the batched protocol,
persistence and its errors, and speed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

from arlm_tui.errors import CorpusError, ModelLoadError
from arlm_tui.lm.ngram import (
    SMOOTHINGS,
    STUPID_ALPHA,
    CountRow,
    HistoryModel,
    NGramModel,
    kn_discounts,
)
from arlm_tui.text.corpora import TOY_CORPUS
from arlm_tui.text.tokenizers import WordTokenizer

NORMALIZED = ("mle", "addk", "interp", "kn")


@pytest.fixture(scope="module")
def toy():
    tok = WordTokenizer.train(TOY_CORPUS)
    return tok, [tok.encode(s) for s in TOY_CORPUS]


def fit_toy(toy, **opts):
    tok, sentences = toy
    return NGramModel.fit(sentences, tok, **opts)


def ids(tok, text):
    return tok.encode(text)


# ---------------------------------------------------------------------------------- toy facts
def test_toy_trigram_mle_probabilities(toy):
    tok, _ = toy
    model = fit_toy(toy, order=3, smoothing="mle")
    assert model.prob(tok.token_to_id["i"], []) == pytest.approx(2 / 3)
    assert model.prob(tok.token_to_id["cats"], []) == pytest.approx(1 / 3)
    assert model.prob(tok.token_to_id["love"], ids(tok, "i")) == pytest.approx(1.0)
    assert model.prob(tok.token_to_id["cats"], ids(tok, "i love")) == pytest.approx(0.5)
    assert model.prob(tok.token_to_id["dogs"], ids(tok, "i love")) == pytest.approx(0.5)
    assert model.prob(tok.eos_id, ids(tok, "i love cats")) == pytest.approx(1.0)
    # next_logprobs agrees and puts all the mass on the seen continuations
    p = np.exp(model.next_logprobs(ids(tok, "i love")))
    assert p[tok.token_to_id["cats"]] == pytest.approx(0.5)
    assert p.sum() == pytest.approx(1.0)


def test_toy_sentence_zero_under_mle_finite_under_laplace(toy):
    tok, _ = toy
    sentence = ids(tok, "i love mice") + [tok.eos_id]
    mle = fit_toy(toy, order=3, smoothing="mle")
    assert mle.sequence_logprobs(sentence).sum() == -math.inf
    laplace = fit_toy(toy, order=3, smoothing="addk", k=1.0)
    logprob = laplace.sequence_logprobs(sentence).sum()
    assert math.isfinite(logprob)
    # by hand: V' = 8 tokens that can follow (the vocabulary minus <s>)
    v = len(tok.vocab) - 1
    expected = (2 + 1) / (3 + v) * (2 + 1) / (2 + v) * (0 + 1) / (2 + v) * 1 / v
    assert math.exp(logprob) == pytest.approx(expected)


def test_count_table_matches_the_lecture_table(toy):
    tok, _ = toy
    model = fit_toy(toy, order=3, smoothing="mle")
    rows = model.count_table()
    assert rows[0] == CountRow(("<s>", "<s>"), "i", 2, 3, pytest.approx(2 / 3))
    assert rows[1] == CountRow(("<s>", "<s>"), "cats", 1, 3, pytest.approx(1 / 3))
    assert CountRow(("i", "love"), "dogs", 1, 2, 0.5) in rows
    assert sum(r.count for r in rows) == sum(len(s.split()) + 1 for s in TOY_CORPUS)
    keys = [(r.context, -r.count, r.next_token) for r in rows]
    assert keys == sorted(keys)
    # one context: tokens since the start of the text, or the literal padded context
    only = model.count_table(ids(tok, "i love"))
    assert [(r.next_token, r.probability) for r in only] == [("cats", 0.5), ("dogs", 0.5)]
    assert model.count_table([]) == model.count_table([tok.bos_id, tok.bos_id]) == rows[:2]
    # a <s> inside the context starts a new sentence: one <s> is the start
    assert model.count_table([*ids(tok, "cats chase"), tok.bos_id]) == rows[:2]
    assert model.count_table(ids(tok, "mice mice")) == []
    bigrams = model.count_table(ids(tok, "i love"), order=2)
    assert {r.context for r in bigrams} == {("love",)}
    with pytest.raises(ValueError, match="order"):
        model.count_table(order=4)


def test_count_table_probability_is_the_smoothed_one(toy):
    tok, _ = toy
    model = fit_toy(toy, order=3, smoothing="kn")
    for row in model.count_table():
        context = [tok.token_to_id[t] for t in row.context]
        assert row.probability == pytest.approx(
            model.prob(tok.token_to_id[row.next_token], context)
        )
        assert row.probability < row.count / row.context_total  # KN discounts seen n-grams


# ---------------------------------------------------------------------------------- smoothings
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_bos_is_never_predicted(toy, smoothing):
    tok, _ = toy
    model = fit_toy(toy, order=3, smoothing=smoothing)
    for context in ([], ids(tok, "i"), ids(tok, "i love"), ids(tok, "mice mice"), [0, 2]):
        assert model.next_logprobs(context)[tok.bos_id] == -math.inf
    assert model.normalized is (smoothing != "stupid")


@pytest.mark.parametrize("smoothing", NORMALIZED)
def test_normalized_smoothings_sum_to_one(toy, smoothing):
    tok, _ = toy
    model = fit_toy(toy, order=3, smoothing=smoothing)
    for context in ([], ids(tok, "i love"), ids(tok, "dogs chase"), ids(tok, "cats"), [0]):
        assert np.exp(model.next_logprobs(context)).sum() == pytest.approx(1.0)


def test_mle_backs_off_to_the_longest_seen_context(toy):
    tok, _ = toy
    model = fit_toy(toy, order=3, smoothing="mle")
    # (dogs, chase) never seen; (chase) seen once, followed by mice
    p = np.exp(model.next_logprobs(ids(tok, "dogs chase")))
    assert p[tok.token_to_id["mice"]] == pytest.approx(1.0)
    # nothing of the context seen: unigram MLE c(w) / N
    p = np.exp(model.next_logprobs([tok.unk_id, tok.unk_id]))
    n = sum(len(s.split()) + 1 for s in TOY_CORPUS)
    assert p[tok.token_to_id["cats"]] == pytest.approx(2 / n)
    assert p[tok.eos_id] == pytest.approx(3 / n)
    unigram = fit_toy(toy, order=1, smoothing="mle")
    assert np.allclose(unigram.next_logprobs(ids(tok, "i love")), model.next_logprobs([0, 0]))


def test_addk_formula_and_unseen_context_is_uniform(toy):
    tok, _ = toy
    v = len(tok.vocab) - 1
    model = fit_toy(toy, order=2, smoothing="addk", k=0.5)
    p = np.exp(model.next_logprobs(ids(tok, "love")))
    assert p[tok.token_to_id["cats"]] == pytest.approx((1 + 0.5) / (2 + 0.5 * v))
    assert p[tok.token_to_id["i"]] == pytest.approx(0.5 / (2 + 0.5 * v))
    p = np.exp(model.next_logprobs([tok.eos_id]))  # </s> is never a context
    assert np.allclose(np.delete(p, tok.bos_id), 1 / v)


def test_stupid_backoff_scores(toy):
    tok, _ = toy
    model = fit_toy(toy, order=3, smoothing="stupid")
    w = tok.token_to_id
    n = sum(len(s.split()) + 1 for s in TOY_CORPUS)
    assert model.prob(w["cats"], ids(tok, "i love")) == pytest.approx(0.5)
    # (i love) seen, mice never after it; (love) never followed by mice; unigram 1/n
    assert model.prob(w["mice"], ids(tok, "i love")) == pytest.approx(STUPID_ALPHA**2 * 1 / n)
    # (dogs chase) unseen, (chase mice) seen: one back-off step
    assert model.prob(w["mice"], ids(tok, "dogs chase")) == pytest.approx(STUPID_ALPHA * 1.0)
    assert model.prob(w["<unk>"], []) == 0.0
    scores = np.exp(model.next_logprobs(ids(tok, "i love")))
    assert scores.sum() > 1.0
    assert model.describe()["normalized"] is False


def test_interp_is_the_lambda_mixture_of_mle_orders(toy):
    tok, sentences = toy
    model = NGramModel.fit(sentences, tok, order=3, smoothing="interp", valid=sentences[:1])
    lam = model.lambdas
    assert len(lam) == 4 and sum(lam) == pytest.approx(1.0) and lam[0] > 0
    w = tok.token_to_id
    n, v = sum(len(s.split()) + 1 for s in TOY_CORPUS), len(tok.vocab) - 1
    # context (i, love): trigram 1/2, bigram (love) 1/2, unigram 2/n, uniform 1/v
    expected = lam[0] / v + lam[1] * 2 / n + lam[2] * 0.5 + lam[3] * 0.5
    assert model.prob(w["cats"], ids(tok, "i love")) == pytest.approx(expected)
    # unseen trigram context (dogs chase): its weight goes to the lower orders
    expected = (lam[0] / v + lam[1] * 1 / n + lam[2] * 1.0) / (lam[0] + lam[1] + lam[2])
    assert model.prob(w["mice"], ids(tok, "dogs chase")) == pytest.approx(expected)


def test_interp_em_beats_other_weights_on_the_heldout_text():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    tok = WordTokenizer.from_vocab(words)
    # a noisy Markov chain: each word usually followed by one of two successors
    sentences = []
    for _ in range(300):
        sentence = [int(rng.integers(3, 33))]
        for _ in range(int(rng.integers(3, 10))):
            if rng.random() < 0.8:
                successor = 3 + (sentence[-1] * 7 + int(rng.integers(0, 2))) % 30
            else:
                successor = int(rng.integers(3, 33))
            sentence.append(successor)
        sentences.append(sentence)
    train, valid = sentences[:250], sentences[250:]
    fitted = NGramModel.fit(train, tok, order=3, smoothing="interp", valid=valid)

    def heldout(model):
        return sum(model.sequence_logprobs(s + [tok.eos_id]).sum() for s in valid)

    best = heldout(fitted)
    tables = fitted._tables
    for other in ([0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4], [0.01, 0.09, 0.6, 0.3]):
        rival = NGramModel(tok, tables, smoothing="interp", lambdas=other)
        assert best >= heldout(rival) - 1e-9
    assert fitted.describe()["lambda_fit"].startswith("EM on the validation")


def test_interp_without_valid_holds_out_a_tenth(toy):
    rng = np.random.default_rng(1)
    tok = WordTokenizer.from_vocab(["a", "b", "c"])
    sentences = [rng.integers(3, 6, size=5).tolist() for _ in range(40)]
    model = NGramModel.fit(sentences, tok, order=2, smoothing="interp")
    facts = model.describe()
    assert facts["heldout_sentences"] == 4 and facts["training_sentences"] == 36
    assert facts["training_tokens"] == 36 * 6
    again = NGramModel.fit(sentences, tok, order=2, smoothing="interp")
    assert again.lambdas == model.lambdas  # deterministic


def test_kn_discounts_formula_and_fallback():
    counts = np.array([1] * 10 + [2] * 4 + [3] * 2 + [4] * 1 + [7] * 3)
    (d1, d2, d3), kind = kn_discounts(counts)
    y = 10 / (10 + 2 * 4)
    assert kind == "modified"
    assert (d1, d2, d3) == pytest.approx((1 - 2 * y * 4 / 10, 2 - 3 * y * 2 / 4, 3 - 4 * y * 1 / 2))
    (d1, d2, d3), kind = kn_discounts(np.array([1, 1, 1, 2, 5]))  # no count 3 or 4
    assert kind == "absolute" and d1 == d2 == d3 == pytest.approx(3 / (3 + 2))
    assert kn_discounts(np.array([5, 6]))[0] == (0.5, 0.5, 0.5)


def test_kn_uses_continuation_counts_for_lower_orders():
    # "francisco" is frequent but only ever after "san"; "glasses" is rarer but follows many words
    before = ["red", "blue", "old", "new", "my"]
    tok = WordTokenizer.from_vocab(["san", "francisco", "glasses", *before])
    texts = ["san francisco"] * 6 + [f"{w} glasses" for w in before]
    sentences = [tok.encode(t) for t in texts]
    kn = NGramModel.fit(sentences, tok, order=2, smoothing="kn")
    mle = NGramModel.fit(sentences, tok, order=1, smoothing="mle")
    w = tok.token_to_id
    unseen = [w["glasses"]]  # never a context, so the bigram model falls to its unigram level
    assert mle.prob(w["francisco"], []) > mle.prob(w["glasses"], [])
    assert kn.prob(w["glasses"], unseen) > kn.prob(w["francisco"], unseen)
    assert kn.describe()["discounts"][2]["kind"] in ("modified", "absolute")


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcdef"), max_size=7), min_size=1, max_size=10),
    st.integers(1, 5),
    st.lists(st.lists(st.integers(0, 9), max_size=6), min_size=1, max_size=4),
)
def test_kn_distributions_sum_to_one(sentences, order, contexts):
    tok = WordTokenizer.from_vocab(list("abcdefg"))  # "g" never occurs in training
    model = NGramModel.fit([tok.encode(" ".join(s)) for s in sentences], tok, order=order)
    seen = [tok.encode(" ".join(s[:i])) for s in sentences for i in range(len(s) + 1)]
    for context in seen[:10] + contexts:
        logprobs = model.next_logprobs(context)
        assert np.exp(logprobs).sum() == pytest.approx(1.0)
        assert np.isfinite(np.delete(logprobs, tok.bos_id)).all()  # unseen words keep mass


# ---------------------------------------------------------------------------------- protocol
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_sequence_logprobs_equals_next_logprobs(toy, smoothing):
    tok, _ = toy
    model = fit_toy(toy, order=3, smoothing=smoothing)
    sequence = ids(tok, "i love mice chase cats i") + [tok.unk_id, tok.eos_id, 3]
    expected = [model.next_logprobs(sequence[:t])[w] for t, w in enumerate(sequence)]
    assert np.allclose(model.sequence_logprobs(sequence), expected)
    assert model.sequence_logprobs([]).shape == (0,)


@pytest.mark.parametrize("order", [2, 3, 5])
def test_a_bos_inside_a_context_starts_a_new_sentence(toy, order):
    """As in SRILM and KenLM, one <s> is the start of a sentence: whatever came before it is
    forgotten, so [..., <s>, w] is scored like [w], in every form of the protocol."""
    tok, _ = toy
    model = fit_toy(toy, order=order, smoothing="kn")
    bos = tok.bos_id
    before = ids(tok, "i love cats chase")
    for after in ([], ids(tok, "cats"), ids(tok, "i love")):
        fresh = model.next_logprobs(after)
        assert np.array_equal(model.next_logprobs([*before, bos, *after]), fresh)
        assert np.array_equal(model.next_logprobs([bos, *after]), fresh)
        _, state = model.start([before])
        for t in [bos, *after]:
            row, state = model.extend(state, [t])
        assert np.array_equal(row[0], fresh)
    text = ids(tok, "cats chase mice")
    joined = model.sequence_logprobs([*before, bos, *text])
    assert joined[len(before)] == -np.inf  # <s> itself is never predicted
    assert np.allclose(joined[len(before) + 1 :], model.sequence_logprobs(text))
    assert np.allclose(joined[: len(before)], model.sequence_logprobs(before))
    slow = HistoryModel.sequence_logprobs(model, [*before, bos, *text])  # the generic loop
    assert np.allclose(slow[len(before) + 1 :], model.sequence_logprobs(text))


@pytest.mark.parametrize("order", [1, 2, 4])
def test_start_extend_select_match_next_logprobs(toy, order):
    tok, _ = toy
    model = fit_toy(toy, order=order, smoothing="kn")
    prompts = [[], ids(tok, "i"), ids(tok, "cats chase mice")]
    logprobs, state = model.start(prompts)
    assert logprobs.shape == (3, len(tok.vocab))
    for row, prompt in zip(logprobs, prompts):
        assert np.allclose(row, model.next_logprobs(prompt))
    step = [tok.token_to_id["love"], tok.token_to_id["love"], tok.eos_id]
    logprobs2, state2 = model.extend(state, step)
    assert len(state) == 3 and state == model.start(prompts)[1]  # input state unchanged
    for row, prompt, t in zip(logprobs2, prompts, step):
        assert np.allclose(row, model.next_logprobs([*prompt, t]))
    picked = model.select(state2, [2, 0, 0])
    logprobs3, _ = model.extend(picked, [3, 3, 4])
    assert np.allclose(logprobs3[0], model.next_logprobs([*prompts[2], step[2], 3]))
    assert np.allclose(logprobs3[2], model.next_logprobs([*prompts[0], step[0], 4]))
    with pytest.raises(ValueError, match="extend"):
        model.extend(state, [1])
    assert model.start([])[0].shape == (0, len(tok.vocab))


def test_argument_errors(toy):
    tok, sentences = toy
    for order in (0, 6, 2.0, True):
        with pytest.raises(ValueError, match="order"):
            NGramModel.fit(sentences, tok, order=order)
    with pytest.raises(ValueError, match="mle, addk, interp, stupid, kn"):
        NGramModel.fit(sentences, tok, smoothing="goodturing")
    for k in (0, -1, math.inf):
        with pytest.raises(ValueError, match="k must"):
            NGramModel.fit(sentences, tok, smoothing="addk", k=k)
    with pytest.raises(ValueError, match=r"sentences\[1\]"):
        NGramModel.fit([[3], [99]], tok)
    with pytest.raises(TypeError, match="token-id"):
        NGramModel.fit(["i love cats"], tok)
    with pytest.raises(CorpusError):
        NGramModel.fit([], tok)
    model = fit_toy(toy)
    with pytest.raises(ValueError, match="context_ids"):
        model.next_logprobs([len(tok.vocab)])
    with pytest.raises(ValueError, match="token_ids"):
        model.sequence_logprobs([-1])


def test_bos_inside_a_sentence_is_dropped_and_progress_is_reported(toy):
    tok, sentences = toy
    calls = []
    model = NGramModel.fit(
        [[tok.bos_id, *s] for s in sentences],
        tok,
        smoothing="mle",
        progress=lambda *a: calls.append(a),
    )
    plain = fit_toy(toy, smoothing="mle")
    assert model.count_table() == plain.count_table()
    assert calls[-1] == (3, 3)


def test_describe(toy):
    model = fit_toy(toy, order=3, smoothing="kn", name="toy-kn3")
    facts = model.describe()
    assert facts["name"] == "toy-kn3" and facts["backend"] == "ngram"
    assert facts["order"] == 3 and facts["smoothing"] == "kn"
    assert facts["ngrams"] == {j: model.num_ngrams(j) for j in (1, 2, 3)}
    assert facts["ngrams"][3] == len(model.count_table())
    assert set(facts["discounts"]) == {1, 2, 3}
    json.dumps(facts)


# ---------------------------------------------------------------------------------- save / load
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_save_load_round_trip(toy, tmp_path, smoothing):
    tok, _ = toy
    model = fit_toy(toy, order=3, smoothing=smoothing, k=0.3, name="toy")
    model.save(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {
        "config.json",
        "tokenizer.json",
        "ngrams.safetensors",
    }
    loaded = NGramModel.load(tmp_path / "m")
    assert loaded.describe() == model.describe()
    assert (loaded.order, loaded.smoothing, loaded.name) == (3, smoothing, "toy")
    for context in ([], ids(tok, "i love"), ids(tok, "mice i"), [0]):
        assert np.array_equal(loaded.next_logprobs(context), model.next_logprobs(context))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["backend"] == "ngram" and config["format"] == 1


def _saved(toy, tmp_path, **opts):
    model = fit_toy(toy, order=3, **opts)
    model.save(tmp_path / "m")
    return tmp_path / "m"


def _edit_config(directory, **changes):
    path = directory / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def _edit_arrays(directory, edit):
    path = directory / "ngrams.safetensors"
    arrays = load_file(str(path))
    edit(arrays)
    save_file(arrays, str(path))


@pytest.mark.parametrize(
    ("damage", "file"),
    [
        (lambda d: (d / "config.json").unlink(), "config.json"),
        (lambda d: (d / "config.json").write_text("{not json"), "config.json"),
        (lambda d: _edit_config(d, backend="lstm"), "config.json"),
        (lambda d: _edit_config(d, order=9), "config.json"),
        (lambda d: _edit_config(d, smoothing="magic"), "config.json"),
        (lambda d: _edit_config(d, vocab_size=5), "config.json"),
        (lambda d: _edit_config(d, discounts=[[0.5, 0.5, 0.5]]), "config.json"),
        (lambda d: _edit_config(d, order=2), "ngrams.safetensors"),
        (lambda d: (d / "tokenizer.json").unlink(), "tokenizer.json"),
        (lambda d: (d / "ngrams.safetensors").unlink(), "ngrams.safetensors"),
        (lambda d: (d / "ngrams.safetensors").write_bytes(b"\x00" * 40), "ngrams.safetensors"),
        (
            lambda d: (d / "ngrams.safetensors").write_bytes(
                (d / "ngrams.safetensors").read_bytes()[:-7]
            ),
            "ngrams.safetensors",
        ),
        (
            lambda d: _edit_arrays(d, lambda a: a.__setitem__("ngrams.2", a["ngrams.2"] + 50)),
            "ngrams.safetensors",
        ),
        (
            lambda d: _edit_arrays(d, lambda a: a.__setitem__("counts.3", a["counts.3"][:-1])),
            "ngrams.safetensors",
        ),
        (
            lambda d: _edit_arrays(d, lambda a: a.__setitem__("counts.1", -a["counts.1"])),
            "ngrams.safetensors",
        ),
        (
            lambda d: _edit_arrays(d, lambda a: a.__setitem__("ngrams.2", a["ngrams.2"][1:])),
            "ngrams.safetensors",
        ),
    ],
)
def test_load_errors_name_the_file(toy, tmp_path, damage, file):
    directory = _saved(toy, tmp_path, smoothing="kn")
    damage(directory)
    with pytest.raises(ModelLoadError) as info:
        NGramModel.load(directory)
    message = str(info.value)
    assert file in message and "\n" not in message


def test_load_missing_directory(tmp_path):
    with pytest.raises(ModelLoadError, match="nowhere"):
        NGramModel.load(tmp_path / "nowhere")


def test_load_rejects_bad_interp_weights(toy, tmp_path):
    directory = _saved(toy, tmp_path, smoothing="interp")
    _edit_config(directory, lambdas=[0.5, 0.5, 0.5, 0.5])
    with pytest.raises(ModelLoadError, match="config.json"):
        NGramModel.load(directory)

