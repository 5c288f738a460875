"""Mirostat v2, logit bias and stop strings: worked examples by hand, properties, and their
state through a Session (undo, redo, save and replay)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlm_tui.decoding import DecodingConfig, Mirostat, Session, explain, softmax
from arlm_tui.lm.table import TableModel

WORDS = ["a", "b", "c", "d", "e"]
#: surprises -log2 p: 1, 2, 3, 4, 4 bits
HALVES = {"a": 0.5, "b": 0.25, "c": 0.125, "d": 0.0625, "e": 0.0625}


@pytest.fixture
def halves() -> TableModel:
    """Every context gives the same distribution HALVES (and </s> never)."""
    return TableModel(WORDS, 1, {}, default=HALVES, name="halves")


def ids(model, *words):
    return [model.tokenizer.encode(w)[0] for w in words]


# ------------------------------------------------------------------------------ mirostat
def test_mirostat_cuts_by_surprise_in_bits():
    z = np.log(np.array([0.5, 0.25, 0.125, 0.0625, 0.0625]))
    m = Mirostat(1.5, 0.1)  # μ starts at 2τ = 3 bits: keeps surprise <= 3, i.e. p >= 1/8
    assert m.mu == 3.0
    assert np.isfinite(m(None, z)).tolist() == [True, True, True, False, False]
    m.mu = 1.0  # only the 1-bit token is allowed
    assert np.isfinite(m(None, z)).tolist() == [True, False, False, False, False]
    m.mu = -5.0  # nothing is allowed: the most probable token stays
    assert np.isfinite(m(None, z)).tolist() == [True, False, False, False, False]
    assert "μ = -5.00 bits" in m.label


def test_mirostat_updates_mu_by_hand(halves):
    """τ = 1.5, η = 0.1: μ₀ = 3 keeps a, b, c (p ≥ 1/8), renormalised to 4/7, 2/7, 1/7.
    Choosing b: surprise -log2(2/7) = log2 3.5 ≈ 1.80736 bits (the renormalised p, as llama.cpp
    does), so μ₁ = 3 - 0.1·(1.8074 - 1.5) ≈ 2.96926; μ₁ < 3 now cuts c (exactly 3 bits)."""
    a, b, c = ids(halves, "a", "b", "c")
    s = Session(halves, "a", strategy="sample", mirostat_tau=1.5, mirostat_eta=0.1, seed=3)
    first = s.force("b")
    step = first.mirostat
    assert step.mu_before == 3.0 and step.tau == 1.5 and step.eta == 0.1
    assert first.chosen_prob == pytest.approx(2 / 7)
    assert step.surprise == pytest.approx(math.log2(3.5))
    mu1 = 3.0 - 0.1 * (math.log2(3.5) - 1.5)
    assert step.mu_after == pytest.approx(mu1)
    assert mu1 == pytest.approx(2.969264, abs=1e-6)
    second = s.preview()
    assert second.mirostat.mu_before == pytest.approx(mu1)
    assert np.flatnonzero(second.final_probs).tolist() == [a, b]  # c (3 bits > μ₁) is cut
    assert second.removed_by.get(c) == "mirostat"
    # a choice of a (surprise log2(3/2) ≈ 0.585 < τ) raises μ again
    third = s.force("a")
    surprise = math.log2(1.5)
    assert third.mirostat.mu_after == pytest.approx(mu1 - 0.1 * (surprise - 1.5))
    line = explain(third)
    assert "mirostat μ 2.97 → 3.06 bits" in line and "target τ = 1.5" in line
    data = third.to_dict()
    assert data["mirostat"]["mu_before"] == pytest.approx(mu1)


def test_a_forced_token_mirostat_removed_leaves_mu_alone(halves):
    s = Session(halves, "a", strategy="sample", mirostat_tau=0.5, seed=1)  # μ = 1: only a
    trace = s.force("d")
    assert trace.mirostat.surprise is None
    assert trace.mirostat.mu_after == trace.mirostat.mu_before == 1.0
    assert "μ stays 1.00 bits" in explain(trace)


def test_mu_restarts_from_2tau_when_tau_changes_or_mirostat_was_off(halves):
    s = Session(halves, "a", strategy="sample", mirostat_tau=2.0, seed=4)
    s.step()
    s.step()
    assert s.last_trace.mirostat.mu_before != 4.0  # it has learned
    s.configure(mirostat_eta=0.5)  # η changes: μ carries on
    assert s.preview().mirostat.mu_before == s.last_trace.mirostat.mu_after
    s.configure(mirostat_tau=1.0)  # τ changes: a new controller
    assert s.step().mirostat.mu_before == 2.0
    s.configure(mirostat_tau=0.0)
    assert s.step().mirostat is None
    s.configure(mirostat_tau=1.0)
    assert s.step().mirostat.mu_before == 2.0


def test_undo_redo_and_replay_restore_mu():
    from arlm_tui.lm.registry import load_model

    model = load_model("oracle-kn3")
    knobs = dict(strategy="sample", mirostat_tau=3.0, mirostat_eta=0.3, seed=8, max_tokens=30,
                 min_tokens=30)
    s = Session(model, "the", **knobs)
    for _ in range(12):
        s.step()
    mus = [t.mirostat.mu_after for t in s.traces]
    assert len(set(mus)) > 5  # μ moved
    s.undo()
    s.undo()
    assert s.preview().mirostat.mu_before == mus[9]
    s.redo()
    assert s.last_trace.mirostat.mu_after == mus[10]
    s.undo()
    again = s.step()  # the same step again: the same μ, draw and choice
    assert again.mirostat.mu_after == mus[10]
    while s.step() is not None:
        pass
    loaded = Session.from_json(s.to_json(), model=model)  # ReplayError if a choice differs
    assert [t.mirostat.mu_after for t in loaded.traces] == [t.mirostat.mu_after
                                                             for t in s.traces]
    assert [t.chosen_id for t in s.replay()] == [t.chosen_id for t in s.traces]
    fresh = Session(model, "the", **knobs)
    while fresh.step() is not None:
        pass
    assert fresh.generated_ids == s.generated_ids
    step = json.loads(s.to_json())["steps"][3]["trace"]["mirostat"]
    assert step["mu_before"] == pytest.approx(s.traces[3].mirostat.mu_before)
    plain = Session(model, "the", **{**knobs, "mirostat_tau": 0.0})
    while plain.step() is not None:
        pass
    assert plain.generated_ids != s.generated_ids  # it does change the text


@settings(max_examples=200, deadline=None)
@given(z=st.lists(st.floats(-30.0, 10.0), min_size=1, max_size=40),
       mu=st.floats(-20.0, 40.0), tau=st.floats(0.01, 20.0))
def test_mirostat_never_empties_the_kept_set(z, mu, tau):
    logits = np.array(z)
    m = Mirostat(tau)
    m.mu = mu
    out = m(None, logits)
    left = np.isfinite(out)
    assert left.any()
    assert left[int(np.argmax(logits))]  # the most probable token is always among them
    probs = softmax(logits)
    surprise = -np.log2(probs)
    assert np.all(surprise[left] <= mu) or left.sum() == 1
    np.testing.assert_array_equal(out[left], logits[left])


def test_mirostat_knobs_are_checked():
    with pytest.raises(ValueError, match="mirostat_tau"):
        DecodingConfig(mirostat_tau=-1)
    with pytest.raises(ValueError, match="mirostat_eta"):
        DecodingConfig(mirostat_eta=2)
    assert DecodingConfig(strategy="greedy", mirostat_tau=5.0).ignored_knobs() == ["mirostat_tau"]


# ------------------------------------------------------------------------------ logit bias
def test_logit_bias_multiplies_odds_by_e_to_the_bias(halves):
    """+1 on c: its logit log(1/8) + 1, so p_c = e/8 / (7/8 + e/8) = e / (7 + e) ≈ 0.2797."""
    a, b, c = ids(halves, "a", "b", "c")
    s = Session(halves, "a", strategy="sample", logit_bias={"c": 1.0}, seed=2)
    trace = s.preview()
    assert trace.final_probs[c] == pytest.approx(math.e / (7 + math.e))
    assert trace.final_probs[a] == pytest.approx(4 / (7 + math.e))
    assert trace.stages[1].name == "logit_bias"  # the first processor
    assert trace.removed_by == {}


def test_a_ban_removes_the_token_everywhere_it_is_shown(halves):
    a, b = ids(halves, "a", "b")
    s = Session(halves, "a", strategy="greedy", logit_bias=["a=ban"])
    trace = s.step()
    assert trace.chosen_id == b and trace.final_probs[a] == 0
    assert trace.removed_by[a] == "logit_bias"
    assert [row["removed_by"] for row in trace.top(2)] == ["logit_bias", None]
    assert "banned by logit bias: 'a'" in explain(trace)
    forced = s.force("a")
    assert "which the logit bias had banned" in explain(forced)
    every = Session(halves, "a", strategy="greedy",
                    logit_bias={w: "ban" for w in [*WORDS, "</s>"]})
    assert every.step().chosen_id == a  # all banned: the most probable token stays


def test_logit_bias_values_are_read_and_refused_in_one_line():
    config = DecodingConfig(logit_bias=["the=-5", "cat=ban", "x=+2", "x=0", "==3"])
    assert dict(config.logit_bias) == {"the": -5.0, "cat": -math.inf, "=": 3.0}
    assert str(config.logit_bias) == "the=-5 cat=ban ==+3"
    assert hash(config) == hash(DecodingConfig.from_dict(config.to_dict()))
    assert config.to_dict()["logit_bias"] == {"the": -5.0, "cat": "-inf", "=": 3.0}
    assert DecodingConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(TypeError):
        config.logit_bias["dog"] = 1.0
    for bad, words in [(["the"], "TOKEN=VALUE"), (["the=200"], "[-100, 100]"),
                       (["the=inf"], "[-100, 100]"), (["the=lots"], "or ban"),
                       ({"": 1}, "non-empty"), (3, "TOKEN=VALUE")]:
        with pytest.raises(ValueError, match="logit_bias") as info:
            DecodingConfig(logit_bias=bad)
        assert words in str(info.value) and "\n" not in str(info.value)


def test_an_unknown_token_is_refused_naming_it_and_the_model(halves, capsys):
    from arlm_tui.cli import main
    from arlm_tui.errors import ArlmError

    with pytest.raises(ArlmError, match="logit_bias: 'zebra' is not a single token of halves"):
        Session(halves, "a", logit_bias={"zebra": 1})
    s = Session(halves, "a")
    with pytest.raises(ArlmError, match="'zebra'"):
        s.configure(logit_bias={"zebra": 1})
    assert not s.config.logit_bias  # refused: nothing changed
    code = main(["generate", "--model", "oracle-kn3", "--prompt", "the", "--logit-bias",
                 "zebra=1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert "'zebra'" in err and "oracle-kn3" in err


@pytest.mark.parametrize(("flags", "start"), [
    (["--logit-bias", "zebra=1"], "--logit-bias: 'zebra' is not a single token of oracle-kn3"),
    (["--logit-bias", "the"], "--logit-bias: 'the' is not TOKEN=VALUE"),
    (["--logit-bias", "the=500"], "--logit-bias: the bias of 'the' must be a number in [-100"),
    (["--stop="], "--stop: each must be a non-empty string"),
    (["--strategy", "sample", "--top-p", "1.5"], "--top-p must be a number in (0, 1]"),
    (["--dry-allowed-length", "0"], "--dry-allowed-length must be an integer in [1"),
    (["--strategy", "beam", "--stop", "x"], "--stop=['x'] has no effect with strategy beam"),
    (["--top-k", "5", "--min-p", "0.1"], "--top-k=5, --min-p=0.1 have no effect"),
])
def test_the_command_line_names_a_refused_knob_by_its_flag(capsys, flags, start):
    from arlm_tui.cli import main

    code = main(["generate", "--model", "oracle-kn3", "--prompt", "the", *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert err.startswith(f"arlm: error: {start}")
    assert "_" not in err.split(" got ")[0].replace("oracle-kn3", "")  # no top_p, logit_bias


def test_the_python_api_names_a_refused_knob_by_its_python_name(halves):
    from arlm_tui.api import generate
    from arlm_tui.decoding import KnobError

    with pytest.raises(ValueError, match=r"^logit_bias: 'the' is not TOKEN=VALUE"):
        DecodingConfig(logit_bias=["the"])
    with pytest.raises(ValueError, match=r"^stop: each must be a non-empty string"):
        DecodingConfig(stop=[""])
    with pytest.raises(KnobError, match=r"^top_k=5 has no effect with strategy greedy"):
        generate(halves, "a", strategy="greedy", top_k=5)


def test_logit_bias_saves_and_replays(halves):
    s = Session(halves, "a", strategy="sample", seed=9, logit_bias={"a": "ban", "e": 3})
    for _ in range(8):
        s.step()
    data = json.loads(s.to_json())
    assert data["config"]["logit_bias"] == {"a": "-inf", "e": 3.0}
    again = Session.from_json(s.to_json(), model=halves)
    assert again.generated_ids == s.generated_ids and again.config == s.config
    assert ids(halves, "a")[0] not in s.generated_ids


# ------------------------------------------------------------------------------ stop strings
def test_a_stop_string_ends_the_text_and_says_which(halves):
    s = Session(halves, "a", strategy="greedy", stop=["b c", "d"])
    assert s.force("b").stop is None and not s.done
    trace = s.force("c")
    assert trace.stop == "b c" and s.done and s.stopped_by == "b c"
    assert s.step() is None
    assert "ends with the stop string 'b c': it stops" in explain(trace)
    assert trace.to_dict()["stop"] == "b c"
    again = Session.from_json(s.to_json(), model=halves)
    assert again.stopped_by == "b c" and again.done
    s.undo()
    assert not s.done
    s.redo()
    assert s.done
    s.configure(stop=())  # without the stop string the text may go on
    assert not s.done and s.step() is not None


def test_the_prompt_does_not_count_and_a_stop_inside_the_last_token_counts(halves):
    s = Session(halves, "d", strategy="greedy", stop=["d"])  # the prompt ends with d
    assert s.step().stop is None  # greedy chose a
    model = TableModel(["ab", "c.", "x"], 1, {}, default={"ab": 0.5, "c.": 0.3, "x": 0.2})
    s = Session(model, "x", strategy="greedy", stop=["c"])
    assert s.force("c.").stop == "c"  # "c." ends inside the last token


def test_stop_strings_are_checked_and_refused_with_beam():
    from arlm_tui.decoding import KnobError

    assert DecodingConfig(stop="the end").stop == ("the end",)
    assert DecodingConfig(stop=["a", "b", "a"]).stop == ("a", "b")
    with pytest.raises(ValueError, match="stop"):
        DecodingConfig(stop=[""])
    with pytest.raises(ValueError, match="at most"):
        DecodingConfig(stop=[str(i) for i in range(17)])
    with pytest.raises(KnobError, match="stop"):
        DecodingConfig(strategy="beam", stop=["x"]).check_knobs_apply()


# ------------------------------------------------------------------------------ knob panel
def test_the_panel_shows_and_reads_a_logit_bias_and_stop_strings():
    from arlm_tui.decoding import KNOBS
    from arlm_tui.tui.widgets.knob_panel import format_value, step_value

    bias, stop = KNOBS["logit_bias"], KNOBS["stop"]
    assert format_value(bias, bias.off) == "off" == format_value(stop, ())
    assert format_value(bias, bias.check(["the=ban"])) == "the=ban"
    assert format_value(bias, bias.check(["the=ban", "a=2"])) == "2 tokens"
    assert format_value(stop, ("the end", ".")) == "2 strings"
    assert step_value(bias, bias.check(["a=2"]), 1) == {"a": 2.0}  # not stepped: typed
    assert bias.parse("the=-5  cat=ban") == {"the": -5.0, "cat": -math.inf}
    assert bias.parse("off") == {} and stop.parse("") == ()
    assert stop.parse('"the end" "\\n"') == ("the end", "\n")
    assert stop.parse("mill .") == ("mill", ".")
    with pytest.raises(ValueError, match="double quotes"):
        stop.parse('"the end" mill')


async def test_a_learner_types_a_logit_bias_and_a_stop_string_in_the_play_screen():
    from tui_helpers import make_play_app, rendered, settle, start_play

    from arlm_tui.tui.screens.dialogs import ValueDialog
    from arlm_tui.tui.widgets.knob_panel import KnobPanel
    from arlm_tui.tui.widgets.token_bars import TokenBars

    app = make_play_app(strategy="greedy", knobs={"max_tokens": 20})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        panel = screen.query_one(KnobPanel)
        panel.focus()
        panel.select("logit_bias")
        await pilot.pause()
        top = screen.session.preview().chosen_id
        token = screen.session.model.vocab[top]
        await pilot.press("right")  # ←/→ on a typed knob open its dialog
        assert isinstance(app.screen, ValueDialog)
        dialog = app.screen
        dialog.query_one("#dialog-input").value = "zebra-xyz=2"
        await pilot.press("enter")
        assert isinstance(app.screen, ValueDialog)  # refused: the model has no such token
        error = rendered(dialog.query_one("#dialog-error"))
        assert "zebra-xyz" in error and screen.session.model.name in error
        dialog.query_one("#dialog-input").value = f"{token}=ban"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.session.config.logit_bias == {token: -math.inf}
        assert f"{token}=ban"[:13] in rendered(panel)
        bars = screen.query_one(TokenBars)
        assert "✗ logit" in rendered(bars)  # the banned token, dimmed with its name
        await pilot.press("space")
        await settle(pilot)
        assert screen.session.traces[-1].chosen_id != top
        assert "banned by logit bias" in rendered(screen.query_one("#explain"))

        first = screen.session.model.tokenizer.decode([screen.session.preview().chosen_id])
        panel.focus()
        panel.select("stop")
        await pilot.press("enter")
        app.screen.query_one("#dialog-input").value = f'"{first}"'
        await pilot.press("enter")
        await settle(pilot)
        assert screen.session.config.stop == (first,)
        await pilot.press("space")
        await settle(pilot)
        assert screen.session.done and screen.session.stopped_by == first
        assert "stopped at the stop string" in rendered(screen.query_one("#stats"))
        assert "Stopped at" in rendered(bars)


# ------------------------------------------------------------------------------ sample N
def test_the_sample_n_view_reports_what_the_new_knobs_did():
    from arlm_tui.decoding.chain_stats import chain_stats
    from arlm_tui.lm.registry import load_model
    from arlm_tui.tui.analysis import sample_study

    model = load_model("oracle-kn3")
    config = DecodingConfig(strategy="sample", mirostat_tau=2.0, stop=("old",), seed=1)
    context = model.tokenizer.encode("the")
    study = sample_study(model, context, config, n=10, max_tokens=8)
    runs = [Session(model, context, config.replace(seed=1 + i, max_tokens=8)) for i in range(10)]
    for run in runs:
        while run.step() is not None:
            pass
    stats = chain_stats([run.traces for run in runs])
    assert study.chain == stats
    assert stats.stopped == sum(run.stopped_by == "old" for run in runs) > 0
    cut = sum(bool(t.stages[-1].num_removed) for run in runs for t in run.traces)
    assert dict(stats.cuts)["mirostat"] == cut > 0
    surprises = [t.mirostat.surprise for run in runs for t in run.traces]
    assert stats.mirostat_surprise == pytest.approx(float(np.mean(surprises)))
    line = stats.summary()
    assert f"stop string ended {stats.stopped}/10" in line and "mirostat surprise" in line
    assert "(τ 2)" in line and f"mirostat {cut}/{stats.steps}" in line
    plain = chain_stats([[t for t in run.traces] for run in runs[:0]])
    assert plain.stopped is None and plain.cuts == ()

# ------------------------------------------------------------------------------ more on μ
@settings(max_examples=100, deadline=None)
@given(p=st.lists(st.floats(0.01, 1.0), min_size=2, max_size=12),
       tau=st.floats(0.1, 6.0), eta=st.floats(0.0, 1.0), seed=st.integers(0, 2**31))
def test_mu_moves_by_eta_times_the_surprise_error(p, tau, eta, seed):
    words = [f"w{i}" for i in range(len(p))]
    total = sum(p)
    model = TableModel(words, 1, {}, default={w: x / total for w, x in zip(words, p)})
    s = Session(model, "w0", strategy="sample", mirostat_tau=tau, mirostat_eta=eta, seed=seed)
    for _ in range(3):
        trace = s.step()
        step = trace.mirostat
        final = trace.final_probs
        surprise = -math.log2(final[trace.chosen_id])
        assert step.surprise == pytest.approx(surprise, abs=1e-12)
        assert step.mu_after == pytest.approx(step.mu_before - eta * (surprise - tau))
        with np.errstate(divide="ignore"):
            bits = -np.log2(trace.stages[-2].probs)  # what mirostat was given
        kept = final > 0
        assert kept.sum() == 1 or np.all(bits[kept] <= step.mu_before)
        assert np.all(bits[~kept & (trace.stages[-2].probs > 0)] > step.mu_before)


def test_the_command_line_json_carries_mu_from_step_to_step(capsys):
    from arlm_tui.cli import main

    code = main(["generate", "--model", "oracle-kn3", "--prompt", "the", "--strategy", "sample",
                 "--mirostat-tau", "3", "--mirostat-eta", "0.5", "--max-tokens", "8",
                 "--min-tokens", "8", "--seed", "4", "--json"])
    assert code == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert steps[0]["mirostat"]["mu_before"] == 6.0
    for before, after in zip(steps, steps[1:]):
        assert after["mirostat"]["mu_before"] == before["mirostat"]["mu_after"]
    assert len({s["mirostat"]["mu_after"] for s in steps}) == len(steps)


def test_a_shared_page_names_the_logit_bias_and_stop_strings_as_typed(halves):
    import html

    from arlm_tui.export_html import session_page

    s = Session(halves, "a", strategy="greedy", logit_bias={"a": "ban"}, stop=["b c"],
                max_tokens=4)
    while s.step() is not None:
        pass
    page = session_page(s)
    assert html.escape("logit-bias = a=ban") in page
    assert html.escape('stop = "b c"') in page
    assert "banned by logit bias" in page  # the why-lines


def test_the_chain_line_names_mirostat_by_tau_and_the_step_by_its_mu(halves):
    from arlm_tui.decoding.presets import chain

    config = DecodingConfig(strategy="sample", mirostat_tau=2.0, logit_bias={"a": "ban"})
    assert chain(config) == ["logit bias a ban", "mirostat τ = 2", "draw"]
    s = Session(halves, "a", config)
    s.step()
    assert s.step().stages[-1].label == (
        f"mirostat τ = 2, μ = {s.last_trace.mirostat.mu_before:.2f} bits")


async def test_the_bars_show_mirostat_mu_live_and_for_a_past_step():
    from tui_helpers import make_play_app, rendered, settle, start_play

    from arlm_tui.tui.widgets.token_bars import TokenBars

    app = make_play_app(strategy="sample", knobs={"mirostat_tau": 2.0, "seed": 4})
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_play(pilot)
        bars = screen.query_one(TokenBars)
        assert "mirostat μ = 4.00 bits" in rendered(bars)  # 2τ before the first step
        await pilot.press("space", "space")
        await settle(pilot)
        steps = screen.session.traces
        assert f"mirostat μ = {steps[-1].mirostat.mu_after:.2f} bits" in rendered(bars)
        bars.mode, bars.trace = "step", steps[0]
        await pilot.pause()
        first = steps[0].mirostat
        assert f"μ {first.mu_before:.2f} → {first.mu_after:.2f} bits" in rendered(bars)


def test_a_logit_bias_on_a_token_with_a_space_reads_back_from_the_dialog():
    from arlm_tui.decoding import KNOBS
    from arlm_tui.decoding.knobs import format_collection, parse_collection

    knob = KNOBS["logit_bias"]
    value = knob.check([" the=2", "it's=ban", "a\\b=-1", ".=3"])
    text = format_collection(knob, value)
    assert text.startswith("' the'=+2 ") and ".=+3" in text
    assert parse_collection(knob, text) == value
    with pytest.raises(ValueError, match="logit_bias: cannot read"):
        parse_collection(knob, "'the=2")


def test_a_refused_stop_string_reads_as_typed():
    from arlm_tui.decoding import KnobError

    with pytest.raises(KnobError) as info:
        DecodingConfig(strategy="beam", stop=["the end"]).check_knobs_apply()
    assert str(info.value).startswith("stop=['the end'] has no effect with strategy beam")


# ------------------------------------------------------------------ knobs that need a switch on
NEEDS = {"xtc_threshold": ("xtc_probability", 0.5, 0.3), "mirostat_eta": ("mirostat_tau", 3.0, 0.3),
         "dry_base": ("dry_multiplier", 0.8, 2.0), "dry_allowed_length": ("dry_multiplier", 0.8, 4),
         "diversity_penalty": ("num_beam_groups", 2, 1.0)}


def test_a_knob_that_needs_a_switch_is_unused_while_the_switch_is_off():
    from arlm_tui.decoding.config import KNOBS

    assert {name: knob.needs for name, knob in KNOBS.items() if knob.needs} == {
        name: switch for name, (switch, _, _) in NEEDS.items()}
    for name, (switch, on, value) in NEEDS.items():
        strategy = next(iter(KNOBS[name].strategies))
        config = DecodingConfig(strategy=strategy, beam_width=4, **{name: value})
        assert config.unused_because(name) == switch and config.ignored_knobs() == [name]
        on_config = config.replace(**{switch: on})
        assert on_config.unused_because(name) is None and name not in on_config.ignored_knobs()
        assert on_config.check_knobs_apply() is on_config


def test_the_command_line_refuses_a_knob_whose_switch_is_off_in_one_line(capsys):
    from arlm_tui.cli import main
    from arlm_tui.decoding import KnobError

    argv = ["generate", "--model", "oracle-kn3", "--prompt", "the", "--strategy", "sample",
            "--xtc-threshold", "0.2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("arlm: error: --xtc-threshold=0.2 has no effect while --xtc-probability is "
                   "0 (off): leave it out or set --xtc-probability")
    assert main([*argv, "--xtc-probability", "0.5"]) == 0
    capsys.readouterr()
    assert main(["generate", "--model", "oracle-kn3", "--prompt", "the", "--dry-base", "2",
                 "--dry-allowed-length", "3", "--top-k", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("arlm: error: --top-k=5 has no effect with "
                                                   "strategy greedy")
    assert ("; --dry-base=2.0, --dry-allowed-length=3 have no effect while --dry-multiplier is 0 "
            "(off): leave them out or set --dry-multiplier") in err
    with pytest.raises(KnobError, match=r"^mirostat_eta=0.3 has no effect while mirostat_tau"):
        DecodingConfig(strategy="sample", mirostat_eta=0.3).check_knobs_apply()


async def test_the_knob_panel_dims_a_knob_whose_switch_is_off_and_says_why():
    from tui_helpers import make_play_app, rendered, start_play

    from arlm_tui.tui.widgets.knob_panel import KnobPanel

    app = make_play_app(strategy="sample")
    async with app.run_test(size=(100, 50)) as pilot:
        screen = await start_play(pilot)
        panel = screen.query_one(KnobPanel)
        inactive = panel.get_component_rich_style("knob-panel--inactive")

        def dimmed(title: str) -> bool:
            text = panel.render()
            style = text.get_style_at_offset(app.console, text.plain.index(f"{title} "))
            return style.color == inactive.color

        assert not dimmed("xtc-probability") and not dimmed("dry-multiplier")
        assert dimmed("xtc-threshold") and dimmed("dry-base") and dimmed("mirostat-η")
        panel.select("xtc_threshold")
        await pilot.pause()
        assert "(no effect while xtc-probability is off)" in " ".join(rendered(panel).split())
        panel.select("strategy")  # the cursor's row has the cursor's colours
        panel.config = screen.session.config.replace(xtc_probability=0.5)
        await pilot.pause()
        assert not dimmed("xtc-threshold") and dimmed("dry-base")
        panel.select("xtc_threshold")
        await pilot.pause()
        assert "no effect while" not in rendered(panel)
