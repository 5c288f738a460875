"""The *Tune the knobs* screen: set temperature, top-k and top-p, run 20 samples, and see if
their diversity and mean NLL meet the target; fewer tries score better (engine:
``arlm_tui.games.tune_the_knobs``)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from arlm_tui.games import tune_the_knobs as game
from arlm_tui.games.common import STORY_TRIGRAM, load_game_model
from arlm_tui.tui.screens.game_base import MODEL_BINDING, GameScreen

HELP_TEXT = (
    f"[b]{game.TITLE}[/b]: {game.TEACHES}\n\n"
    "Type the knobs (tab moves between them; top-k 0 and top-p 1 mean off) and press ⏎ to "
    f"draw {game.SAMPLES} samples of up to {game.MAX_TOKENS} tokens. distinct-n is the share "
    "of different n-grams among all the samples' n-grams; mean NLL is −log p per token under "
    "the model itself. The same knobs always give the same samples. ctrl+g gives up and shows "
    "a setting that works."
)

#: (knob, label) of the three inputs.
FIELDS = (("temperature", "T"), ("top_k", "top-k"), ("top_p", "top-p"))


def parse_setting(values: dict[str, str]) -> game.Setting:
    """The three typed knobs as a Setting; ValueError with a one-line reason."""
    parsed: dict[str, Any] = {}
    for name, _ in FIELDS:
        text = values[name].strip().lower()
        if text == "off":
            parsed[name] = game.DEFAULT_SETTING[name]
            continue
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {values[name]!r}") from None
        if name == "top_k":
            if not number.is_integer():
                raise ValueError(f"top_k must be a whole number (0 = off), got {values[name]!r}")
            number = int(number)
        parsed[name] = number
    return game.Setting(**parsed)


class TuneTheKnobsScreen(GameScreen):
    """Reach a diversity-quality target in as few tries as you can."""

    GAME_ID = game.GAME_ID
    HELP_TITLE = game.TITLE
    HELP_TEXT = HELP_TEXT
    AUTO_FOCUS = "#ttk-temperature"
    BINDINGS: ClassVar[list[BindingType]] = [
        *GameScreen.BINDINGS,
        MODEL_BINDING,
        Binding("ctrl+g", "give_up", "Give up", id="ttk.give_up",
                tooltip="end the challenge and see a setting that meets the target"),
    ]

    def __init__(self, *, model: str | None = None, seed: int | None = None,
                 store: Any = None) -> None:
        super().__init__(seed=seed, store=store)
        self.model_name = model
        self.challenge: game.TuneTheKnobsChallenge | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="ttk-target")
        with Horizontal(id="ttk-knobs"):
            for name, label in FIELDS:
                yield Label(label, classes="ttk-label")
                yield Input(str(game.DEFAULT_SETTING[name]), id=f"ttk-{name}",
                            classes="ttk-knob", disabled=True)
        yield Static("", id="ttk-tries")
        yield Static("", id="ttk-samples")

    # ------------------------------------------------------------------ a round
    def _inputs(self) -> list[Input]:
        return [self.query_one(f"#ttk-{name}", Input) for name, _ in FIELDS]

    def new_round(self) -> None:
        self.challenge = None
        for field in self._inputs():
            field.disabled = True
        model, seed = self.model_name, self.seed
        self._draw()

        def make() -> game.TuneTheKnobsChallenge:
            return game.TuneTheKnobsChallenge(load_game_model(model, game.TITLE), seed)

        self.run_job(make, self._ready, "choosing a target that can be met")

    def _ready(self, challenge: game.TuneTheKnobsChallenge) -> None:
        self.challenge = challenge
        for field, (name, _) in zip(self._inputs(), FIELDS):
            field.disabled = False
            field.value = f"{game.DEFAULT_SETTING[name]:g}"
        self._inputs()[0].focus()
        self._draw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        challenge = self.challenge
        if challenge is None or challenge.over or self.busy:
            return
        try:
            setting = parse_setting({name: self.query_one(f"#ttk-{name}", Input).value
                                     for name, _ in FIELDS})
        except ValueError as exc:
            self.say(str(exc), error=True)
            return
        self.run_job(lambda: challenge.run(setting), self._ran,
                     f"drawing {game.SAMPLES} samples with {setting.label}")

    def _ran(self, attempt: game.Attempt) -> None:
        challenge = self.challenge
        assert challenge is not None
        if challenge.solved:
            self._finish()
            self.say(f"target met in {challenge.tries} "
                     f"tr{'y' if challenge.tries == 1 else 'ies'}: n for a new target")
        else:
            missed = [c.text for c, held in zip(challenge.target.conditions, attempt.held)
                      if not held]
            self.say("not yet: " + "; ".join(missed) + " failed")
        self._draw()

    def action_give_up(self) -> None:
        challenge = self.challenge
        if challenge is None or challenge.over or self.busy:
            return
        challenge.give_up()
        self._finish()
        self.say(f"a setting that works: {challenge.reference.label}; n for a new target")
        self._draw()

    def _finish(self) -> None:
        assert self.challenge is not None
        for field in self._inputs():
            field.disabled = True
        self.record(self.challenge.result())

    # ------------------------------------------------------------------ drawing
    def _draw(self) -> None:
        challenge = self.challenge
        title = Text()
        title.append(game.TITLE, style="bold")
        model = challenge.model.name if challenge else (self.model_name or STORY_TRIGRAM)
        title.append(f" · model {model} · seed {self.seed}", style="dim")
        self.query_one("#game-title", Static).update(title)
        if challenge is None:
            for part in ("#ttk-target", "#ttk-tries", "#ttk-samples"):
                self.query_one(part, Static).update("")
            return
        target = Text("target: ")
        target.append(challenge.target.text, style="bold")
        target.append("\nprompt: ", style="dim")
        target.append(challenge.prompt_text or "(the start of a text)")
        self.query_one("#ttk-target", Static).update(target)
        self.query_one("#ttk-tries", Static).update(self._tries())
        samples = Text()
        if challenge.attempts:
            last = challenge.attempts[-1].measurement
            samples.append("a few of the last run's samples:\n", style="dim")
            for text in last.texts[:3]:
                samples.append(f"  {challenge.prompt_text} ", style="dim")
                samples.append(text + "\n")
        self.query_one("#ttk-samples", Static).update(samples)

    def _tries(self) -> Table | Text:
        challenge = self.challenge
        assert challenge is not None
        if not challenge.attempts:
            return Text("type the knobs and press ⏎ to draw the samples", style="dim")
        table = Table(box=None, padding=(0, 1), expand=False)
        table.add_column("try", justify="right")
        table.add_column("setting")
        metrics = list(dict.fromkeys(c.metric for c in challenge.target.conditions))
        for metric in metrics:
            table.add_column(game.METRIC_NAMES[metric], justify="right")
        for n, attempt in enumerate(challenge.attempts, start=1):
            cells = []
            for metric in metrics:
                held = all(h for c, h in zip(challenge.target.conditions, attempt.held)
                           if c.metric == metric)
                value = attempt.measurement.value(metric)
                cells.append(Text(f"{value:.2f} {'✓' if held else '✗'}",
                                  style="green" if held else "red"))
            table.add_row(str(n), attempt.setting.label, *cells)
        return table
