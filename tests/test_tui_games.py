"""The game screens driven with Textual's Pilot: a full round of each game, its score on the
screen and in the progress store, the menu and scores screens, and a clear message when a game
needs a model that is not installed."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console
from textual.app import App
from textual.widgets import Input, Static
from tui_helpers import settle

from arlm_tui.games import beat_greedy, name_that_strategy, progression, score_text
from arlm_tui.games import tune_the_knobs as ttk
from arlm_tui.learn.store import Store
from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.screens.game_be_the_model import BeTheModelScreen
from arlm_tui.tui.screens.game_beat_greedy import BeatGreedyScreen, ChoiceBars
from arlm_tui.tui.screens.game_name_that_strategy import NameThatStrategyScreen
from arlm_tui.tui.screens.game_tune_the_knobs import TuneTheKnobsScreen, parse_setting
from arlm_tui.tui.screens.games import GamesScreen, ScoresScreen
from arlm_tui.tui.screens.help import HelpScreen
from arlm_tui.tui.settings import Settings


def games_app(game: str | None = None, **options: Any) -> ArlmApp:
    """The app in games mode (what ``arlm games [NAME]`` runs), with default settings."""
    return ArlmApp("games", game=game, settings=Settings(), save_settings=False, **options)


class OneScreenApp(App):
    """A tiny app showing one screen, with the help action the game screens' f1 calls."""

    def __init__(self, screen: Any) -> None:
        super().__init__()
        self._first = screen

    def on_mount(self) -> None:
        self.push_screen(self._first)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.screen))


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "progress.sqlite3") as s:
        yield s


def plain(renderable: Any) -> str:
    """What a rich renderable (Text, Table) reads as, without styles."""
    console = Console(width=140, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def shown(screen, selector: str) -> str:
    """What a widget shows: a Static's content, or what another widget renders."""
    widget = screen.query_one(selector)
    return plain(widget.content if isinstance(widget, Static) else widget.render())


def screen_xp(store) -> int:
    """xp of every recorded game round."""
    return sum(e.xp for e in store.events() if e.kind.startswith("game."))


def events(store, game: str):
    return store.events(progression.game_kind(game))


# --------------------------------------------------------------------------- be the model
async def test_be_the_model_full_round(store):
    screen = BeTheModelScreen(seed=5, store=store, installed=False)
    app = OneScreenApp(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        round_ = screen.round
        assert round_ is not None and not round_.done
        assert round_.context_text in shown(screen, "#btm-text")
        bet = screen.query_one("#btm-bet", Input)
        assert bet.has_focus

        bet.value = "the:6 a:7"  # 13 points: refused, nothing consumed
        await pilot.press("enter")
        assert "add up to 13" in screen.message and round_.index == 0
        assert screen.query_one("#game-message").has_class("-error")

        losses = []
        for k in range(round_.length):
            truth = round_.tokenizer.token_text(round_.positions[k].target)
            bet.value = f"{truth}:10" if k < 3 else "the 60%" if truth != "the" else "a 60%"
            await pilot.press("enter")
            losses.append(round_.reveals[-1].loss)
            assert f"next word: {truth}" in shown(screen, "#btm-reveal")
        assert round_.done and bet.disabled
        assert screen.recorded is not None
        assert screen.recorded.score == pytest.approx(round_.perplexity)
        stored = events(store, "be-the-model")
        assert len(stored) == 1 and stored[0].payload["seed"] == 5
        assert stored[0].payload["perplexity"] == pytest.approx(round_.perplexity, rel=1e-4)
        assert stored[0].xp == screen.recorded.xp
        text = shown(screen, "#btm-scores")
        assert "you" in text and "oracle" in text and "entropy floor" in text
        assert "expected" in text and "realised" in text and "dip below" in text

        await pilot.press("n")  # a new round with a new seed
        await settle(pilot)
        assert screen.round is not None and screen.round.index == 0
        assert not screen.query_one("#btm-bet", Input).disabled


async def test_be_the_model_switches_to_the_python_reference(store):
    screen = BeTheModelScreen(seed=2, store=store, installed=False)
    app = OneScreenApp(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert screen.round.source == "oracle"
        await pilot.press("f2")
        await settle(pilot)
        assert screen.round.source == "pyref"
        assert [c.name for c in screen.round.contenders] == ["pyref-word-kn3"]
        assert "Python language reference" in shown(screen, "#game-title")
        truth = screen.round.tokenizer.token_text(screen.round.positions[0].target)
        screen.query_one("#btm-bet", Input).value = f"{truth} 90%"
        await pilot.press("enter")
        assert "pyref-word-kn3 p =" in shown(screen, "#btm-reveal")
        assert "entropy" not in shown(screen, "#btm-reveal")  # no oracle, no floor


async def test_be_the_model_help_explains_the_game(store):
    screen = BeTheModelScreen(seed=1, store=store, installed=False)
    app = OneScreenApp(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        assert "log-loss" in app.screen.query_one("#help-intro").render().plain


async def test_be_the_model_says_when_its_model_is_missing(store, tmp_path, monkeypatch):
    from arlm_tui import paths

    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setattr(paths, "models_dir", lambda: empty)
    screen = BeTheModelScreen(source="pyref", seed=1, store=store)
    app = OneScreenApp(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert screen.round is None and screen.query_one("#btm-bet", Input).disabled
        assert "needs the bundled model pyref-word-kn3" in screen.message
        assert "not installed" in shown(screen, "#game-message")


# --------------------------------------------------------------------------- name that strategy
async def test_name_that_strategy_full_round(store):
    screen = NameThatStrategyScreen(seed=4, store=store)
    app = OneScreenApp(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        puzzle = screen.puzzle
        assert puzzle is not None
        for c in puzzle.continuations:
            assert c.text[:20] in shown(screen, f"#nts-{c.letter}")
        options = [s.id for s in puzzle.options]
        key_of = {sid: str(options.index(sid) + 1) for sid in options}
        solution = puzzle.solution
        await pilot.press(key_of[solution["A"]])
        assert screen.answer == {"A": solution["A"]}
        await pilot.press(key_of[solution["A"]])  # already used: refused
        assert "already given" in screen.message and len(screen.answer) == 1
        await pilot.press("backspace")
        assert screen.answer == {}
        await pilot.press(key_of[solution["A"]], key_of[solution["B"]])
        assert screen.verdict is not None and screen.verdict.score == 3  # C got the last one
        for letter in name_that_strategy.LETTERS:
            assert "This text: mean NLL" in shown(screen, f"#nts-{letter}")
        assert "3 of 3 right" in shown(screen, "#nts-answer")
        stored = events(store, "name-that-strategy")
        assert len(stored) == 1 and stored[0].payload["correct"] == 3 and stored[0].xp == 20
        assert {a.id for a in screen.unlocked} >= {"first-round", "strategist"}


async def test_name_that_strategy_wrong_answers_are_explained(store):
    screen = NameThatStrategyScreen(seed=4, store=store)
    app = OneScreenApp(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        puzzle = screen.puzzle
        options = [s.id for s in puzzle.options]
        wrong_for_a = next(sid for sid in options if sid != puzzle.solution["A"])
        await pilot.press(str(options.index(wrong_for_a) + 1))
        left = [sid for sid in options if sid != wrong_for_a]
        await pilot.press(str(options.index(left[0]) + 1))
        verdict = screen.verdict
        assert verdict is not None and verdict.score < 3
        assert "you said" in shown(screen, "#nts-A")
        assert events(store, "name-that-strategy")[0].payload["correct"] == verdict.score


async def test_name_that_strategy_says_when_the_model_is_missing(store):
    screen = NameThatStrategyScreen(model="no-such-model", seed=1, store=store)
    app = OneScreenApp(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert screen.puzzle is None
        assert "needs the model 'no-such-model', which is not installed" in screen.message
        await pilot.press("1")  # nothing to answer: no crash, nothing recorded
        assert events(store, "name-that-strategy") == []


# --------------------------------------------------------------------------- beat greedy
async def test_beat_greedy_full_round_finding_the_best(store):
    screen = BeatGreedyScreen(seed=6, store=store)
    app = OneScreenApp(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        play = screen.play
        puzzle = play.puzzle
        assert f"{puzzle.greedy.probability:.4f}" in shown(screen, "#bg-target")
        bars = screen.query_one(ChoiceBars)
        # a wrong word first, taken back with backspace
        await pilot.press("down", "enter")
        assert len(play.ids) == 1
        await pilot.press("backspace")
        assert play.ids == []
        for token in puzzle.best.ids:
            row = [r[0] for r in bars.rows].index(token)
            while bars.cursor != row:
                await pilot.press("down")
            await pilot.press("enter")
        assert play.done and play.score() == 3
        results = shown(screen, "#bg-results")
        assert "most probable sentence" in results and puzzle.best.text in results
        stored = events(store, "beat-greedy")
        assert len(stored) == 1 and stored[0].payload["optimal"] and stored[0].xp == 20


async def test_beat_greedy_taking_the_top_word_ties_greedy(store):
    screen = BeatGreedyScreen(seed=8, store=store)
    app = OneScreenApp(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(*["enter"] * beat_greedy.HORIZON)  # the cursor starts on the top word
        assert tuple(screen.play.ids) == screen.play.puzzle.greedy.ids
        assert screen.recorded.score == 1 and "tied greedy" in screen.recorded.summary
        assert events(store, "beat-greedy")[0].payload["beat_greedy"] is False


# --------------------------------------------------------------------------- tune the knobs
def test_parse_setting():
    assert parse_setting({"temperature": "0.7", "top_k": "off", "top_p": "0.9"}) == \
        ttk.Setting(0.7, 0, 0.9)
    with pytest.raises(ValueError, match="top_k must be a whole number"):
        parse_setting({"temperature": "1", "top_k": "2.5", "top_p": "1"})
    with pytest.raises(ValueError, match="temperature must be a number"):
        parse_setting({"temperature": "hot", "top_k": "0", "top_p": "1"})


async def test_tune_the_knobs_full_round(store):
    screen = TuneTheKnobsScreen(seed=3, store=store)
    app = OneScreenApp(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        challenge = screen.challenge
        assert challenge.target.text in shown(screen, "#ttk-target")
        fields = {name: screen.query_one(f"#ttk-{name}", Input) for name in ttk.KNOB_NAMES}
        fields["top_p"].value = "1.5"
        await pilot.press("enter")
        assert "top_p" in screen.message and challenge.tries == 0
        fields["top_p"].value = "1"
        await pilot.press("enter")  # the default setting never meets the target
        await settle(pilot)
        assert challenge.tries == 1 and not challenge.solved
        assert screen.message.startswith("not yet")
        ref = challenge.reference
        fields["temperature"].value = f"{ref.temperature:g}"
        fields["top_k"].value = str(ref.top_k)
        fields["top_p"].value = f"{ref.top_p:g}"
        fields["temperature"].focus()
        await pilot.press("enter")
        await settle(pilot)
        assert challenge.solved and challenge.tries == 2
        assert "met in 2 tries" in screen.message
        assert all(f.disabled for f in fields.values())
        stored = events(store, "tune-the-knobs")
        assert len(stored) == 1 and stored[0].payload["tries"] == 2 and stored[0].xp == 25


async def test_tune_the_knobs_give_up_and_missing_model(store):
    screen = TuneTheKnobsScreen(seed=3, store=store)
    app = OneScreenApp(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+g")
        assert screen.challenge.gave_up and "a setting that works" in screen.message
        assert events(store, "tune-the-knobs")[0].payload["solved"] is False
    missing = TuneTheKnobsScreen(model="no-such-model", seed=3, store=store)
    async with OneScreenApp(missing).run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert missing.challenge is None and "not installed" in missing.message


# --------------------------------------------------------------------------- menu and scores
async def test_games_app_menu_scores_and_direct_open(store):
    store.mark_lesson_completed("01-generative-models")
    app = games_app("beat-greedy", seed=2, store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, BeatGreedyScreen) and app.screen.seed == 2
        await pilot.press(*["enter"] * beat_greedy.HORIZON)
        await pilot.press("escape")
        assert isinstance(app.screen, GamesScreen)
        expected = progression.progress(store)
        assert expected.xp >= progression.XP_PER_LESSON + screen_xp(store)
        assert f"level {expected.level} · {expected.title}   {expected.xp} xp" in shown(
            app.screen, "#games-progress")
        await pilot.press("s")
        assert isinstance(app.screen, ScoresScreen)
        p = app.screen.progress
        played = {g.game: g.played for g in p.games}
        assert played["beat-greedy"] == 1 and p.xp > 0
        best = next(g.best for g in p.games if g.game == "beat-greedy")
        assert score_text("beat-greedy", best) in shown(app.screen, "#scores-games")
        assert "/3: " in score_text("beat-greedy", best)
        achievements = shown(app.screen, "#scores-achievements")
        assert "✓  First move" in achievements and "✓  First lesson" in achievements
        await pilot.press("escape")
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, NameThatStrategyScreen)
        await pilot.press("escape", "escape")  # the game, then the menu: arlm games quits
    assert not app.is_running and app.return_value == 0


async def test_games_menu_highlights_what_each_game_teaches(store):
    app = games_app(store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        menu = app.screen.query_one("#games-menu")
        await pilot.press("down")
        highlighted = menu.get_option_at_index(menu.highlighted).id
        teaches = shown(app.screen, "#games-teaches")
        from arlm_tui.games import GAME_BY_ID

        assert teaches.startswith(GAME_BY_ID[highlighted].teaches[:30])
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


def test_games_mode_rejects_unknown_games():
    with pytest.raises(ValueError, match="game"):
        games_app("chess")

