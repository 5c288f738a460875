"""Charts in the interface (textual-plotext), drawn by the same functions as the CLI's charts
(``arlm_tui.charts``): counts per day for the statistics screen, and the sample-N view's
histogram of first tokens against the model's probabilities.

Each widget keeps the data it was last given and draws it in ``render`` at its current size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from arlm_tui.charts import draw_day_counts, draw_sample_histogram


class DayChart(PlotextPlot):
    """A bar for each day: reviews per day, cards due per day."""

    DEFAULT_CSS = """
    DayChart { height: 12; width: 1fr; min-width: 30; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.days: list[date] = []
        self.counts: list[int] = []
        self.title = ""

    def show(self, days: Sequence[date], counts: Sequence[int], title: str) -> None:
        self.days, self.counts, self.title = list(days), [int(c) for c in counts], title
        self.refresh()

    def render(self) -> RenderResult:
        self.plt.clear_figure()
        # a label every 10 columns of the plot at most: plotext places labels in the order of a
        # set (it drops duplicates with one), so labels close enough to push each other aside
        # landed differently from one run to the next (width 37, 30 days: every 9 columns)
        draw_day_counts(self.plt, self.days, self.counts, self.title,
                        max_labels=max(2, (self.size.width - 5) // 10))
        return super().render()


class SampleChart(PlotextPlot):
    """The sample-N view's chart: how often each first token was drawn in N samples, beside
    its probability after the processors. Shown under the view's numbers when the view is
    tall enough (``MIN_VIEW_HEIGHT``), since at 80×24 the numbers need every row."""

    DEFAULT_CSS = """
    SampleChart { dock: bottom; height: 12; width: 1fr; }
    """
    #: The sample view's height from which the chart is shown.
    MIN_VIEW_HEIGHT = 30

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.data: Any = None

    def show(self, data: Any) -> None:
        self.data = data
        if data is None:
            self.display = False  # an error message takes the whole view
        self.refresh()

    def rows_taken(self, view_height: int) -> int:
        """Rows of the view this chart covers (0 when it is hidden)."""
        shown = self.data is not None and view_height >= self.MIN_VIEW_HEIGHT
        if self.display != shown:
            self.display = shown
        return int(self.styles.height.value) if shown else 0

    def render(self) -> RenderResult:
        self.plt.clear_figure()
        if self.data is not None:
            draw_sample_histogram(self.plt, self.data.histogram, self.data.n,
                                  bars=max(2, min(10, self.size.width // 8)))
        return super().render()
