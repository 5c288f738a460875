"""One number format across the app: a value reads the same wherever it is shown."""

from __future__ import annotations

import math

from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.explain import explain
from arlm_tui.decoding.session import Session
from arlm_tui.lm.registry import load_model
from arlm_tui.numbers import fmt_nats, fmt_prob
from arlm_tui.tui.widgets.knob_panel import knob_names_as_shown


def test_probabilities_have_one_format():
    assert fmt_prob(0.41234) == "0.412" and fmt_prob(0.001) == "0.001"
    assert fmt_prob(0.00099) == "9.9e-4" and fmt_prob(1.6e-10) == "1.6e-10"
    assert fmt_prob(2e-10) == "2.0e-10"  # never "2e-10" in one place and "2.0e-10" in another
    assert fmt_prob(0) == "0" and fmt_prob(1.0) == "1.000"
    # the format is a function of the value alone, so equal values read equally
    for p in (0.5, 0.0123, 0.001, 0.000999, 3.3e-7):
        assert fmt_prob(p) == fmt_prob(float(str(p)))
        if p < 0.001:
            assert "e-" in fmt_prob(p) and float(fmt_prob(p)) == float(f"{p:.1e}")
        else:
            assert float(fmt_prob(p)) == round(p, 3)


def test_nats_have_one_format():
    assert fmt_nats(-3.14159) == "-3.14" and fmt_nats(0) == "0.00"
    assert fmt_nats(-math.inf) == "−∞" and fmt_nats(math.inf) == "∞"


def test_explain_uses_the_same_format_as_the_bars():
    model = load_model("pyref-word-kn3")
    session = Session(model, "the value of", DecodingConfig(strategy="sample", seed=1))
    for _ in range(5):
        session.step()
        trace = session.traces[-1]
        line = explain(trace)
        assert f"p = {fmt_prob(trace.chosen_prob)}" in line


def test_knob_names_in_messages_read_as_on_screen():
    try:
        DecodingConfig(top_p=1.5)
    except ValueError as exc:
        message = knob_names_as_shown(str(exc))
    assert message.startswith("top-p must be") and "top_p" not in message
    assert knob_names_as_shown("repetition_penalty and no_repeat_ngram") == (
        "repetition-penalty and no-repeat-ngram")
    assert knob_names_as_shown("a top_pie") == "a top_pie"  # only whole names


async def test_the_knob_panel_help_names_knobs_as_on_screen():
    from tui_helpers import make_play_app, rendered, start_play

    from arlm_tui.tui.widgets.knob_panel import KnobPanel

    app = make_play_app(strategy="sample")
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await start_play(pilot)
        panel = screen.query_one(KnobPanel)
        panel.select("min_p")
        await pilot.pause()
        text = rendered(panel)
        assert "min-p times" in text and "min_p" not in text


def test_the_other_formats_live_here_too():
    from arlm_tui.numbers import fmt_fixed, fmt_number, fmt_percent, fmt_perplexity

    assert fmt_perplexity(12.345) == "12.3" and fmt_perplexity(math.inf) == "∞"
    assert fmt_perplexity(None) == "–" and fmt_perplexity(math.nan) == "–"
    assert fmt_fixed(-math.inf, 2) == "−∞" and fmt_fixed(2.0, 1) == "2.0"
    assert fmt_percent(0.416) == "42%" and fmt_percent(None) == "–"
    # the labs' table format: any magnitude in a few characters
    assert fmt_number(2.5) == "2.5" and fmt_number(0.012345) == "0.0123"
    assert fmt_number(1.5e-5) == "1.50e-5" and fmt_number(123456.0) == "1.23e+5"
    assert fmt_number(0) == "0" and fmt_number(None) == "–" and fmt_number(-math.inf) == "−∞"


def test_screens_and_html_share_the_formats():
    from arlm_tui import export_html
    from arlm_tui.tui.widgets import beam_view
    from arlm_tui.tui.widgets.labs import num

    assert num(0.012345) == "0.0123"
    assert beam_view._fmt(-3.14159) == "   -3.14" and beam_view._fmt(-math.inf).strip() == "−∞"
    # the HTML page writes a tiny probability as the bars do, not as "1e-04"
    assert export_html.fmt_prob(1e-4) == fmt_prob(1e-4) == "1.0e-4"
