"""The oracle language: exact distributions, sampling, long-range structure, the model backend."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlm_tui.errors import ArlmError, ModelLoadError
from arlm_tui.lm.base import BOS, EOS, UNK
from arlm_tui.lm.oracle import (
    RESYNC_WINDOW,
    SETTINGS,
    ImpossiblePrefixError,
    OracleLanguage,
    OracleModel,
    detokenize,
    load_oracle,
    save_oracle,
    tokenize,
)

VOCAB_SIZE = len(OracleLanguage().vocab)


@pytest.fixture(scope="module")
def language() -> OracleLanguage:
    return OracleLanguage()


@pytest.fixture(scope="module")
def model() -> OracleModel:
    return OracleModel()


@pytest.fixture(scope="module")
def stories(language) -> list[list[str]]:
    rng = np.random.default_rng(2024)
    return [language.sample(rng) for _ in range(2000)]


def words(text: str) -> list[str]:
    return text.split()


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    return 0.5 * sum(abs(p.get(w, 0.0) - q.get(w, 0.0)) for w in set(p) | set(q))


# ---------------------------------------------------------------------------- the language
def test_vocabulary_is_fixed_lower_case_words_and_punctuation(language):
    vocab = language.vocab
    assert vocab[:3] == [UNK, BOS, EOS]
    assert 150 <= len(vocab) <= 400
    assert len(set(vocab)) == len(vocab)
    assert all(w in {".", ","} or (w.isalpha() and w.islower()) for w in vocab[3:])
    assert OracleLanguage().vocab == vocab


def test_samples_use_the_vocabulary_and_have_two_to_four_sentences(stories, language):
    for story in stories:
        assert set(story) <= set(language.vocab[3:])
        assert story[-1] == "."
        assert 2 <= story.count(".") <= 4


def test_corpus_is_deterministic_text_one_story_per_line(language):
    first = language.corpus(30, seed=7)
    assert first == OracleLanguage().corpus(30, seed=7)
    assert first != language.corpus(30, seed=8)
    assert len(first) == 30
    for line in first:
        assert "\n" not in line and line == line.strip()
        assert detokenize(tokenize(line)) == line
        assert language.is_possible(tokenize(line) + [EOS])
    with pytest.raises(ValueError, match="n_stories"):
        language.corpus(-1)


def test_every_next_distribution_sums_to_one(stories, language):
    vocab = set(language.vocab)
    for story in stories[:200]:
        tokens = story + [EOS]
        for t in range(len(tokens)):
            dist = language.next_distribution(tokens[:t])
            assert math.isclose(sum(dist.values()), 1.0, abs_tol=1e-12)
            assert all(p > 0 for p in dist.values()) and set(dist) <= vocab
            assert BOS not in dist and UNK not in dist
            assert dist.get(tokens[t], 0.0) > 0


def test_first_token_frequencies_match_the_exact_distribution(stories, language):
    exact = language.next_distribution([])
    counts = Counter(story[0] for story in stories)
    n = len(stories)
    assert set(counts) <= set(exact)
    for token, p in exact.items():
        assert abs(counts[token] / n - p) <= 4.5 * math.sqrt(p * (1 - p) / n) + 1 / n


def test_frequent_prefixes_continue_as_predicted(stories, language):
    """For the most frequent prefix of several lengths: empirical next-token frequencies among
    the stories that start with it match next_distribution(prefix)."""
    checked = 0
    for length in (3, 6, 7, 8):
        prefixes = Counter(tuple((s + [EOS])[:length]) for s in stories if len(s) >= length)
        prefix, n = prefixes.most_common(1)[0]
        assert n >= 40
        following = Counter((s + [EOS])[length] for s in stories if tuple(s[:length]) == prefix)
        exact = language.next_distribution(list(prefix))
        assert set(following) <= set(exact)
        for token, p in exact.items():
            bound = 4.5 * math.sqrt(p * (1 - p) / n) + 1 / n
            assert abs(following[token] / n - p) <= bound, (prefix, token)
        checked += 1
    assert checked == 4


def test_predictions_are_calibrated_at_late_positions(stories, language):
    """Σ_i [1{w_t = w} − p(w | w_<t)] over sampled stories is a sum of zero-mean terms with
    variance Σ p(1 − p): checked at every position t for every token (a martingale test that
    covers the late, long-range positions with the whole sample)."""
    observed: dict[int, np.ndarray] = {}
    expected: dict[int, np.ndarray] = {}
    variance: dict[int, np.ndarray] = {}
    size = len(language.vocab)
    for story in stories:
        reading = language.start()
        for t, token_id in enumerate(language.ids(story + [EOS])):
            bucket = min(t // 8, 4)  # positions 0-7, 8-15, ..., 32+
            obs = observed.setdefault(bucket, np.zeros(size))
            exp = expected.setdefault(bucket, np.zeros(size))
            var = variance.setdefault(bucket, np.zeros(size))
            obs[token_id] += 1
            exp += reading.probs
            var += reading.probs * (1 - reading.probs)
            reading = language.advance(reading, token_id)
        assert reading.possible
    assert len(observed) == 5
    for bucket, counts in observed.items():
        gap = np.abs(counts - expected[bucket])
        assert np.all(gap <= 4.5 * np.sqrt(variance[bucket]) + 1.0), bucket


def test_sequence_logprob_is_the_sum_of_next_token_logprobs(stories, language):
    for story in stories[:50]:
        tokens = story + [EOS]
        chain = sum(math.log(language.next_distribution(tokens[:t])[tokens[t]])
                    for t in range(len(tokens)))
        assert language.sequence_logprob(story) == pytest.approx(chain, abs=1e-9)
        assert language.sequence_logprob(tokens) == pytest.approx(chain, abs=1e-9)
        partial = chain - math.log(language.next_distribution(story)[EOS])
        assert language.sequence_logprob(story, include_end=False) == pytest.approx(partial)


def test_story_probability_by_hand(language):
    """P(story) from the tables: "the beach" reveals the sea, "anna" is the character."""
    story = words("once upon a time , anna lived near the beach . anna was happy .")
    p = 0.3  # opener "once upon a time"
    p *= 0.2 * 0.1  # setting sea, character anna
    p *= 0.6 * 0.4 * 0.25  # intro "anna", "lived near", place "the beach" (1 of 4)
    p *= 1.2 / 10  # sentence 2 is a "feel" sentence (weights 2+2+1.2+1+2+0.8+1 = 10)
    p *= 0.3 * 0.4 * 3 / 10  # no connective, "anna" (not "she"), "happy" (weights sum to 10)
    p *= 0.3  # stop after two sentences
    assert language.sequence_logprob(story) == pytest.approx(math.log(p), rel=1e-12)


def test_long_range_setting_changes_a_late_word_after_identical_tokens(language):
    sea = language.next_distribution(words("one day , anna went to the beach . then , she found a"))
    forest = language.next_distribution(
        words("one day , anna went to the woods . then , she found a"))
    assert total_variation(sea, forest) > 0.5
    assert sea.get("shell", 0) > 0 and sea.get("mushroom", 0) == 0
    assert forest.get("mushroom", 0) > 0 and forest.get("shell", 0) == 0
    # two sentences later, still the setting decides
    later = " . later , she was happy . soon , she saw a"
    sea = language.next_distribution(words("one day , anna went to the harbor" + later))
    farm = language.next_distribution(words("one day , anna went to the barn" + later))
    assert total_variation(sea, farm) > 0.5


@pytest.mark.parametrize("intro, pronoun, absent, be", [
    ("one day , tom went to the beach .", "he", "she", "was"),
    ("one day , anna went to the beach .", "she", "he", "was"),
    ("one day , two friends went to the beach .", "they", "she", "were"),
])
def test_long_range_character_agreement(language, intro, pronoun, absent, be):
    after = language.next_distribution(words(intro + " then ,"))
    assert after.get(pronoun, 0) > 0 and after.get(absent, 0) == 0
    verb = language.next_distribution(words(intro + f" then , {pronoun}"))
    assert verb.get(be, 0) > 0 and verb.get({"was": "were", "were": "was"}[be], 0) == 0


def test_impossible_prefixes_raise_one_line_errors(language):
    with pytest.raises(ImpossiblePrefixError) as info:
        language.next_distribution(words("one day , anna went to the beach . then , she found a fox"))
    assert isinstance(info.value, ArlmError)
    assert "fox" in str(info.value) and "\n" not in str(info.value)
    story = language.corpus(1, seed=3)[0]
    with pytest.raises(ImpossiblePrefixError, match="complete"):
        language.next_distribution(tokenize(story) + [EOS])
    assert not language.is_possible(["banana"])
    assert not language.is_possible(words("one day , tom went to the beach . </s>"))
    assert language.sequence_logprob(words("one day , the banana")) == -math.inf


def test_smoothed_reading_resynchronises_on_the_longest_explainable_suffix(language):
    odd = words("one day , anna went to the beach . then , she found a fox near the")
    assert not language.is_possible(odd)
    dist = language.smoothed_distribution(odd)
    assert math.isclose(sum(dist.values()), 1.0)
    # "found a fox" exists nowhere; "a fox near the" does, in forest stories only
    forest_places = {w for place in SETTINGS[1].places for w in place.split()[1:2]}
    assert set(dist) == forest_places
    # an unknown token: the stream's marginal (every token the language writes)
    marginal = language.smoothed_distribution(["<unk>"])
    assert len(marginal) == len(language.vocab) - 2  # all but <unk> and <s>
    # after a complete story the stream starts a new one
    story = tokenize(language.corpus(1, seed=5)[0]) + [EOS]
    assert language.smoothed_distribution(story) == pytest.approx(language.next_distribution([]))
    reading = language.read(language.ids(story + words("one day ,")))
    assert not reading.possible
    assert reading.suffix_len == len(story) + 3
    assert RESYNC_WINDOW >= 2


# ---------------------------------------------------------------------------- the backend
def test_model_vocabulary_and_tokenizer_align_with_the_language(model, language):
    assert model.backend == "oracle" and model.name == "oracle"
    assert model.vocab == language.vocab
    assert (model.unk_id, model.bos_id, model.eos_id) == (0, 1, 2)
    story = language.corpus(1, seed=11)[0]
    assert model.tokenizer.encode(story) == language.ids(tokenize(story))
    assert model.tokenizer.decode(model.tokenizer.encode(story)) == story
    assert model.describe()["exact"] is True


def test_next_logprobs_are_the_log_of_the_exact_distribution(model, language, stories):
    for story in stories[:20]:
        ids = language.ids(story)
        for t in range(0, len(ids), 3):
            logprobs = model.next_logprobs(ids[:t])
            assert logprobs.shape == (model.vocab_size,)
            assert np.logaddexp.reduce(logprobs) == pytest.approx(0.0, abs=1e-12)
            assert logprobs[model.bos_id] == -np.inf and logprobs[model.unk_id] == -np.inf
            exact = language.next_distribution(story[:t])
            assert np.exp(logprobs) == pytest.approx(
                [exact.get(w, 0.0) for w in model.vocab], abs=1e-12)
    # a leading <s> is ignored
    ids = language.ids(stories[0][:6])
    assert np.array_equal(model.next_logprobs([model.bos_id] + ids), model.next_logprobs(ids))


def test_incremental_state_matches_next_logprobs_and_select_reorders(model, language, stories):
    sequences = [language.ids(s)[:13] for s in stories[:2]]
    sequences.append(language.ids(words("one day , tom saw a fox . </s> <unk> once upon a time")))
    logprobs, state = model.start([[]] * 3)
    for t in range(12):
        tokens = [seq[t] for seq in sequences]
        before = state
        logprobs, state = model.extend(state, tokens)
        assert before is not state and len(before) == 3
        for b, seq in enumerate(sequences):
            np.testing.assert_allclose(logprobs[b], model.next_logprobs(seq[:t + 1]))
    chosen = model.select(state, [2, 0, 0])
    logprobs, _ = model.extend(chosen, [sequences[2][12], sequences[0][12], sequences[0][12]])
    np.testing.assert_allclose(logprobs[0], model.next_logprobs(sequences[2][:13]))
    np.testing.assert_allclose(logprobs[2], model.next_logprobs(sequences[0][:13]))
    with pytest.raises(ValueError):
        model.extend(state, [1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=VOCAB_SIZE - 1), max_size=25))
def test_any_context_gets_a_normalised_distribution(model, context):
    logprobs = model.next_logprobs(context)
    assert np.logaddexp.reduce(logprobs) == pytest.approx(0.0, abs=1e-9)
    assert logprobs[model.bos_id] == -np.inf
    # the model reads leading <s> tokens as start padding, so [<s>, w...] is [w...]
    unpadded = context
    while unpadded and unpadded[0] == model.bos_id:
        unpadded = unpadded[1:]
    assert model.is_possible(context) == model.language.read(unpadded).possible


def test_is_possible(model, language):
    good = model.tokenizer.encode("one day, a farmer walked to the barn.")
    assert model.is_possible(good)
    assert not model.is_possible(good + model.tokenizer.encode("she found a whale"))


def test_save_and_load_an_oracle_model_directory(tmp_path):
    directory = save_oracle(tmp_path / "oracle", seed=5)
    config = json.loads((directory / "config.json").read_text())
    assert config["backend"] == "oracle" and config["seed"] == 5
    loaded = load_oracle(directory)
    assert loaded.seed == 5 and loaded.corpus(3) == loaded.language.corpus(3, seed=5)
    context = loaded.tokenizer.encode("long ago, mia")
    np.testing.assert_array_equal(loaded.next_logprobs(context), OracleModel().next_logprobs(context))


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModelLoadError, match="config.json"):
        load_oracle(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="config.json"):
        load_oracle(tmp_path)
    (tmp_path / "config.json").write_text('{"backend": "ngram"}')
    with pytest.raises(ModelLoadError, match="expected 'oracle'"):
        load_oracle(tmp_path)
    (tmp_path / "config.json").write_text('{"backend": "oracle", "seed": "x"}')
    with pytest.raises(ModelLoadError, match="seed"):
        load_oracle(tmp_path)
    save_oracle(tmp_path)
    tokenizer = json.loads((tmp_path / "tokenizer.json").read_text())
    tokenizer["vocab"] = tokenizer["vocab"][:-1]
    (tmp_path / "tokenizer.json").write_text(json.dumps(tokenizer))
    with pytest.raises(ModelLoadError, match="tokenizer.json"):
        load_oracle(tmp_path)
