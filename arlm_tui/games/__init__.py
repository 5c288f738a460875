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

from arlm_tui.game_catalog import CATALOG, score_text
from arlm_tui.games import be_the_model, beat_greedy, name_that_strategy, tune_the_knobs
from arlm_tui.games.common import GameResult, MissingModelError


@dataclass(frozen=True)
class GameInfo:
    """A game as the menu and the scores screen show it. ``better``: which way its score is
    better ("higher" or "lower"); ``score_name``: what the score counts. Ids, titles and
    scores come from ``arlm_tui.game_catalog`` (light, for ``arlm --help``); the tagline and
    what it teaches from the game's module."""

    id: str
    title: str
    tagline: str
    teaches: str
    better: str
    score_name: str


_MODULES = {m.GAME_ID: m for m in (be_the_model, name_that_strategy, beat_greedy,
                                    tune_the_knobs)}
#: The games in the catalogue's (menu) order.
GAMES: tuple[GameInfo, ...] = tuple(
    GameInfo(g.id, g.title, _MODULES[g.id].TAGLINE, _MODULES[g.id].TEACHES, g.better,
             g.score_name)
    for g in CATALOG
)
GAME_BY_ID = {g.id: g for g in GAMES}


__all__ = ["GAMES", "GAME_BY_ID", "GameInfo", "GameResult", "MissingModelError", "score_text"]
