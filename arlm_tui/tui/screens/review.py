"""The flashcard review screen: a card's question, space shows the answer, 1–4 rate it.

``ReviewScreen(deck)``. The queue is ``Deck.due_queue`` (due cards most overdue first, then new
cards up to the daily limit; when nothing is due, cards in their learning steps due within
``LEARN_AHEAD`` come early, as in ``arlm cards review``). Under the revealed answer each rating
shows when the card would come back (FSRS, ``Deck.preview``). Rating commits the review at once
(``Deck.answer``) and the screen says when the card is due next. ``s`` shows the statistics.
The screen dismisses with the number of reviews saved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Rule, Static

from arlm_tui.learn.cards import LEARN_AHEAD, Deck, DueCard, format_interval
from arlm_tui.learn.store import utc_now
from arlm_tui.tui.screens.learn_base import LearnScreen

RATINGS = ((1, "Again"), (2, "Hard"), (3, "Good"), (4, "Easy"))
RATING_STYLES = {1: "bold red", 2: "bold yellow", 3: "bold green", 4: "bold cyan"}


def when(due: datetime, now: datetime) -> str:
    """'in 10 min', or 'in 3 days (Mon 12 Jan)' for a day or more."""
    text = format_interval(due, now)
    if (due - now).total_seconds() >= 86400:
        text += f" ({due.astimezone():%a %d %b})"
    return text


class ReviewScreen(LearnScreen[int]):
    """Review the due cards of ``deck``; ``clock`` gives "now" (tests fix it)."""

    HELP_TITLE = "Review"
    HELP_TEXT = ("Recall the answer before you look. Space shows it; then rate how well you "
                 "knew it: 1 Again (forgot), 2 Hard, 3 Good, 4 Easy. FSRS schedules the next "
                 "review from your rating; every rating is saved the moment you press it.")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="review.back", tooltip="stop reviewing"),
        Binding("space", "reveal", "Show answer", id="review.reveal",
                tooltip="show the answer"),
        *(Binding(str(value), f"rate({value})", name, id=f"review.rate_{name.lower()}",
                  tooltip=f"rate the card {name}") for value, name in RATINGS),
        Binding("s", "stats", "Statistics", id="review.stats",
                tooltip="due cards, forecast, retention, streak"),
    ]

    def __init__(self, deck: Deck, *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.deck = deck
        self.clock = clock or utc_now
        self.sub_title = "review cards"
        #: The card on show (None when the queue is empty).
        self.current: DueCard | None = None
        self.revealed = False
        #: Reviews saved on this screen.
        self.done = 0
        self.queue_size = 0
        self._shown_at = 0.0

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="review-body"):
            yield Static(id="review-status")
            with Vertical(id="review-card"):
                yield Static(id="review-front")
                yield Rule(id="review-rule")
                yield Static(id="review-back")
            yield Static(id="review-ratings")
            yield Static(id="review-saved")

    def on_mount(self) -> None:
        for problem in self.deck.problems:
            self.notify(problem, title="my_cards.txt", severity="warning", timeout=8)
        self.next_card()
        self.query_one("#review-body").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "reveal":
            return self.current is not None and not self.revealed
        if action == "rate":
            return self.current is not None and self.revealed
        return True

    # ------------------------------------------------------------------ the queue
    def _queue(self, now: datetime) -> list[DueCard]:
        return self.deck.due_queue(now) or self.deck.due_queue(now, learn_ahead=LEARN_AHEAD)

    def next_card(self) -> None:
        now = self.clock()
        queue = self._queue(now)
        self.queue_size = len(queue)
        self.revealed = False
        back = self.query_one("#review-back", Static)
        ratings = self.query_one("#review-ratings", Static)
        back.update("")
        back.display = False
        ratings.update("")
        self.query_one("#review-rule").display = False
        if not queue:
            self.current = None
            self.query_one("#review-status", Static).update(Text("Nothing to review",
                                                                 style="bold"))
            self.query_one("#review-front", Static).update(self._finished_text(now))
            self.refresh_bindings()
            return
        self.current = queue[0]
        card = self.current.card
        status = Text()
        status.append(f"card {self.done + 1}", style="bold")
        status.append(f" · {self.queue_size} in the queue · {self.current.state}")
        status.append(f" · {card.source}", style="dim")
        if self.current.edited:
            status.append(" · edited since your last review", style="yellow")
        self.query_one("#review-status", Static).update(status)
        self.query_one("#review-front", Static).update(Text(card.front, style="bold"))
        ratings.update(Text("space shows the answer", style="dim"))
        self._shown_at = time.monotonic()
        self.refresh_bindings()

    def _finished_text(self, now: datetime) -> Text:
        text = Text()
        text.append(f"{self.done} review" + ("" if self.done == 1 else "s") + " saved. ",
                    style="bold green" if self.done else "bold")
        upcoming = [r.due for r in self.deck.store.card_states().values()
                    if r.card_id in self.deck.cards]
        if upcoming:
            text.append(f"Nothing is due; the next card is due {when(min(upcoming), now)}.")
        elif self.deck.cards:
            text.append("Nothing is due: the daily limit of new cards is reached.")
        else:
            text.append("There are no cards yet.")
        text.append("\n\ns shows your statistics · escape goes back", style="dim")
        return text

    # ------------------------------------------------------------------ actions
    def action_reveal(self) -> None:
        if self.current is None or self.revealed:
            return
        self.revealed = True
        self.query_one("#review-rule").display = True
        back = self.query_one("#review-back", Static)
        back.update(Text(self.current.card.back))
        back.display = True
        preview = self.deck.preview(self.current.card.id, self.clock())
        now = self.clock()
        text = Text()
        for (value, name), due in zip(RATINGS, preview.values()):
            text.append(f" {value} {name} ", style=f"reverse {RATING_STYLES[value]}")
            text.append(f" {format_interval(due, now).removeprefix('in ')}  ")
        self.query_one("#review-ratings", Static).update(text)
        self.refresh_bindings()

    def action_rate(self, rating: int) -> None:
        if self.current is None or not self.revealed:
            return
        reviewed = self.clock()
        duration_ms = int((time.monotonic() - self._shown_at) * 1000)
        due = self.deck.answer(self.current.card.id, rating, reviewed, duration_ms=duration_ms)
        self.done += 1
        name = dict(RATINGS)[rating]
        saved = Text()
        kept = getattr(self.deck.store, "unsaved", 0)
        saved.append("kept, not saved yet: " if kept else "saved: ", style="dim")
        saved.append(name, style=RATING_STYLES[rating])
        saved.append(f" · \"{_short(self.current.card.front)}\" comes back {when(due, reviewed)}")
        self.query_one("#review-saved", Static).update(saved)
        self.next_card()

    def action_stats(self) -> None:
        self.app.open_stats(self.deck, clock=self.clock)

    def back_result(self) -> int:
        return self.done


def _short(text: str, width: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
