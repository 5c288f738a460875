"""What the processor chain did over many generations (the sample-N view's statistics for the
newer knobs), counted from the Traces and checked against independent counts."""

from __future__ import annotations

import numpy as np
import pytest
from tui_helpers import make_play_app, settle, start_play

from arlm_tui.decoding import DecodingConfig, generate_ids
from arlm_tui.decoding.chain_stats import chain_stats
from arlm_tui.decoding.draws import XTC_STREAM, step_draw
from arlm_tui.lm.table import random_model
from arlm_tui.tui.analysis import sample_study

MODEL = random_model(12, order=2, seed=3, concentration=0.8)
PROMPT = [4]


def runs_of(config: DecodingConfig, seeds=range(6), max_tokens=8):
    return [generate_ids(MODEL, PROMPT, config.replace(seed=s, max_tokens=max_tokens)).traces
            for s in seeds]


def test_distinct_tokens_and_kept_set_size():
    runs = runs_of(DecodingConfig(strategy="sample", top_k=3))
    stats = chain_stats(runs)
    chosen = [t.chosen_id for traces in runs for t in traces]
    assert stats.steps == len(chosen) and stats.distinct_tokens == len(set(chosen))
    # the model gives every token but <s> some probability: top-k 3 keeps exactly 3
    assert stats.mean_kept == 3.0
    assert (stats.xtc_fired, stats.dry_steps, stats.penalized_picks) == (None, None, None)
    plain = chain_stats(runs_of(DecodingConfig(strategy="sample")))
    assert plain.mean_kept == MODEL.vocab_size - 1  # nothing cut: every token but <s>


def test_xtc_fired_matches_its_own_draws():
    seeds = range(5)
    config = DecodingConfig(strategy="sample", xtc_probability=0.5, xtc_threshold=0.05)
    runs = runs_of(config, seeds)
    stats = chain_stats(runs)
    fired = sum(step_draw(seed, step, stream=XTC_STREAM) < 0.5
                for seed, traces in zip(seeds, runs) for step in range(len(traces)))
    assert stats.xtc_fired == fired and 0 < fired < stats.steps
    # it removes tokens only when two or more are at or above the threshold
    removed = 0
    for seed, traces in zip(seeds, runs):
        for step, trace in enumerate(traces):
            if step_draw(seed, step, stream=XTC_STREAM) < 0.5:
                probs = next(s for s in trace.stages if s.name == "xtc")._previous.probs
                removed += int(np.count_nonzero(probs >= 0.05)) >= 2
    assert stats.xtc_removed == removed
    assert "XTC fired" in stats.summary()


def test_dry_steps_and_penalized_picks():
    looping = DecodingConfig(strategy="sample", dry_multiplier=0.5, dry_allowed_length=1)
    runs = runs_of(looping, max_tokens=20)
    stats = chain_stats(runs)
    notes = sum(1 for traces in runs for t in traces for s in t.stages
                if s.name == "dry" and s.note is not None)
    assert stats.dry_steps == notes > 0
    penalized = DecodingConfig(strategy="sample", frequency_penalty=0.4)
    runs = runs_of(penalized, max_tokens=12)
    stats = chain_stats(runs)
    again = 0
    for traces in runs:
        ids = [t.chosen_id for t in traces]
        again += sum(ids[i] in ids[:i] for i in range(len(ids)))
    assert stats.penalized_picks == again > 0
    assert f"penalized picks {again}/{stats.steps}" in stats.summary()


def test_sample_study_carries_the_stats_of_the_current_knobs():
    config = DecodingConfig(strategy="sample", xtc_probability=1.0, xtc_threshold=0.05, seed=2)
    study = sample_study(MODEL, PROMPT, config, n=10, max_tokens=4)
    runs = runs_of(config.replace(seed=0), seeds=range(2, 12), max_tokens=4)
    assert study.chain == chain_stats(runs)
    assert study.chain.xtc_fired == study.chain.steps  # probability 1: every step


async def test_the_sample_view_shows_what_the_chain_did():
    from arlm_tui.tui.widgets.analysis_views import SampleView

    app = make_play_app(strategy="sample", knobs={"seed": 1, "xtc_probability": 0.5,
                                                  "xtc_threshold": 0.05})
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("4")
        await settle(pilot)
        view = screen.query_one(SampleView)
        drawn = view.draw(view.data, 118, 30).plain
        assert view.data.chain is not None
        assert f"knobs did: {view.data.chain.summary()}" in drawn
        assert "XTC fired" in drawn


def test_mirostat_mean_surprise_is_read_from_each_steps_state():
    import math

    config = DecodingConfig(strategy="sample", mirostat_tau=2.0, mirostat_eta=0.1)
    runs = runs_of(config, max_tokens=10)
    stats = chain_stats(runs)
    surprises = []
    for traces in runs:
        for t in traces:  # the chosen token's surprise in the distribution it was drawn from
            surprises.append(-math.log2(t.final_probs[t.chosen_id]))
    assert stats.mirostat_tau == 2.0
    assert stats.mirostat_surprise == pytest.approx(float(np.mean(surprises)))
    assert "mirostat surprise" in stats.summary() and "(τ 2)" in stats.summary()
    assert chain_stats(runs_of(DecodingConfig(strategy="sample"))).mirostat_surprise is None
