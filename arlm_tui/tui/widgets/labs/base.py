"""What every lab view shares: the base ``LabView``, the registry of views and drawing helpers.

Each view holds the lab's parameters (starting from its preset), asks the engine for a result
whenever the learner moves a control, and draws the result in ONE ``render``. The kinds that need
torch (gradient norms, KV cache) compute in a thread worker and say plainly when torch or a
model is missing. A view that needs typed text (a context, a sentence) posts
``LabView.EditRequested``; the screen asks for the text and calls ``set_text``.

A view registers itself by naming its lab kind in ``KIND`` (one view per kind, and only for a
kind the engine registered in ``arlm_tui.learn.labs``); ``make_lab_view(lab)`` picks the view
for a ``Lab`` from ``LAB_VIEWS``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.worker import get_current_worker

from arlm_tui.errors import ArlmError
from arlm_tui.learn.labs import LAB_REGISTRY
from arlm_tui.learn.lessons.model import Lab
from arlm_tui.learn.lessons.validation import as_number


def table_of(*columns: str, **options: Any) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold", **options)
    for column in columns:
        left = column.startswith("<")  # one leading "<" asks for left alignment
        table.add_column(column[1:] if left else column, justify="left" if left else "right",
                         no_wrap=True)
    return table


def clamp_step(value: float, delta: float, lo: float, hi: float, digits: int = 4) -> float:
    return round(min(max(value + delta, lo), hi), digits)


def select_keys(action: str, what: str,
                 titles: tuple[str, str] = ("Previous", "Next")) -> list[Binding]:
    """↑/↓ bindings that run ``action(-1)``/``action(1)`` to select the previous/next ``what``."""
    return [
        Binding("up", f"{action}(-1)", titles[0], show=False, id="lab.up",
                tooltip=f"select the previous {what}"),
        Binding("down", f"{action}(1)", titles[1], show=False, id="lab.down",
                tooltip=f"select the next {what}"),
    ]


# --------------------------------------------------------------------------- the base view
class LabView(Widget, can_focus=True):
    """A lab's live view. Subclasses set ``KIND``, ``BINDINGS``, ``compute()`` (engine call with
    the current parameters) and ``draw(result)``; ``HEAVY`` views compute in a thread."""

    DEFAULT_CSS = """
    LabView { height: auto; padding: 0 1; }
    LabView:focus { background: $boost; }
    """
    HELP_TITLE = "Lab"
    KIND: ClassVar[str] = ""
    HEAVY: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass naming a ``KIND`` is that kind's view: registered in ``LAB_VIEWS``, once,
        and only for a kind the engine knows."""
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("KIND")
        if not kind:
            return
        if kind not in LAB_REGISTRY:
            raise TypeError(f"{cls.__qualname__}.KIND = {kind!r} is not a lab kind of "
                            "arlm_tui.learn.labs (register its engine module first)")
        if kind in LAB_VIEWS:
            raise TypeError(f"lab kind {kind!r} has two views: {LAB_VIEWS[kind].__qualname__} "
                            f"and {cls.__qualname__}")
        LAB_VIEWS[kind] = cls

    class EditRequested(Message):
        """The learner wants to type a new value for ``field`` (shown as ``title``)."""

        def __init__(self, view: LabView, field: str, title: str, value: str) -> None:
            super().__init__()
            self.view = view
            self.field = field
            self.title = title
            self.value = value

    class Computed(Message):
        """A new result (or error) is on display."""

        def __init__(self, view: LabView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lab = lab
        self.preset: dict[str, Any] = dict(lab.preset)
        #: The latest engine result (None while computing or after an error).
        self.result: Any = None
        #: A one-line message when the engine could not compute (torch missing, bad input).
        self.error: str | None = None
        self.computing = False
        #: The selected row, in views that have one (``move_cursor``).
        self.cursor = 0

    # ------------------------------------------------------------------ computing
    def on_mount(self) -> None:
        self.recompute()

    def compute(self) -> Any:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def draw(self, result: Any) -> RenderableType:  # pragma: no cover
        raise NotImplementedError

    def recompute(self) -> None:
        """Ask the engine again with the current parameters."""
        if self.HEAVY:
            self.computing = True  # the last result stays on show until the new one is ready
            if self.result is None:
                self.refresh(layout=True)
            self._compute_in_thread()
        else:
            self._show(*self._run())

    def _run(self) -> tuple[Any, str | None]:
        try:
            return self.compute(), None
        except (ArlmError, ValueError) as exc:
            return None, str(exc)

    @work(thread=True, exclusive=True, group="lab-compute")
    def _compute_in_thread(self) -> None:
        result, error = self._run()
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, result, error)

    def _show(self, result: Any, error: str | None) -> None:
        self.result, self.error, self.computing = result, error, False
        self.refresh(layout=True)
        self.post_message(self.Computed(self))

    def render(self) -> RenderableType:
        if self.error is not None:
            return Text(f"⚠ {self.error}", style="bold red")
        if self.result is None:
            return Text("computing…", style="dim italic")
        return self.draw(self.result)

    # ------------------------------------------------------------------ text fields
    def request_edit(self, field: str, title: str) -> None:
        self.post_message(self.EditRequested(self, field, title, str(self.preset.get(field, ""))))

    def set_text(self, field: str, value: str) -> None:
        """Set a text parameter (from the screen's prompt) and recompute."""
        self.preset[field] = value
        self.recompute()

    # ------------------------------------------------------------------ the cursor
    def move_cursor(self, delta: int, count: int, *, wrap: bool = False) -> None:
        """Move ``cursor`` by ``delta`` among ``count`` rows (round the ends with ``wrap``,
        else stop at them) and redraw; nothing is recomputed."""
        moved = self.cursor + delta
        self.cursor = moved % count if wrap else min(max(moved, 0), count - 1)
        self.refresh(layout=True)


def preset_number(value: Any) -> float:
    """A preset value ("2/3", 0.5, ...) as a float (0 if it is not a number)."""
    number = as_number(value)
    return 0.0 if number is None else number


# --------------------------------------------------------------------------- the registry
#: The view class of every lab kind, by kind (filled by ``LabView.__init_subclass__``).
LAB_VIEWS: dict[str, type[LabView]] = {}


def make_lab_view(lab: Lab, *, id: str | None = None) -> LabView:
    """The live view of ``lab`` (ValueError for a kind without a view)."""
    try:
        view_class = LAB_VIEWS[lab.kind]
    except KeyError:
        raise ValueError(
            f"lab.kind must be one of {', '.join(LAB_VIEWS)}, got {lab.kind!r}"
        ) from None
    return view_class(lab, id=id)
