"""The lesson reader: a lesson's Markdown text beside its table of contents.

``LessonReaderScreen(store, lessons, lesson_id)``. The contents list every ``##`` section (✓ once
read), the self-check, the labs, and the lessons this one links to. A section counts as read when
at least ``READ_SHARE`` of its lines have been on screen (jumping to the end does not read the
whole lesson), the text having rested there for ``READ_DWELL_S`` seconds (so the lines an
animated scroll flies past do not count); each section read is committed to the store at once (``Store.mark_lesson_step``,
the step being the heading's text, as ``arlm lessons list`` counts it). A lesson is completed
when every section is read and every self-check question has been answered at least once.

``[text](lesson:03-maximum-likelihood)`` links open that lesson (escape comes back); ``n``/``p``
go to the next/previous lesson in course order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import Markdown, OptionList, Static
from textual.widgets.option_list import Option

from arlm_tui.learn.lessons import Lesson, LessonSet, lesson_links
from arlm_tui.learn.store import Store
from arlm_tui.tui.screens.learn_base import LearnScreen

#: Share of a section's lines that must have been on screen for it to count as read.
READ_SHARE = 0.9


def lesson_number(lesson: Lesson) -> str:
    return f"{lesson.order:02d}"


def all_questions_answered(store: Store, lesson: Lesson) -> bool:
    answered = {a.question_id for a in store.attempts(lesson.id)}
    return all(q.id in answered for q in lesson.questions)


def update_completion(store: Store, lesson: Lesson) -> bool:
    """Mark ``lesson`` completed when every section is read and every question answered;
    returns True if it is (now or before)."""
    progress = store.lesson_progress(lesson.id)
    if progress.completed:
        return True
    if set(lesson.toc) <= set(progress.steps_read) and all_questions_answered(store, lesson):
        store.mark_lesson_completed(lesson.id)
        return True
    return False


class LessonReaderScreen(LearnScreen[None]):
    """Read one lesson; ``lessons``: every lesson (for links and next/previous)."""

    HELP_TITLE = "Lesson reader"
    #: How long the text must rest at a scroll position for its lines to count as seen.
    READ_DWELL_S = 0.3
    HELP_TEXT = ("Read the lesson: a section counts as read once you have scrolled through it. "
                 "The contents on the left jump to a section, the self-check, a lab or a linked "
                 "lesson. Links in the text open other lessons; escape comes back.")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="reader.back", tooltip="back to the lesson list"),
        Binding("t", "toggle_focus", "Contents", id="reader.contents",
                tooltip="move between the contents and the text"),
        Binding("k", "self_check", "Check", id="reader.check",
                tooltip="check yourself: this lesson's questions"),
        Binding("l", "lab", "Lab", id="reader.lab", tooltip="open this lesson's (first) lab"),
        Binding("n", "goto_neighbour(1)", "Next", id="reader.next",
                tooltip="open the next lesson"),
        Binding("p", "goto_neighbour(-1)", "Prev", id="reader.prev",
                tooltip="open the previous lesson"),
    ]

    def __init__(
        self,
        store: Store,
        lessons: LessonSet | Sequence[Lesson],
        lesson: str | Lesson,
        *,
        anchor: str | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.lessons: list[Lesson] = list(lessons)
        lesson_id = lesson if isinstance(lesson, str) else lesson.id
        found = next((x for x in self.lessons if x.id == lesson_id), None)
        if found is None:
            raise ValueError(f"lesson must be one of the given lessons' ids, got {lesson_id!r}")
        self.lesson: Lesson = found
        self.anchor = anchor
        self.sub_title = f"lesson {lesson_number(found)} · {found.title}"
        #: The headings read so far (from the store, then as the learner scrolls).
        self.read: set[str] = set(store.lesson_progress(found.id).steps_read)
        self._headers: list[str] = []  # block ids of the ## headings, in order
        self._seen: np.ndarray | None = None  # which lines of the text have been on screen
        self._spans: list[tuple[int, int]] = []  # (first line, end line) of each section
        self._dwell: Timer | None = None

    # ------------------------------------------------------------------ layout
    def compose_body(self) -> ComposeResult:
        with Horizontal(id="reader"):
            yield OptionList(*self._contents(), id="reader-toc")
            with VerticalScroll(id="reader-body"):
                yield Markdown(self.lesson.body_markdown, open_links=False,
                               id="reader-markdown")
        yield Static(id="reader-status")

    def _linked(self) -> list[Lesson]:
        targets = dict.fromkeys(t for t, _ in lesson_links(self.lesson.body_markdown))
        by_id = {x.id: x for x in self.lessons}
        return [by_id[t] for t in targets if t in by_id and t != self.lesson.id]

    def _contents(self) -> list[Option | None]:
        options: list[Option | None] = []
        for i, heading in enumerate(self.lesson.toc):
            mark = "✓" if heading in self.read else "○"
            label = Text.assemble((f"{mark} ", "green" if mark == "✓" else "dim"), heading,
                                  no_wrap=True, overflow="ellipsis")
            options.append(Option(label, id=f"sec-{i}"))
        options.append(None)
        answered = {a.question_id for a in self.store.attempts(self.lesson.id)}
        n = len(self.lesson.questions)
        done = len(answered & {q.id for q in self.lesson.questions})
        options.append(Option(Text(f"✎ Self-check ({done}/{n} answered)", style="bold"),
                              id="check"))
        for i, lab in enumerate(self.lesson.labs):
            options.append(Option(Text(f"⚗ Lab: {lab.title}", style="bold"), id=f"lab-{i}"))
        linked = self._linked()
        if linked:
            options.append(None)
            for other in linked:
                options.append(Option(Text(f"→ {lesson_number(other)} {other.title}",
                                           style="italic"), id=f"link-{other.id}"))
        return options

    def refresh_contents(self) -> None:
        toc = self.query_one("#reader-toc", OptionList)
        highlighted = toc.highlighted
        toc.clear_options()
        toc.add_options(self._contents())
        if highlighted is not None:
            toc.highlighted = min(highlighted, toc.option_count - 1)
        self._update_status()

    def _update_status(self) -> None:
        total = len(self.lesson.toc)
        read = len(self.read & set(self.lesson.toc))
        attempts = self.store.attempts(self.lesson.id)
        correct = {a.question_id for a in attempts if a.correct}
        answered = {a.question_id for a in attempts}
        n = len(self.lesson.questions)
        text = Text()
        text.append(f"{read}/{total} sections read", style="bold" if read == total else "")
        text.append(f" · self-check {len(answered)}/{n} answered, {len(correct)} right")
        if self.store.lesson_progress(self.lesson.id).completed:
            text.append(" · ✓ lesson completed", style="bold green")
        self.query_one("#reader-status", Static).update(text)

    def on_mount(self) -> None:
        self.query_one("#reader-body").focus()
        self.watch(self.query_one("#reader-body", VerticalScroll), "scroll_y",
                   self._on_scroll, init=False)
        self._update_status()

    # ------------------------------------------------------------------ reading
    def on_markdown_table_of_contents_updated(
        self, event: Markdown.TableOfContentsUpdated
    ) -> None:
        self._headers = [block_id for level, _, block_id in event.table_of_contents if level == 2]
        self._seen = None
        self.call_after_refresh(self._after_layout)

    def _after_layout(self) -> None:
        if self.anchor:
            self.query_one(Markdown).goto_anchor(self.anchor)
            self.anchor = None
        self._track_reading()

    def on_resize(self) -> None:
        self._seen = None  # the text reflows: line numbers change
        self.call_after_refresh(self._track_reading)

    def _on_scroll(self, _value: float) -> None:
        if self._dwell is not None:
            self._dwell.stop()
        self._dwell = self.set_timer(self.READ_DWELL_S, self._track_reading)

    def _layout_spans(self) -> None:
        markdown = self.query_one(Markdown)
        height = markdown.virtual_region.height
        tops = []
        for block_id in self._headers[: len(self.lesson.toc)]:
            try:
                tops.append(markdown.query_one(f"#{block_id}").virtual_region.y)
            except Exception:  # noqa: BLE001 - the text is being rebuilt; try again later
                return
        self._spans = [(top, tops[i + 1] if i + 1 < len(tops) else height)
                       for i, top in enumerate(tops)]
        self._seen = np.zeros(max(height, 1), dtype=bool)

    def _track_reading(self) -> None:
        """Mark the lines now on screen as seen, and each section mostly seen as read."""
        if not self._headers or not self.is_attached:
            return
        if self._seen is None:
            self._layout_spans()
            if self._seen is None:
                return
        body = self.query_one("#reader-body", VerticalScroll)
        offset = self.query_one(Markdown).virtual_region.y
        top = int(body.scroll_y) - offset
        bottom = top + body.scrollable_content_region.height
        self._seen[max(top, 0): max(bottom, 0)] = True
        newly = []
        for heading, (start, end) in zip(self.lesson.toc, self._spans):
            if heading in self.read or end <= start:
                continue
            if self._seen[start:end].mean() >= READ_SHARE:
                newly.append(heading)
        if newly:
            for heading in newly:
                self.read.add(heading)
                self.store.mark_lesson_step(self.lesson.id, heading)
            self._check_completed()
            self.refresh_contents()

    def _check_completed(self) -> None:
        was = self.store.lesson_progress(self.lesson.id).completed
        if update_completion(self.store, self.lesson) and not was:
            self.notify(f"Lesson {lesson_number(self.lesson)} completed.", title="Well done")

    def scroll_to_section(self, index: int) -> None:
        """Bring section ``index`` (in ``lesson.toc``) to the top of the text."""
        if not 0 <= index < len(self._headers):
            return
        markdown = self.query_one(Markdown)
        header = markdown.query_one(f"#{self._headers[index]}")
        self.query_one("#reader-body", VerticalScroll).scroll_to_widget(
            header, top=True, animate=False
        )

    # ------------------------------------------------------------------ navigation
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        if option_id.startswith("sec-"):
            self.scroll_to_section(int(option_id[4:]))
        elif option_id == "check":
            self.action_self_check()
        elif option_id.startswith("lab-"):
            self.open_lab(int(option_id[4:]))
        elif option_id.startswith("link-"):
            self.open_lesson(option_id[5:])

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        href = event.href
        if href.startswith("lesson:"):
            target, _, anchor = href[len("lesson:"):].partition("#")
            self.open_lesson(target, anchor or None)
        elif href.startswith("#"):
            self.query_one(Markdown).goto_anchor(href[1:])
        else:
            self.notify(f"links outside the course are not opened here: {href}", timeout=4)

    def open_lesson(self, lesson_id: str, anchor: str | None = None) -> None:
        """Open another lesson on top of this one (escape comes back here)."""
        if all(x.id != lesson_id for x in self.lessons):
            self.notify(f"no lesson {lesson_id!r}", severity="error")
            return
        self.app.push_screen(LessonReaderScreen(self.store, self.lessons, lesson_id,
                                                anchor=anchor))

    def action_goto_neighbour(self, step: int) -> None:
        index = next(i for i, x in enumerate(self.lessons) if x.id == self.lesson.id) + step
        if not 0 <= index < len(self.lessons):
            self.notify("this is the last lesson" if step > 0 else "this is the first lesson",
                        timeout=3)
            return
        self.app.switch_screen(LessonReaderScreen(self.store, self.lessons,
                                                  self.lessons[index].id))

    def action_toggle_focus(self) -> None:
        toc = self.query_one("#reader-toc", OptionList)
        if toc.has_focus:
            self.query_one("#reader-body").focus()
        else:
            toc.focus()

    def action_self_check(self) -> None:
        from arlm_tui.tui.screens.selfcheck import SelfCheckScreen

        if not self.lesson.questions:
            self.notify("this lesson has no self-check questions", timeout=3)
            return
        self.app.push_screen(SelfCheckScreen(self.store, self.lesson), self._back_from_check)

    def _back_from_check(self, _result: object) -> None:
        self._check_completed()
        self.refresh_contents()

    def action_lab(self) -> None:
        if not self.lesson.labs:
            self.notify("this lesson has no lab", timeout=3)
        else:
            self.open_lab(0)

    def open_lab(self, index: int) -> None:
        from arlm_tui.tui.screens.lab import LabScreen

        self.app.push_screen(LabScreen(self.lesson.labs[index], self.lesson.title))
