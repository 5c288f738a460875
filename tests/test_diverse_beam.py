"""Diverse beam search (beam groups with a Hamming diversity penalty): equivalences with ordinary
beam search, a worked example, the records, the session and the command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_gpt2 import _save, _theirs
from transformers import GPT2LMHeadModel

import arlm_tui
from arlm_tui.api import generate
from arlm_tui.cli import main
from arlm_tui.decoding import (
    BeamSearch,
    DecodingConfig,
    Session,
    beam_search,
    explain,
    generate_ids,
)
from arlm_tui.decoding.config import KnobError
from arlm_tui.lm.base import EOS
from arlm_tui.lm.table import greedy_trap_model, random_model


def words(model, ids):
    return [model.vocab[i] for i in ids]


def run_groups(model, width, groups, penalty, max_tokens, alpha, early):
    config = DecodingConfig(strategy="beam", beam_width=width, num_beam_groups=groups,
                            diversity_penalty=penalty, max_tokens=max_tokens,
                            length_penalty=alpha, early_stopping=early)
    search = BeamSearch(model, [], config)
    search.run()
    return search


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), width=st.integers(1, 4),
       penalty=st.sampled_from([0.0, 0.3, 2.0, 50.0]), alpha=st.sampled_from([0.0, 1.0]),
       early=st.booleans())
def test_one_group_is_ordinary_beam_search_whatever_the_penalty(seed, width, penalty, alpha,
                                                                early):
    model = random_model(6, order=2, seed=seed, concentration=0.5)
    plain = beam_search(model, [], width, 5, alpha, early_stopping=early)
    one_group = beam_search(model, [], width, 5, alpha, early_stopping=early,
                            num_beam_groups=1, diversity_penalty=penalty)
    assert one_group == plain


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), group_width=st.integers(1, 3), groups=st.integers(2, 3),
       alpha=st.sampled_from([0.0, 1.0]), early=st.booleans())
def test_without_penalty_every_group_is_ordinary_beam_search_of_width_b_over_g(
    seed, group_width, groups, alpha, early
):
    model = random_model(6, order=2, seed=seed, concentration=0.5)
    search = run_groups(model, group_width * groups, groups, 0.0, 5, alpha, early)
    plain = beam_search(model, [], group_width, 5, alpha, early_stopping=early)
    for g in range(groups):
        mine = [(h.ids, h.score) for h in search.finished if h.group == g]
        assert mine == plain


def test_worked_example_on_the_greedy_trap():
    """B = 2, G = 2, α = 0. Step 1: group 0 takes "the" (p = 0.5). Group 1 sees "the" at
    log 0.5 − λ: with λ = 0.5 that is −1.19 < log 0.4 = −0.92, so it takes "a"; step 2 it
    extends "a" by "dog" at log 0.36 − 0.5 (group 0 chose "dog" too). With λ = 0.1, "the"
    stays ahead (−0.79) and group 1 repeats group 0 with 0.1 taken off at each of two steps."""
    trap = greedy_trap_model()
    config = DecodingConfig(strategy="beam", beam_width=2, num_beam_groups=2,
                            diversity_penalty=0.5, max_tokens=4, length_penalty=0.0)
    search = BeamSearch(trap, [], config)
    first = search.step()
    assert [(words(trap, h.ids), h.group) for h in first.survivors] == [(["the"], 0),
                                                                       (["a"], 1)]
    by_key = {(c.group, c.token): c for c in first.candidates}
    assert by_key[(1, "the")].diversity_penalty == 0.5
    assert math.isclose(by_key[(1, "the")].logprob, math.log(0.5) - 0.5)
    assert by_key[(0, "the")].diversity_penalty == 0.0 and by_key[(1, "a")].diversity_penalty == 0
    search.run()
    results = [(words(trap, h.ids), h.score, h.group) for h in search.finished]
    assert [r[0] for r in results] == [["a", "dog", EOS], ["the", "dog", EOS]]
    assert math.isclose(results[0][1], math.log(0.36) - 0.5)
    assert math.isclose(results[1][1], math.log(0.175))
    assert [r[2] for r in results] == [1, 0]

    mild = beam_search(trap, [], 2, 4, 0.0, num_beam_groups=2, diversity_penalty=0.1)
    assert [words(trap, ids) for ids, _ in mild] == [["the", "dog", EOS]] * 2
    assert math.isclose(mild[0][1], math.log(0.175))
    assert math.isclose(mild[1][1], math.log(0.175) - 0.2)


def test_penalty_counts_every_earlier_group():
    # three groups of one beam, λ small enough that all three take "the": the third pays 2λ
    trap = greedy_trap_model()
    config = DecodingConfig(strategy="beam", beam_width=3, num_beam_groups=3,
                            diversity_penalty=0.05, max_tokens=4, length_penalty=0.0)
    step = BeamSearch(trap, [], config).step()
    assert [words(trap, h.ids) for h in step.survivors] == [["the"]] * 3
    assert [round(h.logprob - math.log(0.5), 9) for h in step.survivors] == [0, -0.05, -0.1]
    data = step.to_dict()
    assert data["num_groups"] == 3
    assert [c["group"] for c in data["survivors"]] == [0, 1, 2]
    assert {c["diversity_penalty"] for c in data["candidates"] if c["token"] == "the"} == {
        0.0, 0.05, 0.1}


def test_groups_must_divide_the_beam_and_only_apply_to_beam_search():
    with pytest.raises(ValueError, match=r"num_beam_groups must divide the beam width \(4\), got 3"):
        DecodingConfig(strategy="beam", beam_width=4, num_beam_groups=3)
    with pytest.raises(KnobError, match="diversity_penalty"):
        DecodingConfig(strategy="greedy", diversity_penalty=1.0).check_knobs_apply()
    with pytest.raises(ValueError, match="diversity_penalty"):
        DecodingConfig(diversity_penalty=-1.0)


def test_session_with_groups_undoes_replays_and_switches_groups():
    model = random_model(8, order=2, seed=5, concentration=0.4)
    s = Session(model, [], strategy="beam", beam_width=4, num_beam_groups=2,
                diversity_penalty=1.5, max_tokens=6)
    traces = [s.step() for _ in range(2)]
    assert all(t.beam is not None and t.beam.num_groups == 2 for t in traces)
    assert {h.group for h in traces[-1].beam.survivors} <= {0, 1}
    third = s.step()
    s.undo()
    again = s.step()
    assert again.chosen_id == third.chosen_id
    assert [h.ids for h in again.beam.survivors] == [h.ids for h in third.beam.survivors]
    while s.step() is not None:
        pass
    expected = beam_search(model, [], 4, 6, num_beam_groups=2, diversity_penalty=1.5)[0]
    assert s.generated_ids == expected[0]
    restored = Session.from_json(s.to_json(), model=model)
    assert restored.generated_ids == s.generated_ids
    assert [t.chosen_id for t in s.replay()] == [t.chosen_id for t in s.traces]
    # changing the number of groups mid-search restarts every group from the best beam
    s2 = Session(model, [], strategy="beam", beam_width=4, num_beam_groups=2,
                 diversity_penalty=1.5, max_tokens=6)
    s2.step()
    best = list(s2.generated_ids)
    s2.configure(num_beam_groups=4)
    trace = s2.step()
    assert trace.beam.num_groups == 4
    assert all(h.ids[:len(best)] == best for h in trace.beam.survivors)
    assert {h.group for h in trace.beam.survivors} == {0, 1, 2, 3}


def test_explanations_name_the_groups():
    trap = greedy_trap_model()
    config = DecodingConfig(strategy="beam", beam_width=2, num_beam_groups=2,
                            diversity_penalty=0.5, max_tokens=4, length_penalty=0.0)
    result = generate_ids(trap, [], config)
    assert words(trap, result.ids) == ["a", "dog", EOS]
    line = explain(result.traces[0])
    assert "in 2 groups" in line and "diversity penalty 0.5" in line
    data = generate(trap, "", strategy="beam", beam_width=2, num_beam_groups=2,
                    diversity_penalty=0.5, max_tokens=4, length_penalty=0.0)
    assert data["completion"] == "a dog" and data["config"]["diversity_penalty"] == 0.5
    assert data["steps"][0]["beam"]["num_groups"] == 2


def test_cli_flags_and_json(capsys):
    code = main(["generate", "--model", "pyref-word-kn3", "--prompt", "the value",
                 "--strategy", "beam", "--beam-width", "4", "--num-beam-groups", "2",
                 "--diversity-penalty", "1.0", "--max-tokens", "6", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["config"]["num_beam_groups"] == 2
    assert data["steps"][0]["beam"]["num_groups"] == 2
    code = main(["generate", "--model", "pyref-word-kn3", "--prompt", "the value",
                 "--strategy", "beam", "--beam-width", "4", "--num-beam-groups", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "--num-beam-groups must divide the beam width (4), got 3" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_candidate_rows_of_each_group_hold_its_survivors():
    model = random_model(9, order=2, seed=11)
    config = DecodingConfig(strategy="beam", beam_width=6, num_beam_groups=3,
                            diversity_penalty=0.7, max_tokens=5)
    search = BeamSearch(model, [], config)
    search.step()
    step = search.step()
    shown = {(c.group, c.parent, c.token_id) for c in step.candidates}
    for h in step.survivors:
        assert (h.group, h.parent, h.ids[-1]) in shown
    kept = {(c.group, c.parent, c.token_id) for c in step.candidates} - {
        (c.group, c.parent, c.token_id) for c in step.pruned}
    assert kept >= {(h.group, h.parent, h.ids[-1]) for h in step.survivors}
    assert np.all(np.diff([c.logprob for c in step.candidates]) <= 1e-12)


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_play_beam_view_shows_the_groups(size):
    from tui_helpers import make_play_app, rendered, start_play

    from arlm_tui.tui.widgets.beam_view import BeamView
    from arlm_tui.tui.widgets.knob_panel import KnobPanel

    app = make_play_app(strategy="beam", knobs={"beam_width": 4, "num_beam_groups": 2,
                                                "diversity_penalty": 1.0})
    async with app.run_test(size=size) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space")
        assert screen.session.traces[-1].beam.num_groups == 2
        view = screen.query_one(BeamView)
        text = rendered(view)
        assert "2 groups of 2, diversity λ = 1" in text
        rows = [line for line in text.splitlines() if line.startswith(("g1 ", "g2 "))]
        assert {row[:2] for row in rows} == {"g1", "g2"}
        assert "in 2 groups" in rendered(screen.query_one("#explain"))
        # → skips a group count that does not divide the beam: 2 → 4 groups of one
        panel = screen.query_one(KnobPanel)
        panel.focus()
        while panel.selected != "num_beam_groups":
            await pilot.press("down")
        await pilot.press("right")
        await pilot.pause()
        assert screen.session.config.num_beam_groups == 4
        await pilot.press("space")
        assert screen.session.traces[-1].beam.num_groups == 4


# ------------------------------------------------------------------------------ a reference
def reference_group_beam(logprobs_of, prompt, width, groups, penalty, max_tokens, alpha, eos):
    """Diverse beam search written out the way Hugging Face's group beam search runs (the
    ``transformers-community/group-beam-search`` generate, with early stopping): every group
    holds B/G rows, the first scoring 0 and the others −1e9; group by group the rows' log-probs
    lose λ per earlier pick of the token at this step, the best 2·B/G of all the group's rows
    are walked, </s> in the first B/G finishes a hypothesis (log p / L^α), the rest refill the
    rows; a group with B/G finished ones is done; at max_tokens the open rows finish. (A done
    group adds no tokens to the counts here; Hugging Face counts its padding.)"""
    size = width // groups
    rows = [[(list(prompt), 0.0 if i == 0 else -1e9) for i in range(size)] for _ in range(groups)]
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(groups)]
    done = [False] * groups

    def add(g, ids, logprob):
        generated = ids[len(prompt):]
        finished[g].append((logprob / len(generated) ** alpha, generated))
        finished[g].sort(key=lambda f: (-f[0], f[1]))
        del finished[g][size:]

    for _ in range(max_tokens):
        picks: list[int] = []
        for g in range(groups):
            if done[g]:
                continue
            scores = []
            for ids, score in rows[g]:
                row = np.array(logprobs_of(ids), dtype=np.float64)
                row -= penalty * np.bincount(picks, minlength=row.size)
                scores.append(row + score)
            flat = np.concatenate(scores)
            vocab = scores[0].size
            order = np.argsort(-flat, kind="stable")[: 2 * size]
            kept = []
            for rank, index in enumerate(order.tolist()):
                b, w = divmod(index, vocab)
                ids = rows[g][b][0] + [w]
                if w == eos:
                    if rank < size:
                        add(g, ids, float(flat[index]))
                    continue
                kept.append((ids, float(flat[index])))
                if len(kept) == size:
                    break
            rows[g] = kept
            picks += [ids[-1] for ids, _ in kept]
            done[g] = len(finished[g]) >= size
        if all(done):
            break
    for g in range(groups):
        if not done[g]:
            for ids, score in rows[g]:
                add(g, ids, score)
    return sorted((f for group in finished for f in group), key=lambda f: -f[0])


@pytest.mark.parametrize(("width", "groups", "penalty", "alpha"), [
    (4, 2, 0.8, 1.0), (6, 3, 2.5, 0.0), (4, 4, 1.2, 1.0), (4, 2, 0.0, 1.0)])
def test_same_hypotheses_as_the_group_beam_search_loop_on_a_gpt2(tmp_path_factory, width,
                                                                  groups, penalty, alpha):
    directory = _save(tmp_path_factory.mktemp("gpt2"))
    model = arlm_tui.load_model(f"hf:{directory}")
    reference = GPT2LMHeadModel.from_pretrained(directory).eval()
    prompt = model.tokenizer.encode("the cat")

    def logprobs_of(ids):
        return _theirs(model, reference, [list(ids)])[0]

    expected = reference_group_beam(logprobs_of, prompt, width, groups, penalty, 6, alpha,
                                    model.eos_id)
    ours = beam_search(model, prompt, width, 6, alpha, num_beam_groups=groups,
                       diversity_penalty=penalty)
    assert [ids for _, ids in expected] == [ids for ids, _ in ours]
    assert np.allclose([s for s, _ in expected], [s for _, s in ours], atol=1e-4)
