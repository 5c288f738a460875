"""The arlm Textual application: the screen stack, the global keys, themes and the entry points.

One app with modes (``MODES``): ``run_app()`` opens the home screen; ``run_app("play",
model=..., prompt=..., strategy=..., knobs=...)`` opens the play screen directly (with the home
screen under it, so escape leads home); ``run_app("review")`` is ``arlm cards review`` and
``run_app("games", game=..., seed=...)`` is ``arlm games``: both quit when their first screen
is left. Screens move to another screen through the app's ``open_*`` methods, never by
importing each other. The commands live in ``arlm_tui.cli`` (which does not import Textual
until a command runs).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from arlm_tui.tui.settings import DARK_THEME, LIGHT_THEME, Settings

#: What the app opens on: the home screen, or the screen a command asked for (play and review
#: over the home screen, the games menu alone).
MODES = ("home", "play", "review", "games")


class ArlmApp(App[int]):
    """arlm's full-screen interface."""

    # learn.tcss and games.tcss come with their screens (each declares its CSS_PATH): the
    # home screen's first frame does not parse them
    CSS_PATH = "app.tcss"
    TITLE = "arlm"
    SUB_TITLE = "how language models generate text"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [
        (0, "-tiny"), (70, "-narrow"), (90, "-normal"), (140, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [
        (0, "-short"), (24, "-tall"), (32, "-roomy"), (44, "-very-tall")]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?", id="app.help",
                tooltip="List every key of this screen"),
        Binding("ctrl+t", "toggle_theme", "Theme", id="app.theme",
                tooltip="Switch between the light and the dark theme"),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit",
                tooltip="quit arlm"),
        Binding("ctrl+e", "save_svg", "Screenshot", show=False, priority=True, id="app.svg",
                tooltip="save an SVG picture of this screen in the data directory"),
    ]

    def __init__(
        self,
        initial: str = "home",
        *,
        model: Any = None,
        prompt: str = "",
        strategy: str | None = None,
        knobs: dict[str, Any] | None = None,
        game: str | None = None,
        seed: int | None = None,
        source: str | None = None,
        store: Any = None,
        settings: Settings | None = None,
        save_settings: bool = True,
    ) -> None:
        """``initial``: one of ``MODES``. play: ``model``, ``prompt``, ``strategy``, ``knobs``;
        games: ``game`` (a game id or "scores", None for the menu), ``seed``, ``model`` and
        ``source``. ``store``: a progress store to use (and not close) instead of the
        learner's."""
        from arlm_tui.tui import textual_fixes

        textual_fixes.install()
        super().__init__()
        if initial not in MODES:
            raise ValueError(f"initial must be one of {', '.join(MODES)}, got {initial!r}")
        if initial == "games":
            from arlm_tui.games import GAME_BY_ID

            if game is not None and game not in (*GAME_BY_ID, "scores"):
                raise ValueError(f"game must be a game id or 'scores', got {game!r}")
            self.title, self.sub_title = "arlm games", "predict before you are shown"
        self.settings = settings if settings is not None else Settings.load()
        self._save_settings = save_settings
        self._initial = initial
        self._play_args = {"model": model, "prompt": prompt, "strategy": strategy,
                           "knobs": dict(knobs or {})}
        self._games_args = {"game": game, "seed": seed, "model": model, "source": source}
        self._progress_store: Any = store
        self._owns_store = store is None
        #: the play session left with escape, taken up again by the next plain "Play"
        self.play_resume: Any = None

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Textual's notification, never stacked: while the same message (title, severity) is
        still shown, saying it again adds nothing (26 quick backspaces: one "nothing to
        undo", gone after its timeout)."""
        for shown in list(self._notifications):
            if (shown.message == message and shown.title == title
                    and shown.severity == severity and not shown.has_expired):
                return
        super().notify(message, title=title, severity=severity, timeout=timeout,
                       markup=markup)

    @property
    def progress_store(self) -> Any:
        """The learner's progress store, opened on first use (a broken one is moved aside)."""
        if self._progress_store is None:
            from arlm_tui.learn.store import Store

            self._progress_store = Store.open()
            # A write that fails later (read-only, locked, disk full) is kept and retried by the
            # store; the learner hears about it here, from whichever thread wrote.
            self._progress_store.on_message = self._progress_message
            if self._progress_store.notice:
                self.notify(self._progress_store.notice, severity="warning", timeout=10)
        return self._progress_store

    def _progress_message(self, message: str, severity: str) -> None:
        self.notify(message, severity=severity, timeout=8)  # notify is thread-safe

    def _retry_progress(self) -> None:
        store = self._progress_store
        if store is not None and store.unsaved and not store.read_only:
            store.retry_unsaved()

    def on_unmount(self) -> None:
        if self._progress_store is not None and self._owns_store:
            self._progress_store.close()

    def on_mount(self) -> None:
        from arlm_tui.tui.screens.home import HomeScreen

        if self.is_web:
            # in a browser through any server (`textual serve` too), typed paths stay in the
            # data folder as under `arlm serve` (paths.user_path)
            import os

            from arlm_tui import paths

            os.environ.setdefault(paths.SERVED_ENV, str(paths.user_home()))
        # answers kept in memory after a failed save (a lock, a full disk) are retried
        self.set_interval(30, self._retry_progress)

        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        if self._initial == "games":  # the games menu first: leaving it quits
            self.open_games(**self._games_args, exit_after=True)
            return
        self.push_screen(HomeScreen())
        if self._initial == "play":
            self.open_play(**self._play_args)
        elif self._initial == "review":
            self.open_review(exit_after=True)

    # ------------------------------------------------------------------ navigation
    def open_play(self, *, model: Any = None, prompt: str = "", strategy: str | None = None,
                  knobs: dict[str, Any] | None = None) -> None:
        """Push the play screen (the model is loaded by the screen, errors shown there). With
        nothing asked for, the session left earlier (model, text, knobs, history) resumes."""
        from arlm_tui.tui.screens.play import PlayScreen

        if (self.play_resume is not None and model is None and not prompt
                and strategy is None and not knobs):
            self.push_screen(PlayScreen(resume=self.play_resume))
            return
        self.push_screen(
            PlayScreen(model=model if model is not None else self.settings.model,
                       prompt=prompt, strategy=strategy, knobs=knobs)
        )

    def open_settings(self) -> None:
        from arlm_tui.tui.screens.settings import SettingsScreen

        self.push_screen(SettingsScreen())

    def open_lessons(self) -> None:
        from arlm_tui.tui.screens.lessons import LessonListScreen

        self.push_screen(LessonListScreen(self.progress_store))

    def open_review(self, deck: Any = None, *, clock: Any = None,
                    exit_after: bool = False) -> None:
        """The flashcard review screen (of ``deck``, by default the learner's cards);
        ``exit_after`` quits when it closes (arlm cards review)."""
        from arlm_tui.learn.cards import Deck
        from arlm_tui.tui.screens.review import ReviewScreen

        deck = deck if deck is not None else Deck.load(self.progress_store)
        self.push_screen(
            ReviewScreen(deck, **({} if clock is None else {"clock": clock})),
            (lambda _done: self.exit(0)) if exit_after else None,
        )

    def open_stats(self, deck: Any = None, *, clock: Any = None) -> None:
        """The flashcard statistics (of ``deck``, by default the learner's cards)."""
        from arlm_tui.learn.cards import Deck
        from arlm_tui.tui.screens.stats import StatsScreen

        deck = deck if deck is not None else Deck.load(self.progress_store)
        self.push_screen(StatsScreen(deck, **({} if clock is None else {"clock": clock})))

    def open_games(self, game: str | None = None, *, seed: int | None = None,
                   model: str | None = None, source: str | None = None,
                   exit_after: bool = False) -> None:
        """The games menu, with ``game`` (a game id or "scores") opened over it; ``exit_after``
        quits when the menu closes (arlm games)."""
        from arlm_tui.tui.screens.games import GamesScreen

        menu = GamesScreen(model=model, source=source, store=self.progress_store)
        self.push_screen(menu, (lambda _result: self.exit(0)) if exit_after else None)
        if game is not None:
            menu.action_open(game, seed=seed)

    def action_help(self) -> None:
        from arlm_tui.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
            return
        self.push_screen(HelpScreen(self.screen))

    def action_save_svg(self) -> None:
        from arlm_tui.tui.share import save_screen_svg

        save_screen_svg(self)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Textual's screenshot action (a key or a link may name any folder and file): ours,
        into the data directory, whatever was named."""
        self.action_save_svg()

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME

    def watch_theme(self, theme: str) -> None:
        if self.settings.theme != theme:
            self.settings.theme = theme
            if self._save_settings:
                self.settings.save()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":  # Textual's saves to the working directory
                command = SystemCommand(
                    "Screenshot", "Save an SVG picture of this screen in the data directory "
                    "(ctrl+e)", lambda: self.set_timer(0.1, self.action_save_svg))
            yield command
        yield SystemCommand("Toggle light/dark theme", "Switch between the light and dark themes",
                            self.action_toggle_theme)
        yield SystemCommand("Help: every key", "List every key of the current screen",
                            self.action_help)
        from arlm_tui.tui.screens.help import binding_commands

        yield from binding_commands(screen)  # every key of the screen and the focused widget


def run_app(
    initial: str = "home",
    *,
    model: Any = None,
    prompt: str = "",
    strategy: str | None = None,
    knobs: dict[str, Any] | None = None,
    **mode: Any,
) -> int:
    """Run the interface until the learner quits; returns the exit status (0). ``mode``: the
    other options of ``ArlmApp`` (games: ``game``, ``seed``, ``source``)."""
    app = ArlmApp(initial, model=model, prompt=prompt, strategy=strategy, knobs=knobs, **mode)
    result = app.run()
    return int(result or 0)
