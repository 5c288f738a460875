"""The engine never imports Textual, nothing but the neural backends imports torch, and only
the transformer's compiled step imports numba.

Each module is imported in a fresh interpreter so one module's imports cannot hide another's.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from typing import Any

import arlm_tui

NEURAL_PREFIXES = ("arlm_tui.lm.neural", "arlm_tui.train.neural", "arlm_tui.lm.hf")
UI_PREFIXES = ("arlm_tui.tui",)


def _modules() -> list[str]:
    names = ["arlm_tui"]
    for info in pkgutil.walk_packages(arlm_tui.__path__, "arlm_tui."):
        names.append(info.name)
    return sorted(names)


def _in_a_fresh_interpreter(code: str, what: str = "the code") -> Any:
    """Run ``code`` in a new Python process and return the JSON its last printed line holds."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{what} failed:\n{out.stderr}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def _imported_by(module: str) -> set[str]:
    code = (
        f"import importlib, json, sys; importlib.import_module({module!r}); "
        "print(json.dumps(sorted(m for m in ('textual', 'torch', 'transformers', 'numba') "
        "if m in sys.modules)))"
    )
    return set(_in_a_fresh_interpreter(code, f"importing {module}"))


def test_engine_modules_import_neither_textual_nor_torch():
    engine = [m for m in _modules() if not m.startswith(UI_PREFIXES)]
    assert "arlm_tui.lm.ngram" in engine and "arlm_tui.decoding" in engine
    problems = {}
    for module in engine:
        heavy = _imported_by(module)
        allowed = {"torch"} if module.startswith(NEURAL_PREFIXES) else set()
        if module == "arlm_tui.lm.neural.kernels":
            allowed = {"numba"}
        bad = heavy - allowed
        if bad:
            problems[module] = sorted(bad)
    assert problems == {}


def test_package_and_cli_stay_light():
    assert _imported_by("arlm_tui") == set()
    assert _imported_by("arlm_tui.cli") == set()


def test_the_home_screen_starts_without_numpy_or_yaml():
    """Start-up: the app and its home screen import neither numpy nor the lessons' YAML (the
    summaries that need them are read after the first frame)."""
    code = (
        "import json, sys; import arlm_tui.tui.app, arlm_tui.tui.screens.home, "
        "arlm_tui.tui.settings; print(json.dumps(sorted(m for m in ('numpy', 'yaml', 'torch') "
        "if m in sys.modules)))"
    )
    assert _in_a_fresh_interpreter(code) == []


def test_plain_arlm_opens_the_app_without_building_the_command_line():
    code = (
        "import json, sys; import arlm_tui.tui.app as app; app.run_app = lambda: 0; "
        "from arlm_tui.cli import main; assert main([]) == 0; "
        "print(json.dumps(sorted(m for m in ('numpy', 'yaml', 'torch', 'arlm_tui.games') "
        "if m in sys.modules)))"
    )
    assert _in_a_fresh_interpreter(code) == []


def _help_in_a_fresh_process(argvs: list[list[str]]) -> dict:
    """Run ``arlm ARGV`` for each argv in one fresh interpreter: what each printed
    (``shown``, keyed by the joined argv) and the modules imported after it (``modules``)."""
    code = (
        "import contextlib, io, json, sys; from arlm_tui.cli import main\n"
        f"argvs = {argvs!r}\n"
        "shown, modules = {}, []\n"
        "for argv in argvs:\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
        "    shown[' '.join(argv)] = out.getvalue()\n"
        "    modules.append(sorted(sys.modules))\n"
        "print(json.dumps({'shown': shown, 'modules': modules}))"
    )
    return _in_a_fresh_interpreter(code)


def test_help_lists_the_games_without_importing_the_games_package():
    """``arlm --help`` and ``arlm games --help`` build every subcommand's parser; the game
    names come from the light catalogue, not from the games (which load numpy)."""
    result = _help_in_a_fresh_process([["--help"], ["games", "--help"]])
    assert not [m for m in result["modules"][-1]
                if m == "arlm_tui.games" or m.startswith("arlm_tui.games.")]
    assert "games" in result["shown"]["--help"]
    for name in ("be-the-model", "name-that-strategy", "beat-greedy", "tune-the-knobs"):
        assert name in result["shown"]["games --help"]


def test_help_imports_no_numpy_until_a_command_with_knob_flags_is_asked_about():
    """``arlm --help`` and the help of the commands without decoding knobs build no knob flags
    (the knobs come from the processors, which import numpy); ``generate --help`` still lists
    every knob flag."""
    argvs = [["--help"], ["score", "--help"], ["train", "ngram", "--help"],
             ["models", "--help"], ["lessons", "--help"], ["generate", "--help"]]
    result = _help_in_a_fresh_process(argvs)
    numpy = {" ".join(argv): "numpy" in modules
             for argv, modules in zip(argvs, result["modules"], strict=True)}
    assert numpy == {"--help": False, "score --help": False,
                     "train ngram --help": False, "models --help": False,
                     "lessons --help": False, "generate --help": True}
    assert "generate" in result["shown"]["--help"] and "--file" in result["shown"]["score --help"]
    for flag in ("--logit-bias", "--top-p", "--xtc-threshold", "--stop", "--preset"):
        assert flag in result["shown"]["generate --help"]
