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
"""

from __future__ import annotations

_installed = False


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
    _installed = True
