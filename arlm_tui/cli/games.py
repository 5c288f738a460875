"""The ``arlm games`` command (``register`` adds it to ``arlm``).

    arlm games                          the games menu (level, xp, streak, the four games)
    arlm games NAME [--seed N]          one game directly: be-the-model, name-that-strategy,
                                        beat-greedy, tune-the-knobs, or scores
    arlm games be-the-model --source pyref      predict words of the Python reference
    arlm games tune-the-knobs --model NAME      play with an installed model
    arlm games --list [--json]          the games, what each teaches, and your record (no TUI)

Checks happen before the interface starts, so a mistake (unknown model, negative seed) is one
line and exit status 2. Textual is imported only by ``run_games``, which opens the app in
games mode.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from arlm_tui.errors import ArlmError
from arlm_tui.games import GAME_BY_ID, GAMES, score_text

SCORES = "scores"
NAMES = (*GAME_BY_ID, SCORES)
#: The games that play with a model of the learner's choice.
MODEL_GAMES = ("name-that-strategy", "tune-the-knobs")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``arlm games [NAME] [--seed N] [--model M] [--source S] [--list [--json]]``."""
    games = subparsers.add_parser(
        "games", help="games that teach by making you predict: be the model, name that "
        "strategy, beat greedy, tune the knobs")
    games.add_argument("name", nargs="?", choices=NAMES, metavar="NAME",
                       help=f"open one game directly: {', '.join(NAMES)}")
    games.add_argument("--seed", type=int, default=None,
                       help="play the round of this seed (same seed, same round)")
    games.add_argument("--model", default=None,
                       help="model for name-that-strategy and tune-the-knobs "
                       "(default: story-trigram, built in)")
    games.add_argument("--source", choices=("oracle", "pyref"), default="oracle",
                       help="be-the-model's text: an oracle-language story (default) or the "
                       "Python reference")
    games.add_argument("--list", action="store_true",
                       help="print the games and your record instead of opening the screen")
    games.add_argument("--json", action="store_true", help="with --list: print JSON")
    games.set_defaults(func=cmd_games)
    return games


def cmd_games(args: argparse.Namespace) -> int:
    """Check the arguments, then print the list or open the games."""
    if args.seed is not None and args.seed < 0:
        raise ArlmError(f"--seed {args.seed}: seed must be a whole number ≥ 0")
    if args.model is not None:
        if args.name is not None and args.name not in MODEL_GAMES:
            raise ArlmError(f"--model applies to {' and '.join(MODEL_GAMES)}, not {args.name}")
        check_model(args.model)
    if args.list:
        return print_list(as_json=args.json)
    if args.json:
        raise ArlmError("--json goes with --list")
    return run_games(args.name, seed=args.seed, model=args.model, source=args.source)


def check_model(name: str) -> None:
    """MissingModelError (one line) if ``name`` is neither the story trigram nor installed."""
    from arlm_tui.errors import UnknownModelError
    from arlm_tui.games.common import STORY_TRIGRAM, MissingModelError
    from arlm_tui.lm.registry import resolve

    if name == STORY_TRIGRAM:
        return
    try:
        resolve(name)
    except UnknownModelError:
        raise MissingModelError(f"--model {name!r} is not installed; see `arlm models list`, "
                                f"or leave --model out to play with {STORY_TRIGRAM}") from None


def print_list(*, as_json: bool = False) -> int:
    """The games with what they teach, and the learner's progress, on stdout."""
    from arlm_tui.games.progression import progress
    from arlm_tui.learn.store import Store

    with Store.open() as store:
        p = progress(store)
    stats = {g.game: g for g in p.games}
    if as_json:
        data = {
            "xp": p.xp, "level": p.level, "title": p.title, "streak": p.streak,
            "best_streak": p.best_streak, "xp_sources": p.xp_sources,
            "games": [{"id": g.id, "title": g.title, "teaches": g.teaches,
                       "score": g.score_name, "better": g.better,
                       "played": stats[g.id].played, "best": stats[g.id].best,
                       "last": stats[g.id].last} for g in GAMES],
            "achievements": [{"id": a.id, "title": a.title, "description": a.description,
                              "unlocked": when.isoformat() if when else None}
                             for a, when in p.achievements],
        }
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    days = "day" if p.streak == 1 else "days"
    print(f"level {p.level} ({p.title}) · {p.xp} xp · streak {p.streak} {days}")
    for g in GAMES:
        s = stats[g.id]
        record = f"{s.played} rounds, best {score_text(g.id, s.best)}" if s.best is not None else (
            f"{s.played} rounds")
        print(f"\n{g.id}: {g.title} ({record}; score: {g.score_name}, {g.better} is better)")
        print(f"  {g.teaches}")
    unlocked = sum(1 for _, when in p.achievements if when)
    print(f"\nachievements: {unlocked} of {len(p.achievements)} unlocked "
          "(arlm games scores shows them)")
    return 0


def run_games(name: str | None = None, *, seed: int | None = None, model: str | None = None,
              source: str | None = None) -> int:
    """Run the app in games mode: the menu, with game ``name`` (or the scores) opened over it.
    Returns the exit status."""
    from arlm_tui.tui.app import run_app

    return run_app("games", game=name, seed=seed, model=model, source=source)
