"""The flashcard statistics: due today, the coming week, retention, reviews per day, streak.

``StatsScreen(deck)`` draws ``Deck.stats()`` (the same numbers as ``arlm cards stats``) and
re-reads them whenever it comes back into view; ``c`` starts a review.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from arlm_tui.learn.cards import CardStats, Deck
from arlm_tui.learn.store import utc_now
from arlm_tui.numbers import fmt_percent
from arlm_tui.tui.screens.learn_base import LearnScreen
from arlm_tui.tui.widgets.charts import DayChart
from arlm_tui.tui.widgets.token_bars import bar


def _bar(value: int, largest: int, width: int = 30) -> str:
    """``value`` as a bar (``largest`` fills ``width`` cells), without trailing blanks."""
    if largest <= 0 or value <= 0:
        return ""
    return bar(value / largest, width).rstrip()


def stats_text(stats: CardStats) -> Table:
    """The numbers as a two-column table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row("cards", f"{stats.cards} ({stats.new} new, {stats.learning} learning, "
                           f"{stats.review} in review)")
    table.add_row("due today", Text.assemble((f"{stats.due_today} reviews", "bold"),
                                             f" + {stats.new_today} new cards"))
    retention = fmt_percent(stats.retention)
    table.add_row("retention", f"{retention} of reviews not rated Again")
    table.add_row("reviews", f"{stats.reviews_total} in total, {stats.reviews_today} today")
    days = "day" if stats.streak == 1 else "days"
    table.add_row("streak", Text(f"{stats.streak} {days} in a row",
                                 style="bold green" if stats.streak else ""))
    return table


def forecast_text(stats: CardStats) -> Table:
    """Cards due on each of the coming days, as bars."""
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(justify="right")
    table.add_column(style="cyan")
    largest = max((n for _, n in stats.forecast), default=0)
    for day, n in stats.forecast:
        table.add_row(f"{day:%a %d %b}", str(n), _bar(n, largest))
    return table


def _title(title: str, days: Sequence[tuple[date, int]], most: str, counts: list[int]) -> Text:
    """A chart's title and, dim on the line below, its days and its largest count."""
    span = f"{days[0][0]:%d %b} … {days[-1][0]:%d %b}, " if days else ""
    return Text.assemble((title, "bold"), "\n", (f"{span}{most}: {max(counts, default=0)}",
                                                   "dim"))


class StatsScreen(LearnScreen[None]):
    """Statistics of ``deck``; ``clock`` gives "now" (tests fix it)."""

    HELP_TITLE = "Card statistics"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="stats.back", tooltip="go back"),
        Binding("c", "review", "Review now", id="stats.review", tooltip="review the due cards"),
        Binding("r", "reload", "Refresh", show=False, id="stats.reload",
                tooltip="read the numbers again"),
    ]

    def __init__(self, deck: Deck, *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.deck = deck
        self.clock = clock or utc_now
        self.sub_title = "card statistics"
        self.stats: CardStats | None = None

    def compose_body(self) -> ComposeResult:
        # the two charts side by side, so that at 80×24 the screen holds them whole; from 44
        # rows one above the other with the forecast's table too (learn.tcss)
        with VerticalScroll(id="stats-body"):
            yield Static(id="stats-numbers")
            with Horizontal(id="stats-charts"):
                with Vertical(id="stats-forecast-column", classes="stats-column"):
                    yield Static(id="stats-forecast-title", classes="stats-title")
                    yield Static(id="stats-forecast")
                    yield DayChart(id="stats-forecast-chart")
                with Vertical(id="stats-history-column", classes="stats-column"):
                    yield Static(id="stats-history-title", classes="stats-title")
                    yield DayChart(id="stats-history-chart")

    def on_mount(self) -> None:
        self.action_reload()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.stats = stats = self.deck.stats(self.clock())
        self.query_one("#stats-numbers", Static).update(stats_text(stats))
        self.query_one("#stats-forecast", Static).update(forecast_text(stats))
        due = [n for _, n in stats.forecast]
        self.query_one("#stats-forecast-title", Static).update(
            _title("Due in the coming days", stats.forecast, "most on a day", due))
        counts = [n for _, n in stats.reviews_per_day]
        self.query_one("#stats-history-title", Static).update(
            _title("Reviews per day", stats.reviews_per_day, "most in a day", counts))
        self.query_one("#stats-history-chart", DayChart).show(
            [d for d, _ in stats.reviews_per_day], counts, "reviews per day")
        self.query_one("#stats-forecast-chart", DayChart).show(
            [d for d, _ in stats.forecast], [n for _, n in stats.forecast], "cards due per day")

    def action_review(self) -> None:
        self.app.open_review(self.deck, clock=self.clock)
