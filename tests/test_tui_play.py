"""The play screen driven with Textual's Pilot and the bundled n-gram model.

Each test presses keys as a learner would and checks both what the screen shows and what the
Session holds.
"""

from __future__ import annotations

import numpy as np
import pytest
from tui_helpers import PROMPT, make_play_app, rendered, settle, start_play, wait_until

from arlm_tui.decoding.processors import warp
from arlm_tui.numbers import fmt_prob
from arlm_tui.tui.screens.dialogs import ChoiceDialog, ValueDialog
from arlm_tui.tui.screens.play import PlayScreen
from arlm_tui.tui.widgets.beam_view import BeamView
from arlm_tui.tui.widgets.generated_text import GeneratedText
from arlm_tui.tui.widgets.knob_panel import KnobPanel
from arlm_tui.tui.widgets.token_bars import TokenBars, column_titles, columns


async def select_knob(pilot, screen: PlayScreen, name: str) -> None:
    panel = screen.query_one(KnobPanel)
    panel.focus()
    panel.select(name)
    await pilot.pause()


# --------------------------------------------------------------------------- stepping
async def test_step_undo_redo_reset():
    app = make_play_app(strategy="sample", knobs={"seed": 5})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        bars = screen.query_one(TokenBars)
        assert bars.mode == "next" and bars.trace is not None  # the first token's distribution
        assert "space chooses" in rendered(bars)

        await pilot.press("space", "space", "space")
        session = screen.session
        assert len(session.traces) == 3
        tokens = [t.chosen_id for t in session.traces]
        # the bars moved on: the distribution of the 4th token, given the text so far
        assert bars.mode == "next" and bars.trace is screen.snap.preview
        assert bars.trace.context_ids == session.context_ids
        text = screen.query_one(GeneratedText)
        assert len(text.pieces) == 3
        assert rendered(text).startswith(PROMPT)
        chosen_text = session.traces[-1].text_of(tokens[-1])
        assert f"step 3 chose {chosen_text}" in rendered(bars)  # the choice is named
        assert "▶" not in rendered(bars) and "live" in rendered(bars)
        assert "token 4, live" in str(screen.query_one("#views").border_title)
        stats = rendered(screen.query_one("#stats"))
        assert "3 tokens" in stats and f"perplexity = {session.perplexity:.2f}" in stats
        assert f"log p = {session.logprob:.2f}" in stats
        assert rendered(screen.query_one("#explain")).startswith("why: ")

        await pilot.press("backspace")
        assert len(session.traces) == 2 and len(text.pieces) == 2
        assert "r redoes" in rendered(screen.query_one("#stats"))
        await pilot.press("r")
        assert [t.chosen_id for t in session.traces] == tokens
        await pilot.press("backspace", "space")  # same seed, same step index: same token
        assert [t.chosen_id for t in session.traces] == tokens

        await pilot.press("R")
        assert session.traces == [] and bars.mode == "next"
        assert rendered(text).startswith(PROMPT)


async def test_stepping_until_the_text_ends():
    app = make_play_app(strategy="greedy", knobs={"max_tokens": 4})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        for _ in range(6):
            await pilot.press("space")
        session = screen.session
        assert session.done and len(session.traces) <= 4
        stats = rendered(screen.query_one("#stats"))
        assert "done" in stats or "ended with </s>" in stats
        # greedy chooses rank 1 every time
        assert all(t.chosen_rank == 1 for t in session.traces)


# --------------------------------------------------------------------------- live bars
def bar_columns(screen: PlayScreen) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bars = screen.query_one(TokenBars)
    assert bars.mode == "next"
    return tuple(np.array(c) for c in columns(bars.trace))


async def test_every_knob_and_the_model_change_the_live_bars_without_a_step():
    app = make_play_app(strategy="sample", knobs={"seed": 5})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space")
        session = screen.session
        bars = screen.query_one(TokenBars)
        steps = len(session.traces)

        def assert_changed(before, after) -> None:
            assert any(not np.allclose(b, a) for b, a in zip(before, after, strict=True))
            assert len(session.traces) == steps  # no step was taken
            assert bars.trace.context_ids == session.context_ids  # still the next token

        before = bar_columns(screen)
        await select_knob(pilot, screen, "temperature")
        await pilot.press("shift+right")  # T 1 → 1.5
        after = bar_columns(screen)
        assert_changed(before, after)
        temperature = session.config.temperature
        assert temperature == pytest.approx(1.5)
        # the middle column is warp(log p, temperature=T) with every truncation off
        raw_logprobs = bars.trace.raw_logprobs
        np.testing.assert_allclose(after[1], warp(raw_logprobs, temperature=temperature),
                                   atol=1e-12)
        np.testing.assert_allclose(after[0], np.exp(raw_logprobs), atol=1e-12)
        assert column_titles(bars.trace)[1] == "after T" and "after T" in rendered(bars)

        before = after
        await select_knob(pilot, screen, "top_k")
        await pilot.press("right", "right")  # top-k = 2
        after = bar_columns(screen)
        assert_changed(before, after)
        assert np.count_nonzero(after[2]) <= 2 + 5  # ties with the 2nd are kept
        np.testing.assert_allclose(after[2], warp(raw_logprobs, temperature=temperature,
                                                  top_k=2), atol=1e-12)
        await pilot.press("delete")  # top-k off again

        await select_knob(pilot, screen, "temperature")
        await pilot.press("shift+left", "shift+left")  # T = 0.5: the top-p cut comes early
        temperature = session.config.temperature
        before = bar_columns(screen)
        await select_knob(pilot, screen, "top_p")
        await pilot.press(*["shift+left"] * 5)  # top-p = 0.5
        after = bar_columns(screen)
        assert_changed(before, after)
        np.testing.assert_allclose(after[2], warp(raw_logprobs, temperature=temperature,
                                                  top_p=0.5), atol=1e-12)
        # the marker's coverage is measured on the column it names
        text = rendered(bars)
        assert "top-p = 0.5 reached: tokens above cover" in text and "of “after T”" in text
        kept = after[2] > 0
        covered = float(after[1][kept].sum())
        assert covered >= 0.5 - 1e-9
        assert f"cover {fmt_prob(covered)} of “after T”" in text

        before = bar_columns(screen)
        screen.load_model("oracle-kn3")
        await settle(pilot)
        assert session.model.name == "oracle-kn3" and screen.snap.model_name == "oracle-kn3"
        after = bar_columns(screen)
        assert before[0].shape != after[0].shape or not np.allclose(before[0], after[0])
        assert bars.trace.context_ids == session.context_ids


async def test_a_burst_of_knob_changes_is_applied_whole_and_in_order():
    app = make_play_app(strategy="sample")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        screen.always_threaded = True  # as with a neural model: changes arrive while busy
        await select_knob(pilot, screen, "temperature")
        for _ in range(12):
            await pilot.press("right")
        await pilot.press("space")
        await settle(pilot)
        assert screen.session.config.temperature == pytest.approx(1.6)
        assert screen.session.traces[-1].config["temperature"] == pytest.approx(1.6)
        assert screen.query_one(KnobPanel).config.temperature == pytest.approx(1.6)
        assert screen.query_one(TokenBars).trace.config["temperature"] == pytest.approx(1.6)


async def test_the_same_message_is_never_stacked():
    app = make_play_app(strategy="greedy")
    async with app.run_test(size=(100, 30)) as pilot:
        await start_play(pilot)
        await pilot.press(*["backspace"] * 26)  # nothing to undo at the start
        same = [n for n in app._notifications if n.message == "nothing to undo"]
        assert len(same) == 1 and same[0].time_left <= 2  # and it goes after its timeout
        await pilot.press("r", "r")
        assert len([n for n in app._notifications if n.message == "nothing to redo"]) == 1


# --------------------------------------------------------------------------- knobs
async def test_knobs_fine_coarse_typed_and_refused():
    app = make_play_app(strategy="sample")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        panel = screen.query_one(KnobPanel)
        assert screen.focused is panel  # the knobs answer the arrow keys from the start
        assert panel.selected == "strategy"
        await pilot.press("down")
        assert panel.selected == "temperature"
        await pilot.press("up", "up")
        assert panel.selected == "seed"  # wraps around
        await select_knob(pilot, screen, "temperature")
        await pilot.press("right")
        assert screen.session.config.temperature == pytest.approx(1.05)
        await pilot.press("shift+left")
        assert screen.session.config.temperature == pytest.approx(0.55)
        assert "0.55" in rendered(panel)

        await pilot.press("enter")
        assert isinstance(app.screen, ValueDialog)
        dialog = app.screen
        dialog.query_one("#dialog-input").value = "hot"
        await pilot.press("enter")
        assert isinstance(app.screen, ValueDialog)  # refused, still open
        assert "temperature" in rendered(dialog.query_one("#dialog-error"))
        dialog.query_one("#dialog-input").value = "-2"
        await pilot.press("enter")
        assert isinstance(app.screen, ValueDialog)
        assert "temperature" in rendered(dialog.query_one("#dialog-error"))
        dialog.query_one("#dialog-input").value = "0.7"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.session.config.temperature == 0.7

        await select_knob(pilot, screen, "top_p")
        for _ in range(3):
            await pilot.press("left")
        assert screen.session.config.top_p == pytest.approx(0.97)
        await pilot.press("delete")  # back to off
        assert screen.session.config.top_p == 1.0
        await select_knob(pilot, screen, "top_k")
        await pilot.press("left")  # already at its minimum: stays valid
        assert screen.session.config.top_k == 0

        # a knob change shows in the live bars at once, and the step taken records it
        await select_knob(pilot, screen, "top_k")
        await pilot.press("right", "right", "right")
        assert "✗ top-k" in rendered(screen.query_one(TokenBars))
        await pilot.press("space")
        trace = screen.session.traces[-1]
        assert trace.config["top_k"] == 3 and trace.kept <= 3 + 5  # ties with the 3rd kept


async def test_invalid_knob_from_the_command_line_is_refused_not_fatal():
    app = make_play_app(strategy="sample", knobs={"temperature": -1.0})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        assert screen.session.config.temperature == 1.0
        assert any("temperature" in n.message for n in app._notifications)


async def test_strategy_cycle_and_beam_view():
    app = make_play_app(strategy="greedy", knobs={"beam_width": 3})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("s")  # a small picker, the current strategy highlighted
        picker = app.screen
        assert isinstance(picker, ChoiceDialog)
        options = picker.query_one("#choice-list")
        assert options.highlighted == 0 and "greedy (now)" in str(
            options.get_option_at_index(0).prompt)
        await pilot.press("down", "enter")
        assert app.screen is screen and screen.session.config.strategy == "sample"
        await pilot.press("s", "escape")  # escape keeps it
        assert screen.session.config.strategy == "sample"
        await pilot.press("s", "down", "enter")  # sample is highlighted: one down is beam
        assert screen.session.config.strategy == "beam"
        assert screen.view == "beam"  # the beam view comes up by itself
        await pilot.press("space", "space")
        trace = screen.session.traces[-1]
        assert trace.beam is not None and len(trace.beam.survivors) == 3
        # stepping advances all beams; the text is the best hypothesis
        assert screen.session.generated_ids == list(trace.beam.survivors[0].ids)
        # the view shows the next expansion, live: what space will keep and prune
        view = screen.query_one(BeamView)
        text = rendered(view)
        assert view.live and "next expansion (step 3, live)" in text
        assert "hypotheses space would keep" in text and "pruned by this expansion" in text
        preview = screen.snap.beam_preview
        best = preview.survivors[0]
        assert f"{best.logprob:8.2f}" in text and f"{best.score:8.2f}" in text
        # a wider beam and another length penalty change the view without a step
        await select_knob(pilot, screen, "beam_width")
        await pilot.press("right", "right")
        assert len(screen.snap.beam_preview.survivors) == 5 and len(screen.session.traces) == 2
        assert "width 5" in rendered(view)
        await select_knob(pilot, screen, "length_penalty")
        await pilot.press("shift+left")
        assert "α = 0.5" in rendered(view)
        shown = [(h.ids, round(h.score, 9)) for h in screen.snap.beam_preview.survivors]
        await pilot.press("space")  # the step keeps exactly what the view showed
        taken = screen.session.traces[-1].beam
        assert [(h.ids, round(h.score, 9)) for h in taken.survivors] == shown
        # a past step is shown on request
        await pilot.press("t")
        assert not view.live and "(past)" in rendered(view)
        await pilot.press("escape")
        assert view.live
        await pilot.press("s", "up", "up", "enter")
        assert screen.session.config.strategy == "greedy" and screen.view == "bars"


# --------------------------------------------------------------------------- forcing
async def test_force_from_the_bars():
    app = make_play_app(strategy="sample")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space")
        await pilot.press("f")
        bars = screen.query_one(TokenBars)
        assert bars.mode == "force" and screen.focused is bars
        preview = bars.trace
        third = preview.top(3)[2]["id"]
        await pilot.press("down", "down")
        assert bars.cursor_token == third
        await pilot.press("enter")
        session = screen.session
        assert len(session.traces) == 2
        assert session.traces[-1].forced and session.traces[-1].chosen_id == third
        assert bars.mode == "next" and "step 2 forced" in rendered(bars)
        assert rendered(screen.query_one("#explain")).startswith("why: you forced")
        # escape leaves force mode without forcing
        await pilot.press("f", "down", "escape")
        assert bars.mode == "next" and len(session.traces) == 2


async def test_force_far_down_the_list_scrolls():
    app = make_play_app(strategy="sample")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("f", "pagedown", "pagedown", "pagedown")
        bars = screen.query_one(TokenBars)
        assert bars.cursor == 30
        wanted = bars.trace.top(31)[30]
        assert wanted["text"] in rendered(bars)
        await pilot.press("enter")
        trace = screen.session.traces[-1]
        assert trace.forced and trace.chosen_id == wanted["id"] and trace.chosen_rank == 31


async def test_force_by_typing():
    app = make_play_app(strategy="greedy")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("F")
        dialog = app.screen
        assert isinstance(dialog, ValueDialog)
        dialog.query_one("#dialog-input").value = "no-such-token-xyz"
        await pilot.press("enter")
        assert isinstance(app.screen, ValueDialog)
        assert "vocabulary" in rendered(dialog.query_one("#dialog-error"))
        dialog.query_one("#dialog-input").value = "object"
        await pilot.press("enter")
        await settle(pilot)
        trace = screen.session.traces[-1]
        assert trace.forced and trace.chosen_token == "object"
        assert rendered(screen.query_one(GeneratedText)).startswith(f"{PROMPT} object")


# --------------------------------------------------------------------------- text
async def test_selecting_a_token_shows_its_step():
    app = make_play_app(strategy="sample", knobs={"seed": 1})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space", "space", "t")
        text = screen.query_one(GeneratedText)
        bars = screen.query_one(TokenBars)
        assert screen.focused is text and text.cursor == 2
        await pilot.press("left")
        assert text.cursor == 1 and screen.selected == 1
        assert bars.trace is screen.session.traces[1] and bars.mode == "step"
        assert "step 2, past" in str(screen.query_one("#views").border_title)
        assert "▶" in rendered(bars) and "(past)" in rendered(bars)
        await pilot.press("home")
        assert bars.trace is screen.session.traces[0]
        await pilot.press("escape")  # back to live
        assert screen.selected is None and bars.mode == "next"
        assert bars.trace is screen.snap.preview
        assert "live" in str(screen.query_one("#views").border_title)


async def test_new_prompt():
    app = make_play_app(strategy="greedy")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "p")
        prompt = screen.query_one("#prompt")
        assert screen.focused is prompt
        prompt.value = "the obj"
        await pilot.press("e", "c", "t", "enter")
        session = screen.session
        assert session.traces == []
        assert session.text == "the object"
        assert screen.focused is screen.query_one(KnobPanel)


# --------------------------------------------------------------------------- autoplay
async def test_autoplay_steps_and_pauses():
    # </s> is held back, so the text cannot end (and stop autoplay) while a key is pressed
    app = make_play_app(strategy="sample", knobs={"max_tokens": 2000, "min_tokens": 2000})
    app.settings.autoplay_interval = 0.05
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("a")
        assert screen.autoplay_timer is not None
        assert "autoplay" in rendered(screen.query_one("#stats"))
        await wait_until(pilot, lambda: len(screen.session.traces) >= 2 or screen.session.done)
        await pilot.press("a")
        assert screen.autoplay_timer is None
        steps = len(screen.session.traces)
        assert steps >= 2 or screen.session.done
        await pilot.pause(0.2)
        assert len(screen.session.traces) == steps  # paused
        await pilot.press("left_square_bracket")
        assert app.settings.autoplay_interval == 0.1
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert app.settings.autoplay_interval == 0.05


# --------------------------------------------------------------------------- timeline
async def test_the_timeline_shows_each_token_probability_and_entropy():
    from arlm_tui.tui.widgets.timeline import LEVELS, Timeline, entropy_level, prob_level

    assert prob_level(1.0) == 8 and prob_level(1e-4) == 1 and prob_level(0) == 0
    assert prob_level(0.5) > prob_level(0.01) > prob_level(1e-3)
    assert entropy_level(2.0, 4.0) == 4 and entropy_level(float("nan"), 4.0) == 0
    app = make_play_app(strategy="sample", knobs={"seed": 4, "temperature": 1.5})
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await start_play(pilot)
        await pilot.press(*["space"] * 6)
        timeline = screen.query_one(Timeline)
        session = screen.session
        assert timeline.probs == tuple(t.chosen_raw_prob for t in session.traces)
        assert timeline.entropies == tuple(t.entropy for t in session.traces)
        p_line, h_line = rendered(timeline).splitlines()
        assert p_line == "p " + "".join(LEVELS[prob_level(p)] for p in timeline.probs)
        largest = max(timeline.entropies)
        assert h_line == "H " + "".join(LEVELS[entropy_level(h, largest)]
                                        for h in timeline.entropies)
        await pilot.click(Timeline, offset=(1 + 2 + 3, 0))  # padding, "p ", 4th column
        assert screen.selected == 3 and timeline.cursor == 3
        assert "step 4, past" in str(screen.query_one("#views").border_title)
