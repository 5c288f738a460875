"""The two-samplers lab (lesson 06): two sampler settings on one distribution, computed by the
same processors as generation, and its view driven by keys."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from rich.console import Console
from textual.app import App
from tui_helpers import settle

from arlm_tui.decoding import warp
from arlm_tui.decoding.processors import WARPER_KNOBS
from arlm_tui.learn import load_lessons
from arlm_tui.learn.labs import preset_result
from arlm_tui.learn.labs.two_samplers import on_value, sampler_knobs, two_samplers
from arlm_tui.tui.screens.lab import LabScreen, TextPrompt
from arlm_tui.tui.widgets.labs import LabView

#: p = 0.45, 0.2, 0.1, 0.06, 0.05, 0.04, 0.03, 0.03, 0.02, 0.02 (a head and a tail)
PROBS = np.array([0.45, 0.2, 0.1, 0.06, 0.05, 0.04, 0.03, 0.03, 0.02, 0.02])
TOKENS = [f"w{i}" for i in range(PROBS.size)]


def test_top_p_against_min_p_by_hand():
    t = two_samplers(np.log(PROBS), TOKENS, {"top_p": 0.9}, {"min_p": 0.1}, top=None)
    # top-p 0.9: the shortest head reaching 0.9 is 0.45 + 0.2 + 0.1 + 0.06 + 0.05 + 0.04
    assert t.a.kept == 6 and t.a.kept_mass == pytest.approx(0.90)
    # min-p 0.1: p ≥ 0.1 · 0.45 = 0.045 keeps five tokens
    assert t.b.kept == 5 and t.b.kept_mass == pytest.approx(0.86)
    assert (t.both, t.only_a, t.only_b) == (5, 1, 0)
    assert t.b.final[:5] == pytest.approx(PROBS[:5] / 0.86)
    assert t.b.final[5:] == (0.0,) * 5 and t.b.removed_by[5] and not t.b.removed_by[4]
    assert t.a.title == "top-p = 0.9" and t.b.title == "min-p = 0.1"
    assert t.entropy == pytest.approx(-np.sum(PROBS * np.log(PROBS)))


@pytest.mark.parametrize("name", sorted(sampler_knobs()))
def test_each_side_is_what_warp_gives(name):
    """Whatever sampler a side picks, its p' is the engine's own ``warp`` with that knob."""
    rng = np.random.default_rng(len(name))
    logits = rng.normal(0, 2, 30)
    value = on_value(WARPER_KNOBS[name])
    t = two_samplers(logits, None, {name: value}, {"temperature": 1.0}, top=None)
    order = np.argsort(-logits, kind="stable")
    assert t.a.final == pytest.approx(warp(logits, **{name: value})[order])
    assert t.b.final == pytest.approx(warp(logits)[order])  # temperature 1 changes nothing
    assert t.b.kept == 30 and t.b.kept_mass == pytest.approx(1.0)


def test_top_n_sigma_keeps_the_same_set_at_any_temperature():
    """top-nσ's cut is on logits scaled together, so it keeps the same tokens at any T."""
    logits = np.random.default_rng(3).normal(0, 2, 40)
    kept = {two_samplers(logits / temperature, None, {"top_n_sigma": 1.0}, {"top_p": 0.9},
                         top=None).a.kept for temperature in (0.5, 1.0, 2.0)}
    assert len(kept) == 1


def test_the_sampler_list_comes_from_the_processors_knobs():
    names = sampler_knobs()
    assert {"temperature", "top_k", "top_p", "min_p", "typical_p", "top_n_sigma", "eta",
            "epsilon", "xtc_probability"} <= set(names) <= set(WARPER_KNOBS)
    assert "xtc_threshold" not in names  # does nothing without XTC's probability


def test_bad_settings_are_refused_with_one_line():
    with pytest.raises(ValueError, match="one sampling knob"):
        two_samplers([0.0, 1.0], None, {"top_p": 0.9, "min_p": 0.1}, {"min_p": 0.1})
    with pytest.raises(ValueError, match="not a sampling knob"):
        two_samplers([0.0, 1.0], None, {"repetition_penalty": 1.2}, {"min_p": 0.1})
    with pytest.raises(ValueError, match="top_p"):
        two_samplers([0.0, 1.0], None, {"top_p": 1.5}, {"min_p": 0.1})


LESSON = load_lessons().get("06-decoding")
LAB = next(lab for lab in LESSON.labs if lab.kind == "two_samplers")


def test_the_lesson_lab_shows_what_its_intro_promises():
    t = preset_result(LAB.kind, LAB.preset)
    # top-p 0.9 collects a long tail (about two hundred words), min-p 0.1 a dozen
    assert 150 <= t.a.kept <= 250 and 5 <= t.b.kept <= 20
    assert t.a.kept_mass == pytest.approx(0.9, abs=0.01) and t.b.kept_mass < 0.6
    assert t.only_b == 0 and t.both == t.b.kept  # min-p's set sits inside top-p's here
    assert not math.isnan(t.a.entropy) and t.a.entropy > t.b.entropy
    # after "you can": "be" far ahead, min-p keeps two words, top-p more than 150
    sharp = preset_result(LAB.kind, {**LAB.preset, "context": "you can"})
    assert sharp.tokens[0] == "be" and sharp.b.kept == 2 and sharp.a.kept > 150


class LabApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.animation_level = "none"

    def on_mount(self) -> None:
        self.push_screen(LabScreen(LAB, LESSON.title))


async def test_the_view_changes_samplers_values_and_context():
    app = LabApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        view = app.screen.query_one(LabView)
        assert view.has_focus and view.error is None
        before = view.result
        assert before.a.knob == "top_p" and before.b.knob == "min_p"
        await pilot.press("down", "left", "left")  # A's value: top-p 0.9 → 0.8
        assert view.sides[0] == ["top_p", pytest.approx(0.8)]
        assert view.result.a.kept < before.a.kept
        await pilot.press("down", "right")  # B's sampler: the one after min-p
        names = list(sampler_knobs())
        after_min_p = names[(names.index("min_p") + 1) % len(names)]
        assert view.result.b.knob == after_min_p
        assert view.result.b.value == on_value(WARPER_KNOBS[after_min_p])
        await pilot.press("x")  # swap
        assert view.result.a.knob == after_min_p and view.result.b.knob == "top_p"
        await pilot.press("r")
        assert (view.result.a.knob, view.result.b.knob) == ("top_p", "min_p")
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, TextPrompt)
        await pilot.press("ctrl+u", *"you can", "enter")
        await settle(pilot)
        assert view.result.prompt == "you can" and view.result.tokens[0] == "be"
        console = Console(width=100, file=io.StringIO(), record=True)
        console.print(view.render())
        drawn = console.export_text()
        t = view.result
        assert "After \"you can\"" in drawn and "top-p  0.9" in drawn and "min-p  0.1" in drawn
        assert f"keeps {t.a.kept} of {t.size} tokens" in drawn
        assert f"keeps {t.b.kept} of {t.size} tokens" in drawn and "of p's mass" in drawn


# ------------------------------------------------------------------ a sampler with a state
def test_mirostat_is_run_for_several_steps_with_mu_from_the_session():
    """Mirostat's μ moves after every token: the lab runs such a side from the context with a
    Session and shows each step's μ before and after and the size of its cut, as the Traces
    give them; its first step is the one distribution the table shows."""
    from arlm_tui.decoding import DecodingConfig, Session
    from arlm_tui.learn.labs.base import lab_model
    from arlm_tui.learn.labs.two_samplers import STATE_STEPS, stateful_knobs

    assert stateful_knobs() == {"mirostat_tau"}
    preset = {**LAB.preset, "sampler_a": {"mirostat_tau": 3.0}, "sampler_b": {"top_p": 0.9}}
    t = preset_result(LAB.kind, preset)
    assert t.a.stateful and not t.b.stateful and t.b.steps == ()
    steps = t.a.steps
    assert len(steps) == STATE_STEPS
    assert steps[0].mu_before == 6.0 and steps[0].kept == t.a.kept  # μ starts at 2τ
    for before, after in zip(steps, steps[1:]):
        assert after.mu_before == before.mu_after  # the state carried from step to step
    eta = 0.1  # mirostat-η's default
    for step in steps:
        assert step.mu_after == pytest.approx(step.mu_before - eta * (step.surprise - 3.0))
    assert len({step.kept for step in steps}) > 1  # the cut changes as μ moves
    # the same numbers as a Session of the engine gives
    session = Session(lab_model(preset), preset["context"],
                      DecodingConfig(strategy="sample", seed=0, mirostat_tau=3.0))
    traces = [session.step() for _ in range(STATE_STEPS)]
    assert [s.kept for s in steps] == [tr.kept for tr in traces]
    assert [s.mu_after for s in steps] == [tr.mirostat.mu_after for tr in traces]
    assert [s.token for s in steps] == [tr.text_of(tr.chosen_id) for tr in traces]


def test_with_given_logits_a_stateful_side_says_it_shows_one_step():
    t = two_samplers(np.log(PROBS), TOKENS, {"mirostat_tau": 2.0}, {"top_p": 0.9}, top=None)
    assert t.a.stateful and t.a.steps == ()
    from arlm_tui.tui.widgets.labs.two_samplers import TwoSamplersView

    view = TwoSamplersView(LAB)
    console = Console(width=100, file=io.StringIO(), record=True)
    console.print(view.draw(t))
    drawn = " ".join(console.export_text().split())
    assert "μ starts at 2τ and moves after every token: above is its first step only" in drawn


async def test_the_view_shows_mirostat_steps_at_80x24():
    app = LabApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        view = app.screen.query_one(LabView)
        view.sides[0] = ["mirostat_tau", 3.0]
        view.recompute()
        await settle(pilot)
        t = view.result
        assert t.a.steps and view.error is None
        console = Console(width=78, file=io.StringIO(), record=True)
        console.print(view.render())
        drawn = console.export_text()
        assert "run from the context" in drawn
        first = t.a.steps[0]
        assert f"μ {first.mu_before:.2f} → {first.mu_after:.2f}" in drawn
        assert f"keeps {first.kept}" in drawn
