"""The games menu and the scores screen (``ArlmApp.open_games``; ``arlm games`` opens the app in
games mode).

``GamesScreen`` lists the four games with what each teaches and the learner's level, xp and
streak; ``ScoresScreen`` shows the level bar, where the xp came from, each game's rounds and best
score, and every achievement (unlocked or not). ``game_screen(game_id, ...)`` builds the screen
of one game, for the menu, ``arlm games NAME`` or any other app.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from arlm_tui.games import GAME_BY_ID, GAMES, score_text
from arlm_tui.tui.screens.game_base import GAMES_CSS
from arlm_tui.tui.widgets.footer import ArlmFooter

SCORES = "scores"

HELP_TEXT = (
    "[b]Games[/b]: each game makes you predict before you are shown, and teaches one idea of "
    "the course. Pick one with ↑ ↓ and ⏎ or its number; every round is saved with its xp. "
    "Levels, achievements and the daily streak count lessons and flashcard reviews too."
)


def game_screen(game_id: str, *, seed: int | None = None, model: str | None = None,
                source: str | None = None, store: Any = None) -> Screen:
    """The screen of one game (``model`` is used by name-that-strategy and tune-the-knobs,
    ``source`` by be-the-model); ValueError for an unknown ``game_id``."""
    if game_id == "be-the-model":
        from arlm_tui.tui.screens.game_be_the_model import BeTheModelScreen

        return BeTheModelScreen(source=source or "oracle", seed=seed, store=store)
    if game_id == "name-that-strategy":
        from arlm_tui.tui.screens.game_name_that_strategy import NameThatStrategyScreen

        return NameThatStrategyScreen(model=model, seed=seed, store=store)
    if game_id == "beat-greedy":
        from arlm_tui.tui.screens.game_beat_greedy import BeatGreedyScreen

        return BeatGreedyScreen(seed=seed, store=store)
    if game_id == "tune-the-knobs":
        from arlm_tui.tui.screens.game_tune_the_knobs import TuneTheKnobsScreen

        return TuneTheKnobsScreen(model=model, seed=seed, store=store)
    if game_id == SCORES:
        return ScoresScreen(store=store)
    raise ValueError(f"game_id must be one of {', '.join(GAME_BY_ID)}, {SCORES}; "
                     f"got {game_id!r}")


def _store_of(screen: Screen, store: Any) -> tuple[Any, bool]:
    """(store, opened here?): the given one, the app's ``progress_store``, or a new one."""
    if store is not None:
        return store, False
    app_store = getattr(screen.app, "progress_store", None)
    if app_store is not None:
        return app_store, False
    from arlm_tui.learn.store import Store

    return Store.open(), True


def level_bar(fraction: float, width: int = 20) -> str:
    filled = int(round(min(max(fraction, 0.0), 1.0) * width))
    return "█" * filled + "·" * (width - filled)


def progress_text(p: Any) -> Text:
    """Level, xp bar, streak, on two lines."""
    text = Text()
    text.append(f"level {p.level} · {p.title}", style="bold")
    text.append(f"   {p.xp} xp  ")
    text.append(level_bar(p.level_fraction), style="green")
    text.append(f"  next level at {p.next_level} xp\n", style="dim")
    days = "day" if p.streak == 1 else "days"
    text.append(f"streak {p.streak} {days}", style="bold")
    text.append(f" (best {p.best_streak})", style="dim")
    text.append(" · today: " + ("done ✓" if p.active_today else "nothing yet"), style="dim")
    return text


class GamesScreen(Screen):
    """The games menu."""

    CSS_PATH = GAMES_CSS
    HELP_TITLE = "Games"
    HELP_TEXT = HELP_TEXT
    AUTO_FOCUS = "#games-menu"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(i), f"open('{g.id}')", g.title, show=False, id=f"games.{g.id}",
                  tooltip=f"play {g.title}") for i, g in enumerate(GAMES, start=1)),
        Binding("s", f"open('{SCORES}')", "Scores", id="games.scores",
                tooltip="xp, level, streak, best scores and achievements"),
        Binding("escape", "back", "Back", id="games.back", tooltip="leave the games"),
    ]

    def __init__(self, *, model: str | None = None, source: str | None = None,
                 store: Any = None) -> None:
        super().__init__()
        self.model = model
        self.source = source
        self._given_store = store
        self._store: Any = None
        self._owns_store = False

    @property
    def store(self) -> Any:
        if self._store is None:
            self._store, self._owns_store = _store_of(self, self._given_store)
        return self._store

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="games-body"):
            yield Static("", id="games-progress")
            yield OptionList(
                *(Option(self._prompt(i, g.title, g.tagline), id=g.id)
                  for i, g in enumerate(GAMES, start=1)),
                Option(self._prompt("s", "Scores", "xp, level, streak, best scores and "
                                    "achievements"), id=SCORES),
                id="games-menu",
            )
            with VerticalScroll(id="games-teaches-box"):
                yield Static("", id="games-teaches")
        yield ArlmFooter()

    @staticmethod
    def _prompt(key: Any, title: str, line: str) -> Text:
        text = Text()
        text.append(title, style="bold")
        text.append(f"  [{key}]", style="dim")
        text.append(f"\n  {line}", style="dim")
        return text

    def on_mount(self) -> None:
        self.refresh_progress()

    def on_screen_resume(self) -> None:
        self.refresh_progress()

    def on_unmount(self) -> None:
        if self._owns_store and self._store is not None:
            self._store.close()
            self._store = None

    def refresh_progress(self) -> None:
        """Redraw level, xp and streak, first unlocking what lessons and reviews earned."""
        from arlm_tui.games.progression import progress, unlock_achievements

        try:
            panel = self.query_one("#games-progress", Static)
        except NoMatches:  # closed by a fast key before it finished opening: nothing to draw
            return
        for achievement in unlock_achievements(self.store):
            self.notify(f"{achievement.title} ({achievement.description})",
                        title="Achievement unlocked", timeout=6)
        panel.update(progress_text(progress(self.store)))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        game = GAME_BY_ID.get(event.option.id or "")
        teaches = self.query_one("#games-teaches", Static)
        teaches.update(game.teaches if game else "Your progress in lessons, reviews and games.")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.action_open(event.option.id)

    def action_open(self, game_id: str, seed: int | None = None) -> None:
        """Push one game's screen (or the scores) over the menu."""
        self.app.push_screen(game_screen(game_id, seed=seed, model=self.model,
                                         source=self.source, store=self.store))

    def action_back(self) -> None:
        """Leave the games (``arlm games``: the app opened on this menu quits)."""
        self.dismiss()


class ScoresScreen(Screen):
    """Level, xp, streak, each game's record and the achievements."""

    CSS_PATH = GAMES_CSS
    HELP_TITLE = "Scores"
    HELP_TEXT = (
        "[b]Scores[/b]: xp come from game rounds, achievements, flashcard reviews, answers to "
        "lesson questions and lessons read; the streak counts the days in a row with any of "
        "them. Everything is kept in the progress store and survives a crash."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="scores.back", tooltip="back to the games menu"),
    ]

    def __init__(self, *, store: Any = None) -> None:
        super().__init__()
        self._given_store = store
        self._store: Any = None
        self._owns_store = False
        #: the Progress shown (tests read it)
        self.progress: Any = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="scores-body"):
            yield Static("", id="scores-level")
            yield Static("", id="scores-xp")
            yield Static("", id="scores-games")
            yield Static("", id="scores-achievements")
        yield ArlmFooter()

    def on_mount(self) -> None:
        from arlm_tui.games.progression import progress, unlock_achievements

        self._store, self._owns_store = _store_of(self, self._given_store)
        unlock_achievements(self._store)  # what lessons and reviews earned since
        p = self.progress = progress(self._store)
        self.query_one("#scores-level", Static).update(progress_text(p))
        sources = " · ".join(f"{name} {xp}" for name, xp in p.xp_sources.items())
        self.query_one("#scores-xp", Static).update(Text(f"xp from: {sources}", style="dim"))

        games = Table(title=Text("Games", style="bold"), title_justify="left", expand=True,
                      box=None, padding=(0, 1))
        games.add_column("game", no_wrap=True)
        games.add_column("rounds", justify="right")
        games.add_column("best", justify="right")
        games.add_column("last round", ratio=1)
        for g in p.games:
            best = "–" if g.best is None else score_text(g.game, g.best)
            games.add_row(g.title, str(g.played), best, g.last or "not played yet")
        self.query_one("#scores-games", Static).update(games)

        table = Table(title=Text("Achievements", style="bold"), title_justify="left",
                      expand=True, box=None, padding=(0, 1), show_header=False)
        table.add_column("", no_wrap=True)
        table.add_column("title", no_wrap=True)
        table.add_column("what", ratio=1)
        for achievement, when in p.achievements:
            if when is None:
                table.add_row(Text("·", style="dim"), Text(achievement.title, style="dim"),
                              Text(achievement.description, style="dim"))
            else:
                day = when.astimezone().strftime("%Y-%m-%d")
                table.add_row(Text("✓", style="green"), Text(achievement.title, style="bold"),
                              f"{achievement.description} ({day})")
        self.query_one("#scores-achievements", Static).update(table)

    def on_unmount(self) -> None:
        if self._owns_store and self._store is not None:
            self._store.close()
            self._store = None

    def action_back(self) -> None:
        self.dismiss()

