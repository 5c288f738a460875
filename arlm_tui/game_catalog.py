"""The games by id and title, which way each score is better and how it reads.

Light on purpose (the standard library only): ``arlm --help`` lists the game names from here
without importing the games package, whose games load numpy and the models. The games package
(``arlm_tui.games``) adds what each game teaches and re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass

BE_THE_MODEL = "be-the-model"
NAME_THAT_STRATEGY = "name-that-strategy"
BEAT_GREEDY = "beat-greedy"
TUNE_THE_KNOBS = "tune-the-knobs"


@dataclass(frozen=True)
class GameEntry:
    """A game in the catalogue. ``better``: which way its score is better ("higher" or
    "lower"); ``score_name``: what the score counts."""

    id: str
    title: str
    better: str
    score_name: str


#: The games in menu order.
CATALOG: tuple[GameEntry, ...] = (
    GameEntry(BE_THE_MODEL, "Be the model", "lower", "perplexity"),
    GameEntry(NAME_THAT_STRATEGY, "Name that strategy", "higher", "strategies named (of 3)"),
    GameEntry(BEAT_GREEDY, "Beat greedy", "higher",
              "0 below greedy, 1 tie, 2 beat it, 3 the best"),
    GameEntry(TUNE_THE_KNOBS, "Tune the knobs", "lower", "tries"),
)
GAME_IDS: tuple[str, ...] = tuple(g.id for g in CATALOG)
ENTRY_BY_ID: dict[str, GameEntry] = {g.id: g for g in CATALOG}

_BEAT_GREEDY_LEVELS = {0: "below greedy", 1: "tied greedy", 2: "beat greedy", 3: "the best sentence"}


def title(game_id: str) -> str:
    """The title of game ``game_id``."""
    return ENTRY_BY_ID[game_id].title


def score_text(game_id: str, score: float) -> str:
    """A game's score with its unit: "perplexity 12.3", "2/3 named", "3/3: the best
    sentence", "4 tries"."""
    if game_id == BE_THE_MODEL:
        return f"perplexity {score:.1f}"
    if game_id == NAME_THAT_STRATEGY:
        return f"{score:.0f}/3 named"
    if game_id == BEAT_GREEDY:
        level = int(round(score))
        return f"{level}/3: {_BEAT_GREEDY_LEVELS.get(level, 'points')}"
    if game_id == TUNE_THE_KNOBS:
        tries = int(round(score))
        return f"{tries} {'try' if tries == 1 else 'tries'}"
    return f"{score:g}"
