"""Drawing the play screen: the runner's snapshot handed down to the widgets.

After every engine operation (and when the selection, the forcing or the view changes) the
screen's widgets are given what the snapshot says: the text and the timeline, the knob panel,
the bars (the next token, a past step or the token to force), the beam view, the why-line, the
stats line and the titles. What has not changed is not given again: the text is set only when
its pieces changed (a knob turned leaves it and the layout alone), a line only when it reads
differently, and the screen is laid out again only when a line's height changes. The lines
themselves are written by ``arlm_tui.tui.play_lines``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from arlm_tui.decoding.snapshot import PlaySnapshot, hypothesis_text
from arlm_tui.tui.play_lines import chain_line, explain_line, stats_line, view_title
from arlm_tui.tui.widgets.beam_view import BeamView
from arlm_tui.tui.widgets.generated_text import GeneratedText
from arlm_tui.tui.widgets.knob_panel import KnobPanel
from arlm_tui.tui.widgets.timeline import Timeline
from arlm_tui.tui.widgets.token_bars import TokenBars

if TYPE_CHECKING:
    from arlm_tui.tui.screens.play import PlayScreen


class PlayDrawing:
    """Draws the play screen's snapshot (see the module's docstring); remembers what it drew."""

    def __init__(self, screen: PlayScreen) -> None:
        self.screen = screen
        self._drawn_pieces: Any = None
        #: lines last drawn under the views (redrawn only when they change)
        self._drawn_lines: dict[str, Any] = {}

    def draw(self) -> None:
        """Draw the runner's snapshot (nothing before the first one or after the screen closed)."""
        screen = self.screen
        snap = screen.snap
        if snap is None or not screen.query(GeneratedText):  # closed while a step was computed
            return
        text = screen.query_one(GeneratedText)
        if snap.pieces is not self._drawn_pieces or text.prompt_text != snap.prompt_text:
            # only when the text changed: a knob turned leaves it (and the layout) alone
            self._drawn_pieces = snap.pieces
            text.set_text(snap.prompt_text, snap.pieces)
            screen.query_one("#text-box", VerticalScroll).scroll_end(animate=False)
        if screen.selected is not None and screen.selected >= len(snap.traces):
            screen.selected = None
        text.cursor = screen.selected
        entropies = ([t.entropy for t in snap.traces] if len(snap.traces) == len(snap.pieces)
                     else [])
        screen.query_one(Timeline).show([piece.prob for piece in snap.pieces], entropies,
                                        screen.selected)
        panel = screen.query_one(KnobPanel)
        pending = screen.runner.pending_knobs
        config = snap.config.replace(**pending) if pending else snap.config
        if panel.config != config:  # a step leaves the panel as it is (no redraw)
            panel.config = config
        bars = screen.query_one(TokenBars)
        shown = self.shown_trace()
        bars.last_step = snap.traces[-1] if snap.traces else None
        if screen.force_mode and snap.preview is not None:
            bars.mode = "force"
            bars.trace = snap.preview
        elif screen.selected is not None and shown is not None:
            bars.mode = "step"
            bars.trace = shown
        else:
            bars.mode = "next"
            bars.trace = snap.preview
            if snap.preview is None:
                why = ("The text is finished" if snap.stopped_by is None
                       else f"Stopped at {snap.stopped_by!r}")
                bars.note = (f"{why}: backspace undoes the last step, R starts again from the "
                             "prompt.")
        self._draw_beam(shown)
        self._draw_explain(shown, snap)
        self.draw_stats(snap)
        seed = f" · seed {snap.config.seed}" if snap.config.strategy == "sample" else ""
        sub_title = f"{snap.model_name} ({snap.backend}) · {snap.config.strategy}{seed}"
        if screen.sub_title != sub_title:
            screen.sub_title = sub_title
        views = screen.query_one("#views")
        title = self.view_title()
        if views.border_title != title:
            views.border_title = title
        chain = chain_line(config)
        if views.border_subtitle != chain:
            views.border_subtitle = chain
        screen.views.refresh_analysis()

    def shown_trace(self) -> Any:
        """The step the bars and the why-line show: the selected one, else the last one."""
        screen = self.screen
        snap = screen.snap
        if snap is None or not snap.traces:
            return None
        if screen.selected is not None and screen.selected < len(snap.traces):
            return snap.traces[screen.selected]
        return snap.traces[-1]

    def view_title(self) -> str:
        """The title on the views' border (it fits the border's width)."""
        screen = self.screen
        views = screen.query_one("#views")
        own = (screen.query_one(f"#view-{screen.view}").title  # type: ignore[attr-defined]
               if screen.view in ("samples", "speculative") else None)
        return view_title(screen.view, screen.snap, force_mode=screen.force_mode,
                          selected=screen.selected,
                          room=views.size.width - 4 or screen.size.width, own_title=own)

    def retitle(self) -> None:
        """The views' title again (after a resize: the hint fits the new width)."""
        screen = self.screen
        if screen.query("#views"):  # the screen may have closed since the resize
            screen.query_one("#views").border_title = self.view_title()

    def _draw_beam(self, shown: Any) -> None:
        screen = self.screen
        snap = screen.snap
        beam_view = screen.query_one(BeamView)
        if snap is None or screen.session is None:
            return
        model = screen.session.model
        decode = hypothesis_text(model.tokenizer, model.eos_id)
        if screen.selected is None:
            beam_view.show(snap.beam_preview, snap.beam_parents, decode, snap.config.to_dict(),
                           live=True)
            return
        if shown is None or shown.beam is None:
            beam_view.show(None, (), decode, snap.config.to_dict())
            return
        index = snap.traces.index(shown) if shown in snap.traces else len(snap.traces) - 1
        previous_trace = snap.traces[index - 1] if index > 0 else None
        previous = (previous_trace.beam.survivors
                    if previous_trace is not None and previous_trace.beam is not None else ())
        beam_view.show(shown.beam, previous, decode, shown.config)

    def _draw_explain(self, shown: Any, snap: PlaySnapshot) -> None:
        self._update_line(self.screen.query_one("#explain", Static),
                          explain_line(shown, snap, force_mode=self.screen.force_mode))

    def _update_line(self, widget: Static, line: Text) -> None:
        """``widget.update(line)`` unless it shows that already; the screen is laid out again
        only when the number of lines changes (a new layout repaints the whole screen)."""
        key = widget.id or ""
        previous = self._drawn_lines.get(key)
        if previous == line:
            return
        self._drawn_lines[key] = line
        width = max(widget.content_size.width, 1)
        console = self.screen.app.console

        def height(text: Text | None) -> int:
            return len(text.wrap(console, width)) if text is not None else -1

        widget.update(line, layout=height(previous) != height(line))

    def draw_stats(self, snap: PlaySnapshot) -> None:
        """The stats line (steps, replay progress, autoplay); also after a resize or when
        autoplay starts, stops or changes speed."""
        screen = self.screen
        autoplay = (screen.app.settings.autoplay_interval  # type: ignore[attr-defined]
                    if screen.autoplay_timer is not None else None)
        line, screen.replay_total = stats_line(snap, wide=screen.size.width >= 100,
                                               replay_total=screen.replay_total,
                                               autoplay=autoplay)
        self._update_line(screen.query_one("#stats", Static), line)
