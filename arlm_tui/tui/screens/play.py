"""The play screen: step through generation, turn the knobs, force tokens, switch views.

The screen owns a ``PlayRunner`` (``arlm_tui.tui.play_runner``), which holds the ``Session``
(the engine's step/undo/redo/force/replay object) and runs every operation on it, one at a time,
inline for the numpy backends and in a thread worker for neural ones, so the interface never
freezes. When one ends, the runner has a snapshot (``arlm_tui.decoding.snapshot``) of what to
draw and the screen hands it down to the widgets (attributes down, messages up); the lines
around the views come from ``arlm_tui.tui.play_lines``, the analysis views are given an
``AnalysisInput`` (the session as it was when they asked).

The bars are live: they show the distribution of the NEXT token under the current model and
knobs, recomputed after every operation (a knob, the strategy, the model, the prompt, undo,
redo). Knob changes that arrive faster than they are computed are merged into one operation. A
past step is shown only on request (its token selected in the text; esc returns to live).

The screen composes the widgets, keeps the state they are drawn from (the view, the step
selected, forcing, the replay), runs the operations on the session and routes keys and
messages. Each other job is a small object it owns, in a module of its own beside it:
``PlayDrawing`` (``play_drawing``: the snapshot handed down to the widgets), ``PlayViews``
(``play_views``: which view is shown, the analysis views' controls), ``PromptLine``
(``play_prompt``), ``PlayDialogs`` (``play_dialogs``: every question asked in a dialog) and
``Autoplay`` (``play_autoplay``); the keys and the help paragraph are data (``play_bindings``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Header, Input, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.snapshot import PlaySnapshot, unknown_words
from arlm_tui.errors import ArlmError
from arlm_tui.tui.play_lines import (
    VIEW_TITLES,
)
from arlm_tui.tui.play_runner import PlayRunner, failure_text
from arlm_tui.tui.screens.play_autoplay import Autoplay
from arlm_tui.tui.screens.play_bindings import BINDINGS, HELP_TEXT
from arlm_tui.tui.screens.play_dialogs import PlayDialogs
from arlm_tui.tui.screens.play_drawing import PlayDrawing
from arlm_tui.tui.screens.play_prompt import PromptLine
from arlm_tui.tui.screens.play_views import PlayViews
from arlm_tui.tui.textual_fixes import thrown_away
from arlm_tui.tui.widgets.analysis_views import (
    AttentionView,
    CompareView,
    SampleView,
    SpeculativeView,
)
from arlm_tui.tui.widgets.beam_view import BeamView
from arlm_tui.tui.widgets.footer import ArlmFooter
from arlm_tui.tui.widgets.generated_text import GeneratedText
from arlm_tui.tui.widgets.knob_panel import KnobPanel, knob_names_as_shown
from arlm_tui.tui.widgets.timeline import Timeline
from arlm_tui.tui.widgets.token_bars import TokenBars


def new_seed() -> int:
    """A fresh random seed for a new play (at most six digits, easy to read in the title and
    to type). ``ARLM_SEED`` fixes it (the tests do, so that screenshots are stable)."""
    fixed = os.environ.get("ARLM_SEED", "").strip()
    if fixed.isdigit():
        return int(fixed)
    return secrets.randbelow(1_000_000)


@dataclass
class PlayResume:
    """What a play screen leaves behind when the learner goes back home, to take up again."""

    session: Any
    view: str = "bars"
    replay_total: int | None = None
    model_cache: dict[str, Any] = field(default_factory=dict)
    prompt_value: str | None = None  # the prompt line as it was (typed words kept)


class PlayScreen(Screen):
    """Step through the generation of a text with a model and a decoding strategy."""

    HELP_TITLE = "Play screen"
    HELP_TEXT = HELP_TEXT
    AUTO_FOCUS = "#knobs"

    BINDINGS: ClassVar[list[BindingType]] = BINDINGS

    def __init__(self, *, model: Any = None, prompt: str = "", strategy: str | None = None,
                 knobs: dict[str, Any] | None = None, resume: PlayResume | None = None) -> None:
        super().__init__()
        self.model_spec = model
        self.initial_prompt = prompt
        self.initial_strategy = strategy
        self.initial_knobs = dict(knobs or {})
        if "seed" not in self.initial_knobs:  # a fixed seed only when one is given
            self.initial_knobs["seed"] = new_seed()
        self.resume = resume
        self.view = "bars"
        self.force_mode = False
        self.selected: int | None = None
        self.replay_total: int | None = None
        #: the session and every operation on it (steps, knobs, models, session files)
        self.runner = PlayRunner(self)
        #: the snapshot handed down to the widgets
        self.drawing = PlayDrawing(self)
        #: which view is shown, and the analysis views' controls
        self.views = PlayViews(self)
        #: the text to continue, and the words the model lacks
        self.prompt_line = PromptLine(self)
        #: the questions asked in a dialog (a token, a knob's value, a model, a file, ...)
        self.dialogs = PlayDialogs(self)
        #: steps one at a time on a timer
        self.autoplay = Autoplay(self)

    # ------------------------------------------------------------------ the runner's state
    @property
    def session(self) -> Any:
        return self.runner.session

    @property
    def snap(self) -> PlaySnapshot | None:
        return self.runner.snap

    @property
    def busy(self) -> bool:
        return self.runner.busy

    @property
    def last_error(self) -> str:
        return self.runner.last_error

    @property
    def threaded(self) -> bool:
        return self.runner.threaded

    @property
    def always_threaded(self) -> bool:
        """Run every engine operation in a thread worker (tests set it to exercise that path)."""
        return self.runner.always_threaded

    @always_threaded.setter
    def always_threaded(self, value: bool) -> None:
        self.runner.always_threaded = value

    @property
    def autoplay_timer(self) -> Timer | None:
        """The autoplay timer while autoplay runs, else None."""
        return self.autoplay.timer

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="prompt-row"):
            yield Label("prompt ›", id="prompt-label")
            yield Input(self.initial_prompt, placeholder="type a text to continue, ⏎ to start",
                        id="prompt", select_on_focus=False)
            yield Label("", id="prompt-note")
        with VerticalScroll(id="text-box"):
            yield GeneratedText(id="text")
        yield Timeline(id="timeline")
        with Horizontal(id="main"):
            with ContentSwitcher(initial="view-bars", id="views"):
                yield TokenBars(id="view-bars")
                yield BeamView(id="view-beam")
                yield CompareView(id="view-compare")
                yield SampleView(id="view-samples")
                yield AttentionView(id="view-attention")
                yield SpeculativeView(id="view-speculative")
            yield KnobPanel(id="knobs")
        yield Static("", id="explain")
        yield Static("", id="stats")
        yield ArlmFooter()

    def on_mount(self) -> None:
        self.query_one("#views").border_title = VIEW_TITLES["bars"]
        self.query_one("#knobs").border_title = "knobs"
        self.query_one("#text-box").border_title = "text"
        if self.resume is not None:
            self._resume(self.resume)
            return
        bars = self.query_one(TokenBars)
        bars.note = ("loading the model … (the first time a transformer is used, its compiled "
                     "step is built too: a few seconds)")
        try:
            config = DecodingConfig(strategy=self.initial_strategy or "sample",
                                    **self.initial_knobs)
        except (ValueError, TypeError) as exc:
            self.notify(f"{knob_names_as_shown(str(exc))}; using the default knobs",
                        severity="error", timeout=8)
            config = DecodingConfig(strategy="sample", seed=new_seed())
        self.query_one(KnobPanel).config = config
        self.runner.start_config = config
        self.load_model(self.model_spec, first=True)

    def _resume(self, resume: PlayResume) -> None:
        """Take up a session left earlier: same model, text, knobs, history and view."""
        self.resume = None
        session = resume.session
        self.runner.session = session
        self.runner.model_cache = resume.model_cache
        self.replay_total = resume.replay_total
        self.query_one(KnobPanel).config = session.config
        self.runner.start_config = session.config
        prompt = resume.prompt_value
        if prompt is None:
            prompt = session.model.tokenizer.decode(session.prompt_ids)
        self.prompt_line.value = prompt
        self.prompt_line.show_unknown(unknown_words(session.model, prompt), session.model.name)
        self.action_view(resume.view)
        self.run_engine(lambda: None)

    def resume_state(self) -> PlayResume | None:
        """What ``PlayResume`` needs to take this session up again (None before a model)."""
        if self.session is None:
            return None
        return PlayResume(self.session, self.view, self.replay_total, self.runner.model_cache,
                          self.prompt_line.value)

    def on_resize(self) -> None:
        # on short terminals the shade legend gives its line to the bars
        self.query_one(GeneratedText).legend = self.size.height >= 24
        # the entropy line of the timeline when there is room for it
        self.query_one(Timeline).styles.height = 2 if self.size.height >= 30 else 1
        if self.snap is not None:
            self.drawing.draw_stats(self.snap)
        self.call_after_refresh(self.drawing.retitle)  # the hint fits the view's new width

    # ------------------------------------------------------------------ engine operations
    def run_engine(self, operation: Callable[[], Any], *, queue_as_step: bool = False) -> bool:
        """Run ``operation`` (which changes the session), then redraw from a snapshot.

        Returns False when another operation is still running: a step (``queue_as_step``) is
        then queued and taken next, anything else is refused with a message.
        """
        return self.runner.run(operation, queue_as_step=queue_as_step)

    # what the runner asks of its host (see ``RunnerHost``)
    @property
    def alive(self) -> bool:
        return not thrown_away(self)

    def in_thread(self, job: Callable[[], None], group: str) -> None:
        self.run_worker(job, group=group, thread=True, exclusive=True, exit_on_error=False)

    def cancelled(self) -> bool:
        return get_current_worker().is_cancelled

    def to_ui(self, callback: Callable[..., None], *args: Any) -> None:
        self.app.call_from_thread(callback, *args)

    def later(self, callback: Callable[[], None]) -> None:
        self.call_later(callback)

    def draw(self) -> None:
        self.drawing.draw()

    def take_step(self) -> None:
        self.action_step()

    def operation_failed(self) -> None:
        self.autoplay.stop()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The last net under every worker of this screen: a failure that got past its own
        handling is shown, and the screen is usable again (no WorkerFailed exit)."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        message = failure_text(error) if error is not None else "a background task failed"
        self.runner.worker_failed(message, engine=event.worker.group == "engine")

    # ------------------------------------------------------------------ model loading
    def load_model(self, spec: Any, *, first: bool = False) -> None:
        if self.busy:
            self.notify("still computing …", timeout=2)
            return
        if not first:
            name = getattr(spec, "name", spec)
            self.notify(f"loading {name} … (a transformer's first use also builds its "
                        "compiled step: a few seconds)", timeout=4)
        prompt = self.initial_prompt if first else self.prompt_line.value
        self.runner.load(spec, prompt=prompt, first=first)

    def model_loaded(self, switched: bool, unknown: list[str]) -> None:
        snap = self.snap
        assert snap is not None
        self.selected = None
        if snap.config.strategy == "beam" and self.view == "bars":
            self.action_view("beam")
        if switched:
            self.prompt_line.value = snap.prompt_text
            self.notify(f"now continuing with {snap.model_name}: the text so far is the prompt",
                        timeout=4)
        self.prompt_line.show_unknown(unknown, snap.model_name)
        self.drawing.draw()

    def model_failed(self, message: str) -> None:
        if self.session is None:
            self.query_one(TokenBars).note = (
                f"Could not load the model: {message}\nPress m to choose another model.")
            self.query_one(TokenBars).refresh()

    # ------------------------------------------------------------------ the prompt line
    def action_edit_prompt(self) -> None:
        self.leave_force_mode()
        self.prompt_line.focus()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        self.prompt_line.submitted(message)

    def on_input_changed(self, message: Input.Changed) -> None:
        self.prompt_line.changed(message)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self.prompt_line.left(event.widget)

    # ------------------------------------------------------------------ stepping
    def action_step(self) -> None:
        if self.session is None:
            self.run_engine(lambda: None)
            return
        if self.force_mode:
            self.leave_force_mode()
        if self.replay_total is not None and self.session.can_redo:
            self.action_redo()
            return
        if self.session.done:
            self.notify("the text is finished: backspace undoes, R resets", timeout=3)
            self.autoplay.stop()
            return
        self.selected = None
        self.run_engine(self.session.step, queue_as_step=True)

    def action_undo(self) -> None:
        self.runner.queued_steps = 0
        if self.session is None:
            return
        self.leave_force_mode()
        if not self.session.can_undo:
            self.notify("nothing to undo", timeout=2)
            return
        self.selected = None
        self.run_engine(self.session.undo)

    def action_redo(self) -> None:
        if self.session is None:
            return
        if not self.session.can_redo:
            self.notify("nothing to redo", timeout=2)
            return
        self.selected = None
        self.run_engine(self.session.redo)

    def action_reset(self) -> None:
        if self.session is None:
            return
        self.leave_force_mode()
        self.selected = None
        self.replay_total = None
        self.run_engine(self.session.reset)

    # ------------------------------------------------------------------ forcing
    def action_force_pick(self) -> None:
        if self.session is None:
            return
        if self.session.done:
            self.notify("the text is finished: undo a step to force another token", timeout=3)
            return
        self.autoplay.stop()
        self.force_mode = True
        self.selected = None
        if self.view != "bars":
            self.action_view("bars")
        bars = self.query_one(TokenBars)
        bars.cursor = 0
        bars.focus()
        self.drawing.draw()

    def leave_force_mode(self) -> None:
        if self.force_mode:
            self.force_mode = False
            self.query_one(KnobPanel).focus()
            self.drawing.draw()

    def on_token_bars_force_requested(self, message: TokenBars.ForceRequested) -> None:
        message.stop()
        if not self.force_mode or self.session is None:
            return
        self.force_mode = False
        self.query_one(KnobPanel).focus()
        token_id = message.token_id
        self.selected = None
        self.run_engine(lambda: self.session.force(token_id))

    def action_force_type(self) -> None:
        self.dialogs.force_type()

    # ------------------------------------------------------------------ knobs and strategy
    def on_knob_panel_changed(self, message: KnobPanel.Changed) -> None:
        message.stop()
        self.apply_knob(message.name, message.value)

    def apply_knob(self, name: str, value: Any) -> bool:
        """Validate one knob and apply it: False (and a message) if the value is refused.

        The change shows in the knob panel at once; the session and the live bars follow in one
        engine operation, which merges every change made before it starts (a held arrow key
        recomputes once per frame, not once per key)."""
        if self.session is None:
            return False
        previous = self.runner.config.strategy
        try:
            wanted = self.runner.turn(name, value)
        except (ValueError, ArlmError) as exc:
            self.notify(knob_names_as_shown(str(exc)), severity="error", timeout=5)
            return False
        self.query_one(KnobPanel).config = wanted
        if name == "strategy" and value != previous:
            if value == "beam" and self.view == "bars":
                self.action_view("beam")
            elif previous == "beam" and self.view == "beam":
                self.action_view("bars")
        return True

    def on_knob_panel_edit_requested(self, message: KnobPanel.EditRequested) -> None:
        message.stop()
        self.dialogs.edit_knob(message.name)

    def action_pick_strategy(self) -> None:
        self.dialogs.pick_strategy()

    def action_pick_preset(self) -> None:
        self.dialogs.pick_preset()

    def action_focus_knobs(self) -> None:
        self.leave_force_mode()
        self.query_one(KnobPanel).focus()

    # ------------------------------------------------------------------ past steps in the text
    def action_select_tokens(self) -> None:
        self.leave_force_mode()
        text = self.query_one(GeneratedText)
        text.focus()
        if text.pieces and text.cursor is None:
            text.select(len(text.pieces) - 1)

    def on_timeline_step_selected(self, message: Timeline.StepSelected) -> None:
        message.stop()
        self.query_one(GeneratedText).select(message.index)  # as if chosen in the text

    def on_generated_text_step_selected(self, message: GeneratedText.StepSelected) -> None:
        message.stop()
        self.selected = message.index
        if self.view not in ("bars", "beam"):
            self.action_view("bars")
        self.drawing.draw()

    # ------------------------------------------------------------------ views
    def action_view(self, view: str) -> None:
        self.views.show(view)

    def action_next_view(self) -> None:
        self.views.show_next()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.views.allows(action)  # some keys belong to some views only

    def action_view_size(self, direction: int) -> None:
        self.views.change_size(direction)

    def action_next_draft(self) -> None:
        self.views.next_draft()

    def action_scroll_columns(self, direction: int) -> None:
        self.views.scroll_columns(direction)

    def action_choose_compared(self) -> None:
        self.dialogs.choose_compared()

    # ------------------------------------------------------------------ autoplay
    def action_autoplay(self) -> None:
        self.autoplay.toggle()

    def action_speed(self, direction: int) -> None:
        self.autoplay.speed(direction)

    # ------------------------------------------------------------------ model and session files
    def action_pick_model(self) -> None:
        self.dialogs.pick_model()

    def action_save(self) -> None:
        self.dialogs.save_as()

    def action_export_page(self) -> None:
        if self.session is not None and not self.busy:
            from arlm_tui.tui.share import save_session_page

            save_session_page(self.app, self.session)

    def action_open(self) -> None:
        self.dialogs.open_saved()

    def open_session(self, path: Path, *, model_choice: str | None = None) -> None:
        """Replay a saved session: load it, go back to its prompt, then space replays a step
        (see ``PlayRunner.open``: a model that is not installed is asked about first)."""
        self.runner.open(path, model_choice=model_choice)

    def ask_about_model(self, path: Path, named: str) -> None:
        self.dialogs.ask_about_model(path, named)

    def session_opened(self, total: int, path: Path) -> None:
        snap = self.snap
        assert snap is not None
        self.selected = None
        self.replay_total = total
        self.prompt_line.value = snap.prompt_text
        self.notify(f"opened {path.name}: {total} steps; space replays them one by one",
                    timeout=5)
        self.drawing.draw()

    # ------------------------------------------------------------------ leaving
    def action_back(self) -> None:
        if self.force_mode:
            self.leave_force_mode()
            return
        focused = self.focused
        if isinstance(focused, Input):
            self.query_one(KnobPanel).focus()
            return
        if self.selected is not None:
            self.selected = None
            self.query_one(KnobPanel).focus()
            self.drawing.draw()
            return
        self.autoplay.stop()
        self.runner.settle_knobs()
        self.app.play_resume = self.resume_state()  # type: ignore[attr-defined]
        self.app.pop_screen()

    def action_new_play(self) -> None:
        """Leave this session for a new one (same model and prompt, fresh seed)."""
        if self.busy:
            self.notify("still computing …", timeout=2)
            return
        self.autoplay.stop()
        model = self.session.model.name if self.session is not None else self.model_spec
        prompt = self.prompt_line.value
        self.app.play_resume = None  # type: ignore[attr-defined]
        self.app.pop_screen()
        self.app.open_play(model=model, prompt=prompt)  # type: ignore[attr-defined]

