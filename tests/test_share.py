"""Sharing what a learner saw: a session as one HTML page, and an SVG of any screen."""

from __future__ import annotations

import html
import json
import re

from browser import browser_page
from tui_helpers import make_play_app, settle, start_play, wait_until

from arlm_tui.cli import main
from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.session import Session
from arlm_tui.export_html import after_temperature, session_page
from arlm_tui.lm.registry import load_model

MODEL = "pyref-word-kn3"


def _session(**knobs) -> Session:
    knobs = {"strategy": "sample", "temperature": 0.7, "top_k": 3, "seed": 4, **knobs}
    session = Session(load_model(MODEL), "the value of", DecodingConfig(**knobs))
    for _ in range(4):
        session.step()
    return session


def _saved(tmp_path, session: Session):
    path = tmp_path / "s.json"
    path.write_text(session.to_json(), encoding="utf-8")
    return path


def test_page_holds_text_bars_reasons_and_running_scores():
    session = _session()
    page = session_page(session)
    traces = session.traces
    # every generated token appears, shaded by its probability (a title gives the number)
    for trace in traces:
        assert f">{html.escape(trace.text_of(trace.chosen_id))}</span>" in page
    assert len(re.findall(r'class="tok( forced)?"', page)) == len(traces)
    # one block of bars per step, with the three columns and top-k's removals marked
    assert page.count('<section class="step"') == len(traces)
    for column in ("model p", "after temperature", "final"):
        assert column in page
    assert "removed by top-k" in page and 'class="removed' in page
    assert f"perplexity {session.perplexity:.2f}" in page
    assert f"running NLL {traces[-1].nll:.3f}" in page
    # an inline SVG chart: one bar of surprisal per step, and the running log-perplexity
    assert page.count('<svg class="chart"') == 1 and page.count("<rect ") == len(traces)
    assert f"-log p = {-traces[0].logprob:.2f}" in page
    # self-contained: no scripts, nothing fetched from elsewhere
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)\s*=", page)
    assert "http://" not in page and "https://" not in page


def test_after_temperature_is_the_temperature_stage():
    trace = _session().traces[0]
    names = [s.name for s in trace.stages]
    assert "temperature" in names
    temp = after_temperature(trace)
    assert temp is trace.stages[names.index("temperature")].probs
    # T = 0.7 sharpens: the top token gains probability, and nothing is cut yet
    top = int(trace.raw_probs.argmax())
    assert temp[top] > trace.raw_probs[top]
    assert (temp > 0).sum() == (trace.raw_probs > 0).sum()
    # at T = 1 there is no temperature stage: the model's own distribution
    plain = _session(temperature=1.0).traces[0]
    assert (after_temperature(plain) == plain.raw_probs).all()


def test_export_session_command_writes_the_page(tmp_path, capsys):
    session = _session()
    out = tmp_path / "page" / "out.html"
    code = main(["export-session", str(_saved(tmp_path, session)), "--html", str(out)])
    assert code == 0
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<section class="step"') == 4
    assert [p.name for p in out.parent.iterdir()] == ["out.html"]  # no temporary left


def test_export_session_bad_input_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something else"}), encoding="utf-8")
    for source, needle in ((tmp_path / "missing.json", "no such session file"),
                           (bad, "not valid JSON"), (other, "not an arlm session")):
        code = main(["export-session", str(source), "--html", str(tmp_path / "o.html")])
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "o.html").exists()
    code = main(["export-session", str(_saved(tmp_path, _session())), "--html", str(tmp_path)])
    assert code == 2 and "is a directory" in capsys.readouterr().err


def test_page_reads_right_in_a_browser(tmp_path):
    session = _session()
    out = tmp_path / "out.html"
    main(["export-session", str(_saved(tmp_path, session)), "--html", str(out)])
    requests = []
    with browser_page() as page:
        page.on("request", lambda request: requests.append(request.url))
        page.goto(out.as_uri())
        text = page.inner_text("#text")
        assert text.replace("\n", " ").startswith("the value of")
        for trace in session.traces:
            assert trace.text_of(trace.chosen_id) in text
        body = page.inner_text("body")
        assert "Step 4" in body and "after temperature" in body
        assert "removed by top-k" in body
        assert f"perplexity {session.perplexity:.2f}" in body
        # the bars are drawn: the chosen token's final bar has a width
        widths = page.eval_on_selector_all(
            "tr.chosen .final .fill", "els => els.map(e => e.getBoundingClientRect().width)")
        assert len(widths) == 4 and all(w > 0 for w in widths)
    assert requests == [out.as_uri()]  # nothing else was fetched


async def test_ctrl_e_saves_an_svg_of_any_screen(tmp_path, _arlm_home):
    app = make_play_app(strategy="sample", knobs={"seed": 1})
    async with app.run_test(size=(100, 30)) as pilot:
        await start_play(pilot)
        await pilot.press("space", "space")
        await pilot.press("ctrl+e")
        await pilot.press("escape", "escape")  # back home (the knob panel, then the screen)
        await settle(pilot)
        await pilot.press("ctrl+e")
        shots = sorted((_arlm_home / "screenshots").glob("*.svg"))
        assert [p.name.split("-")[1] for p in shots] == ["home", "play"]
        play_svg = next(p for p in shots if "-play-" in p.name).read_text(encoding="utf-8")
        assert play_svg.lstrip().startswith("<svg") and "the&#160;value&#160;of" in play_svg
        messages = [n.message for n in app._notifications]
        assert any(str(shots[0]) in m for m in messages)


async def test_play_key_e_saves_the_session_page(_arlm_home):
    app = make_play_app(strategy="sample", knobs={"seed": 2})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("space", "space", "space")
        await pilot.press("e")
        pages = list((_arlm_home / "sessions").glob("*.html"))
        assert len(pages) == 1
        page = pages[0].read_text(encoding="utf-8")
        assert page.count('<section class="step"') == 3
        for trace in screen.session.traces:
            assert trace.text_of(trace.chosen_id) in page
        assert any(str(pages[0]) in n.message for n in app._notifications)


async def test_the_palette_screenshot_goes_to_the_data_directory(_arlm_home):
    from arlm_tui.tui.app import ArlmApp
    from arlm_tui.tui.settings import Settings

    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "data directory" in commands["Screenshot"].help
        commands["Screenshot"].callback()
        shots = _arlm_home / "screenshots"
        await wait_until(pilot, lambda: any(shots.glob("arlm-home-*.svg")))
        assert len(list(shots.glob("arlm-home-*.svg"))) == 1
