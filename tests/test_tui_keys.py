"""The help screen and the command palette, both read from the bindings (Textual's public API)."""

from __future__ import annotations

from textual.binding import Binding
from tui_helpers import make_play_app, settle, start_play

from arlm_tui.tui.screens.help import HelpScreen, key_sections
from arlm_tui.tui.screens.play import PlayScreen
from arlm_tui.tui.widgets.knob_panel import KnobPanel


def declared(cls) -> list[Binding]:
    return [b for b in Binding.make_bindings(cls.BINDINGS) if b.description]


async def test_the_help_lists_every_described_key_of_the_screen_and_its_widgets():
    app = make_play_app(strategy="greedy")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        sections = dict(key_sections(screen))
        play = dict((does, keys) for keys, does in sections["Play screen"])
        for binding in declared(PlayScreen):
            does = binding.tooltip or binding.description
            assert app.get_key_display(binding) in play[does].split(), does
        knobs = next(rows for title, rows in sections.items() if title.startswith("Knob panel"))
        assert {does for _, does in knobs} == {b.tooltip or b.description
                                               for b in declared(KnobPanel)}
        assert ("?", "List every key of this screen") in sections["Everywhere"]
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_the_palette_has_a_command_per_active_key_and_it_runs_the_action():
    app = make_play_app(strategy="sample", knobs={"temperature": 0.8})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_play(pilot)
        commands = {c.title: c for c in app.get_system_commands(screen)}
        assert commands["Play: Step"].help == "take one decoding step (space)"
        assert "Play: Compare models" in commands and "Knob panel: Off" in commands
        assert not any(title.startswith("Play: Focus") for title in commands)  # Textual's tab
        # a key check_action turns off is not offered: +/- only act in the sample-N view
        assert "Play: More" not in commands
        before = len(screen.session.traces)
        await commands["Play: Step"].callback()
        await settle(pilot)
        assert len(screen.session.traces) == before + 1
        await commands["Play: Sample n"].callback()  # view 4, where + and - act
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(screen)]
        assert "Play: More" in titles and "Play: Fewer" in titles
