"""Charts (plotext): the training curve saved beside a model and shown by ``arlm models show``,
the statistics screen's charts, and the sample-N view's histogram against p."""

from __future__ import annotations

import math
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from test_tui_learn import Clock, LearnApp, small_deck, store  # noqa: F401 - fixture
from textual.widgets import Sparkline
from tui_helpers import make_play_app, settle, start_play

from arlm_tui.charts import (
    LOSS_CHART_FILE,
    draw_day_counts,
    loss_chart,
    save_loss_chart,
    show_training_chart,
    validation_losses,
)
from arlm_tui.cli import main
from arlm_tui.tui.screens.stats import StatsScreen
from arlm_tui.tui.widgets.charts import DayChart, SampleChart


def _plot_rows(text: str) -> list[str]:
    """The rows inside the chart's frame (between the ┌ and └ lines)."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if "┌" in line)
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    return lines[top + 1:bottom]


def test_loss_chart_draws_both_curves_with_their_range():
    train, valid = [5.0, 4.0, 3.0, 2.5], [4.8, 4.1, 3.6, 3.5]
    text = loss_chart(train, valid, width=60, height=16)
    assert "\x1b[" not in text  # plain text for files
    assert "train" in text and "valid" in text and "epoch" in text
    rows = _plot_rows(text)
    # the y axis runs from the largest loss (top row) to the smallest (bottom row)
    assert rows[0].split("┤")[0].strip() == "5.00"
    assert rows[-1].split("┤")[0].strip() == "2.50"
    # the training curve falls: its marker is higher on the left than on the right
    dots = [(r, line.index("•", 14)) for r, line in enumerate(rows) if "•" in line[14:]]
    assert dots[0][1] < dots[-1][1]


def test_validation_loss_is_log_perplexity():
    assert validation_losses([math.e, math.e ** 2, float("inf")]) == pytest.approx([1.0, 2.0])


def test_chart_saved_beside_the_model_and_linked_once(tmp_path):
    (tmp_path / "card.md").write_text("# model\n\n| | |\n|---|---|\n", encoding="utf-8")
    result = SimpleNamespace(loss_history=[3.0, 2.0], val_history=[math.e ** 2.5, math.e ** 2.2],
                             out_dir=str(tmp_path))
    import io

    printed = io.StringIO()
    path = show_training_chart(result, printed)
    assert path == tmp_path / LOSS_CHART_FILE
    assert "loss per epoch" in path.read_text(encoding="utf-8")
    assert f"loss chart saved: {path}" in printed.getvalue()
    assert "loss per epoch" in printed.getvalue()
    save_loss_chart(tmp_path, [3.0, 2.0, 1.5], [])
    card = (tmp_path / "card.md").read_text(encoding="utf-8")
    assert card.count(f"]({LOSS_CHART_FILE})") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.md", LOSS_CHART_FILE]
    empty = SimpleNamespace(loss_history=[], val_history=[], out_dir=str(tmp_path / "none"))
    assert show_training_chart(empty, io.StringIO()) is None


def test_train_draws_the_chart_and_models_show_has_it(tmp_path, capsys):
    out = tmp_path / "tiny"
    status = main(["train", "gru", "--corpus", "oracle:60", "--d-model", "8", "--epochs", "2",
                   "--batch-size", "16", "--out", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "loss per epoch" in printed and f"loss chart saved: {out / LOSS_CHART_FILE}" in printed
    chart = (out / LOSS_CHART_FILE).read_text(encoding="utf-8")
    assert "train" in chart and "valid" in chart
    assert f"({LOSS_CHART_FILE})" in (out / "card.md").read_text(encoding="utf-8")
    assert main(["models", "show", str(out)]) == 0
    page = capsys.readouterr().out
    assert "held-out perplexity" in page and "loss per epoch" in page
    # a bundled n-gram has a card and no curve; an unknown name is a one-line error
    assert main(["models", "show", "oracle-kn3"]) == 0
    assert "loss per epoch" not in capsys.readouterr().out
    assert main(["models", "show", "no-such-model"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_day_counts_have_a_bar_per_busy_day():
    import plotext as plt

    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(7)]
    plt.clf()
    plt.plotsize(70, 12)
    plt.theme("clear")
    draw_day_counts(plt, days, [0, 0, 4, 0, 0, 0, 2], "due")
    text = plt.uncolorize(plt.build())
    plt.clf()
    assert "Tue 03" in text and "Sun 01" in text
    rows = _plot_rows(text)
    columns = {i for line in rows for i, ch in enumerate(line) if ch in "█▐▌▄"}
    assert columns  # bars were drawn
    # the top row holds only the tallest bar (4 on Tue 03), nothing from the others
    top = {i for i, ch in enumerate(rows[0]) if ch in "█▐▌▄"}
    assert top and max(top) < 40
    ticks = [line.split("┤")[0].strip() for line in rows if "┤" in line]
    assert all(t.isdigit() for t in ticks)  # whole numbers for counts


async def test_stats_screen_shows_charts(store):  # noqa: F811 - the fixture
    from test_tui_learn import NOW

    deck = small_deck(store)
    deck.answer("test/c0", 3, NOW - timedelta(days=2))
    deck.answer("test/c1", 4, NOW - timedelta(days=1))
    app = LearnApp(lambda: StatsScreen(deck, clock=Clock()))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        history = screen.query_one("#stats-history-chart", DayChart)
        forecast = screen.query_one("#stats-forecast-chart", DayChart)
        assert not screen.query(Sparkline)
        assert sum(history.counts) == 2 and len(history.days) == 30
        assert forecast.counts == [n for _, n in screen.stats.forecast]
        drawn = history.render().plain
        assert "reviews per day" in drawn and ("█" in drawn or "▐" in drawn)


async def test_sample_view_shows_the_histogram_chart_when_tall():
    app = make_play_app(strategy="sample", knobs={"temperature": 0.8})
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("4")
        await settle(pilot)
        view = screen.query_one("#view-samples")
        chart = view.query_one(SampleChart)
        assert chart.data is view.data and chart.display
        drawn = chart.render().plain
        assert f"drawn in {view.data.n} samples vs p" in drawn
        top_token = view.data.histogram[0][0]
        assert top_token in drawn
    small = make_play_app(strategy="sample")
    async with small.run_test(size=(80, 24)) as pilot:
        screen = await start_play(pilot)
        await pilot.press("4")
        await settle(pilot)
        view = screen.query_one("#view-samples")
        assert not view.query_one(SampleChart).display  # the numbers need every row
        assert "N = 20 continuations" in view.render().plain


@pytest.mark.parametrize("width", [30, 37, 46, 55, 76])
def test_day_chart_labels_land_alike_whatever_order_plotext_places_them(width, monkeypatch):
    """plotext drops duplicate ticks through a set, so it places the labels in hash order;
    labels close enough to push each other aside came out differently from run to run (the
    statistics snapshot at 80x24). The chart spaces them so that the order does not matter."""
    import asyncio

    import plotext._utility as plotext_utility
    from textual.app import App

    days = [date(2026, 2, 1) + timedelta(days=i) for i in range(30)]
    unique = plotext_utility.no_duplicates

    class ChartApp(App[None]):
        def compose(self):
            yield DayChart(id="chart")

    async def render() -> str:
        app = ChartApp()
        async with app.run_test(size=(width, 14)) as pilot:
            chart = app.query_one(DayChart)
            chart.show(days, [i % 3 for i in range(30)], "reviews per day")
            await pilot.pause()
            return chart.render().plain

    drawn = []
    for reverse in (False, True):
        monkeypatch.setattr(plotext_utility, "no_duplicates",
                            lambda data, r=reverse: sorted(unique(data), reverse=r))
        drawn.append(asyncio.run(render()))
    assert drawn[0] == drawn[1]
    assert "01 Feb" in drawn[0]
