"""80×24 is a first-class size: the essential keys stay in the footer, long beam hypotheses show
their differing ends, the compare view reaches every installed model, nothing is cut mid-number.

These drive the app with Pilot at the sizes a learner's terminal opens at and check what is on
screen (the snapshots in test_tui_snapshots.py show the same screens as pictures).
"""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey
from tui_helpers import make_play_app, settle, start_play

from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.settings import Settings
from arlm_tui.tui.widgets.footer import ESSENTIAL, footer_order


def visible_footer_keys(app) -> dict[str, str]:
    """description → key display of the footer keys fully inside the screen (left of the
    command palette key)."""
    keys = list(app.screen.query(FooterKey))
    palette = [k for k in keys if k.has_class("-command-palette")]
    right = palette[0].region.x if palette else app.screen.size.width
    return {k.description.lower(): k.key_display for k in keys
            if not k.has_class("-command-palette") and k.region.width > 0
            and k.region.right <= right}


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_play_footer_keeps_step_undo_help_quit(size):
    app = make_play_app(strategy="sample")
    async with app.run_test(size=size) as pilot:
        await start_play(pilot)
        await pilot.pause()
        shown = visible_footer_keys(app)
        for name in ("step", "undo", "help", "quit"):
            assert name in shown, (name, shown)
        assert shown["step"] == "space" and shown["quit"] == "q"
        # the prompt has the focus: q is typed, so the footer offers ctrl+q instead
        await pilot.press("p")
        await pilot.pause()
        shown = visible_footer_keys(app)
        assert shown.get("quit") == "^q", shown


@pytest.mark.parametrize("opener", ["open_lessons", "open_stats"])
async def test_other_screens_show_help_quit_and_back_at_80x24(opener):
    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        home = visible_footer_keys(app)
        assert {"help", "quit"} <= set(home), home
        getattr(app, opener)()
        await settle(pilot)
        shown = visible_footer_keys(app)
        assert {"help", "quit", "back"} <= set(shown), shown


def test_footer_order_puts_essentials_first_once():
    from textual.binding import Binding

    items = [(Binding(k, a, d), True, "") for k, a, d in [
        ("r", "redo", "Redo"), ("q", "app.quit", "Quit"), ("space", "step", "Step"),
        ("ctrl+q", "quit", "Quit"), ("question_mark", "help", "Help"), ("f", "force", "Force")]]
    ordered = [b.description for b, _, _ in footer_order(items)]
    assert ordered == ["Step", "Help", "Quit", "Redo", "Force"]
    assert ordered.count("Quit") == 1 and ESSENTIAL[0] == "step"


# --------------------------------------------------------------------------- beam
def test_differing_ends_elide_the_shared_beginning():
    from arlm_tui.tui.widgets.beam_view import differing_ends

    shared = "once upon a time there was a little cat who sat on the mat and "
    texts = [shared + end for end in ("slept", "purred", "ran away", "</s>")]
    rows = differing_ends(texts, 27)
    assert all(len(r) <= 27 and r.startswith("…") for r in rows)
    assert [r.rsplit(" and ", 1)[-1] for r in rows] == ["slept", "purred", "ran away", "</s>"]
    assert rows[0] == "…on the mat and slept"  # starts at a word
    assert differing_ends(["short one", "short two"], 27) == ["…short one", "…short two"]
    # all of it fits: nothing elided
    assert differing_ends(["a cat sat", "a dog ran"], 12) == ["…a cat sat", "…a dog ran"]
    # parting early: the rows start where they part, and a row too long from there shows
    # its own end
    rows = differing_ends(["a cat " + "and so on " * 5 + "slept", "a dog ran"], 12)
    assert rows == ["…so on slept", "…dog ran"]
    assert differing_ends(["", "a b"], 10)[0] == "(prompt)"


async def test_beam_view_at_80x24_shows_where_long_hypotheses_differ():
    from arlm_tui.tui.widgets.beam_view import BeamView

    app = make_play_app(strategy="beam", knobs={"beam_width": 4})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_play(pilot)
        for _ in range(12):
            await pilot.press("space")
        await settle(pilot)
        view = screen.query_one(BeamView)
        for live_view, beam, kept in (
                (True, screen.snap.beam_preview, "hypotheses space would keep"),
                (False, screen.session.traces[-1].beam, "live hypotheses")):
            if not live_view:
                await pilot.press("t")  # the last step, past
                await settle(pilot)
            assert view.live is live_view
            lines = view.render().plain.splitlines()
            assert len(lines[0]) <= view.size.width - 1 and not lines[0].endswith("…")
            assert f"keeps {len(beam.survivors)} of {beam.num_candidates}" in lines[0] or (
                f"kept {len(beam.survivors)} of {beam.num_candidates}" in lines[0])
            rows = lines[lines.index(kept) + 1:][: len(beam.survivors)]
            texts = [view.decode(h.ids) for h in beam.survivors]
            text_w = view.size.width - 25  # the hypothesis column (the rest: marks and numbers)
            assert max(len(t) for t in texts) > text_w  # too long to show whole
            for line, text in zip(rows, texts, strict=True):
                assert text[-6:] in line, (text, line)  # each row shows its own ending
            assert len(set(rows)) == len(rows)


# --------------------------------------------------------------------------- bars
async def test_bars_at_80x24_keep_the_chosen_p_and_the_top_p_mass_whole():
    import re

    from arlm_tui.numbers import fmt_prob
    from arlm_tui.tui.widgets.token_bars import TokenBars

    app = make_play_app(strategy="sample", knobs={"seed": 5, "top_p": 0.5})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space")
        await settle(pilot)
        bars = screen.query_one(TokenBars)
        last = screen.session.traces[-1]
        for live in (True, False):
            if not live:
                await pilot.press("t")  # the step just taken, past
                await settle(pilot)
            lines = bars.render().plain.splitlines()
            assert all(len(line) <= bars.size.width for line in lines)
            assert ("live" in lines[0]) is live and ("past" in lines[0]) is not live
            title = str(screen.query_one("#views").border_title)
            assert ("step 2, past (of 2; esc: live)" in title) is not live, title
            assert f"(p = {fmt_prob(last.chosen_raw_prob)}" in lines[0], lines[0]
            markers = [line for line in lines if line.startswith("╌")]
            if live:  # here the cut comes after row 2; in the past step below the rows shown
                assert markers and re.search(r" \d\.\d{3} ", markers[0]), markers


# --------------------------------------------------------------------------- knobs
async def test_knob_names_whole_at_80x24_and_values_never_cut():
    from arlm_tui.tui.widgets.knob_panel import KnobPanel

    app = make_play_app(strategy="sample", knobs={"temperature": 0.0, "no_repeat_ngram": 3})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_play(pilot)
        panel = screen.query_one(KnobPanel)
        panel.select("no_repeat_ngram")
        await pilot.pause()
        text = panel.render().plain
        assert "no-repeat-ngram" in text and "no-repeat-n " not in text
        panel.select("temperature")
        await pilot.pause()
        assert "▸ temperature 0 greedy" in panel.render().plain
        panel.select("repetition_penalty")
        await pilot.pause()
        text = panel.render().plain
        # shortened in its row, the selected knob's full name heads its description
        assert "rep-penalty" in text and "repetition-penalty:" in text


# --------------------------------------------------------------------------- compare
COMPARED = ("oracle", "oracle-kn3", "pyref-word-kn3", "kn3-copy-a", "kn3-copy-b")


@pytest.fixture
def five_models(monkeypatch):
    """Five installed n-gram/oracle models (two copies of oracle-kn3), nothing slower."""
    from test_tui_views import install_copy_of

    from arlm_tui.lm import registry

    install_copy_of("oracle-kn3", "kn3-copy-a")
    install_copy_of("oracle-kn3", "kn3-copy-b")
    every = registry.list_models()
    monkeypatch.setattr(registry, "list_models",
                        lambda: [e for e in every if e.name in COMPARED])


def compare_app() -> ArlmApp:
    return ArlmApp("play", model="oracle-kn3", prompt="one morning, a climber walked to the",
                   strategy="greedy", settings=Settings(), save_settings=False)


def shown_models(view) -> list[str]:
    header = view.render().plain.splitlines()[1]
    return [name for name in header.split() if name in COMPARED]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_compare_reaches_every_installed_model_and_shows_kl_and_p_in_full(
        five_models, size):
    import re

    from arlm_tui.tui.widgets.analysis_views import CompareView

    app = compare_app()
    async with app.run_test(size=size) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "3")
        await settle(pilot)
        view = screen.query_one(CompareView)
        names = [c.model for c in view.data.columns]
        assert names[:2] == ["oracle-kn3", "oracle"] and sorted(names) == sorted(COMPARED)
        assert 2 <= view.fit < len(COMPARED)  # as many as fit, not all
        seen: list[str] = []
        for _ in range(len(COMPARED)):
            text = "\n".join(fits(view))
            visible = shown_models(view)
            assert len(visible) == view.fit
            seen += [n for n in visible if n not in seen]
            kls = re.findall(r"KL\(oracle‖·\) = (\S+)", text)
            assert len(kls) == len(visible) - ("oracle" in visible)
            assert all(re.fullmatch(r"\d+\.\d{3}|∞", kl) for kl in kls), kls
            ps = re.findall(r"p\(old\) = (\S+)", text)
            assert len(ps) == len(visible)  # the token just chosen, under every model
            await pilot.press("greater_than_sign")
        assert sorted(seen) == sorted(COMPARED)
        # the model in use gives the chosen token the probability its step recorded
        trace = screen.session.traces[-1]
        assert view.data.columns[0].chosen_prob == pytest.approx(trace.chosen_raw_prob)
        last = view.first
        assert last == len(COMPARED) - view.fit  # scrolled to the end
        await pilot.press("less_than_sign")
        assert view.first == last - 1 and shown_models(view)[0] == names[last - 1]


async def test_compare_models_are_chosen_in_a_dialog(five_models):
    from textual.widgets import SelectionList

    from arlm_tui.tui.screens.compare_chooser import CompareChooser
    from arlm_tui.tui.widgets.analysis_views import CompareView

    app = compare_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("c")
        await pilot.pause()
        chooser = app.screen
        assert isinstance(chooser, CompareChooser)
        ticks = chooser.query_one(SelectionList)
        assert sorted(ticks.selected) == sorted(COMPARED)  # all by default
        ticks.deselect("pyref-word-kn3")
        ticks.deselect("kn3-copy-b")
        ticks.deselect("oracle-kn3")  # the model in use stays
        await pilot.press("enter")
        await settle(pilot)
        view = screen.query_one(CompareView)
        assert [c.model for c in view.data.columns] == ["oracle-kn3", "oracle", "kn3-copy-a"]
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("a", "enter")
        await settle(pilot)
        assert view.chosen is None and len(view.data.columns) == len(COMPARED)


def test_the_compare_chooser_answers_before_its_list_is_mounted():
    # the monkey once accepted (enter is a priority key) a chooser whose mount had not been
    # handled yet: its answer is then the models it opened with, not a NoMatches error
    from arlm_tui.tui.screens.compare_chooser import CompareChooser

    chooser = CompareChooser(["a", "b", "c"], ["c"], current="b")
    assert chooser.ticked == ["b", "c"]
    chooser.action_all()  # nothing to tick yet: no error


def test_chosen_probability_follows_each_models_tokens():
    from arlm_tui.lm.table import TableModel
    from arlm_tui.tui.analysis import ChosenToken, chosen_probability, compare_models

    words = ["a", "b", "c"]
    truth = TableModel(words, 2, {("<s>",): {"a": 0.5, "b": 0.3, "c": 0.2}}, name="truth")
    truth.backend = "oracle"
    other = TableModel(words, 2, {("<s>",): {"a": 0.2, "b": 0.3, "c": 0.5}}, name="guess")
    chosen = ChosenToken("", "c", "c")
    assert chosen_probability(truth, chosen) == pytest.approx(0.2)
    result = compare_models("c", [other, truth], chosen=chosen)
    assert [c.chosen_prob for c in result.columns] == [pytest.approx(0.5), pytest.approx(0.2)]
    assert result.chosen == "c"


# --------------------------------------------------------------------------- the other views
def fits(view) -> list[str]:
    """The rendered lines of ``view``, checked to fit its width (nothing left to clip)."""
    from rich.cells import cell_len

    lines = view.render().plain.splitlines()
    too_wide = [line for line in lines if cell_len(line.rstrip()) > view.size.width]
    assert not too_wide, (view.size.width, too_wide)
    return lines


def save_transformer(layers: int, heads: int) -> None:
    """An untrained transformer (random weights) with many heads: wider than 80 columns."""
    import torch

    from arlm_tui import paths
    from arlm_tui.lm.neural.backend import NeuralLanguageModel
    from arlm_tui.lm.neural.config import make_config
    from arlm_tui.lm.neural.io import build_net, save_neural
    from arlm_tui.text.tokenizers import WordTokenizer

    torch.manual_seed(0)
    tokenizer = WordTokenizer.from_vocab("the cat sat on a mat dog ran .".split())
    config = make_config("transformer", len(tokenizer.vocab), layers=layers, d_model=16,
                         heads=heads, context=32)
    model = NeuralLanguageModel(build_net("transformer", config), tokenizer,
                                backend="transformer", name="many-heads")
    save_neural(model, paths.user_models_dir() / "many-heads")


async def test_attention_at_80x24_labels_every_head_and_scrolls_the_layers():
    from arlm_tui.tui.widgets.analysis_views import AttentionView

    save_transformer(layers=6, heads=4)
    app = make_play_app(model="many-heads", prompt="the cat sat on", strategy="greedy")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("5")
        await settle(pilot)
        view = screen.query_one(AttentionView)
        assert view.data.weights.shape[:2] == (6, 4)
        lines = fits(view)
        heads_row = next(line for line in lines if "1 2 3 4" in line)
        assert heads_row.count("1 2 3 4") == view.fit < 6  # a label over every head shown
        assert "of 6 (< > for the others)" in lines[0]
        first_layers = next(line for line in lines if "L1" in line)
        assert "L2" in first_layers and "L6" not in first_layers
        for _ in range(6):
            await pilot.press("greater_than_sign")
        lines = fits(view)
        assert view.first == 6 - view.fit and "L6" in next(line for line in lines if "L" in line
                                                            and "L6" in line)
        key_rows = [line for line in lines if line.startswith(("sat ", "on "))]
        assert key_rows and all(len(row.split()) >= 2 for row in key_rows)


async def test_speculative_at_80x24_fits_and_scrolls_its_rounds():
    from arlm_tui.tui.widgets.analysis_views import SpeculativeView

    app = make_play_app(strategy="sample", knobs={"seed": 3})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("6")
        await settle(pilot)
        view = screen.query_one(SpeculativeView)
        lines = fits(view)
        assert any("acceptance rate" in line for line in lines)
        assert view.total_lines > view.lines_shown  # more rounds than rows
        assert any(line.startswith("lines 1–") for line in lines)
        await pilot.press("greater_than_sign")
        lines = fits(view)
        assert view.first > 0 and not any(line.startswith("lines 1–") for line in lines)
        assert any(line.startswith(f"lines {view.first + 1}–") for line in lines)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_sample_view_headers_apart_and_numbers_whole(size):
    from arlm_tui.tui.widgets.analysis_views import SampleView

    app = make_play_app(strategy="sample", knobs={"seed": 1})
    async with app.run_test(size=size) as pilot:
        screen = await start_play(pilot)
        await pilot.press("4")
        await settle(pilot)
        view = screen.query_one(SampleView)
        lines = fits(view)
        header = next(line for line in lines if line.startswith("strategy"))
        names = header.split()[1:]
        assert len(names) == 4  # separated by spaces, none run together
        assert names[0] == ("distinct-1" if size[0] >= 120 else "dist1")
        rows = [line for line in lines if line.startswith(("current", "greedy", "pure"))]
        assert len(rows) == 3
        for row, data in zip(rows, view.data.rows, strict=True):
            assert row.startswith(data.label)  # the label whole
            assert row.split()[-1] == f"{data.mean_nll:.2f}"
        assert any(f"= {view.data.total_variation:.2f}" in line for line in lines)


# --------------------------------------------------------------------------- other screens
async def test_games_menu_text_scrolls_at_80x24_instead_of_running_off():
    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("g")
        await settle(pilot)
        box = app.screen.query_one("#games-teaches-box")
        footer = app.screen.query_one("Footer")
        assert box.region.bottom <= footer.region.y  # above the footer, inside the screen
        assert box.max_scroll_y > 0  # more text than room: it scrolls
        box.focus()
        await pilot.press("end")
        await pilot.wait_for_scheduled_animations()  # the scroll is animated
        assert box.scroll_y == box.max_scroll_y


async def test_a_lesson_formula_wraps_in_a_narrow_reader():
    from textual.widgets._markdown import MarkdownFence

    from arlm_tui.learn.lessons import load_lessons
    from arlm_tui.tui.screens.reader import LessonReaderScreen

    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(LessonReaderScreen(app.progress_store, load_lessons(), "02-chain-rule"))
        await settle(pilot)
        fence = app.screen.query(MarkdownFence).first()
        assert "p(x_T | x₁, …, x_{T−1})" in fence.code  # the formula that used to lose its end
        label = fence.query_one("#code-content")
        assert label.size.width <= fence.size.width  # no part of it past the edge
        longest = max(len(line) for line in fence.code.splitlines())
        assert longest > fence.size.width and label.size.height > len(fence.code.splitlines())
        assert fence.max_scroll_x == 0


@pytest.mark.parametrize("game", ["be-the-model", "tune-the-knobs", "beat-greedy",
                                  "name-that-strategy"])
async def test_every_game_shows_help_quit_and_back_at_80x24(game):
    from arlm_tui.tui.app import ArlmApp
    from arlm_tui.tui.settings import Settings

    app = ArlmApp("games", game=game, seed=1, settings=Settings(), save_settings=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        shown = visible_footer_keys(app)
        assert {"help", "quit", "back"} <= set(shown), shown
        assert shown["help"] == "f1"  # works while an answer is typed, unlike ?
        await pilot.press("f1")
        await pilot.pause()
        from arlm_tui.tui.screens.help import HelpScreen

        assert isinstance(app.screen, HelpScreen)  # the key shown is the key that works


@pytest.mark.parametrize("key", ["m", "c"])
async def test_dialogs_fit_at_80x24(key, five_models):
    """The model picker (m) and the compare chooser (3, c): list, path field and keys on
    screen."""
    app = compare_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await start_play(pilot)
        if key == "c":
            await pilot.press("3")
            await settle(pilot)
        await pilot.press(key)
        await pilot.pause()
        dialog = app.screen.query_one(".dialog")
        assert dialog.region.bottom <= 24 and dialog.region.y >= 0
        for part in dialog.children:
            assert part.region.bottom <= dialog.region.bottom - 1, part


async def test_self_check_shows_a_help_key_that_works_while_typing():
    from arlm_tui.learn.lessons import load_lessons
    from arlm_tui.tui.screens.help import HelpScreen
    from arlm_tui.tui.screens.reader import LessonReaderScreen

    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(LessonReaderScreen(app.progress_store, load_lessons(), "02-chain-rule"))
        await settle(pilot)
        await pilot.press("k")  # the first question wants a typed number
        await settle(pilot)
        shown = visible_footer_keys(app)
        assert {"help", "quit", "back"} <= set(shown) and shown["help"] == "f1"
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_the_mouse_wheel_scrolls_the_compare_columns(five_models):
    from textual import events

    from arlm_tui.tui.widgets.analysis_views import CompareView

    app = compare_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("3")
        await settle(pilot)
        view = screen.query_one(CompareView)

        def wheel(kind):
            return kind(view, 5, 5, 0, 1, 0, False, False, False)

        view.post_message(wheel(events.MouseScrollDown))
        await pilot.pause()
        assert view.first == 1
        view.post_message(wheel(events.MouseScrollRight))
        await pilot.pause()
        assert view.first == 2
        view.post_message(wheel(events.MouseScrollUp))
        await pilot.pause()
        assert view.first == 1


async def test_every_view_fits_a_60x20_terminal():
    """Below 80×24 too: every view's lines fit its width (messages wrap, tables shrink)."""
    app = make_play_app(model="oracle-kn3", prompt="one morning, a climber walked to the",
                        strategy="sample", knobs={"seed": 0})
    async with app.run_test(size=(60, 20)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("2")
        fits(screen.query_one("#view-beam"))  # the explanation before the first beam step
        await pilot.press("space")
        for key, view in zip("3456", ("compare", "samples", "attention", "speculative"),
                             strict=True):
            await pilot.press(key)
            await settle(pilot)
            assert len(fits(screen.query_one(f"#view-{view}"))) >= 2, view
