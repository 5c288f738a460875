"""The *Be the model* screen: bet on the next word, see the truth and the loss, and at the end of
the round compare your perplexity with the models' (engine: ``arlm_tui.games.be_the_model``)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from arlm_tui.games import be_the_model as game
from arlm_tui.numbers import fmt_perplexity, fmt_prob
from arlm_tui.tui.screens.game_base import GameScreen

HELP_TEXT = (
    f"[b]{game.TITLE}[/b]: {game.TEACHES}\n\n"
    f"Type a bet and press ⏎: [b]shell:6 boat:3 net:1[/b] spreads {game.POINTS} points over up "
    f"to {game.MAX_WORDS} words; [b]shell 70%[/b] bets one word with a confidence; a bare word "
    f"bets everything on it. {game.FLOOR_MASS:.0%} of the probability (and any unspent points) "
    "is always spread evenly over every word, so a miss costs a lot but never infinitely much."
)


fmt_p = fmt_prob  # one number format across the app


class BeTheModelScreen(GameScreen):
    """Predict the next words of a held-out text as probability distributions."""

    GAME_ID = game.GAME_ID
    HELP_TITLE = game.TITLE
    HELP_TEXT = HELP_TEXT
    AUTO_FOCUS = "#btm-bet"
    BINDINGS: ClassVar[list[BindingType]] = [
        *GameScreen.BINDINGS,
        Binding("f2", "switch_source", "Other text", id="btm.source",
                tooltip="switch between oracle-language stories and the Python reference "
                "(a new round)"),
    ]

    def __init__(self, *, source: str = "oracle", seed: int | None = None, store: Any = None,
                 installed: bool = True) -> None:
        super().__init__(seed=seed, store=store)
        if source not in game.SOURCES:
            raise ValueError(f"source must be one of {', '.join(game.SOURCES)}, got {source!r}")
        self.source = source
        #: also compare with installed models that share the text's tokenizer
        self.installed = installed
        self.round: game.BeTheModelRound | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="btm-text")
        yield Static("", id="btm-reveal")
        yield Static("", id="btm-scores")

    def compose_controls(self) -> ComposeResult:
        yield Input(placeholder="shell:6 boat:3 net:1   or   shell 70%   then ⏎",
                    id="btm-bet", disabled=True)

    def on_mount(self) -> None:
        # runs before GameScreen.on_mount, which starts the first round
        self.query_one("#btm-text").border_title = "the text so far"

    # ------------------------------------------------------------------ a round
    def action_switch_source(self) -> None:
        if self.busy:
            return
        names = list(game.SOURCES)
        self.source = names[(names.index(self.source) + 1) % len(names)]
        self.new_round()

    def new_round(self) -> None:
        source, seed, installed = self.source, self.seed, self.installed
        self.round = None
        self.query_one("#btm-bet", Input).disabled = True
        for part in ("#btm-reveal", "#btm-scores"):
            self.query_one(part, Static).update("")
        self._draw_title()

        def make() -> game.BeTheModelRound:
            contenders = game.default_contenders(source)
            if installed:
                contenders += game.installed_contenders(
                    source, exclude=[c.name for c in contenders])
            return game.BeTheModelRound(source, seed, contenders=contenders)

        self.run_job(make, self._ready, "reading a held-out text and loading the models")

    def _ready(self, round_: game.BeTheModelRound) -> None:
        self.round = round_
        bet = self.query_one("#btm-bet", Input)
        bet.disabled = False
        bet.value = ""
        bet.focus()
        self._draw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        round_ = self.round
        if round_ is None or round_.done or self.busy:
            return
        try:
            bet = round_.parse(event.value)
        except game.BetError as exc:
            self.say(str(exc), error=True)
            return
        self.say("")
        reveal = round_.guess(bet)
        event.input.value = ""
        self._draw(reveal)
        if round_.done:
            event.input.disabled = True
            self.record(round_.result())
            self.say("round over: n starts a new one, esc goes back")

    # ------------------------------------------------------------------ drawing
    def _draw_title(self) -> None:
        round_ = self.round
        where = game.SOURCES[self.source]
        text = Text()
        text.append(game.TITLE, style="bold")
        text.append(f" · {where} · seed {self.seed}", style="dim")
        if round_ is not None:
            shown = min(round_.index + 1, round_.length)
            text.append(f" · word {shown} of {round_.length}" if not round_.done
                        else " · round over", style="bold")
        self.query_one("#game-title", Static).update(text)

    def _draw(self, reveal: game.Reveal | None = None) -> None:
        round_ = self.round
        if round_ is None:
            return
        self._draw_title()
        decode = round_.tokenizer.decode
        text = Text(decode(round_.tokens[:round_.start]))
        for i, r in enumerate(round_.reveals):
            # revealed words coloured by the probability you gave them
            style = "bold green" if r.probability >= 0.1 else "bold yellow" if (
                r.probability >= 0.01) else "bold red"
            previous = round_.tokens[round_.start + i - 1]
            if decode([previous, r.truth_id]).startswith(decode([previous]) + " "):
                text.append(" ")
            text.append(decode([r.truth_id]), style=style)
        if not round_.done:
            text.append(" ▁▁▁", style="reverse")
        self.query_one("#btm-text", Static).update(text)
        if reveal is not None:
            self.query_one("#btm-reveal", Static).update(self._reveal_text(reveal))
        elif not round_.reveals:
            self.query_one("#btm-reveal", Static).update(Text(
                f"What comes next? Bet {game.POINTS} points on up to {game.MAX_WORDS} words "
                "(shell:6 boat:3 net:1) or one word with a confidence (shell 70%), then ⏎. "
                "f1 explains the scoring.", style="dim"))
        self.query_one("#btm-scores", Static).update(self._scores())

    def _reveal_text(self, r: game.Reveal) -> Text:
        text = Text()
        text.append("next word: ")
        text.append(r.truth, style="bold")
        text.append(f" · you gave it q = {fmt_p(r.probability)} → loss ")
        text.append(f"{r.loss:.2f} nats", style="bold")
        text.append("\n" + " · ".join(f"{name} p = {fmt_p(p)}"
                                      for name, p in r.model_probabilities), style="dim")
        who = "the truth's" if r.entropy is not None else "the model's"
        bets = ", ".join(f"{word} {p:.2f}" for word, p in r.best_bets)
        text.append(f"\n{who} best bets: {bets}", style="dim")
        if r.entropy is not None:
            text.append(f" (entropy {abs(r.entropy):.2f} nats)", style="dim")
        return text

    def _scores(self) -> Text | Table:
        round_ = self.round
        if round_ is None or not round_.reveals:
            return Text("")
        if not round_.done:
            return Text(f"so far: your cross-entropy {round_.cross_entropy:.2f} nats/word, "
                        f"perplexity {round_.perplexity:.1f}", style="dim")
        rows = round_.scores()
        expected = all(row.expected is not None for row in rows)
        table = Table(title=Text(f"the round: {round_.length} words", style="bold"),
                      title_justify="left", box=None, padding=(0, 1), expand=False)
        table.add_column("who")
        if expected:
            table.add_column("expected", justify="right")
            table.add_column("PP", justify="right")
        table.add_column("realised" if expected else "nats/word", justify="right")
        table.add_column("PP" if expected else "perplexity", justify="right")
        table.add_column("")

        for row in rows:
            style = "bold" if row.kind == "you" else "dim" if row.kind == "floor" else ""
            cells = [Text(row.name, style=style)]
            if expected:
                cells += [f"{row.expected:.2f}", fmt_perplexity(row.expected_perplexity)]
            if row.kind == "floor":
                cells += ["", ""]
            else:
                cells += [f"{row.cross_entropy:.2f}", fmt_perplexity(row.perplexity)]
            table.add_row(*cells, Text(row.note, style="dim"))
        if not expected:
            return table
        legend = Text(
            "\nexpected: mean over the steps of H(p, q) = H(p) + KL(p ‖ q), the loss q pays on "
            "average when the truth p picks the word; ranked by it, nobody is below the floor. "
            "realised: the loss on the words this story happened to use, which can dip below "
            "the floor when they were likely ones.", style="dim")
        return Group(table, legend)
