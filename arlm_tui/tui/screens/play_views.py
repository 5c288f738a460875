"""The play screen's views: switching between them, and the controls of the analysis views.

Six views share the space under the text (``play_lines.VIEWS``): the next-token bars and the
beam are drawn from every snapshot; the four analysis views (compare, sample-N, attention,
speculative) compute in a worker, from an ``AnalysisInput`` taken from the session when they
ask (``arlm_tui.tui.analysis``), and only while they are shown. Some keys belong to some views
only: +/− size sample-N and speculative, d picks the draft, c the compared models, < and >
scroll columns; elsewhere they are off (``allows``) and go on to the focused widget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import ContentSwitcher, Input

from arlm_tui.tui.play_lines import VIEW_IDS
from arlm_tui.tui.widgets.analysis_views import SpeculativeView

if TYPE_CHECKING:
    from arlm_tui.tui.screens.play import PlayScreen


class PlayViews:
    """Which view the play screen shows (``screen.view``), and the analysis views' controls."""

    def __init__(self, screen: PlayScreen) -> None:
        self.screen = screen

    def show(self, view: str) -> None:
        """Show ``view`` (one of ``VIEW_IDS``); forcing a token is left for any but the bars."""
        screen = self.screen
        if view not in VIEW_IDS or not screen.query("#views"):  # empty: closed by a fast key
            return
        if view != "bars" and screen.force_mode:
            screen.leave_force_mode()
        screen.view = view
        screen.query_one("#views", ContentSwitcher).current = f"view-{view}"
        screen.query_one("#views").border_title = screen.drawing.view_title()
        screen.refresh_bindings()  # +/− and d depend on the view
        self.refresh_analysis()

    def show_next(self) -> None:
        view = self.screen.view
        self.show(VIEW_IDS[(VIEW_IDS.index(view) + 1) % len(VIEW_IDS)])

    def allows(self, action: str) -> bool | None:
        """Whether a view's own key applies now (the screen's ``check_action``)."""
        # +/− size the sample-N and speculative views; elsewhere (and while the prompt is being
        # typed) the keys go on to the focused widget
        view = self.screen.view
        if action == "view_size":
            return view in ("samples", "speculative") and not isinstance(
                self.screen.focused, Input)
        if action == "next_draft":
            return view == "speculative"
        if action == "choose_compared":
            return view == "compare"
        if action == "scroll_columns":
            return view in ("compare", "attention", "speculative")
        return True

    def change_size(self, direction: int) -> None:
        """N (sample-N view) or k (speculative view) one notch up or down, then recompute."""
        screen = self.screen
        if screen.view not in ("samples", "speculative") or not screen.query(
                f"#view-{screen.view}"):
            return
        widget = screen.query_one(f"#view-{screen.view}")
        if not widget.change(direction):  # type: ignore[attr-defined]
            limit = "largest" if direction > 0 else "smallest"
            screen.notify(f"{widget.title} is already the {limit} value",  # type: ignore[attr-defined]
                          timeout=2)
            return
        screen.query_one("#views").border_title = screen.drawing.view_title()
        self.refresh_analysis()

    def next_draft(self) -> None:
        """Draft with the next installed model that shares the target's vocabulary."""
        screen = self.screen
        if screen.view != "speculative":
            return
        widget = screen.query_one(SpeculativeView)
        if widget.data is None:
            screen.notify("still looking for drafts …", timeout=2)
            return
        label = widget.next_draft()
        if label is None:
            screen.notify("no other installed model shares this vocabulary: the draft is the "
                          "target made flatter", timeout=4)
            return
        screen.notify(f"draft: {label}", timeout=2)
        self.refresh_analysis()

    def scroll_columns(self, direction: int) -> None:
        view = self.screen.view
        if view in ("compare", "attention", "speculative"):
            self.screen.query_one(f"#view-{view}").scroll_columns(direction)  # type: ignore[attr-defined]

    def refresh_analysis(self) -> None:
        """Recompute the visible analysis view (compare, samples, attention, speculative)."""
        screen = self.screen
        if screen.view in ("bars", "beam") or screen.session is None:
            return
        from arlm_tui.tui.analysis import analysis_input  # numpy and the games' counts

        view = screen.view
        widget = screen.query_one(f"#view-{view}")
        given = analysis_input(screen.session, screen.runner.model_cache,
                               screen.runner.model_lock,
                               rows=screen.query_one("#views").size.height)
        request = widget.request(given)  # type: ignore[attr-defined]
        if request is None:
            return
        widget.computing()  # type: ignore[attr-defined]

        def deliver(data: Any, error: str | None) -> None:
            widgets = screen.query(f"#view-{view}")  # empty when the screen closed meanwhile
            if widgets:
                widgets.first().show_result(data, error)  # type: ignore[attr-defined]

        screen.runner.analyse(request, deliver)
