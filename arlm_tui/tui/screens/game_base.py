"""What every game screen shares: the progress store, slow work in a thread, the message line,
recording a finished round (xp and new achievements), and the keys to start over or go back.

A game screen is a standalone ``Screen``: it can be pushed by the games menu, by ``arlm games
NAME`` or by any app. It uses the app's ``progress_store`` attribute when there is one, else
opens the store itself (``Store.open()``, under ``$ARLM_HOME``) and closes it when it goes away.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from arlm_tui.errors import ArlmError
from arlm_tui.games.common import GameResult, fresh_seed
from arlm_tui.tui.textual_fixes import thrown_away
from arlm_tui.tui.widgets.footer import ArlmFooter

#: The games' layout, loaded once by Textual for every screen that names it.
GAMES_CSS = "../games.tcss"


class GameScreen(Screen):
    """Base of the game screens. Subclasses set ``GAME_ID``, ``HELP_TITLE``, ``HELP_TEXT``,
    yield their widgets from ``compose_body()`` (and ``compose_controls()``, above the message
    line) and implement ``new_round()``, which runs when the screen is mounted."""

    CSS_PATH = GAMES_CSS
    GAME_ID = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="game.back", tooltip="back to the games menu"),
        Binding("n,ctrl+n", "new_round", "New round", id="game.new",
                tooltip="start a new round with a new seed (ctrl+n while typing)"),
        # shown: while an answer is typed, ? is a character and f1 the only way to help
        Binding("f1", "app.help", "Help", id="game.help",
                tooltip="what this game teaches and every key (? when not typing)"),
    ]

    def __init__(self, *, seed: int | None = None, store: Any = None) -> None:
        super().__init__()
        #: the seed of the round being played (a new one for every new round)
        self.seed = fresh_seed() if seed is None else int(seed)
        self._store = store
        self._owns_store = False
        #: True while a thread job runs (keys that need the engine wait)
        self.busy = False
        #: the last recorded round, and the achievements it unlocked
        self.recorded: GameResult | None = None
        self.unlocked: list[Any] = []
        #: the last message shown (tests read it)
        self.message = ""
        #: the model played with, for games with ``MODEL_BINDING`` (None: the story trigram)
        self.model_name: str | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="game-body"):
            yield Static("", id="game-title")
            yield from self.compose_body()
        with Vertical(id="game-controls"):
            yield from self.compose_controls()
            yield Static("", id="game-message")
        yield ArlmFooter()

    def compose_body(self) -> ComposeResult:
        """The game's widgets, under the title."""
        yield from ()

    def compose_controls(self) -> ComposeResult:
        """Widgets above the message line (an input the learner types in)."""
        yield from ()

    def on_mount(self) -> None:
        self.new_round()

    # ------------------------------------------------------------------ the store
    @property
    def store(self) -> Any:
        if self._store is None:
            self._store = getattr(self.app, "progress_store", None)
        if self._store is None:
            from arlm_tui.learn.store import Store

            self._store = Store.open()
            self._owns_store = True
            if self._store.notice:
                self.notify(self._store.notice, severity="warning", timeout=10)
        return self._store

    def on_unmount(self) -> None:
        if self._owns_store and self._store is not None:
            self._store.close()
            self._store = None

    def record(self, result: GameResult) -> None:
        """Commit a finished round and say what it earned."""
        from arlm_tui.games.progression import record_game

        self.recorded = result
        self.unlocked = record_game(self.store, result)
        lines = [f"+{result.xp} xp · {result.summary}"]
        lines += [f"achievement unlocked: {a.title} ({a.description})" for a in self.unlocked]
        self.notify("\n".join(lines), title="Round recorded", timeout=6)

    # ------------------------------------------------------------------ messages
    def say(self, text: str, *, error: bool = False) -> None:
        """Show one line under the game (errors in the error colour)."""
        self.message = text
        line = self.query_one("#game-message", Static)
        line.set_class(error, "-error")
        line.update(text)

    # ------------------------------------------------------------------ slow work
    def run_job(self, job: Callable[[], Any], done: Callable[[Any], None], what: str) -> None:
        """Run ``job`` in a thread, then ``done(result)`` on the interface's thread; an
        ArlmError (or a crash) is shown on the message line instead."""
        if self.busy:
            self.notify("still working …", timeout=2)
            return
        self.busy = True
        self.say(f"{what} …")
        self._job(job, done)

    @work(thread=True, exclusive=True, group="game")
    def _job(self, job: Callable[[], Any], done: Callable[[Any], None]) -> None:
        try:
            result = job()
        except ArlmError as exc:
            self.app.call_from_thread(self._job_failed, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - show it; the screen must survive
            self.app.call_from_thread(self._job_failed,
                                      f"{exc.__class__.__name__}: {exc}")
            return
        self.app.call_from_thread(self._job_done, done, result)

    def _job_done(self, done: Callable[[Any], None], result: Any) -> None:
        if thrown_away(self):  # closed while the worker ran
            return
        self.busy = False
        self.say("")
        done(result)

    def _job_failed(self, message: str) -> None:
        if thrown_away(self):  # closed while the worker ran
            return
        self.busy = False
        self.say(message, error=True)

    # ------------------------------------------------------------------ keys
    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        else:
            self.app.exit(0)

    def action_new_round(self) -> None:
        if self.busy:
            self.notify("still working …", timeout=2)
            return
        self.seed = fresh_seed()
        self.new_round()

    def action_next_model(self) -> None:
        """F2 in the games with ``MODEL_BINDING``: a new round with the next installed model."""
        if self.busy:
            return
        self.model_name = next_model_name(self.model_name)
        self.new_round()

    def new_round(self) -> None:  # pragma: no cover - every game implements it
        raise NotImplementedError


#: The F2 binding of the games that play with a model of the learner's choice.
MODEL_BINDING = Binding("f2", "next_model", "Model", id="game.model",
                        tooltip="play with the next installed model (a new round)")


def next_model_name(current: str | None) -> str:
    """The model after ``current`` among the story trigram and the installed models."""
    from arlm_tui.games.common import STORY_TRIGRAM, installed_model_names

    names = installed_model_names()
    current = current or STORY_TRIGRAM
    return names[(names.index(current) + 1) % len(names)] if current in names else names[0]
