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
    # different early, same recent words: the rows start where they part and end with "…"
    rows = differing_ends(["a cat " + "x " * 30, "a dog " + "x " * 30], 12)
    assert rows[0].startswith("…cat") and rows[1].startswith("…dog")
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
        beam = screen.session.traces[-1].beam
        lines = view.render().plain.splitlines()
        live = lines[lines.index("live hypotheses") + 1:][: len(beam.survivors)]
        texts = [view.decode(h.ids) for h in beam.survivors]
        text_w = view.size.width - 25  # the hypothesis column (the rest: marks and numbers)
        assert max(len(t) for t in texts) > text_w  # too long to show whole
        for line, text in zip(live, texts, strict=True):
            assert text[-6:] in line, (text, line)  # each row shows its own ending
        assert len(set(live)) == len(live)


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
