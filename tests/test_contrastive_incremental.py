"""Contrastive search's shortcut (``LanguageModel.candidate_hidden_states``): one pass over the
text and the k candidates as one batch of one-token steps gives the numbers of the default (a
pass over the text and one more per candidate), for every backend with hidden states: the
recurrent nets, the feed-forward net, arlm's transformer inside and across its window
restarts, a GPT-2 folder on arlm's transformer, and a ``transformers`` model (``hf:``), whose
text with a candidate may outgrow its window. Contrastive search then picks the same tokens."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from test_gpt2 import _save
from test_hf import hf_dir  # noqa: F401 - the tiny transformers model's folder, a fixture
from test_neural_models import KINDS, V, make_model, random_ids

import arlm_tui
from arlm_tui.decoding.contrastive import contrastive_step
from arlm_tui.lm.base import LanguageModel
from arlm_tui.lm.hf import HFModel

TOL = 1e-4  # the nets compute in float32; the states are compared in float64


def default_states(model, context, candidates):
    """What the base class computes: ``hidden_states`` of the text and of each text + v."""
    return LanguageModel.candidate_hidden_states(model, context, candidates)


def assert_same_states(model, context, candidates):
    ours = model.candidate_hidden_states(context, candidates)
    theirs = default_states(model, context, candidates)
    assert ours is not None and theirs is not None
    assert ours[0].dtype == np.float64 and ours[1].dtype == np.float64
    assert ours[0].shape == theirs[0].shape  # (positions the window holds, d)
    assert ours[1].shape == theirs[1].shape == (len(candidates), theirs[0].shape[1])
    assert np.abs(ours[0] - theirs[0]).max() < TOL
    assert np.abs(ours[1] - theirs[1]).max() < TOL
    # each row is the state after its own candidate: distinct candidates, distinct rows
    if len(set(candidates)) > 1:
        assert np.abs(ours[1][0] - ours[1][1]).max() > 1e-3


def with_default(model):
    """``model`` with the shortcut switched off on this instance (the base class's loop)."""
    model.candidate_hidden_states = types.MethodType(LanguageModel.candidate_hidden_states,
                                                     model)
    return model


# ------------------------------------------------------------------------------ the neural nets
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("length", [0, 1, 5, 17])
def test_tiny_nets_equal_the_default(kind, length):
    model = make_model(kind, context=6)
    assert_same_states(model, random_ids(length, seed=length), [3, 4, 7, V - 1])


@pytest.mark.parametrize("length", range(0, 27))
def test_the_transformer_across_its_window_restarts(length):
    """C = 6, K = 3: the window restarts at texts of 7, 10, 13, … tokens (``<s>`` included);
    every length puts the candidate in the context's last window or in a new one."""
    model = make_model("transformer", context=6)
    assert_same_states(model, random_ids(length, seed=100 + length), [3, 5, 8])


@pytest.mark.parametrize("name", ["oracle-transformer", "oracle-gru", "oracle-lstm",
                                  "oracle-ffn"])
def test_bundled_nets_equal_the_default(name):
    model = arlm_tui.load_model(name)
    ids = model.tokenizer.encode("the twins went to the river and the river was cold")
    probs = np.exp(model.next_logprobs(ids))
    assert_same_states(model, ids, np.argsort(-probs)[:6].tolist())


def test_the_context_rows_are_the_start_and_every_token():
    model = make_model("transformer", context=6)
    context, candidates = model.candidate_hidden_states(random_ids(9), [3, 4])
    assert context.shape == (10, 12) and candidates.shape == (2, 12)


def test_no_candidates_gives_only_the_context():
    model = make_model("lstm")
    context, candidates = model.candidate_hidden_states(random_ids(4), [])
    assert context.shape == (5, 12) and candidates.shape == (0, 12)
    with pytest.raises(ValueError, match="candidate_ids"):
        model.candidate_hidden_states([3], [V])


# ------------------------------------------------------------------------------ GPT-2 folder
@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    return arlm_tui.load_model(f"hf:{_save(tmp_path_factory.mktemp('gpt2'))}")


@pytest.mark.parametrize("length", [0, 3, 22, 23, 24, 30, 40])
def test_a_gpt2_folder_equals_the_default(gpt2, length):
    """The folder runs on arlm's transformer (window 24, restarts keep 12)."""
    assert type(gpt2).__name__ == "NeuralLanguageModel"
    ids = random_ids(length, seed=length)
    ids = [i + 40 for i in ids]  # ordinary byte tokens of the tiny tokenizer
    assert_same_states(gpt2, ids, [50, 61, 72, 83])


# ------------------------------------------------------------------------------ transformers
@pytest.fixture(scope="module")
def hf(hf_dir):  # noqa: F811 - the fixture imported above
    model = arlm_tui.load_model(f"hf:{hf_dir}")
    assert isinstance(model, HFModel)
    return model


@pytest.mark.parametrize("length", [0, 1, 8, 21, 22, 23, 30])
def test_a_transformers_model_equals_the_default(hf, length):
    """Window 24: a text of up to 22 tokens and a candidate fit with ``<s>`` (one forward,
    the cache repeated to k rows); a longer one is cut to the window (the default's passes)."""
    ids = [i + 40 for i in random_ids(length, seed=length)]
    assert_same_states(hf, ids, [50, 61, 72, 83, 94])


def test_the_transformers_cache_is_read_once_and_repeated(hf, monkeypatch):
    """The shortcut runs the net twice (text, then the batch of candidates), not k + 1 times."""
    calls = []
    forward = hf.net.forward

    def counting(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape)
        return forward(*args, **kwargs)

    monkeypatch.setattr(hf.net, "forward", counting)
    hf.candidate_hidden_states([41, 42, 43], [50, 61, 72])
    assert [tuple(s) for s in calls] == [(1, 4), (3, 1)]
    # a cache that cannot be repeated (transformers 4.x tuples): the default's passes
    calls.clear()
    monkeypatch.setattr("arlm_tui.lm.hf._repeatable", lambda cache: False)
    assert_same_states(hf, [41, 42, 43], [50, 61, 72])
    assert [tuple(s) for s in calls] == [(1, 4), (1, 4), (1, 5), (1, 5), (1, 5)] + [
        (1, 4), (1, 5), (1, 5), (1, 5)]  # the shortcut's first pass, then two defaults


# ------------------------------------------------------------------------------ same choices
@pytest.mark.parametrize("kind", KINDS)
def test_contrastive_search_picks_the_same_tokens(kind):
    model = make_model(kind, context=6, seed=3)
    reference = with_default(make_model(kind, context=6, seed=3))
    ids = random_ids(3, seed=9)
    for _ in range(14):  # across the transformer's window restarts
        probs = np.exp(model.next_logprobs(ids))
        ours = contrastive_step(model, ids, probs, 0.6, 4)
        theirs = contrastive_step(reference, ids, probs, 0.6, 4)
        assert ours.chosen == theirs.chosen
        assert [c.token_id for c in ours.candidates] == [c.token_id for c in theirs.candidates]
        assert np.allclose([c.similarity for c in ours.candidates],
                           [c.similarity for c in theirs.candidates], atol=TOL)
        ids.append(ours.winner.token_id)


def test_generation_on_the_bundled_transformer_is_unchanged():
    model = arlm_tui.load_model("oracle-transformer")
    reference = with_default(arlm_tui.load_model("oracle-transformer"))
    options = {"strategy": "contrastive", "max_tokens": 15, "penalty_alpha": 0.6,
               "contrastive_top_k": 5}
    for prompt in ("the", "the twins went to the river"):
        ours = arlm_tui.generate(model, prompt, **options)
        theirs = arlm_tui.generate(reference, prompt, **options)
        assert ours["token_ids"] == theirs["token_ids"]


def test_generation_on_a_transformers_model_is_unchanged(hf, hf_dir):  # noqa: F811
    reference = with_default(arlm_tui.load_model(f"hf:{hf_dir}"))
    options = {"strategy": "contrastive", "max_tokens": 20, "penalty_alpha": 0.5,
               "contrastive_top_k": 6}
    # the second (12 tokens) outgrows the 24 positions as it goes
    for prompt in ("the cat", "the bird sang a song, then flew. the cat sat"):
        ours = arlm_tui.generate(hf, prompt, **options)
        theirs = arlm_tui.generate(reference, prompt, **options)
        assert ours["token_ids"] == theirs["token_ids"]


def test_the_default_loop_serves_a_model_without_the_shortcut():
    """A backend without an override is served by the base class (k + 1 passes)."""
    model = make_model("gru")
    with torch.inference_mode():
        expected = model.hidden_states([3, 4, 5])[-1]
    states = default_states(model, [3, 4], [5, 6])
    assert states is not None and np.abs(states[1][0] - expected).max() == 0.0
    assert arlm_tui.load_model("pyref-word-kn3").candidate_hidden_states([3], [4]) is None
