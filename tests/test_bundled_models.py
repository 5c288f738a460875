"""The models shipped in ``models/``: each loads by name, gives a distribution, describes itself
in ``arlm models list --json``, and the neural ones learned what they were trained on: on the
oracle language the sequence models beat the trigram and none beats the oracle itself."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

import arlm_tui
from arlm_tui import paths
from arlm_tui.build_models import BUNDLED, NEURAL_RECIPES, VALID_FRACTION
from arlm_tui.cli import main
from arlm_tui.evaluate import HELDOUT_SEED
from arlm_tui.lm.information import heldout_perplexity
from arlm_tui.lm.oracle import OracleLanguage

MAX_MODELS_BYTES = 30 * 1000 * 1000
MAX_TRAINING_SECONDS = 600
HELDOUT_SAMPLE = 200
ORACLE_TRAINED = [name for name, r in NEURAL_RECIPES.items() if r["corpus"] == "oracle"]
#: Sequence models that can carry the story's hidden setting and character to the end.
REMEMBERING = [n for n in ORACLE_TRAINED if NEURAL_RECIPES[n]["kind"] != "ffn"]


@pytest.fixture(scope="module")
def models():
    return {name: arlm_tui.load_model(name) for name in BUNDLED}


@pytest.fixture(scope="module")
def listing():
    """``arlm models list --json`` rows by name (run once; the CLI prints to stdout)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["models", "list", "--json"]) == 0
    return {row["name"]: row for row in json.loads(out.getvalue())}


@pytest.fixture(scope="module")
def heldout_stories():
    return OracleLanguage().corpus(HELDOUT_SAMPLE, seed=HELDOUT_SEED)


def _sample_context(name: str, model) -> list[int]:
    text = "one day, a young sailor went to the" if name.startswith("oracle") else "The value of"
    return model.tokenizer.encode(text)


def test_every_bundled_model_is_shipped_and_loads_by_name(models):
    for name in BUNDLED:
        assert (paths.models_dir() / name / "config.json").is_file(), name
        assert models[name].name == name


@pytest.mark.parametrize("name", list(BUNDLED))
def test_next_logprobs_is_a_normalized_distribution(models, name):
    model = models[name]
    for context in ([], _sample_context(name, model)):
        logprobs = model.next_logprobs(context)
        assert logprobs.shape == (model.vocab_size,)
        assert not np.isnan(logprobs).any() and (logprobs <= 1e-12).all()
        assert np.logaddexp.reduce(logprobs) == pytest.approx(0.0, abs=1e-9)
        assert logprobs[model.bos_id] == -np.inf  # nothing is followed by <s>


@pytest.mark.parametrize("name", list(NEURAL_RECIPES))
def test_one_pass_scoring_equals_generation_steps(models, name):
    """The fast scorer (held-out perplexity, ``arlm score``) reads the text exactly as the
    cached start/extend path that generation uses."""
    from arlm_tui.api import score_ids, score_ids_from

    model = models[name]
    ids = _sample_context(name, model) + [model.eos_id]
    np.testing.assert_allclose(
        score_ids(model, ids[:-1]), score_ids_from(model, [], ids), atol=1e-5
    )


def test_oracle_models_share_the_oracles_token_ids(models):
    for name in [*ORACLE_TRAINED, "oracle-kn3"]:
        assert models[name].vocab == models["oracle"].vocab, name


@pytest.mark.parametrize("name", list(NEURAL_RECIPES))
def test_models_list_json_describes_each_neural_model(models, listing, name):
    recipe, row, model = NEURAL_RECIPES[name], listing[name], models[name]
    assert row["origin"] == "bundled"
    assert row["backend"] == recipe["kind"]
    assert row["parameters"] == model.parameters > 0
    assert row["corpus"]
    assert 1.0 < row["heldout_perplexity"] < model.vocab_size
    config = row["config"]
    assert config["vocab_size"] == model.vocab_size == len(model.tokenizer.vocab)
    for key in ("layers", "d_model", "heads", "context"):
        if key in recipe:
            assert config[key] == recipe[key], key
    assert {"layers", "d_model", "context"} <= set(config)
    if recipe["kind"] == "transformer":
        assert config["context"] >= 128 and config["d_model"] % config["heads"] == 0
    # ``python -m arlm_tui.evaluate`` picks the oracle-trained models by their corpus
    assert ("oracle" in row["corpus"]) == (recipe["corpus"] == "oracle")


def test_models_list_json_has_the_summary_of_every_model(listing):
    for name in BUNDLED:
        row = listing[name]
        for key in ("backend", "parameters", "corpus", "heldout_perplexity", "config"):
            assert key in row, (name, key)


@pytest.mark.parametrize("name", list(NEURAL_RECIPES))
def test_card_records_a_training_time_within_budget(listing, name):
    directory = paths.models_dir() / name
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    seconds = config["summary"]["training_seconds"]
    assert 0 < seconds <= MAX_TRAINING_SECONDS
    card = (directory / "card.md").read_text(encoding="utf-8")
    assert "training time (s)" in card and "held-out perplexity" in card


def test_heldout_perplexity_ranks_the_oracle_models(models, heldout_stories):
    """H(p) ≤ H(p, q) for every model q: none beats the oracle; the recurrent nets and the
    transformer, which can remember the first sentence, beat the Kneser-Ney trigram."""
    ppl = {
        name: heldout_perplexity(models[name], heldout_stories)
        for name in ["oracle", "oracle-kn3", *ORACLE_TRAINED]
    }
    assert {"oracle-lstm", "oracle-transformer"} <= set(REMEMBERING)
    for name in REMEMBERING:
        assert ppl[name] < ppl["oracle-kn3"], (name, ppl)
    for name in ["oracle-kn3", *ORACLE_TRAINED]:
        assert ppl[name] > ppl["oracle"], (name, ppl)


def test_saved_weights_are_the_ones_the_card_reports(models):
    """The summary's held-out perplexity is the saved weights' on the validation split."""
    from arlm_tui.build_models import _oracle_corpus

    _, valid, _, _ = _oracle_corpus()
    for name in ("oracle-lstm", "oracle-ffn"):
        card = models[name].summary["heldout_perplexity"]
        assert heldout_perplexity(models[name], valid[:300]) == pytest.approx(card, rel=0.05)


@pytest.mark.parametrize("name", REMEMBERING)
def test_greedy_story_is_one_the_oracle_language_can_write(models, name):
    model = models[name]
    result = arlm_tui.generate(model, "one day,", strategy="greedy")
    assert result["finished"]
    tokens = [model.vocab[i] for i in model.tokenizer.encode(result["text"])]
    assert math.isfinite(OracleLanguage().sequence_logprob(tokens)), result["text"]


def test_sampling_is_reproducible_by_seed(models):
    runs = [
        arlm_tui.generate(models["oracle-transformer"], strategy="sample", seed=1, top_p=0.9)
        for _ in range(2)
    ]
    assert runs[0]["token_ids"] == runs[1]["token_ids"] and runs[0]["num_tokens"] > 0


def test_char_lstm_uses_more_than_the_previous_character(models):
    """On held-out sentences of the language reference the char LSTM beats an add-one
    character bigram fit on its training sentences."""
    from arlm_tui.text.corpora import pyref_sentences, train_valid_split

    model = models["pyref-char-lstm"]
    assert model.tokenizer.kind == "char"
    train, valid = train_valid_split(pyref_sentences(), VALID_FRACTION, seed=0)
    valid = valid[:100]
    V = model.vocab_size
    pairs: Counter[tuple[int, int]] = Counter()
    firsts: Counter[int] = Counter()
    for text in train:
        ids = [model.bos_id, *model.tokenizer.encode(text), model.eos_id]
        pairs.update(zip(ids, ids[1:]))
    for (a, _), n in pairs.items():
        firsts[a] += n
    nll, count = 0.0, 0
    for text in valid:
        ids = [model.bos_id, *model.tokenizer.encode(text), model.eos_id]
        for a, b in zip(ids, ids[1:]):
            nll -= math.log((pairs[a, b] + 1) / (firsts[a] + V))
            count += 1
    bigram = math.exp(nll / count)
    assert heldout_perplexity(model, valid) < bigram


def test_models_directory_fits_the_size_budget():
    total = sum(f.stat().st_size for f in paths.models_dir().rglob("*") if f.is_file())
    assert total <= MAX_MODELS_BYTES
