"""Adding a processor means writing its class (and its test): the proof.

A copy of ``arlm_tui`` is made in a temporary folder and ONE file of it is edited, as a
contributor would: the ``Floor`` class of ``tests/add_a_processor/floor.py`` (a probability
floor with the knob ``floor_p``) is pasted into ``decoding/processors.py`` and listed in
``PROCESSORS`` after ``TopK``. Then ``tests/add_a_processor/check_floor.py`` runs against that
copy, in a fresh interpreter (the knob tables, ``DecodingConfig``'s fields, the command-line
flags and the panels are built when their modules are imported, as they would be after the
edit), and checks that ``floor_p`` reached the config (range checked once, one message),
``make_processors`` and ``warp`` (in its order), ``arlm generate`` and its ``--json``, the knob
panel of the play screen, the labs' playground and lesson presets, the why-line, the strategy
game's descriptions and saved sessions; and existing tests that cover every processor run with it
(``test_processors.py``'s order check, ``test_generation_paths.py``'s cases: every knob through
the API, ``arlm generate --json`` and a Session, for every strategy).
Nothing else is edited: a place that needs a hand edit fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from arlm_tui.decoding.config import KNOBS, STRATEGIES

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "add_a_processor"
MARKER = "# --- the class, as it would be written in processors.py ---\n"


def the_new_class() -> str:
    """The class as written in ``floor.py`` (below its marker; the imports are for lint)."""
    text = (HERE / "floor.py").read_text(encoding="utf-8")
    assert MARKER in text
    return text.split(MARKER, 1)[1].strip("\n") + "\n"


def add_to_processors(source: str, new_class: str) -> str:
    """``processors.py``'s source with ``new_class`` written before ``PROCESSORS`` and listed in
    it after ``TopK``: the one edit a contributor makes."""
    start = re.search(r"^PROCESSORS\b.*=\s*\($", source, flags=re.MULTILINE)
    assert start is not None, "processors.py: no `PROCESSORS = (` tuple to add the class to"
    entry = re.compile(r"^(\s+)TopK,$", flags=re.MULTILINE)
    listed = entry.search(source, start.end())
    assert listed is not None, "processors.py: TopK is not listed in PROCESSORS"
    source = source[: listed.end()] + f"\n{listed.group(1)}Floor," + source[listed.end():]
    return source[: start.start()] + new_class + "\n\n" + source[start.start():]


def test_adding_a_processor_edits_only_processors_py(tmp_path):
    assert "floor_p" not in KNOBS  # the knob is new
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "arlm_tui", copy / "arlm_tui",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for data in ("models", "lessons"):  # shipped data, read only: found next to the package
        (copy / data).symlink_to(ROOT / data, target_is_directory=True)
    tests = copy / "tests"
    tests.mkdir()
    for helper in ("conftest.py", "tui_helpers.py", "helpers.py"):
        shutil.copy(ROOT / "tests" / helper, tests / helper)
    shutil.copy(HERE / "check_floor.py", tests / "check_floor.py")
    # existing tests that switch every processor on, or run every knob through the API, the
    # CLI and a Session: they must take the new one in without an edit
    for existing in ("test_generation_paths.py", "test_processors.py"):
        shutil.copy(ROOT / "tests" / existing, tests / existing)
    (copy / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n", encoding="utf-8")

    processors = copy / "arlm_tui" / "decoding" / "processors.py"
    processors.write_text(
        add_to_processors(processors.read_text(encoding="utf-8"), the_new_class()),
        encoding="utf-8",
    )
    changed = [
        str(path.relative_to(copy / "arlm_tui"))
        for path in sorted((copy / "arlm_tui").rglob("*.py"))
        if path.read_bytes() != (ROOT / "arlm_tui" / path.relative_to(copy / "arlm_tui"))
        .read_bytes()
    ]
    assert changed == [os.path.join("decoding", "processors.py")]

    paths_cases = [
        "tests/test_processors.py::test_processor_order_and_off_values_make_no_processor",
        "tests/test_generation_paths.py::test_every_knob_has_a_value_here",
        *(f"tests/test_generation_paths.py::test_api_cli_and_session_agree_or_refuse"
          f"[floor_p-{strategy}]" for strategy in STRATEGIES),
    ]
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--rootdir", str(copy), "-c", str(copy / "pytest.ini"), "tests/check_floor.py",
         *paths_cases],
        cwd=copy, env=env, capture_output=True, text=True, timeout=600,
    )
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    checks = len(re.findall(r"^(?:async )?def test_", (HERE / "check_floor.py").read_text(
        encoding="utf-8"), flags=re.MULTILINE))
    checks += len(paths_cases)
    assert f"{checks} passed" in run.stdout, report  # every check ran, none skipped
