"""Where arlm finds its shipped data (``models/``, ``lessons/``) and the user's data.

Shipped data is looked up first inside the installed package (a wheel puts ``models/`` and
``lessons/`` under ``arlm_tui/_data/``), then next to the package in a source checkout (also
what an editable install sees). User data lives under platformdirs' user data directory, or under
``$ARLM_HOME`` when that is set (tests always set it).

Paths a person types (a session file to save or open, a model folder) go through ONE policy,
``user_path`` (and ``user_model`` for model names): in the local app a path is taken as typed;
in a served app (``arlm serve``: ``$ARLM_SERVED`` names the visitor's folder) every typed path
must stay inside that folder, so a visitor can neither read nor write the server's other files.
"""

from __future__ import annotations

import os
from pathlib import Path

from arlm_tui.errors import ArlmError

#: Set (to the visitor's folder) for each app ``arlm serve`` runs: typed paths stay inside it.
SERVED_ENV = "ARLM_SERVED"

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


class PathRefused(ArlmError):
    """A typed path that leaves the visitor's folder of a served app."""


def served_root() -> Path | None:
    """The folder every typed path must stay in when the app is served (``$ARLM_SERVED``,
    symlinks resolved), or None in the local app (no confinement)."""
    folder = os.environ.get(SERVED_ENV)
    return Path(folder).resolve() if folder else None


def user_path(text: str | Path) -> Path:
    """Where a path typed by the user points, under the one policy of this module.

    Local app: the path as typed, ``~`` expanded (relative to the working directory).
    Served app: a relative path is taken inside the visitor's folder and returned resolved
    (symlinks followed); ``~``, an absolute path elsewhere, a ``..`` that climbs out or a
    symlink that leads out are refused with ``PathRefused`` (one line, naming what was typed
    but never where a link leads)."""
    root = served_root()
    if root is None:
        try:
            return Path(text).expanduser()
        except RuntimeError:  # ~name of no user here
            raise ArlmError(f"{text}: no such user's home folder") from None
    typed = str(text).strip()
    if typed.startswith("~"):
        raise PathRefused(f"{typed}: served arlm: files stay in your own folder (no ~)")
    try:
        resolved = (root / typed).resolve()  # an absolute ``typed`` replaces root
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
        raise PathRefused(f"{typed}: not a usable path") from None
    if not resolved.is_relative_to(root):
        raise PathRefused(f"{typed}: served arlm: files stay in your own folder")
    return resolved


def shown(path: str | Path) -> str:
    """A path as the app shows it: as it is in the local app; in a served app relative to the
    visitor's folder (a visitor needs no name of the server's folders)."""
    root = served_root()
    if root is None:
        return str(path)
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except (OSError, RuntimeError, ValueError):
        return Path(path).name


def user_model(spec: object) -> object:
    """A model as typed (a name, a folder, an ``.arpa`` file, ``hf:PATH``), made safe to hand
    to the model loader. Local app, or anything but text: unchanged. Served app: the name of a
    bundled or the visitor's own model stays a name; any other text is a path and goes through
    ``user_path`` (``hf:`` keeps its scheme), so only the visitor's folder can be read."""
    if served_root() is None or not isinstance(spec, (str, Path)):
        return spec
    text = str(spec).strip()
    if text.startswith("hf:"):
        return "hf:" + str(user_path(text[3:]))
    if _is_model_name(text):
        return text
    return str(user_path(text))


def _is_model_name(text: str) -> bool:
    """A bare name (no folder, no ~) of a bundled or user-trained model (as the registry lists
    them: a folder with a config.json)."""
    bare = Path(text)
    if len(bare.parts) != 1 or text in (".", "..") or text.startswith("~") or bare.is_absolute():
        return False
    return any((folder / text / "config.json").is_file()
               for folder in (models_dir(), user_models_dir()))
