"""Saved play sessions on disk: where a typed name points, what is wrong with one, the saved
ones, writing and reading one.

A session file is JSON written by ``Session.to_json``; reading one only checks what can be
checked before a model is chosen (size, encoding, format, the "model" field), so that a file
naming an unknown model can be asked about before anything is loaded.
"""

from __future__ import annotations

from pathlib import Path

from arlm_tui.errors import ArlmError


def sessions_dir() -> Path:
    from arlm_tui import paths

    return paths.user_home() / "sessions"


def session_path(text: str) -> Path:
    """Where a typed session file name points: a bare name (no folder) goes into arlm's
    ``sessions/`` folder, with ``.json`` added when it has no suffix; a path is taken as it is.
    Either way it passes ``paths.user_path``: when arlm is served, a path outside the visitor's
    folder raises ``PathRefused`` (one line)."""
    from arlm_tui import paths

    text = text.strip()
    path = Path(text)
    if not text.startswith(("~", ".", "/")) and len(path.parts) == 1:
        path = sessions_dir() / path
        if not path.suffix:
            path = path.with_suffix(".json")
        return paths.user_path(path)
    return paths.user_path(text)


def save_name_problem(text: str) -> str | None:
    """What is wrong with a typed name to save a session as (None: nothing)."""
    path = session_path(text)
    if path.is_dir():
        return f"{path} is a directory: add a file name"
    return None


def open_name_problem(text: str) -> str | None:
    """What is wrong with a typed name of a session file to open (None: nothing)."""
    path = session_path(text)
    if path.is_dir():
        return f"{path} is a directory: choose a session file in it"
    if not path.exists():
        return f"no such file: {path}"
    if not path.is_file():
        return f"{path} is not a regular file"
    return None


def write_session_file(path: Path, text: str) -> None:
    """Write a session's JSON to ``path`` (its folder made if needed; a temporary file renamed
    into place), else ArlmError with one line."""
    from arlm_tui.outputs import write_text

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, text)
    except OSError as exc:
        raise ArlmError(f"could not save {path}: {exc.strerror or exc}") from None


def saved_sessions(folder: Path) -> list[Path]:
    """The session files in ``folder``, newest first (none if it cannot be read)."""
    try:
        files = [path for path in folder.glob("*.json") if path.is_file()]
        return sorted(files, key=lambda path: path.stat().st_mtime, reverse=True)
    except OSError:
        return []


def read_session_file(path: Path) -> str:
    """The text of a saved session: a regular UTF-8 file within the session size limit
    (checked before reading), else ArlmError with one line."""
    from arlm_tui import inputs

    return inputs.read_text(path, limit=inputs.LIMITS["session"], what="session file")


def session_model_name(text: str, path: Path) -> str:
    """The "model" field of a session file (checked before any model is looked up)."""
    import json

    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        what = "nested too deeply" if isinstance(exc, RecursionError) else f"not valid JSON: {exc}"
        raise ArlmError(f"{path}: session file is {what}") from None
    if not isinstance(data, dict) or data.get("format") != "arlm-session":
        raise ArlmError(f'{path}: not an arlm session (expected "format": "arlm-session")')
    named = data.get("model")
    if not isinstance(named, str) or not named.strip():
        raise ArlmError(f'{path}: the session\'s "model" field is missing or not a name')
    return named
