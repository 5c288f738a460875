"""The footer of every arlm screen: Textual's Footer with the essential keys first.

Textual's Footer lists the active bindings in the order of the focus chain (the focused widget's
first, the app's last) and cuts what does not fit: at 80 columns the play screen lost "? Help"
and "q Quit". ``ArlmFooter`` shows the essential keys (step, undo, help, quit, back) first, so
they stay visible at any width, keeps one key per description (``q`` and ``ctrl+q`` both quit),
and turns compact below ``COMPACT_BELOW`` columns. The rest keep their order and scroll.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: Descriptions of the essential keys, in the order they are shown (compared in lower case).
ESSENTIAL: tuple[str, ...] = ("step", "undo", "help", "quit", "back")

#: Below this width the footer drops its spacing (compact style).
COMPACT_BELOW = 100


def footer_order(bindings: Iterable[tuple[Any, bool, str]]) -> list[tuple[Any, bool, str]]:
    """``(binding, enabled, tooltip)`` shown bindings ordered essential first, one per action
    and one per essential description (the first in the focus chain wins)."""
    seen_actions: set[str] = set()
    seen_essential: set[str] = set()
    kept = []
    for item in bindings:
        binding = item[0]
        description = (binding.description or "").lower()
        if binding.action in seen_actions or description in seen_essential:
            continue
        seen_actions.add(binding.action)
        if description in ESSENTIAL:
            seen_essential.add(description)
        kept.append(item)

    def rank(item: tuple[Any, bool, str]) -> int:
        description = (item[0].description or "").lower()
        return ESSENTIAL.index(description) if description in ESSENTIAL else len(ESSENTIAL)

    return sorted(kept, key=rank)  # stable: the others keep the focus chain's order


class ArlmFooter(Footer):
    """Footer with the essential keys first (see the module docstring)."""

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        shown = [(binding, enabled, tooltip)
                 for (_, binding, enabled, tooltip) in active.values() if binding.show]
        ordered = footer_order(shown)
        self.styles.grid_size_columns = len(ordered)
        for binding, enabled, tooltip in ordered:
            key = FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            )
            # A FooterKey starts compact; born with the footer's value, the binding below
            # changes nothing, so mounting the keys restyles none of them one by one (that
            # was ~80 ms of the home screen's first frame).
            key.set_reactive(FooterKey.compact, self.compact)
            key.set_class(self.compact, "-compact", update=False)
            yield key.data_bind(compact=Footer.compact)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = active.get(self.app.COMMAND_PALETTE_BINDING)
            if palette is not None:
                _node, binding, enabled, _tooltip = palette
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    classes="-command-palette",
                    disabled=not enabled,
                    tooltip=binding.tooltip or binding.description,
                )

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < COMPACT_BELOW
