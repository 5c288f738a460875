"""Contrastive search: a worked example, α = 0 is greedy, a reference loop over transformers'
own GPT-2 (its hidden states), the refusal for n-grams, the Trace, the session and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from test_gpt2 import PADDING_ROWS, _save
from transformers import GPT2LMHeadModel

import arlm_tui
from arlm_tui.cli import main
from arlm_tui.decoding import DecodingConfig, Session, explain, generate_ids
from arlm_tui.decoding.contrastive import NoHiddenStates, contrastive_step
from arlm_tui.lm.base import EOS
from arlm_tui.lm.table import TableModel, greedy_trap_model

# ------------------------------------------------------------------------------ worked example
#: the hidden state at a position is the vector of the token read there (the start: e₃)
VECTORS = {"<s>": (0.0, 0.0, 1.0), "x": (1.0, 0.0, 0.0), "y": (0.6, 0.8, 0.0),
           "z": (0.0, 1.0, 0.0)}


class VectorModel(TableModel):
    """A table model whose hidden state at each position is a fixed vector per token."""

    @property
    def has_hidden_states(self) -> bool:
        return True

    def hidden_states(self, context_ids):
        tokens = ["<s>", *(self.vocab[i] for i in context_ids)]
        return np.array([VECTORS.get(t, (0.0, 0.0, 0.0)) for t in tokens])


def vector_model() -> VectorModel:
    after_x = {"x": 0.5, "y": 0.3, "z": 0.2}
    table = {("<s>",): {"x": 1.0}, ("x",): after_x, ("y",): {EOS: 1.0}, ("z",): {EOS: 1.0}}
    return VectorModel(["x", "y", "z"], 2, table, name="vectors")


@pytest.mark.parametrize(("alpha", "k", "winner", "scores"), [
    # x: cos 1 with x itself; y: cos 0.6 with x; z: orthogonal to x and to the start
    (0.6, 3, "z", [0.4 * 0.5 - 0.6 * 1.0, 0.4 * 0.3 - 0.6 * 0.6, 0.4 * 0.2 - 0.0]),
    (0.2, 3, "x", [0.8 * 0.5 - 0.2 * 1.0, 0.8 * 0.3 - 0.2 * 0.6, 0.8 * 0.2]),
    (0.6, 2, "y", [0.4 * 0.5 - 0.6 * 1.0, 0.4 * 0.3 - 0.6 * 0.6]),
])
def test_worked_example(alpha, k, winner, scores):
    model = vector_model()
    x = model.tokenizer.encode("x")
    probs = np.exp(model.next_logprobs(x))
    step = contrastive_step(model, x, probs, alpha, k)
    assert [c.token for c in step.candidates] == ["x", "y", "z"][:k]
    assert np.allclose([c.score for c in step.candidates], scores)
    assert np.allclose([c.similarity for c in step.candidates], [1.0, 0.6, 0.0][:k])
    assert step.winner.token == winner
    # the same through the generation path, which records it in the Trace
    result = generate_ids(model, x, DecodingConfig(strategy="contrastive", penalty_alpha=alpha,
                                                   contrastive_top_k=k, max_tokens=1))
    trace = result.traces[0]
    assert trace.chosen_token == winner and trace.contrastive.winner.token == winner
    data = trace.to_dict()["contrastive"]
    assert data["alpha"] == alpha and data["top_k"] == k
    assert [c["degeneration_penalty"] for c in data["candidates"]] == pytest.approx(
        [1.0, 0.6, 0.0][:k])
    line = explain(trace)
    assert line.startswith("contrastive search") and f"'{winner}'" in line
    if winner != "x":
        assert "over 'x'" in line and "too like 'x''s" in line


def test_the_penalty_uses_every_earlier_position_including_the_start():
    model = vector_model()
    # after the empty text the only earlier state is the start's e₃: x is orthogonal to it
    step = contrastive_step(model, [], np.exp(model.next_logprobs([])), 0.5, 4)
    assert [(c.token, c.similarity, c.similar_to) for c in step.candidates] == [("x", 0.0, 0)]


# ------------------------------------------------------------------------------ α = 0 is greedy
@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory) -> Path:
    return _save(tmp_path_factory.mktemp("gpt2"))


@pytest.fixture(scope="module")
def gpt2(gpt2_dir):
    return arlm_tui.load_model(f"hf:{gpt2_dir}")


@pytest.mark.parametrize("name", ["oracle-gru", "oracle-ffn"])
def test_alpha_zero_is_greedy_on_bundled_nets(name):
    model = arlm_tui.load_model(name)
    for prompt in ("the", "the twins"):
        greedy = arlm_tui.generate(model, prompt, strategy="greedy", max_tokens=12)
        contrastive = arlm_tui.generate(model, prompt, strategy="contrastive", max_tokens=12,
                                        penalty_alpha=0.0, contrastive_top_k=5)
        assert contrastive["token_ids"] == greedy["token_ids"]
        assert all(s["contrastive"]["chosen"] == 0 for s in contrastive["steps"])


def test_alpha_zero_is_greedy_on_a_transformer(gpt2):
    for prompt in ("the cat", "a"):
        greedy = arlm_tui.generate(gpt2, prompt, strategy="greedy", max_tokens=10)
        contrastive = arlm_tui.generate(gpt2, prompt, strategy="contrastive", max_tokens=10,
                                        penalty_alpha=0.0)
        assert contrastive["token_ids"] == greedy["token_ids"]


# ------------------------------------------------------------------------------ reference
def reference_contrastive(reference, model, prompt: list[int], alpha: float, k: int,
                          steps: int) -> list[int]:
    """Contrastive search written out on transformers' GPT-2 as its generate does it: the
    candidates are topk(softmax(logits)) (the ids arlm never predicts removed), each read after
    the text; its last hidden_states[-1] against those of every position of the text."""
    ids = [model.bos_id, *prompt]
    out = []
    for _ in range(steps):
        with torch.inference_mode():
            run = reference(torch.tensor([ids]), output_hidden_states=True)
            logits = run.logits[0, -1].double().clone()
            logits[model.tokenizer.known:] = -torch.inf
            probs = torch.softmax(logits, -1)
            top_probs, top_ids = torch.topk(probs, k)
            context = run.hidden_states[-1][0].double()  # (T, d)
            scores = []
            for p, v in zip(top_probs.tolist(), top_ids.tolist()):
                h = reference(torch.tensor([ids + [v]]), output_hidden_states=True
                              ).hidden_states[-1][0, -1].double()
                cos = torch.nn.functional.cosine_similarity(context, h[None, :], dim=-1)
                scores.append((1 - alpha) * p - alpha * float(cos.max()))
        chosen = top_ids[int(np.argmax(scores))].item()
        out.append(chosen)
        ids.append(chosen)
        if chosen == model.eos_id:
            break
    return out


@pytest.mark.parametrize(("prompt", "alpha", "k"), [("the cat", 0.6, 4), ("a dog", 0.4, 6),
                                                     ("the", 0.9, 3)])
def test_same_tokens_as_a_reference_on_transformers_gpt2(gpt2, gpt2_dir, prompt, alpha, k):
    reference = GPT2LMHeadModel.from_pretrained(gpt2_dir, dtype=torch.float32).eval()
    ids = gpt2.tokenizer.encode(prompt)
    expected = reference_contrastive(reference, gpt2, ids, alpha, k, steps=12)
    ours = arlm_tui.generate(gpt2, prompt, strategy="contrastive", max_tokens=12,
                             penalty_alpha=alpha, contrastive_top_k=k)["token_ids"]
    assert ours == expected
    # and the hidden states themselves: arlm's transformer against transformers'
    with torch.inference_mode():
        theirs = reference(torch.tensor([[gpt2.bos_id, *ids]]), output_hidden_states=True
                           ).hidden_states[-1][0].double().numpy()
    assert np.abs(gpt2.hidden_states(ids) - theirs).max() < 1e-4


def test_the_hf_backend_gives_the_same_hidden_states(gpt2, gpt2_dir):
    from arlm_tui.lm.hf import load_hf

    hf = load_hf(gpt2_dir)
    ids = gpt2.tokenizer.encode("the bird sang")
    assert hf.has_hidden_states and hf.hidden_states(ids).shape == (len(ids) + 1, 32)
    assert np.abs(hf.hidden_states(ids) - gpt2.hidden_states(ids)).max() < 1e-4
    assert gpt2.vocab_size == gpt2.tokenizer.known + PADDING_ROWS


# ------------------------------------------------------------------------------ refusal, CLI
def test_an_ngram_model_is_refused_in_one_line(capsys):
    with pytest.raises(NoHiddenStates, match="pyref-word-kn3 is an n-gram model"):
        arlm_tui.generate("pyref-word-kn3", "the", strategy="contrastive", penalty_alpha=0.6)
    code = main(["generate", "--model", "pyref-word-kn3", "--prompt", "the", "--strategy",
                 "contrastive", "--penalty-alpha", "0.6"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err
    assert lines[0].endswith("contrastive search needs a model with hidden states; "
                             "pyref-word-kn3 is an n-gram model")
    assert not greedy_trap_model().has_hidden_states


def test_cli_json_records_the_degeneration_penalties(capsys):
    code = main(["generate", "--model", "oracle-ffn", "--prompt", "the", "--strategy",
                 "contrastive", "--penalty-alpha", "0.6", "--contrastive-top-k", "3",
                 "--max-tokens", "5", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["strategy"] == "contrastive"
    for step in data["steps"]:
        c = step["contrastive"]
        assert c["alpha"] == 0.6 and len(c["candidates"]) <= 3
        winner = c["candidates"][c["chosen"]]
        assert winner["token_id"] == step["chosen_id"]
        for cand in c["candidates"]:
            assert math.isclose(cand["score"], 0.4 * cand["prob"]
                                - 0.6 * cand["degeneration_penalty"], abs_tol=1e-12)
        assert winner["score"] == max(cand["score"] for cand in c["candidates"])


def test_session_preview_step_undo_and_replay():
    model = arlm_tui.load_model("oracle-gru")
    s = Session(model, "the twins", strategy="contrastive", penalty_alpha=0.6,
                max_tokens=8)
    preview = s.preview()
    first = s.step()
    assert first is preview  # the step takes the preview's work as it is
    for _ in range(3):
        s.step()
    chosen = [t.chosen_id for t in s.traces]
    s.undo()
    assert s.step().chosen_id == chosen[-1]
    s.force("the")  # a forced token in contrastive mode is just taken
    assert s.traces[-1].forced and s.traces[-1].contrastive is None
    s.step()
    restored = Session.from_json(s.to_json(), model=model)
    assert restored.generated_ids == s.generated_ids
    assert [t.chosen_id for t in s.replay()] == [t.chosen_id for t in s.traces]
    # the penalty knob is refused by the other strategies in a one-shot generation
    with pytest.raises(ValueError, match="penalty_alpha"):
        arlm_tui.generate(model, "the", strategy="greedy", penalty_alpha=0.5)


async def test_play_picks_contrastive_and_explains_it():
    from tui_helpers import make_play_app, rendered, settle, start_play

    from arlm_tui.tui.screens.dialogs import ChoiceDialog

    app = make_play_app(model="oracle-gru", prompt="the twins", strategy="greedy",
                        knobs={"penalty_alpha": 0.6})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("s")
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("down", "down", "down", "enter")  # greedy, sample, beam, contrastive
        await settle(pilot)
        assert screen.session.config.strategy == "contrastive"
        await pilot.press("space")
        await settle(pilot)
        trace = screen.session.traces[-1]
        assert trace.contrastive is not None
        assert rendered(screen.query_one("#explain")).startswith("why: contrastive search")
    # an n-gram model says why it cannot, and the screen stays usable
    app = make_play_app(strategy="greedy")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("s", "down", "down", "down", "enter")
        await settle(pilot)
        await pilot.press("space")
        await settle(pilot)
        shown = " ".join(n.message for n in app._notifications) + str(screen.last_error)
        assert "needs a model with hidden states" in shown
        assert screen.session is not None and screen.session.traces == []
