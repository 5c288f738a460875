"""Games that make the learner predict before being shown (engine side: no Textual here).

    be_the_model        predict the next word as a distribution; scored by log-loss
    name_that_strategy  match three continuations to the decoding strategies that wrote them
    beat_greedy         build a sentence more probable than greedy's on a tiny model
    tune_the_knobs      set temperature / top-k / top-p to reach a diversity-quality target
    progression         xp, levels, achievements and the daily streak, in the progress store

Each game is deterministic for a seed and ends in a ``GameResult`` that
``progression.record_game`` commits to the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from arlm_tui.games import be_the_model, beat_greedy, name_that_strategy, tune_the_knobs
from arlm_tui.games.common import GameResult, MissingModelError


@dataclass(frozen=True)
class GameInfo:
    """A game as the menu and the scores screen show it. ``better``: which way its score is
    better ("higher" or "lower"); ``score_name``: what the score counts."""

    id: str
    title: str
    tagline: str
    teaches: str
    better: str
    score_name: str


GAMES: tuple[GameInfo, ...] = tuple(
    GameInfo(m.GAME_ID, m.TITLE, m.TAGLINE, m.TEACHES, better, score_name)
    for m, better, score_name in (
        (be_the_model, "lower", "perplexity"),
        (name_that_strategy, "higher", "strategies named (of 3)"),
        (beat_greedy, "higher", "0 below greedy, 1 tie, 2 beat it, 3 the best"),
        (tune_the_knobs, "lower", "tries"),
    )
)
GAME_BY_ID = {g.id: g for g in GAMES}

_BEAT_GREEDY_LEVELS = {0: "below greedy", 1: "tied greedy", 2: "beat greedy", 3: "the best sentence"}


def score_text(game_id: str, score: float) -> str:
    """A game's score with its unit: "perplexity 12.3", "2/3 named", "3/3: the best
    sentence", "4 tries"."""
    if game_id == be_the_model.GAME_ID:
        return f"perplexity {score:.1f}"
    if game_id == name_that_strategy.GAME_ID:
        return f"{score:.0f}/3 named"
    if game_id == beat_greedy.GAME_ID:
        level = int(round(score))
        return f"{level}/3: {_BEAT_GREEDY_LEVELS.get(level, 'points')}"
    if game_id == tune_the_knobs.GAME_ID:
        tries = int(round(score))
        return f"{tries} {'try' if tries == 1 else 'tries'}"
    return f"{score:g}"


__all__ = ["GAMES", "GAME_BY_ID", "GameInfo", "GameResult", "MissingModelError", "score_text"]
