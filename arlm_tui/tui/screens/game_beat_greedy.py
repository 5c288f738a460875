"""The *Beat greedy* screen: pick the words of a sentence one at a time from the model's
next-word bars, trying to end with a higher total probability than greedy decoding; then see
greedy's, beam search's and exact search's sentences (engine: ``arlm_tui.games.beat_greedy``)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from arlm_tui.games import beat_greedy as game
from arlm_tui.tui.screens.game_base import GameScreen

HELP_TEXT = (
    f"[b]{game.TITLE}[/b]: {game.TEACHES}\n\n"
    f"Every sentence has exactly {game.HORIZON} words; its probability is the product of the "
    "probabilities of its words, each given the word before. ↑ ↓ move the cursor over the next "
    "word's bars, ⏎ takes the word, backspace takes it back."
)

BAR_WIDTH = 30


class ChoiceBars(Widget):
    """The next word's distribution as bars, in ONE widget, with a cursor row."""

    DEFAULT_CSS = """
    ChoiceBars { height: auto; }
    """
    cursor: reactive[int] = reactive(0)

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        #: (token id, word, probability), most probable first
        self.rows: list[tuple[int, str, float]] = []

    def show(self, rows: list[tuple[int, str, float]]) -> None:
        self.rows = rows
        self.cursor = 0
        self.refresh(layout=True)

    def render(self) -> Text:
        text = Text()
        if not self.rows:
            return text
        width = max(len(word) for _, word, _ in self.rows)
        for i, (_, word, p) in enumerate(self.rows):
            here = i == self.cursor
            text.append("▶ " if here else "  ", style="bold")
            text.append(word.ljust(width), style="bold reverse" if here else "bold")
            filled = p * BAR_WIDTH
            bar = "█" * int(filled) + ("▌" if filled - int(filled) >= 0.5 else "")
            text.append(f"  {p:5.3f} ")
            text.append(bar.ljust(BAR_WIDTH), style="green")
            if i < len(self.rows) - 1:
                text.append("\n")
        return text


class BeatGreedyScreen(GameScreen):
    """Build a sentence more probable than greedy's."""

    GAME_ID = game.GAME_ID
    HELP_TITLE = game.TITLE
    HELP_TEXT = HELP_TEXT
    BINDINGS: ClassVar[list[BindingType]] = [
        *GameScreen.BINDINGS,
        # priority: the scrolling body must not take the arrows while there are bars
        Binding("up", "cursor(-1)", "Up", show=False, priority=True, id="bg.up",
                tooltip="previous word"),
        Binding("down", "cursor(1)", "Down", show=False, priority=True, id="bg.down",
                tooltip="next word"),
        Binding("enter", "choose", "Take word", priority=True, id="bg.choose",
                tooltip="add the word under the cursor to the sentence"),
        Binding("backspace", "undo", "Undo", id="bg.undo", tooltip="take the last word back"),
    ]

    def __init__(self, *, seed: int | None = None, store: Any = None) -> None:
        super().__init__(seed=seed, store=store)
        self.play: game.BeatGreedyGame | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="bg-target")
        yield Static("", id="bg-sentence")
        yield ChoiceBars(id="bg-bars")
        yield Static("", id="bg-results")

    # ------------------------------------------------------------------ a round
    def new_round(self) -> None:
        self.play = None
        seed = self.seed
        self.query_one("#bg-results", Static).update("")
        self.run_job(lambda: game.BeatGreedyGame(game.BeatGreedyPuzzle(seed)), self._ready,
                     "drawing a puzzle and checking it with exact search")

    def _ready(self, play: game.BeatGreedyGame) -> None:
        self.play = play
        self._draw()

    def action_cursor(self, delta: int) -> None:
        bars = self.query_one(ChoiceBars)
        if bars.rows:
            bars.cursor = (bars.cursor + delta) % len(bars.rows)
        else:  # the round is over: the arrows scroll the results
            body = self.query_one("#game-body")
            body.scroll_relative(y=delta)

    def action_choose(self) -> None:
        play = self.play
        if play is None or play.done:
            return
        bars = self.query_one(ChoiceBars)
        play.choose(bars.rows[bars.cursor][0])
        if play.done:
            self.record(play.result())
            self.say("n draws a new puzzle, esc goes back")
        self._draw()

    def action_undo(self) -> None:
        play = self.play
        if play is None or play.done or not play.undo():
            return
        self._draw()

    # ------------------------------------------------------------------ drawing
    def _draw(self) -> None:
        play = self.play
        title = Text()
        title.append(game.TITLE, style="bold")
        title.append(f" · seed {self.seed} · sentences of {game.HORIZON} words", style="dim")
        self.query_one("#game-title", Static).update(title)
        if play is None:
            return
        puzzle = play.puzzle
        target = Text("greedy's sentence has probability ")
        target.append(f"{puzzle.greedy.probability:.4f}", style="bold")
        target.append(f"  (log p = {puzzle.greedy.logprob:.3f}); words: "
                      f"{', '.join(puzzle.words)}", style="dim")
        self.query_one("#bg-target", Static).update(target)
        sentence = Text("your sentence: ")
        sentence.append(play.text or "…", style="bold")
        p = math.exp(play.logprob)
        sentence.append(f"   p = {p:.4f}", style="bold")
        ratio = p / puzzle.greedy.probability
        if play.ids:
            sentence.append(f"  ({ratio:.2f}× greedy's)" if play.done else
                            f"  ({ratio:.2f}× greedy's so far; each word multiplies in a p ≤ 1)", style="dim")
        self.query_one("#bg-sentence", Static).update(sentence)
        bars = self.query_one(ChoiceBars)
        if play.done:
            bars.show([])
            bars.display = False
            self.query_one("#bg-results", Static).update(self._results())
        else:
            bars.display = True
            bars.border_title = f"word {len(play.ids) + 1} of {game.HORIZON}: ⏎ takes it"
            bars.show(play.choices())
            self.query_one("#bg-results", Static).update("")

    def _results(self) -> Table:
        play = self.play
        assert play is not None
        puzzle = play.puzzle
        score = play.score()
        verdict = ("you found the most probable sentence!" if score == 3 else
                   "you beat greedy" if score == 2 else "a tie with greedy" if score == 1
                   else "greedy wins this time")
        rank = puzzle.rank_of(tuple(play.ids))
        table = Table(title=Text(f"{verdict} · yours ranks {rank} of {len(puzzle.ranked)}",
                                 style="bold"),
                      title_justify="left", box=None, padding=(0, 1), expand=False)
        table.add_column("who")
        table.add_column("sentence")
        table.add_column("p", justify="right")
        table.add_column("log p", justify="right")
        rows = [game.Path("you", tuple(play.ids), play.text, play.logprob), puzzle.greedy,
                *puzzle.beams, puzzle.best]
        for path in rows:
            style = "bold" if path.label == "you" else ""
            table.add_row(Text(path.label, style=style), path.text, f"{path.probability:.4f}",
                          f"{path.logprob:.3f}")
        return table
