"""The play screen's engine runner: one Session, and every operation on it, one at a time.

An operation (a step, undo, redo, a knob turned, the prompt, another model, a session file)
runs inline for the numpy backends (well under a millisecond) and in a worker thread for the
others, so the interface never freezes. ``snapshot`` gathers what to draw on the thread that did
the work; the runner then hands it to its host (the screen) on the interface's thread.

- A step asked for while another runs is queued (at most ``MAX_QUEUED_STEPS``) and taken as
  soon as the running one is drawn; anything else is refused with a message.
- Knob changes are merged: every change made before an operation starts goes into that one
  operation, so a burst of them (a held arrow key) recomputes once, not once per change.
- A failure anywhere (a broken model, an unreadable file, the preview of the next token)
  becomes a one-line message (``last_error``); the runner is ready again after it.

No Textual here: the host gives the threads, the way back to the interface's thread, the
messages and the drawing (``RunnerHost``). The tests drive a runner with a plain object.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.snapshot import PlaySnapshot, snapshot, unknown_words
from arlm_tui.errors import ArlmError
from arlm_tui.lm.backends import inline_step
from arlm_tui.tui.session_files import read_session_file, session_model_name

if TYPE_CHECKING:
    from arlm_tui.decoding.session import Session

#: Space presses remembered while a (neural) step is computing.
MAX_QUEUED_STEPS = 8


def failure_text(exc: BaseException) -> str:
    """One line for an unexpected failure in a worker (shown; the app keeps running)."""
    return f"unexpected {type(exc).__name__}: {exc}".strip().rstrip(":")


class RunnerHost(Protocol):
    """What a ``PlayRunner`` needs from the screen that owns it."""

    @property
    def alive(self) -> bool:
        """False once the screen has closed: results that arrive after are dropped."""

    def in_thread(self, work: Callable[[], None], group: str) -> None:
        """Run ``work`` in a worker thread; a new one in the same ``group`` replaces the last
        ("engine": the session's operations, "analysis": the analysis views)."""

    def cancelled(self) -> bool:
        """In a worker: True when a newer one of its group replaced it (or the screen went)."""

    def to_ui(self, callback: Callable[..., None], *args: Any) -> None:
        """From a worker: call ``callback(*args)`` on the interface's thread."""

    def later(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the interface's thread once the current event is handled."""

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None) -> None:
        """Show a one-line message."""

    def draw(self) -> None:
        """Draw ``runner.snap`` (a new one, or the same one with other knobs pending)."""

    def take_step(self) -> None:
        """Take the step queued while the last operation ran."""

    def operation_failed(self) -> None:
        """An operation failed (its message is shown): stop whatever steps by itself."""

    def model_loaded(self, switched: bool, unknown: list[str]) -> None:
        """A model was loaded (``switched``: into the running session); ``unknown``: the words
        of the text it reads as <unk>."""

    def model_failed(self, message: str) -> None:
        """A model could not be loaded (the message is shown already)."""

    def session_opened(self, total: int, path: Path) -> None:
        """A saved session of ``total`` steps was opened and taken back to its prompt."""

    def ask_about_model(self, path: Path, named: str) -> None:
        """The session file ``path`` names a model that is not installed: ask before loading."""


class PlayRunner:
    """Runs the engine operations of one play screen (see the module's docstring)."""

    def __init__(self, host: RunnerHost) -> None:
        self.host = host
        self.session: Session | None = None
        #: what was last gathered for drawing (the host draws it)
        self.snap: PlaySnapshot | None = None
        self.busy = False
        #: run every operation in a worker thread (tests set it to exercise that path)
        self.always_threaded = False
        self.queued_steps = 0
        self.last_error = ""
        #: knob changes not yet applied (merged while an operation runs or a flush is due)
        self.pending_knobs: dict[str, Any] = {}
        self.flush_due = False
        #: the knobs a session created by ``load`` starts with
        self.start_config = DecodingConfig(strategy="sample")
        #: held by operations and the attention view: a transformer's last_attention belongs
        #: to its most recent call, so that call and the read must not interleave
        self.model_lock = threading.RLock()
        #: models loaded for the compare and speculative views, by name
        self.model_cache: dict[str, Any] = {}
        self.analysis_version = 0

    @property
    def threaded(self) -> bool:
        """Whether operations run in a worker thread (neural models) or inline (the backends
        whose step is cheap: numpy, well under a millisecond; the table of backends says)."""
        if self.always_threaded or self.session is None:
            return True
        return not inline_step(self.session.model.backend)

    @property
    def config(self) -> DecodingConfig:
        """The session's knobs with the changes not yet applied (a session is required)."""
        assert self.session is not None
        return self.session.config.replace(**self.pending_knobs)

    # ------------------------------------------------------------------ operations
    def run(self, operation: Callable[[], Any], *, queue_as_step: bool = False) -> bool:
        """Run ``operation`` (which changes the session), then have the host draw a snapshot.

        Returns False when another operation is still running: a step (``queue_as_step``) is
        then queued and taken next, anything else is refused with a message.
        """
        if self.session is None:
            if self.busy:
                self.host.notify("still loading the model …", timeout=2)
            else:
                self.host.notify("no model is loaded: press m to choose one", severity="warning")
            return False
        if self.busy:
            if queue_as_step and self.queued_steps < MAX_QUEUED_STEPS:
                self.queued_steps += 1  # taken as soon as the running step is drawn
            else:
                self.host.notify("still computing the previous step …", timeout=2)
            return False
        if self.pending_knobs:  # knobs turned just before: they apply to this operation
            knobs, self.pending_knobs = self.pending_knobs, {}
            session, then = self.session, operation

            def operation() -> Any:
                session.configure(**knobs)
                return then()
        self.busy = True
        if self.threaded:
            def work() -> None:
                snap, error = self._execute(operation)
                self.host.to_ui(self._finish, snap, error)

            self.host.in_thread(work, "engine")
        else:
            self._finish(*self._execute(operation))
        return True

    def _execute(self, operation: Callable[[], Any]) -> tuple[PlaySnapshot | None, str | None]:
        session = self.session
        assert session is not None
        with self.model_lock:
            try:
                operation()
            except (ArlmError, ValueError) as exc:
                return None, str(exc)
            except Exception as exc:  # noqa: BLE001 - a broken model must not end the app
                return None, failure_text(exc)
            try:
                return snapshot(session, self.snap), None
            except Exception as exc:  # noqa: BLE001 - the next token could not be previewed
                error = str(exc) if isinstance(exc, (ArlmError, ValueError)) else (
                    failure_text(exc))
            try:  # what the operation did is still drawn, without the live preview
                return snapshot(session, self.snap, live=False), error
            except Exception:  # noqa: BLE001
                return None, error

    def _finish(self, snap: PlaySnapshot | None, error: str | None) -> None:
        if not self.host.alive:  # closed while the worker ran
            return
        self.busy = False
        if error is not None:
            self.last_error = error
            self.queued_steps = 0
            self.host.notify(error, severity="error", timeout=6)
            self.host.operation_failed()
            if snap is not None:  # the operation itself went through: show it
                self.snap = snap
                self.host.draw()
            return
        if snap is not None:
            self.snap = snap
        self.host.draw()
        if self.pending_knobs:
            self.flush_knobs()
        elif self.queued_steps:
            self.queued_steps -= 1
            self.host.take_step()

    def worker_failed(self, message: str, *, engine: bool) -> None:
        """A failure that got past a worker's own handling: shown, and (for the engine's
        worker) the runner is free again."""
        self.last_error = message
        self.host.notify(message, severity="error", timeout=8)
        if engine:
            self.busy = False
            self.queued_steps = 0

    # ------------------------------------------------------------------ knobs
    def turn(self, name: str, value: Any) -> DecodingConfig:
        """Set one knob: the session follows in one operation, which merges every change made
        before it starts. Returns the knobs as they will be; ValueError (ArlmError: a logit bias
        names a token the model lacks) if refused."""
        wanted = self.config.replace(**{name: value})
        if self.session is not None:
            self.session.check_tokens(wanted)  # a logit bias's tokens are the model's
        self.pending_knobs[name] = value
        if not self.flush_due:
            self.flush_due = True
            self.host.later(self.flush_knobs)
        return wanted

    def flush_knobs(self) -> None:
        """Apply the knob changes waiting (now, or when the running operation ends)."""
        self.flush_due = False
        if not self.pending_knobs or self.session is None or self.busy:
            return
        knobs, self.pending_knobs = self.pending_knobs, {}
        session = self.session
        self.run(lambda: session.configure(**knobs))

    def settle_knobs(self) -> None:
        """Put the knob changes waiting into the session now (the screen is being left)."""
        if self.pending_knobs and self.session is not None and not self.busy:
            self.session.configure(**self.pending_knobs)
            self.pending_knobs = {}

    # ------------------------------------------------------------------ models
    def load(self, spec: Any, *, prompt: str, first: bool = False) -> bool:
        """Load the model ``spec`` in a worker: into the running session (the text so far is
        kept), or a new session on ``prompt`` (``first``, or no session yet). False, with a
        message, while another operation runs."""
        if self.busy:
            self.host.notify("still computing …", timeout=2)
            return False
        self.busy = True
        self.host.in_thread(lambda: self._load(spec, prompt, first), "engine")
        return True

    def _load(self, spec: Any, prompt: str, first: bool) -> None:
        from arlm_tui import paths
        from arlm_tui.decoding.session import Session
        from arlm_tui.lm.registry import load_model

        try:
            model = load_model(paths.user_model(spec))  # served: the visitor's folder only
            if first or self.session is None:
                unknown = unknown_words(model, prompt)
                try:
                    session = Session(model, prompt, self.start_config)
                except ArlmError as exc:  # a logit bias naming a token this model lacks
                    if not self.start_config.logit_bias:
                        raise
                    session = Session(model, prompt, self.start_config.replace(logit_bias={}))
                    self.host.to_ui(functools.partial(
                        self.host.notify, f"{exc}: the logit bias is left out",
                        severity="error", timeout=8))
            else:
                session = self.session
                with self.model_lock:
                    unknown = unknown_words(model, session.text)
                    session.set_model(model)
            snap = snapshot(session)
        except (ArlmError, ValueError, OSError) as exc:
            self.host.to_ui(self._load_failed, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a broken model must not end the app
            self.host.to_ui(self._load_failed, failure_text(exc))
            return
        self.host.to_ui(self._loaded, session, snap, unknown)

    def _loaded(self, session: Session, snap: PlaySnapshot, unknown: list[str]) -> None:
        if not self.host.alive:  # closed while the worker ran
            return
        self.busy = False
        self.queued_steps = 0
        switched = self.session is not None and self.session is session
        self.session = session
        self.snap = snap
        self.host.model_loaded(switched, unknown)

    def _load_failed(self, message: str) -> None:
        if not self.host.alive:  # closed while the worker ran
            return
        self.busy = False
        self.queued_steps = 0
        self.last_error = message
        self.host.notify(message, title="Model", severity="error", timeout=10)
        self.host.model_failed(message)

    # ------------------------------------------------------------------ session files
    def open(self, path: Path, *, model_choice: str | None = None) -> bool:
        """Replay a saved session: load it in a worker and go back to its prompt.

        The file's "model" field is data, not a command: a model installed here (or the one in
        use) is loaded as named; anything else (an unknown name, a path, hf:) is only loaded
        after the learner says so (the host asks; ``model_choice``: "named" loads it,
        "current" replays with the model in use)."""
        if self.busy:
            self.host.notify("still computing …", timeout=2)
            return False
        self.busy = True
        self.host.in_thread(lambda: self._open(path, model_choice), "engine")
        return True

    def _open(self, path: Path, model_choice: str | None) -> None:
        from arlm_tui import paths
        from arlm_tui.decoding.session import Session
        from arlm_tui.lm.registry import list_models, load_model

        current = self.session.model if self.session is not None else None
        try:
            text = read_session_file(path)
            named = session_model_name(text, path)
            installed = {entry.name for entry in list_models()}
            if model_choice is None and named not in installed and (
                    current is None or named != current.name):
                self.host.to_ui(self._ask_about_model, path, named)
                return
            if model_choice == "current" and current is not None:
                session = Session.from_json(text, model=current)
            else:
                def loader(name: str) -> Any:
                    if current is not None and current.name == name:
                        return current
                    return load_model(paths.user_model(name))  # the file's "model" is data

                session = Session.from_json(text, model_loader=loader)
            total = len(session.traces)
            while session.undo():
                pass
            snap = snapshot(session)
        except (ArlmError, ValueError, OSError, UnicodeDecodeError, RecursionError) as exc:
            message = str(exc) if isinstance(exc, ArlmError) else f"{path}: {exc}"
            self.host.to_ui(self._load_failed, message)
            return
        except Exception as exc:  # noqa: BLE001 - a broken model or file must not end the app
            self.host.to_ui(self._load_failed, f"{path}: {failure_text(exc)}")
            return
        self.host.to_ui(self._opened, session, snap, total, path)

    def _ask_about_model(self, path: Path, named: str) -> None:
        self.busy = False
        self.host.ask_about_model(path, named)

    def _opened(self, session: Session, snap: PlaySnapshot, total: int, path: Path) -> None:
        if not self.host.alive:  # closed while the worker ran
            return
        self.busy = False
        self.queued_steps = 0
        self.session = session
        self.snap = snap
        self.host.session_opened(total, path)

    # ------------------------------------------------------------------ analysis views
    def analyse(self, compute: Callable[[], Any],
                deliver: Callable[[Any, str | None], None]) -> None:
        """Run an analysis view's ``compute`` in a worker, then ``deliver(data, error)`` on the
        interface's thread; a result that a newer request overtook is dropped."""
        self.analysis_version += 1
        version = self.analysis_version

        def work() -> None:
            try:
                data = compute()
                error = None
            except (ArlmError, ValueError, OSError, ImportError) as exc:
                data, error = None, str(exc)
            except Exception as exc:  # noqa: BLE001 - a broken model must not end the app
                data, error = None, failure_text(exc)
            if self.host.cancelled():  # a newer request replaced this one
                return
            self.host.to_ui(self._analysed, version, deliver, data, error)

        self.host.in_thread(work, "analysis")

    def _analysed(self, version: int, deliver: Callable[[Any, str | None], None], data: Any,
                  error: str | None) -> None:
        if version == self.analysis_version:
            deliver(data, error)
