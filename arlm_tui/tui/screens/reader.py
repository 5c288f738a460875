"""The lesson reader: a lesson's Markdown text beside its table of contents.

``LessonReaderScreen(store, lessons, lesson_id)``. The contents list every ``##`` section (✓ once
read), the self-check, the labs, and the lessons this one links to.

A section counts as read when it has been on screen long enough to read, however it got there
(line by line, page by page, the mouse wheel, a jump from the contents). Every ``SAMPLE_S``
seconds the reader looks at what is on screen and shares the time since the last look among
the sections in view, in proportion to the lines each shows (one reader reads one thing at a
time). A section is read once (1) the time it received reaches its word count divided by
``READING_WPS`` (a brisk skimming pace), and (2) at least ``READ_SHARE`` of its lines have been
on screen. Flying past with the End key or a fast PageUp run gives each section a fraction of a
second, so it reads nothing; resting on a page reads what is on it. Each section read is
committed to the store at once (``Store.mark_lesson_step``, the step being the heading's text,
as ``arlm lessons list`` counts it). A lesson is completed when every section is read and every
self-check question has been answered at least once.

``[text](lesson:03-maximum-likelihood)`` links open that lesson (escape comes back); ``n``/``p``
go to the next/previous lesson in course order.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Markdown, OptionList, Static
from textual.widgets.option_list import Option

from arlm_tui.learn.lessons.loader import lesson_links
from arlm_tui.learn.lessons.model import Lesson, LessonSet
from arlm_tui.learn.store import Store
from arlm_tui.tui.screens.learn_base import LearnScreen

#: Share of a section's lines that must have been on screen for it to count as read.
READ_SHARE = 0.9


def section_words(markdown: str) -> list[int]:
    """The number of words of each ``##`` section (heading included), in order; the text before
    the first ``##`` heading belongs to no section. Fenced code counts like prose."""
    counts: list[int] = []
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            counts.append(0)
        if counts:
            counts[-1] += len(re.findall(r"\S+", line))
    return counts


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
    #: How often the reader looks at what is on screen (seconds).
    SAMPLE_S = 0.25
    #: Words per second a section needs of screen time to count as read (skimming pace).
    READING_WPS = 10.0
    #: The most time one look may credit (a suspended or frozen app does not read).
    MAX_CREDIT_S = 2.0
    HELP_TEXT = ("Read the lesson: a section counts as read once it has been on screen long "
                 "enough to read, however you scrolled to it. "
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
        #: seconds of screen time each section has received, and the time each one needs
        self.attention = np.zeros(len(found.toc))
        words = section_words(found.body_markdown)
        self.needed = np.asarray([w / self.READING_WPS for w in words[: len(found.toc)]]
                                 + [0.0] * (len(found.toc) - len(words)))
        #: the clock the reading time is measured with (tests move it by hand)
        self.clock: Callable[[], float] = time.monotonic
        self._last_look: float | None = None
        self._shown_reading: tuple[str, int] | None = None

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
        completed = self.store.lesson_progress(self.lesson.id).completed
        now = self._shown_reading = self._reading_key()
        if now is not None and not completed:
            heading, percent = now
            short = heading if len(heading) <= 20 else heading[:19] + "…"
            text.append(f" · reading “{short}” {percent}%", style="dim")
        text.append(f" · self-check {len(answered)}/{n} answered, {len(correct)} right")
        if completed:
            text.append(" · ✓ lesson completed", style="bold green")
        text.no_wrap, text.overflow = True, "ellipsis"
        self.query_one("#reader-status", Static).update(text)

    def on_mount(self) -> None:
        self.query_one("#reader-body").focus()
        self.set_interval(self.SAMPLE_S, self.look)
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
        self.look()

    def on_resize(self) -> None:
        self._seen = None  # the text reflows: line numbers change

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

    def look(self) -> None:
        """Credit the time since the last look to the sections on screen (shared by the lines
        each shows), mark those lines seen, and mark each section read that has had its time
        and has been mostly on screen."""
        now = self.clock()
        last, self._last_look = self._last_look, now
        if not self._headers or not self.is_attached or not self.is_current:
            return
        if self._seen is None:
            self._layout_spans()
            if self._seen is None:
                return
        body = self.query_one("#reader-body", VerticalScroll)
        offset = self.query_one(Markdown).virtual_region.y
        top = max(int(body.scroll_y) - offset, 0)
        bottom = max(top + body.scrollable_content_region.height, top)
        credit = 0.0 if last is None else min(max(now - last, 0.0), self.MAX_CREDIT_S)
        shown = [max(min(end, bottom) - max(start, top), 0) for start, end in self._spans]
        in_view = sum(shown)
        if in_view == 0:
            return
        self._seen[top:bottom] = True
        newly = []
        for i, (heading, (start, end)) in enumerate(zip(self.lesson.toc, self._spans)):
            if not shown[i]:
                continue
            self.attention[i] += credit * shown[i] / in_view
            if heading in self.read or end <= start:
                continue
            if (self.attention[i] >= self.needed[i]
                    and self._seen[start:end].mean() >= READ_SHARE):
                newly.append(heading)
        if newly:
            for heading in newly:
                self.read.add(heading)
                self.store.mark_lesson_step(self.lesson.id, heading)
            self._check_completed()
            self.refresh_contents()
        elif credit > 0 and self._reading_key() != self._shown_reading:
            self._update_status()

    def _reading_key(self) -> tuple[str, int] | None:
        """What the status says about the section being read: (heading, whole percent)."""
        now = self.reading_now() if self.is_mounted else None
        return None if now is None else (now[0], int(now[1] * 100))

    def reading_now(self) -> tuple[str, float] | None:
        """The unread section with the most lines on screen and how far its reading has got
        (0 to 1: the smaller of its time share and its share of lines seen), or None when
        every section in view is read."""
        if self._seen is None or not self._spans:
            return None
        body = self.query_one("#reader-body", VerticalScroll)
        top = max(int(body.scroll_y) - self.query_one(Markdown).virtual_region.y, 0)
        bottom = top + body.scrollable_content_region.height
        best, lines = None, 0
        for i, (heading, (start, end)) in enumerate(zip(self.lesson.toc, self._spans)):
            shown = max(min(end, bottom) - max(start, top), 0)
            if heading not in self.read and shown > lines:
                best, lines = i, shown
        if best is None:
            return None
        needed = self.needed[best]
        share = 1.0 if needed <= 0 else min(self.attention[best] / needed, 1.0)
        start, end = self._spans[best]
        if end > start:  # the part never shown is not read either, however long one stays
            share = min(share, float(self._seen[start:end].mean()) / READ_SHARE)
        return self.lesson.toc[best], float(min(share, 1.0))

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
