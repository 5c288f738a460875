"""The play screen's views, models, files and help, driven with Pilot and the bundled models.

Each test presses keys as a learner would and checks both what the screen shows and what the
Session holds.
"""

from __future__ import annotations

import json
import re

import pytest
from tui_helpers import PROMPT, make_play_app, rendered, settle, start_play

from arlm_tui.tui.screens.dialogs import FileDialog, ModelPicker
from arlm_tui.tui.screens.help import HelpScreen
from arlm_tui.tui.screens.play import PlayScreen
from arlm_tui.tui.widgets.generated_text import GeneratedText
from arlm_tui.tui.widgets.knob_panel import PANEL_KNOBS, KnobPanel
from arlm_tui.tui.widgets.token_bars import TokenBars


async def select_knob(pilot, screen: PlayScreen, name: str) -> None:
    panel = screen.query_one(KnobPanel)
    panel.focus()
    while panel.selected != name:
        await pilot.press("down")


# --------------------------------------------------------------------------- model switch
async def test_switch_model_keeps_the_text(tmp_path):
    from arlm_tui import paths
    from arlm_tui.train.ngram import train_ngram

    train_ngram(corpus="toy", out_dir=paths.user_models_dir() / "toy-mle", order=2,
                smoothing="addk", tokenizer_kind="word", min_count=1, lowercase=False,
                valid_fraction=0.0, seed=0, name="toy-mle")
    app = make_play_app(strategy="greedy", prompt="i love")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space")
        before = screen.session.text
        await pilot.press("m")
        assert isinstance(app.screen, ModelPicker)
        options = app.screen.query_one("#picker-list")
        names = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "pyref-word-kn3" in names and "toy-mle" in names
        options.highlighted = names.index("toy-mle")
        await pilot.press("enter")
        await settle(pilot)
        session = screen.session
        assert session.model.name == "toy-mle"
        assert session.traces == []
        # the text so far, re-encoded with the new model's tokenizer, is the new prompt
        assert session.prompt_ids == session.model.tokenizer.encode(before)
        assert screen.query_one("#prompt").value == session.model.tokenizer.decode(
            session.prompt_ids)
        assert "toy-mle" in str(screen.sub_title)
        await pilot.press("space")
        assert len(session.traces) == 1
        # the path field takes a model's name too; a name that is no model is refused
        await pilot.press("m")
        field = app.screen.query_one("Input")
        field.value = "no-such-model"
        await field.action_submit()
        await pilot.pause()
        assert isinstance(app.screen, ModelPicker)
        assert "no model named" in rendered(app.screen.query_one("#dialog-error"))
        field.value = "pyref-word-kn3"
        await field.action_submit()
        await settle(pilot)
        assert screen.session.model.name == "pyref-word-kn3"


async def test_unknown_model_is_a_message_not_a_crash():
    app = make_play_app(model="no-such-model")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.session is None
        assert "unknown model" in screen.last_error
        assert "Could not load the model" in rendered(screen.query_one(TokenBars))
        await pilot.press("space")  # nothing to step: a message, still running
        assert app.is_running


# --------------------------------------------------------------------------- views
async def test_analysis_views():
    app = make_play_app(strategy="sample", knobs={"temperature": 0.8, "top_p": 0.9})
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space")

        await pilot.press("3")
        await settle(pilot)
        compare = rendered(screen.query_one("#view-compare"))
        assert "pyref-word-kn3 (ngram)" in compare and "H = " in compare

        await pilot.press("4")
        await settle(pilot)
        samples = screen.query_one("#view-samples")
        assert samples.data is not None and samples.data.n == 20
        text = rendered(samples)
        assert "distinct-1" in text and "greedy" in text and "pure sampling" in text
        greedy_row = next(r for r in samples.data.rows if r.label == "greedy")
        assert greedy_row.distinct_1 <= 1 / samples.data.n + 1e-9 or greedy_row.distinct_1 < 0.2

        await pilot.press("5")
        await settle(pilot)
        assert "no attention" in rendered(screen.query_one("#view-attention"))

        await pilot.press("6")
        await settle(pilot)
        spec = screen.query_one("#view-speculative")
        assert spec.data is not None and spec.data.result.ids
        assert "acceptance rate" in rendered(spec)

        await pilot.press("v")  # 6 -> 1
        assert screen.view == "bars"
        await pilot.press("2")
        assert screen.view == "beam"


# --------------------------------------------------------------------------- save / open
async def test_save_and_replay_a_session(tmp_path):
    target = tmp_path / "s.json"
    app = make_play_app(strategy="sample", knobs={"seed": 5})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space", "f", "down", "enter", "space")
        saved = [t.chosen_id for t in screen.session.traces]
        assert len(saved) == 4
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, FileDialog)
        app.screen.query_one("#dialog-input").value = str(target)
        await pilot.press("enter")
        data = json.loads(target.read_text())
        assert [s["choice"] for s in data["steps"]] == saved

        await pilot.press("R")
        assert screen.session.traces == []
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, FileDialog)
        app.screen.query_one("#dialog-input").value = str(tmp_path / "missing.json")
        await pilot.press("enter")
        assert isinstance(app.screen, FileDialog)  # refused with a message
        app.screen.query_one("#dialog-input").value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.replay_total == 4 and screen.session.traces == []
        assert "replay 0/4" in rendered(screen.query_one("#stats"))
        for k in range(4):
            await pilot.press("space")
            assert [t.chosen_id for t in screen.session.traces] == saved[: k + 1]
        assert screen.session.traces[2].forced

        bad = tmp_path / "bad.json"
        bad.write_text("{not json")
        await pilot.press("ctrl+o")
        app.screen.query_one("#dialog-input").value = str(bad)
        await pilot.press("enter")
        await settle(pilot)
        assert "JSON" in screen.last_error and app.is_running


# --------------------------------------------------------------------------- help, back, quit
async def test_help_lists_every_key_and_escape_goes_home():
    app = make_play_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        sections = app.screen.sections
        assert len(app.screen.query(".help-section")) == len(sections)
        text = " ".join(f"{keys} {does}" for _, rows in sections for keys, does in rows)
        assert "space" in text and "⌫" in text
        for words in ("take one decoding step", "take back the last step", "force",
                      "switch model", "decrease the selected knob", "autoplay",
                      "save the session", "open a saved session", "quit arlm",
                      "Switch between the light and the dark theme"):
            assert words in text, words
        for binding in PlayScreen.BINDINGS:
            assert binding.tooltip and binding.tooltip in text, binding.id
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("escape")
        assert app.screen.__class__.__name__ == "HomeScreen"


async def test_threaded_engine_path():
    """Neural models step in a thread worker; the same results arrive on screen."""
    app = make_play_app(strategy="sample", knobs={"seed": 2})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        screen.always_threaded = True
        await pilot.press("space")
        await settle(pilot)
        await pilot.press("space")
        await settle(pilot)
        assert len(screen.session.traces) == 2
        bars = screen.query_one(TokenBars)  # live: the next token's distribution
        assert bars.mode == "next" and bars.trace is screen.snap.preview
        assert bars.trace.context_ids == screen.session.context_ids
        assert not screen.busy


@pytest.mark.parametrize("size", [(80, 24), (60, 20), (160, 50)])
async def test_layout_at_several_sizes(size):
    app = make_play_app(strategy="sample")
    async with app.run_test(size=size) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space")
        bars = screen.query_one(TokenBars)
        assert bars.size.height >= 5 and bars.size.width >= 30
        # a token's row starts with its rank (its p may read 0.012 or 9.9e-4)
        rows = [line for line in rendered(bars).splitlines() if re.match(r"^\S?\s*\d+ ", line)]
        assert len(rows) >= 2
        if size[1] >= 50:
            assert len(rows) >= 25  # uses the room of a large terminal
        panel = screen.query_one(KnobPanel)
        assert panel.size.width >= 15
        assert "temp" in rendered(panel) and "top-k" in rendered(panel)


# --------------------------------------------------------------------------- a transformer
def save_tiny_transformer() -> None:
    """An untrained two-layer transformer (random weights): enough to check the plumbing."""
    import torch

    from arlm_tui import paths
    from arlm_tui.lm.neural.backend import NeuralLanguageModel
    from arlm_tui.lm.neural.config import make_config
    from arlm_tui.lm.neural.io import build_net, save_neural
    from arlm_tui.text.tokenizers import WordTokenizer

    torch.manual_seed(0)
    tokenizer = WordTokenizer.from_vocab("the cat sat on a mat dog ran .".split())
    config = make_config("transformer", len(tokenizer.vocab), layers=2, d_model=16, heads=2,
                         context=32)
    model = NeuralLanguageModel(build_net("transformer", config), tokenizer,
                                backend="transformer", name="tiny-tf")
    save_neural(model, paths.user_models_dir() / "tiny-tf")


async def test_transformer_steps_in_a_worker_and_shows_attention():
    save_tiny_transformer()
    app = make_play_app(model="tiny-tf", prompt="the cat sat", strategy="sample")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        assert screen.session.model.backend == "transformer" and screen.threaded
        await pilot.press("space", "space", "space")  # presses during a step are queued
        for _ in range(10):
            await settle(pilot)
            if len(screen.session.traces) == 3:
                break
        assert len(screen.session.traces) == 3 and not screen.busy
        bars = screen.query_one(TokenBars)
        assert bars.mode == "next" and bars.trace.context_ids == screen.session.context_ids

        await pilot.press("5")
        await settle(pilot)
        view = screen.query_one("#view-attention")
        assert view.data.weights.shape == (2, 2, len(screen.session.context_ids) + 1)
        text = rendered(view)
        assert "2 layers × 2 heads" in text and "L1" in text and "L2" in text
        for token in ("<s>", "the", "cat", "sat"):
            assert token in text


async def test_mouse_selects_tokens_and_knobs_and_palette_has_play_commands():
    app = make_play_app(strategy="greedy")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space")
        text = screen.query_one(GeneratedText)
        # the first generated token starts right after the prompt and its space
        await pilot.click(GeneratedText, offset=(1 + len(PROMPT) + 1, 0))
        assert text.cursor == 0 and screen.selected == 0
        assert screen.query_one(TokenBars).trace is screen.session.traces[0]
        panel = screen.query_one(KnobPanel)
        await pilot.click(KnobPanel, offset=(3, 4))  # the border, then rows 0, 1, 2, 3
        assert panel.selected == PANEL_KNOBS[3] == "top_k"  # strategy, temperature, top-nσ
        titles = [command.title for command in app.get_system_commands(screen)]
        assert "Play: Step" in titles and "Play: Compare models" in titles
        assert "Toggle light/dark theme" in titles


# --------------------------------------------------------------------------- view sizes, drafts
async def test_plus_minus_change_n_of_the_sample_view_within_its_limits():
    app = make_play_app(strategy="sample", knobs={"temperature": 0.8})
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await start_play(pilot)
        panel = screen.query_one(KnobPanel)
        assert panel.has_focus
        await pilot.press("4")
        await settle(pilot)
        view = screen.query_one("#view-samples")
        assert view.n == 20 and view.data.n == 20
        assert "sample N = 20" in str(screen.query_one("#views").border_title)
        before = screen.session.config
        await pilot.press("minus")
        await settle(pilot)
        assert view.n == 10 and view.data.n == 10 and len(view.data.continuations) == 10
        assert screen.session.config == before  # the knob panel did not take the key
        assert "sample N = 10" in str(screen.query_one("#views").border_title)
        assert "N = 10 continuations" in rendered(view)
        for _ in range(3):
            await pilot.press("minus")
            await settle(pilot)
        assert view.n == 5 and len(view.data.continuations) == 5  # clamped at the smallest
        assert max(count for _, count, _ in view.data.histogram) <= 5
        for _ in range(7):
            await pilot.press("plus")
        await settle(pilot)
        assert view.n == 200 and len(view.data.continuations) == 200  # clamped at the largest
        assert sum(count for _, count, _ in view.data.histogram) == 200
        assert "sample N = 200" in str(screen.query_one("#views").border_title)

        # in the bars view +/− go on to the focused knob panel
        await pilot.press("1")
        await select_knob(pilot, screen, "temperature")
        await pilot.press("plus")
        assert screen.session.config.temperature > 0.8
        assert view.n == 200


async def test_plus_minus_change_k_of_the_speculative_view_within_its_limits():
    app = make_play_app(strategy="sample", knobs={"seed": 3})
    async with app.run_test(size=(110, 40)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("6")
        await settle(pilot)
        view = screen.query_one("#view-speculative")
        assert view.k == 4 and view.data.k == 4
        assert "k = 4" in str(screen.query_one("#views").border_title)
        for _ in range(5):
            await pilot.press("plus")
        await settle(pilot)
        assert view.k == 8 and view.data.k == 8  # clamped at 8
        rounds = view.data.result.rounds
        assert all(len(r.proposals) <= 8 for r in rounds)
        assert max(r.drafted for r in rounds) == 8
        assert "k = 8 drafted tokens a round" in rendered(view)
        assert "k = 8" in str(screen.query_one("#views").border_title)
        for _ in range(9):
            await pilot.press("minus")
        await settle(pilot)
        assert view.k == 1 and view.data.k == 1  # clamped at 1
        assert all(r.drafted <= 1 and len(r.proposals) <= 1 for r in view.data.result.rounds)
        assert "round 1: the draft proposes 1" in rendered(view)
        # while the prompt is being typed, + and − are characters of the prompt
        await pilot.press("p", "plus", "minus")
        assert screen.query_one("#prompt").value == PROMPT + "+-" and view.k == 1


def install_copy_of(name: str, copy: str) -> None:
    """A second installed model with the same vocabulary: a copy of a bundled one."""
    import shutil

    from arlm_tui import paths
    from arlm_tui.lm.registry import resolve

    target = paths.user_models_dir() / copy
    shutil.copytree(resolve(name), target)
    config = json.loads((target / "config.json").read_text())
    config["name"] = copy
    (target / "config.json").write_text(json.dumps(config))


async def test_d_cycles_the_draft_among_models_with_the_same_vocabulary():
    app = make_play_app(strategy="sample")
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("6")
        await settle(pilot)
        view = screen.query_one("#view-speculative")
        assert view.data.drafts == [] and view.data.draft_model is None
        await pilot.press("d")  # nothing else to choose: a message
        await settle(pilot)
        assert view.data.draft_model is None and "made flatter" in view.data.draft_note
        assert "draft: pyref-word-kn3 at T" in rendered(view)

    install_copy_of("pyref-word-kn3", "kn3-copy")
    app = make_play_app(strategy="sample")
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("d")  # only in the speculative view
        await pilot.press("6")
        await settle(pilot)
        view = screen.query_one("#view-speculative")
        assert view.draft is None  # d did nothing outside the speculative view
        assert view.data.drafts == ["kn3-copy"]  # not pyref-char-lstm nor the oracle models
        assert view.data.draft_model == "kn3-copy" and view.data.draft == "kn3-copy"
        # a copy of the target drafts exactly its distribution: every proposal is kept
        assert view.data.result.acceptance_rate == 1.0
        assert "draft: kn3-copy" in rendered(view)
        await pilot.press("d")
        await settle(pilot)
        assert view.data.draft_model is None and "pyref-word-kn3 at T" in view.data.draft
        assert "draft: pyref-word-kn3 at T" in rendered(view)
        await pilot.press("d")
        await settle(pilot)
        assert view.data.draft_model == "kn3-copy"
