"""The *Name that strategy* screen: read three continuations, say which strategy wrote each
(keys 1-3 in the order A, B, C), then read why (engine: ``arlm_tui.games.name_that_strategy``)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from arlm_tui.games import name_that_strategy as game
from arlm_tui.games.common import STORY_TRIGRAM, load_game_model
from arlm_tui.tui.screens.game_base import MODEL_BINDING, GameScreen

HELP_TEXT = (
    f"[b]{game.TITLE}[/b]: {game.TEACHES}\n\n"
    "Press 1, 2 or 3 to give text A its strategy, then B (C gets the one left); backspace "
    "takes an answer back. Every puzzle uses one deterministic strategy (greedy or beam "
    "search), one tempered sampler (T = 0.7, top-p 0.9 or top-k 10) and one hot sampler "
    "(T = 1.5 or plain sampling)."
)


class NameThatStrategyScreen(GameScreen):
    """Match three continuations to the hidden strategies that wrote them."""

    GAME_ID = game.GAME_ID
    HELP_TITLE = game.TITLE
    HELP_TEXT = HELP_TEXT
    BINDINGS: ClassVar[list[BindingType]] = [
        *GameScreen.BINDINGS,
        MODEL_BINDING,
        *(Binding(str(i), f"assign({i})", "Name it" if i == 1 else f"Strategy {i}",
                  show=i == 1, key_display="1-3" if i == 1 else None, id=f"nts.assign{i}",
                  tooltip=f"the next text was written by strategy {i}") for i in (1, 2, 3)),
        Binding("backspace", "undo", "Undo", id="nts.undo", tooltip="take the last answer back"),
    ]

    def __init__(self, *, model: str | None = None, seed: int | None = None,
                 store: Any = None) -> None:
        super().__init__(seed=seed, store=store)
        self.model_name = model
        self.puzzle: game.NameThatStrategyPuzzle | None = None
        #: letter -> strategy id, in the order given
        self.answer: dict[str, str] = {}
        self.verdict: game.Verdict | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="nts-prompt")
        for letter in game.LETTERS:
            yield Static("", id=f"nts-{letter}", classes="nts-text")
        yield Static("", id="nts-options")
        yield Static("", id="nts-answer")

    # ------------------------------------------------------------------ a round
    def new_round(self) -> None:
        self.puzzle = None
        self.answer = {}
        self.verdict = None
        model, seed = self.model_name, self.seed
        self._draw()

        def make() -> game.NameThatStrategyPuzzle:
            return game.NameThatStrategyPuzzle(load_game_model(model, game.TITLE), seed)

        self.run_job(make, self._ready, "three strategies are writing")

    def _ready(self, puzzle: game.NameThatStrategyPuzzle) -> None:
        self.puzzle = puzzle
        self._draw()

    def action_assign(self, number: int) -> None:
        puzzle = self.puzzle
        if puzzle is None or self.verdict is not None:
            return
        strategy = puzzle.options[number - 1]
        if strategy.id in self.answer.values():
            self.say(f"{strategy.label} is already given to another text", error=True)
            return
        self.say("")
        letters = [letter for letter in game.LETTERS if letter not in self.answer]
        self.answer[letters[0]] = strategy.id
        if len(letters) == 2:  # the last text gets the last strategy
            left = [s for s in puzzle.options if s.id not in self.answer.values()]
            self.answer[letters[1]] = left[0].id
        if len(self.answer) == len(game.LETTERS):
            self.verdict = puzzle.grade(self.answer)
            self.record(puzzle.result(self.verdict))
            self.say("n starts a new puzzle, esc goes back")
        self._draw()

    def action_undo(self) -> None:
        if self.verdict is not None or not self.answer:
            return
        self.answer.pop(list(self.answer)[-1])
        self._draw()

    # ------------------------------------------------------------------ drawing
    def _draw(self) -> None:
        puzzle = self.puzzle
        title = Text()
        title.append(game.TITLE, style="bold")
        model = puzzle.model.name if puzzle else (self.model_name or STORY_TRIGRAM)
        title.append(f" · model {model} · seed {self.seed}", style="dim")
        self.query_one("#game-title", Static).update(title)
        if puzzle is None:
            for part in ("#nts-prompt", "#nts-options", "#nts-answer",
                         *(f"#nts-{letter}" for letter in game.LETTERS)):
                self.query_one(part, Static).update("")
            return
        prompt = Text("prompt: ", style="dim")
        prompt.append(puzzle.prompt_text or "(the start of a text)", style="bold")
        self.query_one("#nts-prompt", Static).update(prompt)
        by_id = game.STRATEGY_BY_ID
        for c in puzzle.continuations:
            text = Text()
            text.append(f"{c.letter} ", style="bold reverse")
            text.append(" … " + c.text)
            given = self.answer.get(c.letter)
            if self.verdict is not None:
                right = self.verdict.correct[c.letter]
                text.append("\n✓ " if right else "\n✗ ", style="bold green" if right
                            else "bold red")
                if not right:
                    text.append(f"you said {by_id[given].label}; ", style="red")
                text.append(self.verdict.explanations[c.letter], style="")
            elif given is not None:
                text.append(f"\n→ {by_id[given].label}", style="bold")
            self.query_one(f"#nts-{c.letter}", Static).update(text)
        options = Text("strategies: ", style="dim")
        for i, s in enumerate(puzzle.options, start=1):
            used = s.id in self.answer.values()
            options.append(f" {i} ", style="bold reverse" if not used else "dim")
            options.append(f" {s.label}   ", style="dim" if used else "")
        self.query_one("#nts-options", Static).update(options)
        if self.verdict is not None:
            status = Text(f"{self.verdict.score} of 3 right", style="bold")
        else:
            waiting = next(letter for letter in game.LETTERS if letter not in self.answer)
            status = Text(f"which strategy wrote {waiting}? press 1, 2 or 3", style="bold")
        self.query_one("#nts-answer", Static).update(status)
