"""Shipped data is found inside an installed wheel (``arlm_tui/_data/``) or next to the package in
a source checkout; user data goes under ``$ARLM_HOME``."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from arlm_tui import paths

ROOT = Path(__file__).resolve().parent.parent


def test_source_checkout_finds_models_and_lessons():
    assert paths.models_dir() == ROOT / "models"
    assert paths.lessons_dir() == ROOT / "lessons"
    assert (paths.models_dir() / "oracle-kn3" / "config.json").is_file()


def test_installed_layout_is_preferred(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "arlm_tui"
    for name in ("models", "lessons"):
        (package / "_data" / name).mkdir(parents=True)
    monkeypatch.setattr(paths, "_PACKAGE_DIR", package)
    assert paths.models_dir() == package / "_data" / "models"
    assert paths.lessons_dir() == package / "_data" / "lessons"


def test_user_data_follows_arlm_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ARLM_HOME", str(tmp_path / "home"))
    assert paths.user_home() == tmp_path / "home"
    assert paths.user_models_dir() == tmp_path / "home" / "models"


def test_the_wheel_ships_models_and_lessons(tmp_path):
    """Build the wheel and look inside: the installed layout really has the data."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, out.stderr
    wheel = next(tmp_path.glob("arlm_tui-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "arlm_tui/_data/models/oracle-kn3/config.json" in names
    assert "arlm_tui/_data/models/oracle-transformer/model.safetensors" in names
    assert "arlm_tui/_data/lessons/05-ngrams/lesson.yaml" in names
    assert "arlm_tui/tui/app.tcss" in names
