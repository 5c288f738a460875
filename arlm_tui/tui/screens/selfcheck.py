"""The self-check: a lesson's questions one at a time, answer first, explanation after.

``SelfCheckScreen(store, lesson)``. The learner commits to an answer before seeing anything: a
choice (↑↓ and enter, or its letter) or a typed answer (numbers are graded within the
question's tolerance, so "1/3", "0.333" and "33.3%" all count). Only then do the verdict, the
expected answer and the explanation appear. Every graded answer is committed to the store at
once (``Store.record_attempt``); an answer that cannot be read (no number in it) is not graded
and the learner may type again. At the end: the score, and ``r`` retries the ones missed.
The screen dismisses with the number of questions answered correctly in this session.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from arlm_tui.learn.grading import Grade, grade, precision_hint
from arlm_tui.learn.lessons.model import Lesson, Question
from arlm_tui.learn.store import Store
from arlm_tui.tui.screens.learn_base import LearnScreen

LETTERS = "abcdefgh"

HINTS = {
    "numeric": "type a number: 0.25, 1/4, 25%, 2.5e-1, 1.2 × 10^5 … then ⏎",
    "text": "type a word or a short phrase, then ⏎",
    "choice": "↑↓ and ⏎, or press the letter",
}


class SelfCheckScreen(LearnScreen[int]):
    """Ask ``questions`` (default: all of ``lesson``'s) and record every answer in ``store``."""

    HELP_TITLE = "Self-check"
    HELP_TEXT = ("Answer before you look: the explanation appears only after you commit. "
                 "Every answer is saved. Each number question says how precise it must be.")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="check.back", tooltip="back to the lesson"),
        # while an answer is typed ? is a character: f1 is the help key the footer shows
        Binding("f1", "app.help", "Help", id="check.help",
                tooltip="what this screen is for and every key (? when not typing)"),
        Binding("enter", "next", "Next question", id="check.next",
                tooltip="go on to the next question"),
        Binding("r", "retry", "Retry missed", id="check.retry",
                tooltip="ask again the questions you missed"),
        *(Binding(letter, f"choose({i})", show=False, id=f"check.choose_{letter}",
                  tooltip=f"choose answer ({letter})") for i, letter in enumerate(LETTERS)),
    ]

    def __init__(self, store: Store, lesson: Lesson,
                 questions: Sequence[Question] | None = None) -> None:
        super().__init__()
        self.store = store
        self.lesson = lesson
        self.questions: list[Question] = list(questions if questions is not None
                                              else lesson.questions)
        if not self.questions:
            raise ValueError("questions: the self-check needs at least one question")
        self.sub_title = f"self-check · {lesson.title}"
        self.index = 0
        #: "asking" (waiting for an answer), "answered" (explanation shown) or "done".
        self.phase = "asking"
        #: The verdict on each question answered in this session, by question id.
        self.results: dict[str, bool] = {}
        self.last_grade: Grade | None = None

    @property
    def question(self) -> Question:
        return self.questions[self.index]

    @property
    def correct_count(self) -> int:
        return sum(self.results.values())

    # ------------------------------------------------------------------ layout
    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="check-body"):
            yield Static(id="check-progress")
            yield Static(id="check-prompt")
            with Vertical(id="check-answer"):
                yield OptionList(id="check-choices")
                yield Input(id="check-input")
                yield Static(id="check-hint")
            yield Static(id="check-feedback")

    def on_mount(self) -> None:
        self.show_question()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose":
            if self.phase != "asking" or self.question.kind != "choice":
                return False
            return int(parameters[0]) < len(self.question.choices)
        if action == "next":
            return self.phase == "answered"
        if action == "retry":
            return self.phase == "done" and self.correct_count < len(self.results)
        return True

    def show_question(self) -> None:
        q = self.question
        self.phase = "asking"
        self.last_grade = None
        progress = Text()
        progress.append(f"Question {self.index + 1} of {len(self.questions)}", style="bold")
        progress.append(f" · {self.correct_count} right so far", style="dim")
        self.query_one("#check-progress", Static).update(progress)
        self.query_one("#check-prompt", Static).update(Text(q.prompt))
        self.query_one("#check-feedback", Static).update("")
        hint = Text(HINTS[q.kind], style="dim")
        if q.kind == "numeric":
            hint.append(f"\n{precision_hint(q)}", style="dim")
        self.query_one("#check-hint", Static).update(hint)
        choices = self.query_one("#check-choices", OptionList)
        field = self.query_one("#check-input", Input)
        choices.display = q.kind == "choice"
        field.display = q.kind != "choice"
        choices.disabled = False
        field.disabled = False
        if q.kind == "choice":
            choices.clear_options()
            choices.add_options([Option(Text(f"{LETTERS[i]})  {c}"), id=str(i))
                                 for i, c in enumerate(q.choices)])
            choices.highlighted = 0
            choices.focus()
        else:
            field.value = ""
            field.placeholder = "your answer"
            field.focus()
        self.refresh_bindings()

    # ------------------------------------------------------------------ answering
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.phase == "asking" and event.option.id is not None:
            self.submit(int(event.option.id))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.phase == "answered":
            self.action_next()
        elif self.phase == "asking" and event.value.strip():
            self.submit(event.value.strip())

    def action_choose(self, index: int) -> None:
        self.submit(index)

    def submit(self, response: int | str) -> Grade:
        """Grade ``response`` (a choice index or typed text), record it, show the verdict."""
        q = self.question
        verdict = grade(q, response)
        if not verdict.readable:
            what = "a number" if q.kind == "numeric" else "an answer"
            self.query_one("#check-feedback", Static).update(
                Text(f"Could not read {what} in {str(response)!r}: try again.", style="yellow"))
            return verdict
        shown = q.choices[response] if isinstance(response, int) else str(response)
        self.store.record_attempt(self.lesson.id, q.id, shown, verdict.correct)
        self.results[q.id] = verdict.correct
        self.last_grade = verdict
        self.phase = "answered"
        feedback = Text()
        if verdict.correct:
            feedback.append("✓ Right.", style="bold green")
        else:
            feedback.append("✗ Not quite.", style="bold red")
        feedback.append(f"  The answer: {verdict.expected}", style="bold")
        feedback.append("\n\n")
        feedback.append(verdict.explanation)
        feedback.append("\n\n⏎ next question" if self.index + 1 < len(self.questions)
                        else "\n\n⏎ see your score", style="dim")
        self.query_one("#check-feedback", Static).update(feedback)
        self.query_one("#check-hint", Static).update("")
        choices = self.query_one("#check-choices", OptionList)
        if q.kind == "choice":
            choices.clear_options()
            for i, choice in enumerate(q.choices):
                mark = "✓" if i == q.answer else ("✗" if i == response else " ")
                style = "green" if i == q.answer else ("red" if i == response else "dim")
                choices.add_option(Option(Text(f"{mark} {LETTERS[i]})  {choice}", style=style)))
            choices.disabled = True
        else:
            self.query_one("#check-input", Input).disabled = True
        self.query_one("#check-body").focus()
        self.refresh_bindings()
        return verdict

    def action_next(self) -> None:
        if self.phase != "answered":
            return
        if self.index + 1 < len(self.questions):
            self.index += 1
            self.show_question()
        else:
            self.show_summary()

    def show_summary(self) -> None:
        self.phase = "done"
        total = len(self.results)
        right = self.correct_count
        self.query_one("#check-progress", Static).update(Text("Self-check finished",
                                                              style="bold"))
        summary = Text()
        summary.append(f"{right} of {total} right.", style="bold green" if right == total
                       else "bold")
        missed = [q for q in self.questions if not self.results.get(q.id, False)]
        if missed:
            summary.append("\n\nMissed:\n")
            for q in missed:
                summary.append(f"  • {q.prompt}\n", style="dim")
            summary.append("\nr asks the missed questions again · escape goes back", style="dim")
        else:
            summary.append("\n\nescape goes back to the lesson", style="dim")
        self.query_one("#check-prompt", Static).update(summary)
        self.query_one("#check-feedback", Static).update("")
        self.query_one("#check-hint", Static).update("")
        self.query_one("#check-choices", OptionList).display = False
        self.query_one("#check-input", Input).display = False
        self.query_one("#check-body").focus()
        self.refresh_bindings()

    def action_retry(self) -> None:
        missed = [q for q in self.questions if not self.results.get(q.id, False)]
        if not missed:
            return
        self.questions = missed
        self.results = {}
        self.index = 0
        self.show_question()

    def back_result(self) -> int:
        return self.correct_count
