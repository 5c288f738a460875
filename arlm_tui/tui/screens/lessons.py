"""The lesson list: every lesson in course order with how far the learner got.

``LessonListScreen(store, lessons)``: one row per lesson (number, title, sections read, self-check
answers right, cards, labs), enter opens the reader. Lessons that failed to load are listed
below with their error (file:line: what is wrong) so a broken lesson never hides the others. The
rows are refreshed whenever the screen comes back into view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from arlm_tui.learn.lessons.loader import load_lessons
from arlm_tui.learn.lessons.model import Lesson, LessonError, LessonSet
from arlm_tui.learn.store import Store
from arlm_tui.tui.screens.learn_base import LearnScreen

#: Cells taken by every column but the title (contents, 2 cells of padding each, scrollbar).
FIXED_COLUMNS_WIDTH = 2 + 6 + 4 + 5 + 4 + 6 * 2 + 2 + 2


class LessonListScreen(LearnScreen[None]):
    """Choose a lesson. ``lessons``: a ``LessonSet`` (its broken lessons are shown too), a list
    of lessons, or None to load the shipped ones."""

    HELP_TITLE = "Lessons"
    HELP_TEXT = ("The course in order. 'read' is the share of sections you have scrolled "
                 "through, 'quiz' the self-check questions answered right; a lesson is complete when every section is read and every self-check question "
                 "answered.")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="lessons.back", tooltip="back to the home screen"),
        Binding("enter", "open", "Open", id="lessons.open", tooltip="read the selected lesson"),
        Binding("k", "self_check", "Self-check", id="lessons.check",
                tooltip="go straight to the selected lesson's self-check"),
    ]

    def __init__(self, store: Store,
                 lessons: LessonSet | Sequence[Lesson] | None = None) -> None:
        super().__init__()
        self.store = store
        if lessons is None:
            lessons = load_lessons()
        self.lessons: list[Lesson] = list(lessons)
        self.broken: list[LessonError] = list(getattr(lessons, "broken", []))
        self.sub_title = "lessons"

    def compose_body(self) -> ComposeResult:
        with Vertical(id="lessons-body"):
            yield Static(id="lessons-summary")
            yield DataTable(id="lessons-table", cursor_type="row", zebra_stripes=True)
            if self.broken:
                yield Static(self._broken_text(), id="lessons-broken")

    def _broken_text(self) -> Text:
        text = Text("Lessons that could not be loaded:\n", style="bold red")
        for error in self.broken:
            text.append(f"  ⚠ {error.folder.name}: ", style="bold")
            text.append(f"{error}\n")
        return text

    def on_mount(self) -> None:
        self.refresh_rows()
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        self.refresh_rows()

    def on_screen_resume(self) -> None:
        self.refresh_rows()

    def completion(self, lesson: Lesson) -> float:
        return self.store.lesson_completion(lesson.id, len(lesson.toc))

    def refresh_rows(self) -> None:
        """Re-read the progress of every lesson from the store."""
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        longest = max((len(lesson.title) for lesson in self.lessons), default=6)
        if table.size.width:
            # the room the table really has: the other columns (each with its 2 cells of
            # padding) and a scrollbar only when the rows do not fit
            others = 2 + 6 + 4 + 5 + 4 + 6 * table.cell_padding * 2
            scrollbar = 2 if len(self.lessons) + 1 > table.size.height else 0
            room = table.size.width - others - scrollbar
        else:
            room = (self.size.width or 80) - FIXED_COLUMNS_WIDTH
        title_width = min(longest, max(16, room))
        for label, key, width in (("#", "number", 2), ("lesson", "title", title_width),
                                  ("read", "read", 6), ("quiz", "quiz", 4),
                                  ("cards", "cards", 5), ("labs", "labs", 4)):
            table.add_column(label, key=key, width=width)
        completed = 0
        for lesson in self.lessons:
            share = self.completion(lesson)
            done = self.store.lesson_progress(lesson.id).completed
            completed += done
            attempts = self.store.attempts(lesson.id)
            right = len({a.question_id for a in attempts if a.correct}
                        & {q.id for q in lesson.questions})
            read = Text("✓ done", style="bold green") if done else Text(f"{share:4.0%}")
            title = lesson.title
            if len(title) > title_width:
                title = title[: title_width - 1] + "…"
            table.add_row(
                f"{lesson.order:02d}",
                Text(title, style="bold" if done else ""),
                read,
                f"{right}/{len(lesson.questions)}",
                str(len(lesson.cards)),
                str(len(lesson.labs)),
                key=lesson.id,
            )
        if row is not None and self.lessons:
            table.move_cursor(row=min(row, len(self.lessons) - 1))
        summary = Text()
        summary.append(f"{len(self.lessons)} lessons", style="bold")
        summary.append(f" · {completed} completed")
        if self.broken:
            summary.append(f" · {len(self.broken)} could not be loaded", style="red")
        summary.append("    ⏎ opens a lesson", style="dim")
        self.query_one("#lessons-summary", Static).update(summary)

    @property
    def selected(self) -> Lesson | None:
        table = self.query_one(DataTable)
        if not self.lessons or table.cursor_row is None:
            return None
        return self.lessons[min(table.cursor_row, len(self.lessons) - 1)]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.open(str(event.row_key.value))

    def open(self, lesson_id: str) -> None:
        from arlm_tui.tui.screens.reader import LessonReaderScreen

        self.app.push_screen(LessonReaderScreen(self.store, self.lessons, lesson_id))

    def action_open(self) -> None:
        if self.selected is not None:
            self.open(self.selected.id)

    def action_self_check(self) -> None:
        from arlm_tui.tui.screens.selfcheck import SelfCheckScreen

        lesson = self.selected
        if lesson is not None and lesson.questions:
            self.app.push_screen(SelfCheckScreen(self.store, lesson))
