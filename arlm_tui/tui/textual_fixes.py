"""Guards around Textual 8.2 defects that the monkey test (tests/test_tui_monkey.py) reached.

``OptionList._move_page`` (page up/down) reads the line of the highlighted option from a cache
that is empty until the list has been laid out with a width; page down pressed in the command
palette (ctrl+p) before its list is drawn raised ``KeyError: 0`` and ended the app. (The same
crash is reported against other Textual apps, e.g. kagan-sh/kagan-legacy#31.) Until the list is
drawn a page key does nothing, as the arrow keys already behave.

``CommandPalette._gather_commands`` is a worker started by each key typed in the palette; when
escape closes the palette before or while the worker runs, its ``query_one(CommandList)``
raised ``NoMatches`` and the failed worker ended the app. A palette that is gone gathers
nothing.

``App.action_command_palette`` (ctrl+p) pressed while the previous palette is still being
closed pushed a second palette with the same id: ``DuplicateIds`` ended the app. That key press
is dropped; the next one opens the palette.

``Header`` updates its title from a watcher that tolerates a missing screen but not a missing
``HeaderTitle``; a title change while the header's screen is being removed raised ``NoMatches``.
The guarded watcher skips that update.

A screen popped by a fast key before its ``on_mount`` ran has had its widgets removed, so any
handler that looks one up raised ``NoMatches`` and ended the app; the same happens to a screen
whose handler runs while the app exits (after ``App.exit`` a widget mounted meanwhile gets no
children of its own: its compose runs while nothing is attached any more) or shuts down
(``App._shutdown`` stops the app running, then removes the widgets). ``NoMatches`` from a
screen's handler is ignored when that screen is no longer on the screen stack, or the app is
exiting or no longer running (it is being thrown away); on an open screen of a running app it
is still an error.

A dialog answered twice before it closed (enter, then escape at once) set its result future a
second time: ``InvalidStateError``. The first answer stands; the second is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen

_installed = False


def thrown_away(screen: Screen) -> bool:
    """True once ``screen`` is being thrown away: popped off the screen stack, or its app
    exiting (``is_attached`` is False once ``exit`` is called) or shutting down (no longer
    running). Its widgets may then be gone: a worker's answer or a late handler for it has
    nothing left to show, and looking a widget up may raise ``NoMatches``."""
    try:
        return (not screen.is_attached or not screen.app.is_running
                or screen not in screen.app.screen_stack)
    except Exception:  # noqa: BLE001 - no app, no stack: the screen is gone
        return True


def install() -> None:
    """Apply the guards once (idempotent)."""
    global _installed
    if _installed:
        return
    from textual.widgets import OptionList

    move_page = OptionList._move_page

    def _move_page(self: OptionList, direction: int) -> None:
        if (self.highlighted or 0) not in self._index_to_line:  # not laid out yet
            return
        move_page(self, direction)

    OptionList._move_page = _move_page  # type: ignore[method-assign]

    from textual import work
    from textual.command import CommandList, CommandPalette
    from textual.css.query import NoMatches

    gather = CommandPalette._gather_commands.__wrapped__  # the method under @work

    @work(exclusive=True, group=CommandPalette._GATHER_COMMANDS_GROUP)
    async def _gather_commands(self: CommandPalette, search_value: str) -> None:
        if not self.is_attached or not self.query(CommandList):  # closed meanwhile
            return
        try:
            await gather(self, search_value)
        except NoMatches:
            if self.is_attached and self.query(CommandList):
                raise  # not the race above: a real error
            # the palette closed while the commands were gathered: nothing left to show

    CommandPalette._gather_commands = _gather_commands  # type: ignore[method-assign]

    from textual._node_list import DuplicateIds
    from textual.app import App

    open_palette = App.action_command_palette

    def action_command_palette(self: App) -> None:
        try:
            open_palette(self)
        except DuplicateIds:  # the last palette is still closing
            pass

    App.action_command_palette = action_command_palette  # type: ignore[method-assign]

    from textual.dom import NoScreen
    from textual.widgets import Header
    from textual.widgets._header import HeaderTitle

    def _on_mount(self: Header, _event: object) -> None:
        async def set_title() -> None:
            try:
                self.query_one(HeaderTitle).update(self.format_title())
            except (NoScreen, NoMatches):  # the header is being removed with its screen
                pass

        self.watch(self.app, "title", set_title)
        self.watch(self.app, "sub_title", set_title)
        self.watch(self.screen, "title", set_title)
        self.watch(self.screen, "sub_title", set_title)

    Header._on_mount = _on_mount  # type: ignore[method-assign]

    from textual.screen import Screen

    dispatch = Screen._dispatch_message

    async def _dispatch_message(self: Screen, message: object) -> None:
        try:
            await dispatch(self, message)
        except NoMatches:
            if not thrown_away(self):
                raise

    Screen._dispatch_message = _dispatch_message  # type: ignore[method-assign]

    from textual.screen import ResultCallback

    deliver = ResultCallback.__call__

    def __call__(self: ResultCallback, result: object) -> None:
        if self.future is not None and self.future.done():
            return  # dismissed already: the first answer stands
        deliver(self, result)

    ResultCallback.__call__ = __call__  # type: ignore[method-assign]
    _installed = True
