"""Session: determinism, undo/redo, forcing, knobs mid-way, beam mode, model switch, JSON replay."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import CountingModel
from hypothesis import given, settings
from hypothesis import strategies as st

from arlm_tui.decoding import DecodingConfig, ReplayError, Session, beam_search, draws, explain
from arlm_tui.errors import ArlmError
from arlm_tui.lm.base import EOS
from arlm_tui.lm.table import TableModel, greedy_trap_model, random_model


def counting_random_model(seed: int = 0) -> CountingModel:
    base = random_model(9, order=2, seed=seed, concentration=0.8)
    table = {
        (base.vocab[h],): dict(zip(base.vocab, np.exp(base.next_logprobs([h])).tolist()))
        for h in range(9)
    }
    return CountingModel(base.vocab[3:], 2, table, name="counting", normalize=True)


@pytest.fixture
def model() -> TableModel:
    return random_model(12, order=2, seed=7, concentration=0.8)


def generate_all(session: Session) -> list[int]:
    while session.step() is not None:
        pass
    return session.generated_ids


# ------------------------------------------------------------------------------ determinism
def test_same_seed_same_text_and_undo_step_repeats(model):
    a = Session(model, [3], strategy="sample", seed=5, max_tokens=10)
    b = Session(model, [3], strategy="sample", seed=5, max_tokens=10)
    assert generate_all(a) == generate_all(b) and a.text == b.text
    assert a.done and a.step() is None
    c = Session(model, [3], strategy="sample", seed=5, max_tokens=10)
    c.step()
    c.step()
    second = c.traces[-1].chosen_id
    assert c.undo() and len(c.traces) == 1
    assert c.step().chosen_id == second  # randomness depends on (seed, step index) only
    assert c.undo() and c.redo() and c.generated_ids == a.generated_ids[:2]
    assert not c.redo()
    seeds = {tuple(generate_all(Session(model, [3], strategy="sample", seed=s, max_tokens=10)))
             for s in range(8)}
    assert len(seeds) > 2


def test_last_trace_and_num_steps(model):
    s = Session(model, [], strategy="sample", seed=1, max_tokens=6)
    assert s.last_trace is None and s.num_steps == 0 and s.num_generated == 0
    first = s.step()
    second = s.step()
    assert s.last_trace is second and s.num_steps == 2 == s.num_generated
    s.undo()
    assert s.last_trace is first and s.num_steps == 1


@pytest.mark.parametrize("knobs", [{"strategy": "sample", "top_p": 0.8, "seed": 4},
                                   {"strategy": "greedy", "repetition_penalty": 1.5},
                                   {"strategy": "beam", "beam_width": 2}])
def test_preview_is_the_next_step_without_taking_it(model, knobs):
    s = Session(model, [3], max_tokens=6, min_tokens=6, **knobs)
    s.step()
    before = (s.generated_ids, s.num_steps)
    preview = s.preview()
    assert (s.generated_ids, s.num_steps) == before and not s.can_redo
    np.testing.assert_allclose(preview.raw_logprobs, model.next_logprobs(s.context_ids))
    step = s.step()
    if step.beam is None:
        np.testing.assert_array_equal(preview.raw_logprobs, step.raw_logprobs)
        assert preview.chosen_id == step.chosen_id
        np.testing.assert_array_equal(preview.final_probs, step.final_probs)
        assert preview.cum_logprob == step.cum_logprob
    else:
        assert preview.config["strategy"] == "greedy"
    while s.step() is not None:
        pass
    assert s.preview() is None


def test_redo_reapplies_exactly_and_new_step_clears_redo(model):
    s = Session(model, [], strategy="sample", seed=1, max_tokens=6)
    first = s.step()
    s.step()
    assert s.undo() and s.can_redo
    s.configure(temperature=3.0)  # a config change does not alter what redo re-applies
    assert s.redo() and s.traces[0] is first and s.traces[1].config["temperature"] == 1.0
    assert s.undo()
    s.step()
    assert not s.can_redo and s.traces[1].config["temperature"] == 3.0
    assert not Session(model).undo() and not Session(model).redo()


def test_a_step_costs_one_extend_and_undo_costs_nothing():
    m = counting_random_model()
    s = Session(m, [3], strategy="sample", seed=2, max_tokens=8, min_tokens=8)
    for _ in range(5):
        s.step()
    assert m.calls == {"start": 1, "extend": 4}
    s.undo()
    s.step()
    assert m.calls == {"start": 1, "extend": 4}
    s.undo()
    s.undo()
    s.step()  # two tokens back: the state is rebuilt from the text
    assert m.calls["start"] == 2
    for trace in s.traces:
        assert np.allclose(trace.raw_logprobs, m.next_logprobs(trace.context_ids))


# ------------------------------------------------------------------------------ forcing and knobs
def test_force_by_id_and_string(model):
    s = Session(model, [], strategy="sample", top_k=1, max_tokens=5)
    trace = s.force("w9")
    assert trace.forced and trace.chosen_token == "w9" and s.generated_ids == [9]
    trace = s.force(4)
    assert trace.chosen_id == 4 and trace.step == 1
    assert math.isclose(s.logprob, sum(t.logprob for t in s.traces))
    with pytest.raises(ArlmError, match="zebra"):
        s.force("zebra")
    with pytest.raises(ArlmError, match="<s>"):
        s.force("<s>")
    with pytest.raises(ArlmError, match="outside"):
        s.force(500)
    assert s.force(EOS).chosen_token == EOS and s.done and s.finished
    assert s.force("w3") is None


def test_configure_applies_from_the_next_step(model):
    s = Session(model, [], strategy="greedy", max_tokens=20)
    s.step()
    s.configure(strategy="sample", temperature=0.5, top_k=2, seed=3)
    trace = s.step()
    assert s.traces[0].config["strategy"] == "greedy" and trace.config["top_k"] == 2
    assert [st.name for st in trace.stages] == ["raw", "temperature", "top_k"]
    with pytest.raises(ValueError, match="top_p"):
        s.configure(top_p=0)
    with pytest.raises(ValueError, match="unknown decoding knob"):
        s.configure(colour="blue")
    s.configure(max_tokens=2)
    assert s.done
    s.reset()
    assert s.generated_ids == [] and s.traces == [] and not s.done and s.config.top_k == 2


def test_running_scores(model):
    s = Session(model, [], strategy="sample", seed=4, max_tokens=6)
    assert s.logprob == 0.0 and math.isnan(s.perplexity) and s.num_tokens == 0
    generate_all(s)
    total = sum(t.logprob for t in s.traces)
    assert math.isclose(s.logprob, total) and math.isclose(s.nll, -total)
    assert math.isclose(s.perplexity, math.exp(-total / len(s.traces)))
    assert math.isclose(s.bits_per_token, -total / len(s.traces) / math.log(2))
    assert math.isclose(s.traces[-1].perplexity, s.perplexity)


def test_text_prompts_and_model_switch():
    trap = greedy_trap_model()
    s = Session(trap, "the", max_tokens=5)
    assert s.prompt_ids == trap.tokenizer.encode("the")
    s.step()
    assert s.text == "the dog"
    other = TableModel(["the", "dog", "barked"], 2, {("dog",): {"barked": 1.0}}, name="other")
    s.set_model(other)
    assert s.model is other and s.text == "the dog" and s.traces == []
    assert s.prompt_ids == other.tokenizer.encode("the dog")
    assert s.step().chosen_token == "barked" and s.text == "the dog barked"
    s.set_prompt("dog")
    assert s.text == "dog" and s.generated_ids == []


def test_undo_past_a_model_switch_returns_to_the_earlier_model_and_redo_reapplies_it():
    trap = greedy_trap_model()
    s = Session(trap, "the", max_tokens=5)
    first = s.step()
    other = TableModel(["the", "dog", "barked"], 2, {("dog",): {"barked": 1.0}}, name="other")
    s.set_model(other)
    assert s.can_undo and not s.can_redo
    s.step()
    assert s.text == "the dog barked"
    assert s.undo() and s.model is other and s.text == "the dog"  # the step after the switch
    assert s.undo()  # the switch itself
    assert s.model is trap and s.text == "the dog" and s.traces == [first]
    assert s.prompt_ids == trap.tokenizer.encode("the") and s.generated_ids == [first.chosen_id]
    assert s.undo() and s.text == "the" and not s.can_undo
    assert s.redo() and s.redo()  # the step, then the switch
    assert s.model is other and s.prompt_ids == other.tokenizer.encode("the dog")
    assert s.traces == []
    assert s.redo() and s.text == "the dog barked" and not s.can_redo
    # a new step after undoing past the switch forgets the switch, and uses the earlier
    # model (not the state the other model left)
    s.undo()
    s.undo()
    s.undo()
    assert s.step().chosen_id == first.chosen_id
    assert s.model is trap and not s.can_redo and s.text == "the dog"
    # a new prompt starts the whole history again
    s.set_model(other)
    s.set_prompt("dog")
    assert s.model is other and not s.can_undo


def test_switching_model_in_beam_mode_and_undoing_back(model):
    s = Session(model, [3], strategy="beam", beam_width=2, max_tokens=4)
    s.step()
    s.step()
    before = (s.generated_ids, s.logprob)
    other = random_model(12, order=2, seed=99, concentration=0.8)
    s.set_model(other)
    s.step()
    assert s.model is other
    s.undo()
    s.undo()
    assert s.model is model and (s.generated_ids, s.logprob) == before
    s.step()  # the beam continues from the restored step with the earlier model
    fresh = Session(model, [3], strategy="beam", beam_width=2, max_tokens=4)
    for _ in range(3):
        fresh.step()
    assert s.generated_ids == fresh.generated_ids


# ------------------------------------------------------------------------------ beam mode
def test_beam_session_matches_beam_search():
    trap = greedy_trap_model()
    s = Session(trap, [], strategy="beam", beam_width=2, max_tokens=4, length_penalty=0.0)
    traces = []
    while (trace := s.step()) is not None:
        traces.append(trace)
        assert trace.beam is not None and trace.step == len(traces) - 1
    assert explain(traces[0]).startswith("beam kept 2 of 3 candidates; best hypothesis now ends")
    assert explain(traces[-1]).endswith(
        "search done, best finished hypothesis 'a dog </s>' (log p = -1.02, score = -1.02)")
    expected = beam_search(trap, [], 2, 4, length_penalty=0.0)[0]
    assert s.generated_ids == expected[0] and s.text == "a dog" and s.done and s.finished
    assert math.isclose(s.logprob, math.log(0.36))
    s.undo()
    assert not s.done
    again = s.step()
    assert again.chosen_id == traces[-1].chosen_id and s.generated_ids == expected[0]


def test_switching_into_beam_and_forcing_in_beam_mode(model):
    s = Session(model, [], strategy="sample", seed=3, max_tokens=6, min_tokens=6)
    s.step()
    prefix = s.generated_ids
    cum = s.logprob
    s.configure(strategy="beam", beam_width=3)
    trace = s.step()
    assert s.generated_ids[:1] == prefix and len(s.generated_ids) == 2
    best = trace.beam.survivors[0]
    assert math.isclose(best.logprob, cum + model.next_logprobs(prefix)[best.ids[-1]])
    forced = s.force("w5")
    assert forced.forced and s.generated_ids[-1] == 5 and len(s.generated_ids) == 3
    assert s.step().beam is not None and s.generated_ids[:3] == s.traces[1].beam.survivors[0].ids[
        :2] + [5]
    s.configure(strategy="greedy", min_tokens=0)
    greedy_trace = s.step()
    assert greedy_trace.beam is None and len(s.generated_ids) == 5
    committed = s.generated_ids
    s.configure(strategy="beam")
    s.step()  # a new beam starts from the text including the greedy token
    assert s.generated_ids[:5] == committed and len(s.generated_ids) == 6


def test_a_beam_begun_mid_text_numbers_its_steps_as_the_text_does(model):
    """After two sampled steps the first beam step is the text's step 3 (index 2), not the
    search's step 1; so is the next one after a forced token, and the live preview's."""
    from arlm_tui.decoding.snapshot import preview_beam

    s = Session(model, [], strategy="sample", seed=3, max_tokens=9, min_tokens=9)
    s.step()
    s.step()
    s.configure(strategy="beam", beam_width=3)
    preview, _ = preview_beam(s)
    assert preview.step == 2
    trace = s.step()
    assert trace.step == trace.beam.step == 2
    assert preview_beam(s)[0].step == 3
    s.force("w5")  # index 3; the beam restarts after it
    assert preview_beam(s)[0].step == 4
    trace = s.step()
    assert trace.step == trace.beam.step == 4
    s.undo()
    s.undo()
    trace = s.step()  # rebuilt from the text after the undo
    assert trace.step == trace.beam.step == 3
    assert [t.beam.step for t in s.traces if t.beam is not None] == [2, 3]


# ------------------------------------------------------------------------------ save and replay
def busy_session(model) -> Session:
    s = Session(model, "w3 w4", strategy="sample", seed=8, max_tokens=12, temperature=1.3)
    s.step()
    s.step()
    s.force("w7")
    s.configure(top_p=0.8, repetition_penalty=1.4)
    s.step()
    s.undo()
    s.configure(strategy="greedy", no_repeat_ngram=2)
    s.step()
    s.configure(strategy="beam", beam_width=2)
    s.step()
    s.step()
    s.configure(strategy="sample", min_p=0.1)
    s.step()
    return s


def test_json_round_trip_replays_identically(model):
    s = busy_session(model)
    text = s.to_json()
    data = json.loads(text)
    assert data["model"] == model.name and len(data["steps"]) == len(s.traces)
    assert [st["forced"] for st in data["steps"]] == [t.forced for t in s.traces]
    again = Session.from_json(text, model=model)
    assert again.generated_ids == s.generated_ids and again.text == s.text
    assert [t.chosen_id for t in again.traces] == [t.chosen_id for t in s.traces]
    assert again.config == s.config
    assert math.isclose(again.logprob, s.logprob)
    loaded = Session.from_json(text, model_loader=lambda name: model if name == model.name
                               else None)
    assert loaded.generated_ids == s.generated_ids
    replayed = list(s.replay())
    assert [t.chosen_id for t in replayed] == [t.chosen_id for t in s.traces]
    assert len(s.traces) == len(replayed)  # replay leaves the session as it was


def test_session_files_grow_with_the_steps_not_their_square_and_old_files_still_replay(model):
    s = Session(model, "w3", strategy="sample", seed=5, max_tokens=400, min_tokens=400)
    for _ in range(400):
        s.step()
    data = json.loads(s.to_json())
    assert "context_ids" not in data["steps"][0]["trace"]  # the text is in "generated_ids"
    assert [st["length"] for st in data["steps"]] == list(range(1, 401))
    sizes = [len(json.dumps(st)) for st in data["steps"]]
    assert max(sizes[-50:]) < 2 * max(sizes[:50])  # a late step is no bigger than an early one
    # a file written before (each step with its generated ids, no "length") still replays
    older = busy_session(model)
    data = json.loads(older.to_json())
    generated = [t.chosen_id for t in older.traces]
    for i, step in enumerate(data["steps"]):
        del step["length"]
        step["generated_ids"] = list(older._records[i].context)[len(older.prompt_ids):]
    again = Session.from_json(json.dumps(data), model=model)
    assert [t.chosen_id for t in again.traces] == generated
    data["steps"][-1]["generated_ids"][0] += 1  # and is still checked
    with pytest.raises(ReplayError):
        Session.from_json(json.dumps(data), model=model)


V1_SESSION = Path(__file__).parent / "data" / "session_v1.json"
# made by arlm with session format 1 (draws version 1): sampling at T=1.5, seed 11, then top-p,
# then a forced token
V1_IDS = [0, 6, 9, 11, 3, 0, 6, 6, 8, 9, 5, 9, 3, 6, 5, 11, 7, 5, 10, 11, 9, 4, 7, 4]


def test_a_format_1_session_replays_with_its_own_draws_and_keeps_them(model):
    text = V1_SESSION.read_text()
    assert json.loads(text)["version"] == 1
    old = Session.from_json(text, model=model)
    assert old.generated_ids == V1_IDS and old.draws == 1
    fresh = Session(model, "w3", strategy="sample", seed=11, temperature=1.5, min_tokens=24)
    assert fresh.draws == draws.VERSION == 2
    for _ in range(20):
        fresh.step()
    assert fresh.generated_ids != V1_IDS[:20]  # the current draws choose otherwise
    old.configure(max_tokens=60)
    old.step()
    old.step()  # continued with version 1, saved in the current format, replays
    data = json.loads(old.to_json())
    assert data["version"] == 2 and data["draws"] == 1
    again = Session.from_json(json.dumps(data), model=model)
    assert again.generated_ids == old.generated_ids and again.draws == 1
    assert [t.chosen_id for t in old.replay()] == [t.chosen_id for t in old.traces]
    del data["draws"]  # read as the current draws, the sampled steps no longer replay
    with pytest.raises(ReplayError, match="replay step"):
        Session.from_json(json.dumps(data), model=model)


def test_a_current_session_names_no_draws_and_unknown_versions_are_refused(model):
    data = json.loads(busy_session(model).to_json())
    assert data["version"] == 2 and "draws" not in data
    for key, value, message in [("version", 3, "format version 3"),
                                ("version", True, "format version"),
                                ("draws", 7, "draws version 7")]:
        bad = dict(data, **{key: value})
        with pytest.raises(ReplayError, match=message):
            Session.from_json(json.dumps(bad), model=model)


def test_tampered_or_broken_json_raises(model):
    s = busy_session(model)
    data = json.loads(s.to_json())
    step = next(st for st in data["steps"] if not st["forced"])
    step["choice"] = (step["choice"] + 1) % model.vocab_size or 3
    with pytest.raises(ReplayError, match="replay step"):
        Session.from_json(json.dumps(data), model=model)
    with pytest.raises(ValueError):  # ReplayError is a ValueError
        Session.from_json("{not json", model=model)
    with pytest.raises(ReplayError, match="format"):
        Session.from_json('{"steps": []}', model=model)
    with pytest.raises(ReplayError, match="vocabulary"):
        Session.from_json(s.to_json(), model=greedy_trap_model())
    data = json.loads(s.to_json())
    del data["steps"][0]["config"]
    with pytest.raises(ReplayError, match="config"):
        Session.from_json(json.dumps(data), model=model)
    with pytest.raises(ValueError, match="model"):
        Session.from_json(s.to_json())


def test_impossible_forced_token_gives_infinite_perplexity_and_still_saves():
    trap = greedy_trap_model()
    s = Session(trap, "", strategy="sample", max_tokens=5)
    s.force("cat")  # p(cat | <s>) = 0
    assert s.logprob == -math.inf and s.perplexity == math.inf
    assert "probability 0" in explain(s.traces[0])
    s.step()
    again = Session.from_json(s.to_json(), model=trap)
    assert again.generated_ids == s.generated_ids and again.logprob == -math.inf


# ------------------------------------------------------------------------------ robustness
actions = st.lists(
    st.one_of(
        st.just(("step",)),
        st.just(("undo",)),
        st.just(("redo",)),
        st.tuples(st.just("force"), st.integers(2, 8)),
        st.tuples(st.just("strategy"), st.sampled_from(["greedy", "sample", "beam"])),
        st.tuples(st.just("top_k"), st.integers(0, 4)),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(actions=actions, seed=st.integers(0, 50))
def test_any_action_sequence_stays_consistent_and_replays(actions, seed):
    m = counting_random_model(seed)
    s = Session(m, [4], DecodingConfig(strategy="sample", seed=seed, max_tokens=8, beam_width=2))
    for action in actions:
        if action[0] == "step":
            s.step()
        elif action[0] == "undo":
            s.undo()
        elif action[0] == "redo":
            s.redo()
        elif action[0] == "force":
            s.force(action[1])
        elif action[0] == "strategy":
            s.configure(strategy=action[1])
        else:
            s.configure(top_k=action[1])
    for trace in s.traces:
        assert np.allclose(trace.raw_logprobs, m.next_logprobs(trace.context_ids))
    if s.traces and s.traces[-1].beam is None:
        assert s.traces[-1].context_ids + [s.traces[-1].chosen_id] == [4] + s.generated_ids
    again = Session.from_json(s.to_json(), model=m)
    assert again.generated_ids == s.generated_ids
    assert [t.chosen_id for t in again.traces] == [t.chosen_id for t in s.traces]


def test_next_logprobs_preview_reuses_the_model_state():
    m = counting_random_model()
    session = Session(m, [], strategy="sample", seed=3)
    for _ in range(3):
        session.step()
    m.calls.clear()
    preview = session.next_logprobs()
    np.testing.assert_allclose(preview, m.next_logprobs(session.context_ids))
    assert m.calls["start"] == 0 and m.calls["extend"] <= 1
    m.calls.clear()
    session.step()  # the step uses what the preview computed
    assert m.calls["start"] == 0 and m.calls["extend"] == 0


def test_the_newer_samplers_round_trip_and_replay_identically(model):
    """eta, top-nσ, the OpenAI penalties, DRY and XTC (whose firing is random) are saved with
    the session and replay to the same choices, undo and redo included."""
    s = Session(model, "the", strategy="sample", seed=5, max_tokens=30, eta=0.001,
                top_n_sigma=2.0, frequency_penalty=0.4, presence_penalty=0.3,
                dry_multiplier=0.8, dry_base=2.0, dry_allowed_length=1, xtc_probability=0.5,
                xtc_threshold=0.05)
    for _ in range(6):
        s.step()
    s.undo()
    s.undo()
    for _ in range(4):
        s.step()
    s.configure(xtc_probability=0.9, top_n_sigma=0.0)
    for _ in range(4):
        s.step()
    data = json.loads(s.to_json())
    assert data["steps"][0]["config"]["xtc_probability"] == 0.5
    again = Session.from_json(s.to_json(), model=model)  # ReplayError if a choice differs
    assert again.generated_ids == s.generated_ids and again.config == s.config
    assert [t.chosen_id for t in s.replay()] == [t.chosen_id for t in s.traces]
