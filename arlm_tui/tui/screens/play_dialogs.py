"""The questions the play screen asks in a dialog, and what it does with each answer.

Type the next token, type a knob's value, pick the strategy, a preset, a model or the models to
compare, save the session or open one, and whether to load the model a session file names. The
dialogs themselves are general (``screens.dialogs``: type a value, pick a model, choose a file,
choose an answer); this module fills them for the play screen, checks what is typed with the
session at hand, and hands the accepted answer back to the screen (``apply_knob``,
``load_model``, ``open_session``, ``run_engine``). Nothing is changed until a dialog is accepted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from arlm_tui.decoding.config import KNOBS, STRATEGIES
from arlm_tui.decoding.knobs import format_collection
from arlm_tui.errors import ArlmError
from arlm_tui.paths import served_root, shown
from arlm_tui.tui.session_files import (
    open_name_problem,
    save_name_problem,
    saved_sessions,
    session_path,
    sessions_dir,
    write_session_file,
)
from arlm_tui.tui.widgets.analysis_views import CompareView
from arlm_tui.tui.widgets.knob_panel import knob_names_as_shown, knob_title

if TYPE_CHECKING:
    from arlm_tui.tui.screens.play import PlayScreen

#: One line on each strategy, for the strategy picker.
STRATEGY_HELP = {
    "greedy": "always the most probable token (after the penalties)",
    "sample": "a random draw from the distribution the knobs shaped",
    "beam": "keep the best few hypotheses, extend them all, keep the best again",
    "contrastive": "of the top-k, the token whose hidden state is least like the text's so far "
                   "(neural models)",
}


class PlayDialogs:
    """The play screen's dialogs: one method per question, each opening its dialog."""

    def __init__(self, screen: PlayScreen) -> None:
        self.screen = screen

    # ------------------------------------------------------------------ the next token
    def force_type(self) -> None:
        """Type the next token (any token of the vocabulary, whatever its probability)."""
        screen = self.screen
        if screen.session is None:
            return
        if screen.session.done:
            screen.notify("the text is finished: undo a step to force another token", timeout=3)
            return
        from arlm_tui.tui.screens.dialogs import ValueDialog

        session = screen.session

        def check(text: str) -> str | None:
            if not text:
                return "type a token"
            try:
                session.token_id(text)
            except ArlmError as exc:
                return str(exc)
            return None

        def done(text: str | None) -> None:
            if text:
                screen.leave_force_mode()
                screen.selected = None
                screen.run_engine(lambda: session.force(text))

        screen.autoplay.stop()
        screen.app.push_screen(
            ValueDialog("Force the next token", help_text="Type a token of the model's "
                        "vocabulary; it becomes the next token whatever its probability.",
                        check=check, placeholder="a token, e.g. the"), done)

    # ------------------------------------------------------------------ knobs and strategy
    def edit_knob(self, name: str) -> None:
        """Type a knob's value (checked against the session's vocabulary before it is taken)."""
        screen = self.screen
        if screen.session is None:
            return
        from arlm_tui.tui.screens.dialogs import ValueDialog

        knob = KNOBS[name]
        session = screen.session

        def check(text: str) -> str | None:
            try:
                session.check_tokens(session.config.replace(**{name: knob.parse(text)}))
            except (ValueError, ArlmError) as exc:  # ArlmError: a token the model lacks
                return knob_names_as_shown(str(exc))
            return None

        def done(text: str | None) -> None:
            if text is not None:
                screen.apply_knob(name, knob.parse(text))

        current = getattr(session.config, name)
        if knob.collection:
            shown = format_collection(knob, current)
            example = ("e.g. the=-5 cat=ban (spaces between entries)" if knob.type is dict
                       else 'e.g. "." "the end" (each in double quotes), or words')
            off = f"; {example}; empty = off."
        else:
            shown = str(current)
            off = "" if knob.choices else f"; off = {knob.off}."
        screen.app.push_screen(
            ValueDialog(f"{knob_title(name)} =", shown,
                        help_text=knob_names_as_shown(
                            f"{knob.help}. Allowed: {knob.range_text}{off}"),
                        check=check), done)

    def pick_strategy(self) -> None:
        """A small picker: the three strategies, each in a line, the current one highlighted."""
        screen = self.screen
        if screen.session is None:
            return
        from arlm_tui.tui.screens.dialogs import ChoiceDialog

        current = screen.runner.config.strategy

        def done(choice: str | None) -> None:
            if choice in STRATEGIES and choice != current and screen.apply_knob("strategy",
                                                                                choice):
                screen.notify(f"strategy: {choice}", timeout=2)

        screen.app.push_screen(ChoiceDialog(
            "Strategy: how the next token is chosen",
            choices=[(name, f"{name}{' (now)' if name == current else ''} — "
                            f"{STRATEGY_HELP[name]}") for name in STRATEGIES],
            current=current), done)

    def pick_preset(self) -> None:
        """A picker of the presets, each with the chain it sets; choosing one sets its strategy
        and processor knobs (the others off) and says the resulting chain."""
        screen = self.screen
        if screen.session is None:
            return
        from arlm_tui.decoding.presets import PRESETS, apply_preset, chain_text
        from arlm_tui.tui.screens.dialogs import ChoiceDialog

        current = screen.runner.config
        configs = {name: apply_preset(current, name) for name in PRESETS}
        now = next((name for name, config in configs.items() if config == current), None)

        def done(choice: str | None) -> None:
            if choice not in configs or choice == now:
                return
            wanted = configs[choice]
            changes = {name: value for name, value in wanted.to_dict().items()
                       if getattr(current, name) != value}
            # the strategy last: apply_knob switches the view for it
            for name in sorted(changes, key=lambda n: n == "strategy"):
                if not screen.apply_knob(name, changes[name]):
                    return
            note = f" ({PRESETS[choice].note})" if PRESETS[choice].note else ""
            screen.notify(f"{PRESETS[choice].title}: {chain_text(wanted)}{note}", timeout=8)

        screen.app.push_screen(ChoiceDialog(
            "Preset: start from a tool's default knobs",
            help_text="Each sets a strategy and its processors (every other one off), run "
                      "in the order shown. llama.cpp divides by T after truncating, arlm "
                      "before.",
            choices=[(name, f"{preset.title}{' (now)' if name == now else ''}: "
                            f"{chain_text(configs[name])}")
                     for name, preset in PRESETS.items()], current=now), done)

    # ------------------------------------------------------------------ models
    def pick_model(self) -> None:
        """Switch model (the text so far is kept)."""
        from arlm_tui.tui.screens.dialogs import ModelPicker

        screen = self.screen
        screen.autoplay.stop()
        screen.leave_force_mode()
        current = screen.session.model.name if screen.session is not None else ""

        def done(choice: str | None) -> None:
            if choice:
                screen.replay_total = None
                screen.load_model(choice)

        screen.app.push_screen(ModelPicker(current), done)

    def choose_compared(self) -> None:
        """Tick the models the compare view shows (all of them: every installed one)."""
        from arlm_tui.lm.registry import list_models
        from arlm_tui.tui.screens.compare_chooser import CompareChooser

        screen = self.screen
        if screen.session is None:
            return
        view = screen.query_one(CompareView)
        installed = [e.name for e in list_models() if e.backend != "broken"]

        def done(names: list[str] | None) -> None:
            if names is not None:
                view.chosen = None if set(names) >= set(installed) else names
                screen.views.refresh_analysis()

        screen.app.push_screen(CompareChooser(installed, view.chosen, screen.session.model.name),
                               done)

    # ------------------------------------------------------------------ session files
    def save_as(self) -> None:
        """Save the session as JSON (a bare name goes into arlm's sessions folder)."""
        screen = self.screen
        if screen.session is None:
            return
        from arlm_tui.tui.screens.dialogs import FileDialog

        default = time.strftime("session-%Y%m%d-%H%M%S.json")
        data = screen.session.to_json()

        def done(path: Path | None) -> None:
            if path is None:
                return
            try:  # the files may have changed since the dialog checked the name
                path = session_path(str(path))
                write_session_file(path, data)
            except ArlmError as exc:
                screen.notify(str(exc), severity="error")
                return
            screen.notify(f"saved {shown(path)}", timeout=4)

        elsewhere = ("" if served_root() is not None else
                     "; type a path to save elsewhere")  # served: the dialog says where not
        screen.app.push_screen(FileDialog(
            "Save the session as", Path(default), check=save_name_problem,
            help_text=f"A name alone is saved in {shown(sessions_dir())}{elsewhere}."), done)

    def open_saved(self) -> None:
        """Choose a saved session (the newest first) and replay it."""
        from arlm_tui.tui.screens.dialogs import FileDialog

        screen = self.screen
        screen.autoplay.stop()
        folder = sessions_dir()
        existing = saved_sessions(folder)

        def done(path: Path | None) -> None:
            if path is None:
                return
            try:  # the files may have changed since the dialog checked the name
                chosen = session_path(str(path))
            except ArlmError as exc:
                screen.notify(str(exc), severity="error")
                return
            screen.open_session(chosen)

        screen.app.push_screen(FileDialog(
            "Open a saved session", Path(existing[0].name) if existing else Path(""),
            existing=existing, check=open_name_problem,
            help_text=(f"Sessions in {shown(folder)}, newest first" if existing else
                       f"No session saved in {shown(folder)} yet")
            + "; a name alone is looked for there, or type a path."), done)

    def ask_about_model(self, path: Path, named: str) -> None:
        """The session names a model that is not installed: ask before loading anything."""
        from arlm_tui.tui.screens.dialogs import ChoiceDialog

        screen = self.screen
        what = ("a Hugging Face checkpoint" if named.startswith("hf:") else
                "a path" if ("/" in named or "\\" in named or named.startswith("~")) else
                "a model that is not installed here")
        choices = [("named", f"load {named}")]
        if screen.session is not None:
            choices.append(("current", f"replay it with {screen.session.model.name}, the model "
                                       "in use"))
        choices.append(("cancel", "cancel"))

        def done(choice: str | None) -> None:
            if choice in ("named", "current"):
                screen.open_session(path, model_choice=choice)
            else:
                screen.notify(f"{path.name} was not opened", timeout=3)

        screen.app.push_screen(ChoiceDialog(
            f"{path.name} names the model {named!r}",
            help_text=f"That is {what}. A session file only says which model made it: load "
                      "that model only if you trust where the file came from.",
            choices=choices,
            current="current" if screen.session is not None else "cancel"), done)  # safe default
