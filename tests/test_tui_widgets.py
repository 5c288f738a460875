"""The small pure pieces of the interface: knob steps, bars, text pieces, analysis numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arlm_tui.decoding.config import KNOBS, DecodingConfig
from arlm_tui.decoding.session import Session
from arlm_tui.decoding.snapshot import snapshot, text_pieces
from arlm_tui.decoding.strategies import decode_step
from arlm_tui.lm.table import TableModel, greedy_trap_model, random_model
from arlm_tui.numbers import fmt_prob
from arlm_tui.tui.analysis import (
    attention_at,
    compare_models,
    distinct_n,
    repetition_rate,
    sample_study,
    speculative_demo,
)
from arlm_tui.tui.widgets.generated_text import shade_of
from arlm_tui.tui.widgets.knob_panel import allowed_step, format_value, knob_title, step_value
from arlm_tui.tui.widgets.token_bars import (
    bar,
    chosen_row,
    crossing_token,
    top_p_marker,
    top_p_mass,
)


# --------------------------------------------------------------------------- knobs
def test_step_value_fine_coarse_and_limits():
    t = KNOBS["temperature"]
    assert step_value(t, 1.0, 1) == pytest.approx(1.05)
    assert step_value(t, 1.0, -1, coarse=True) == pytest.approx(0.5)
    assert step_value(t, 0.02, -1) == 0.0  # clamps at the minimum, 0 = greedy
    top_p = KNOBS["top_p"]
    assert step_value(top_p, 1.0, 1) == 1.0
    assert step_value(top_p, 0.01, -1) == pytest.approx(0.01)  # (0, 1]: never 0
    epsilon = KNOBS["epsilon"]
    assert step_value(epsilon, 0.9995, 1) < 1.0  # [0, 1): never 1
    k = KNOBS["top_k"]
    assert step_value(k, 0, 1) == 1 and isinstance(step_value(k, 0, 1), int)
    assert step_value(k, 0, -1) == 0
    strategy = KNOBS["strategy"]
    assert step_value(strategy, "beam", 1) == "contrastive"
    assert step_value(strategy, "contrastive", 1) == "greedy"
    assert step_value(strategy, "greedy", -1) == "contrastive"
    assert step_value(KNOBS["early_stopping"], True, 1) is False
    # every step a panel can produce is accepted by the config (a step the other knobs rule
    # out is skipped: beam groups must divide the beam width)
    for name, knob in KNOBS.items():
        for direction in (-1, 1):
            for coarse in (False, True):
                config = DecodingConfig()
                for _ in range(40):
                    value = allowed_step(config, knob, direction, coarse)
                    try:
                        config = config.replace(**{name: value})
                    except ValueError:  # no group count above the beam width divides it
                        assert name == "num_beam_groups" and value > config.beam_width
                        break
    groups = KNOBS["num_beam_groups"]
    assert allowed_step(DecodingConfig(beam_width=6, num_beam_groups=3), groups, 1) == 6
    assert allowed_step(DecodingConfig(beam_width=6, num_beam_groups=3), groups, -1) == 2
    assert allowed_step(DecodingConfig(beam_width=4, num_beam_groups=2), groups, 1) == 4


def test_format_value_and_titles():
    assert format_value(KNOBS["top_k"], 0) == "off"
    assert format_value(KNOBS["top_k"], 5) == "5"
    assert format_value(KNOBS["beam_width"], 4) == "4"  # its default is not "off"
    assert format_value(KNOBS["temperature"], 0.0) == "0 greedy"
    assert format_value(KNOBS["early_stopping"], False) == "off"
    assert knob_title("repetition_penalty") == "repetition-penalty"
    assert knob_title("repetition_penalty", 12) == "rep-penalty"
    assert knob_title("repetition_penalty", 8) == "rep-pen"
    assert knob_title("top_k", 3) == "top-k"


def test_parse_knob():
    def parse_knob(name: str, text: str):
        return KNOBS[name].parse(text)

    assert parse_knob("top_k", "5") == 5 and isinstance(parse_knob("top_k", "5"), int)
    assert parse_knob("top_p", " 0.9 ") == 0.9
    assert parse_knob("top_p", "off") == 1.0
    assert parse_knob("early_stopping", "no") is False
    assert parse_knob("strategy", "beam") == "beam"
    for name, text in (("top_k", "2.5"), ("top_p", "lots"), ("early_stopping", "maybe")):
        with pytest.raises(ValueError, match=name):
            parse_knob(name, text)


# --------------------------------------------------------------------------- bars
def test_bar_and_probability_format():
    assert bar(1.0, 4) == "████"
    assert bar(0.0, 4) == "    "
    assert bar(0.5, 4) == "██  "
    assert bar(1e-9, 4).strip() == "▏"  # any probability shows
    assert bar(2.0, 3) == "███" and len(bar(0.37, 7)) == 7
    assert fmt_prob(0.41234) == "0.412" and fmt_prob(0) == "0"
    assert fmt_prob(0.00004) == "4.0e-5"


def trace_for(model, context, **knobs):
    config = DecodingConfig(strategy="sample", **knobs)
    logprobs = model.next_logprobs(context)
    return decode_step(model, context, logprobs, config, 0, len(context))


def test_crossing_token_is_where_top_p_is_reached():
    model = random_model(12, order=2, seed=4, concentration=0.6)
    trace = trace_for(model, [5], temperature=0.7, top_p=0.8)
    before = trace.stages[[s.name for s in trace.stages].index("top_p") - 1].probs
    order = np.argsort(-before, kind="stable")
    cumulative = np.cumsum(before[order])
    first_reaching = int(order[np.searchsorted(cumulative, 0.8 - 1e-12)])
    assert crossing_token(trace) == first_reaching
    assert top_p_mass(trace) >= 0.8 - 1e-9
    assert top_p_mass(trace) - before[first_reaching] < 0.8
    assert crossing_token(trace_for(model, [5])) is None


def test_top_p_marker_never_cuts_the_covered_mass():
    model = random_model(12, order=2, seed=4, concentration=0.6)
    trace = trace_for(model, [5], temperature=0.7, top_p=0.8)
    mass = fmt_prob(top_p_mass(trace))
    full = top_p_marker(trace, top_p_mass(trace), 200)
    assert f"top-p = 0.8 reached: tokens above cover {mass} of “after T”" in full
    for width in range(20, 80):
        marker = top_p_marker(trace, top_p_mass(trace), width)
        assert len(marker) <= width and marker.endswith(" ╌")
        assert f" {mass} " in marker  # the number whole, never "0.91…"
        if width >= 48:
            assert "of “after T”" in marker  # and the column it is measured on


def test_chosen_row_matches_top():
    model = random_model(9, seed=1)
    trace = trace_for(model, [4], top_k=2)
    row = chosen_row(trace)
    same = next(r for r in trace.top(9) if r["id"] == trace.chosen_id)
    assert row == same


# --------------------------------------------------------------------------- text
def test_text_pieces_rebuild_the_text_and_shades():
    model = random_model(10, seed=2)
    session = Session(model, "w3 w4", DecodingConfig(strategy="sample", seed=1, max_tokens=8))
    while session.step() is not None:
        pass
    prompt, pieces = text_pieces(model.tokenizer, session.prompt_ids, session.generated_ids,
                                 model.eos_id)
    shown = [i for i in session.generated_ids if i != model.eos_id]
    assert prompt + "".join(p for p, i in zip(pieces, session.generated_ids)
                            if i != model.eos_id) == model.tokenizer.decode(
        session.prompt_ids + shown)
    assert len(pieces) == len(session.generated_ids)
    assert [shade_of(p) for p in (0.9, 0.3, 0.1, 0.02, 0.001)] == [0, 1, 2, 3, 4]


def test_snapshot_numbers_come_from_the_session():
    model = greedy_trap_model()
    session = Session(model, "", DecodingConfig(strategy="greedy"))
    first = snapshot(session)
    assert first.preview is not None and first.traces == []
    assert first.preview.chosen_token == "the"  # what the next step will choose
    session.step()
    session.step()
    snap = snapshot(session)
    assert [p.text.strip() for p in snap.pieces] == ["the", "dog"]
    assert snap.pieces[0].prob == pytest.approx(0.5)
    assert snap.pieces[1].prob == pytest.approx(0.35)
    assert snap.perplexity == pytest.approx(session.perplexity)
    session.configure(strategy="beam", beam_width=2)
    session.reset()
    session.step()
    beam = snapshot(session)
    assert beam.traces[-1].beam is not None
    assert len(beam.pieces) == len(session.generated_ids)
    assert all(0 < p.prob <= 1 for p in beam.pieces)


# --------------------------------------------------------------------------- analysis
def test_distinct_n_and_repetition_rate():
    assert distinct_n([[1, 2, 3], [1, 2, 4]], 1) == pytest.approx(4 / 6)
    assert distinct_n([[1, 2, 3], [1, 2, 4]], 2) == pytest.approx(3 / 4)
    assert distinct_n([[5, 5, 5]] * 3, 1) == pytest.approx(1 / 9)
    assert distinct_n([], 2) == 0.0
    assert repetition_rate([[1, 2, 1, 1], [3]]) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="n must be"):
        distinct_n([[1]], 0)


def test_sample_study_histogram_follows_the_distribution():
    model = random_model(8, order=2, seed=7, concentration=1.0)
    config = DecodingConfig(strategy="sample", seed=0)
    study = sample_study(model, [3], config, n=400, max_tokens=3)
    assert study.n == 400 and sum(c for _, c, _ in study.histogram) == 400
    for _, count, p in study.histogram:
        assert abs(count / 400 - p) < 0.08
    assert study.total_variation < 0.12
    greedy = next(r for r in study.rows if r.label == "greedy")
    pure = next(r for r in study.rows if r.label.startswith("pure"))
    assert greedy.distinct_2 <= pure.distinct_2
    assert all(math.isfinite(r.mean_nll) and r.mean_nll >= 0 for r in study.rows)


def test_compare_models_with_an_oracle_like_model():
    words = ["a", "b", "c"]
    truth = TableModel(words, 2, {("<s>",): {"a": 0.5, "b": 0.3, "c": 0.2}}, name="truth")
    truth.backend = "oracle"
    other = TableModel(words, 2, {("<s>",): {"a": 0.2, "b": 0.3, "c": 0.5}}, name="guess")
    result = compare_models("", [other, truth])
    assert result.oracle == "truth"
    guess = result.columns[0]
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    assert guess.kl_from_oracle == pytest.approx(float(np.sum(p * np.log(p / q))))
    assert guess.cross_entropy == pytest.approx(result.oracle_entropy + guess.kl_from_oracle)
    assert guess.top[0] == ("c", pytest.approx(0.5))


def test_attention_message_without_a_transformer():
    result = attention_at(random_model(6), [3])
    assert result.weights is None and "no attention" in result.message


def test_speculative_demo_without_a_draft_uses_a_flatter_target():
    model = random_model(9, order=2, seed=3)
    demo = speculative_demo(model, None, [4], DecodingConfig(strategy="sample", seed=2,
                                                              temperature=0.8), k=3)
    assert "T = 1.2" in demo.draft and demo.result.ids
    assert all(len(r.proposals) <= 3 for r in demo.result.rounds)
    same = speculative_demo(model, model, [4], DecodingConfig(strategy="sample"), k=3)
    assert same.result.acceptance_rate == 1.0


# --------------------------------------------------------------------------- shading contrast
@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_probability_shades_reach_3_to_1_in_both_themes(theme):
    from textual.color import Color

    from arlm_tui.tui.app import ArlmApp
    from arlm_tui.tui.settings import Settings
    from arlm_tui.tui.widgets.generated_text import (
        MIN_CONTRAST,
        SHADE_BOUNDS,
        GeneratedText,
        contrast_ratio,
        legible,
    )

    app = ArlmApp("play", model="pyref-word-kn3", prompt="the value of",
                  settings=Settings(theme=theme), save_settings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.theme == theme
        text = app.screen.query_one(GeneratedText)
        _, background = text.background_colors
        shades = text.shade_styles()
        assert len(shades) == len(SHADE_BOUNDS)
        colors = []
        for style in shades:
            color = Color.from_rich_color(style.color)
            assert contrast_ratio(color, background) >= MIN_CONTRAST, (theme, color.hex)
            colors.append(color.hex)
        assert len(set(colors)) >= 3  # the shades stay apart
    # the ratio itself: black on white is 21, a colour against itself 1
    assert contrast_ratio(Color(0, 0, 0), Color(255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio(Color(9, 9, 9), Color(9, 9, 9)) == pytest.approx(1.0)
    pale = Color(250, 240, 200)
    assert contrast_ratio(pale, Color(255, 255, 255)) < 3
    assert contrast_ratio(legible(pale, Color(255, 255, 255)), Color(255, 255, 255)) >= 3


def test_snapshot_pieces_grow_step_by_step_as_a_fresh_snapshot_would_give_them():
    from arlm_tui.lm.registry import load_model

    session = Session(load_model("pyref-word-kn3"), "the value of",
                      DecodingConfig(strategy="sample", seed=3, min_tokens=100, max_tokens=200))
    snap = snapshot(session)
    for step in range(40):
        if step == 20:
            session.force("object")
        elif step in (25, 30):
            session.undo()
        else:
            session.step()
        snap = snapshot(session, snap)
        fresh = snapshot(session)
        assert snap.pieces == fresh.pieces and snap.prompt_text == fresh.prompt_text
    assert any(piece.forced for piece in snap.pieces)
