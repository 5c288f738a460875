"""The ``arlm lessons`` and ``arlm cards`` commands (``register`` adds them to ``arlm``).

    arlm lessons list [--json]        lessons with their questions/cards/labs and your completion
    arlm cards stats [--json]         reviews, due today, 7-day forecast, retention, streak
    arlm cards review [--limit N]     review due cards in the terminal (Enter shows, 1-4 rates)
    arlm cards export --anki F.apkg   an Anki package (re-importing updates, never duplicates)
    arlm cards export --html F.html   a printable page, one card per sheet
    arlm cards settings [--new-per-day N]

Every review is committed the moment it is rated, so quitting (q, Ctrl-D, Ctrl-C, a closed
terminal) never loses one. A user's mistake raises ``ArlmError``; ``arlm_tui.cli.main`` prints it as
one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from arlm_tui.errors import ArlmError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``lessons`` and ``cards`` commands to the top-level ``arlm`` parser."""
    lessons = subparsers.add_parser("lessons", help="the lessons and your progress in them")
    lsub = lessons.add_subparsers(dest="lessons_command", parser_class=type(lessons))
    ll = lsub.add_parser("list", help="every lesson: id, title, contents, completion")
    ll.add_argument("--json", action="store_true", help="print a JSON list")
    ll.set_defaults(func=cmd_lessons_list)
    lessons.set_defaults(func=cmd_lessons_list, json=False)

    cards = subparsers.add_parser("cards", help="flashcards with spaced repetition (FSRS)")
    csub = cards.add_subparsers(dest="cards_command", parser_class=type(cards))
    st = csub.add_parser("stats", help="reviews, due today, forecast, retention, streak")
    st.add_argument("--json", action="store_true", help="print a JSON object")
    st.set_defaults(func=cmd_cards_stats)
    cards.set_defaults(func=cmd_cards_stats, json=False)

    rv = csub.add_parser("review", help="open the review screen (space reveals, 1-4 rate)")
    rv.add_argument("--limit", type=int, default=None, help="stop after this many reviews")
    rv.add_argument("--plain", action="store_true",
                    help="review line by line in the terminal instead of the review screen")
    rv.set_defaults(func=cmd_cards_review)

    ex = csub.add_parser("export", help="export every card to Anki or a printable page")
    ex.add_argument("--anki", metavar="F.apkg", help="write an Anki package")
    ex.add_argument("--html", metavar="F.html", help="write a printable HTML page")
    ex.set_defaults(func=cmd_cards_export)

    se = csub.add_parser("settings", help="show or change flashcard settings")
    se.add_argument("--new-per-day", type=int, default=None, help="new cards a day (default 20)")
    se.set_defaults(func=cmd_cards_settings)


# --------------------------------------------------------------------------- helpers
def _warn(message: str) -> None:
    print(f"arlm: warning: {message}", file=sys.stderr)


def _open_store():
    from arlm_tui.learn.store import Store

    store = Store.open()
    if store.notice:
        _warn(store.notice)
    store.on_message = lambda message, severity: _warn(message)
    return store


def _open_deck(store, **options: Any):
    from arlm_tui.learn.cards import Deck

    deck = Deck.load(store, **options)
    for problem in deck.problems:
        _warn(problem)
    return deck


def _print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- lessons
def cmd_lessons_list(args: argparse.Namespace) -> int:
    from arlm_tui.learn.lessons import load_lessons

    lesson_set = load_lessons()
    for broken in lesson_set.broken:
        _warn(f"lesson not loaded: {broken}")
    with _open_store() as store:
        rows = []
        for lesson in lesson_set.lessons:
            correct = {a.question_id for a in store.attempts(lesson.id) if a.correct}
            rows.append(
                {
                    "id": lesson.id,
                    "title": lesson.title,
                    "questions": len(lesson.questions),
                    "questions_correct": len(correct & {q.id for q in lesson.questions}),
                    "cards": len(lesson.cards),
                    "labs": len(lesson.labs),
                    "completion": round(store.lesson_completion(lesson.id, len(lesson.toc)), 4),
                }
            )
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no lessons found")
        return 0
    width = max(len(r["id"]) for r in rows)
    print(f"{'id':<{width}}  {'done':>4}  {'quiz':>5}  {'cards':>5}  {'labs':>4}  title")
    for r in rows:
        quiz = f"{r['questions_correct']}/{r['questions']}"
        print(
            f"{r['id']:<{width}}  {r['completion']:>4.0%}  {quiz:>5}  {r['cards']:>5}  "
            f"{r['labs']:>4}  {r['title']}"
        )
    return 0


# --------------------------------------------------------------------------- cards
def cmd_cards_stats(args: argparse.Namespace) -> int:
    with _open_store() as store:
        stats = _open_deck(store).stats()
    if args.json:
        _print_json(stats.to_dict())
        return 0
    retention = "–" if stats.retention is None else f"{stats.retention:.0%}"
    print(
        f"cards: {stats.cards} ({stats.new} new, {stats.learning} learning, "
        f"{stats.review} in review)"
    )
    print(f"due today: {stats.due_today} reviews + {stats.new_today} new")
    print("next 7 days: " + "  ".join(f"{d:%a} {n}" for d, n in stats.forecast))
    print(f"reviews: {stats.reviews_total} in total, {stats.reviews_today} today")
    print(f"retention: {retention} of reviews not rated Again")
    print(f"streak: {stats.streak} day" + ("" if stats.streak == 1 else "s"))
    return 0


def cmd_cards_review(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ArlmError(f"--limit must be at least 1, got {args.limit}")
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not args.plain and args.limit is None and interactive:
        from arlm_tui.tui.app import run_app

        return run_app("review")
    with _open_store() as store:
        deck = _open_deck(store)
        review_loop(deck, limit=args.limit)
    return 0


def review_loop(
    deck,
    *,
    limit: int | None = None,
    read: Callable[[str], str] = input,
    out: TextIO | None = None,
    clock: Callable[[], datetime] | None = None,
) -> int:
    """Show due cards one at a time: the front, Enter reveals the back, 1-4 rates it (q quits).
    Each rating is committed before the next card shows. Returns the number of reviews."""
    from arlm_tui.learn.cards import LEARN_AHEAD, format_interval, parse_rating
    from arlm_tui.learn.store import utc_now

    out = out if out is not None else sys.stdout
    clock = clock or utc_now

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    done = 0
    try:
        while limit is None or done < limit:
            now = clock()
            queue = deck.due_queue(now) or deck.due_queue(now, learn_ahead=LEARN_AHEAD)
            if not queue:
                break
            item = queue[0]
            note = " · edited since your last review" if item.edited else ""
            say(
                f"── card {done + 1} · {item.card.id} · {item.state} · "
                f"{len(queue)} in the queue{note}"
            )
            say(item.card.front)
            shown = time.monotonic()
            if read("[Enter] show the answer, q quits: ").strip().lower() == "q":
                break
            say("")
            say(item.card.back)
            choices = deck.preview(item.card.id, clock())
            menu = "  ".join(
                f"{int(r)} {r.name} ({format_interval(due, now)})" for r, due in choices.items()
            )
            rating = None
            while rating is None:
                typed = read(f"{menu}, q quits: ").strip().lower()
                if typed == "q":
                    return done
                try:
                    rating = parse_rating(typed)
                except ValueError:
                    say("type 1, 2, 3 or 4")
            reviewed = clock()
            duration_ms = int((time.monotonic() - shown) * 1000)
            due = deck.answer(item.card.id, rating, reviewed, duration_ms=duration_ms)
            done += 1
            kept = getattr(deck.store, "unsaved", 0)
            say(
                f"{'kept, not saved yet' if kept else 'saved'}: {rating.name} · next review {format_interval(due, reviewed)} "
                f"({_local(due)})"
            )
            say("")
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        say("")
        _summary(deck, done, clock(), say)
    return done


def _summary(deck, done: int, now: datetime, say: Callable[[str], None]) -> None:
    from arlm_tui.learn.cards import format_interval

    left = len(deck.due_queue(now))
    text = f"{done} review" + ("" if done == 1 else "s") + " saved."
    if left:
        text += f" {left} still due."
    else:
        upcoming = [r.due for r in deck.store.card_states().values() if r.card_id in deck.cards]
        if upcoming:
            text += f" Nothing due; the next card is due {format_interval(min(upcoming), now)}."
        else:
            text += " Nothing due."
    say(text)


def cmd_cards_export(args: argparse.Namespace) -> int:
    if not args.anki and not args.html:
        raise ArlmError("say what to write: --anki F.apkg and/or --html F.html")
    from arlm_tui.learn.export import export_anki, export_html
    from arlm_tui.outputs import check_output_file

    with _open_store() as store:
        cards = list(_open_deck(store).cards.values())
    # both destinations checked before either file is written
    if args.anki:
        check_output_file(args.anki, option="--anki", example="cards.apkg")
    if args.html:
        check_output_file(args.html, option="--html", example="cards.html")
    if args.anki and args.html and Path(args.anki).resolve() == Path(args.html).resolve():
        raise ArlmError(f"--anki and --html name the same file ({args.anki}); give two names")
    if args.anki:
        n = export_anki(cards, args.anki)
        print(f"wrote {args.anki}: {n} notes (import it again after changes: notes update)")
    if args.html:
        n = export_html(cards, args.html)
        print(f"wrote {args.html}: {n} cards, one per printed page")
    return 0


def cmd_cards_settings(args: argparse.Namespace) -> int:
    from arlm_tui.learn.cards import get_new_per_day, set_new_per_day

    with _open_store() as store:
        if args.new_per_day is not None:
            if args.new_per_day < 0:
                raise ArlmError(f"--new-per-day must be 0 or more, got {args.new_per_day}")
            set_new_per_day(store, args.new_per_day)
        print(f"new cards per day: {get_new_per_day(store)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run these commands alone (``python -m arlm_tui.cli.learn cards review``), with the
    same conventions as ``arlm``: a user's mistake is one line on stderr and exit status 2."""
    parser = argparse.ArgumentParser(prog="arlm")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ArlmError as exc:
        print(f"arlm: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
