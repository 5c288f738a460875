"""Where arlm finds its shipped data (``models/``, ``lessons/``) and the user's data.

Shipped data is looked up first inside the installed package (a wheel puts ``models/`` and
``lessons/`` under ``arlm_tui/_data/``), then next to the package in a source checkout (also
what an editable install sees). User data lives under platformdirs' user data directory, or under
``$ARLM_HOME`` when that is set (tests always set it).
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    return _PACKAGE_DIR.parent / name


def models_dir() -> Path:
    """The directory of the models we ship."""
    return _shipped("models")


def lessons_dir() -> Path:
    """The directory of the lessons we ship."""
    return _shipped("lessons")


def user_home() -> Path:
    """arlm's per-user data directory (progress database, user-trained models)."""
    override = os.environ.get("ARLM_HOME")
    if override:
        home = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        home = Path(user_data_dir("arlm", appauthor=False))
    return home


def user_models_dir() -> Path:
    """Where ``arlm train ... --out NAME`` with a bare name puts models, and where they are found."""
    return user_home() / "models"
