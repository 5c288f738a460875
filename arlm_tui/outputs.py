"""Where arlm writes: destinations checked before any work, files written whole or not at all.

Every command that writes checks its destination first (``check_output_file`` for one file,
``check_model_dir`` for a model directory): a mistake is one ``ArlmError`` line naming the path
and what is wrong, and nothing is written. A model directory is only ever written into when it is
new, empty, or already a model of the same kind (so ``--out`` naming a source checkout is refused).

Every file is written to a temporary name in its own folder and renamed into place
(``write_text``, ``write_bytes``, ``writing``): a kill or a full disk leaves the old file or the
new one, never half of one, and a full disk is one ``ArlmError`` line. All files get the same
permission policy, 0666 & ~umask, as ``open()`` gives a new file, so a model directory can be
shared (``tempfile`` alone would make them 0600).

In a served app (``arlm serve``) a file is only written inside the visitor's folder: the dialogs
refuse other paths (``paths.user_path``), and ``writing`` checks the same policy again as a
last line, so a path that reached it some other way is refused too.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from arlm_tui.errors import ArlmError

#: The files an arlm model directory holds (n-gram or neural, with a training checkpoint).
MODEL_FILES = frozenset(
    {
        "config.json",
        "tokenizer.json",
        "card.md",
        "model.safetensors",
        "ngrams.safetensors",
        "checkpoint.safetensors",
        "checkpoint.json",
        "loss-chart.txt",  # arlm_tui/charts.py LOSS_CHART_FILE, written beside a trained model
        "checkpoint",  # the checkpoint as one directory, swapped whole
    }
)


# --------------------------------------------------------------------------- checking
def _explain(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    return (exc.strerror or str(exc)).lower()


#: What writers that are not Python's own (safetensors' Rust code) say about a failed write.
_WRITER_PROBLEMS = (
    ("no space left", "the disk is full"),
    ("storagefull", "the disk is full"),
    ("file too large", "the file is larger than this system allows"),
    ("filetoolarge", "the file is larger than this system allows"),
    ("permission denied", "permission denied"),
    ("read-only file system", "the file system is read-only"),
    ("quota", "the disk quota is exceeded"),
)


def _writer_problem(exc: BaseException) -> str | None:
    """A plain description of a failed write reported by a library as its own exception type
    (``SafetensorError: ... Os { code: 28, kind: StorageFull ...}``), else None (a real bug)."""
    text = str(exc).lower()
    for needle, plain in _WRITER_PROBLEMS:
        if needle in text:
            return plain
    if type(exc).__name__ == "SafetensorError" and "os error" in text:
        return " ".join(str(exc).split())[:160]
    return None


def _probe_writable(folder: Path, label: str) -> None:
    """Create and remove a scratch file in ``folder``: the only sure test that we may write."""
    try:
        fd, name = tempfile.mkstemp(prefix=".arlm-probe-", dir=folder)
    except OSError as exc:
        raise ArlmError(f"{label}: cannot write in {folder} ({_explain(exc)})") from None
    os.close(fd)
    os.unlink(name)


def _existing_parent(path: Path, label: str) -> Path:
    parent = path.parent
    try:
        mode = parent.stat().st_mode
    except FileNotFoundError:
        raise ArlmError(f"{label}: the folder {parent} does not exist; create it first") from None
    except NotADirectoryError:
        raise ArlmError(f"{label}: {_first_file(parent)} is a file, not a folder") from None
    except OSError as exc:
        raise ArlmError(f"{label}: cannot use {parent} ({_explain(exc)})") from None
    if not stat.S_ISDIR(mode):
        raise ArlmError(f"{label}: {parent} is a file, not a folder")
    return parent


def _first_file(path: Path) -> Path:
    """The first ancestor of ``path`` that exists and is not a folder (for the message)."""
    for part in reversed([path, *path.parents]):
        if part.exists() and not part.is_dir():
            return part
    return path


def check_output_file(path: str | Path, *, option: str = "--out", example: str = "") -> Path:
    """Check that a file can be written at ``path``; ArlmError (one line) otherwise.

    Refused: an existing folder, something that is not a regular file (a FIFO, a device), a
    missing or non-folder parent, a folder we may not write in. ``example`` is a file name
    suggested when ``path`` is a folder (``model.arpa``)."""
    text = str(path)
    path = Path(path).expanduser()
    label = f"{option} {text}"
    if text.endswith(os.sep) or path.is_dir():
        hint = f" such as {path / example}" if example else ""
        raise ArlmError(f"{label}: {path} is a folder; give a file name{hint}")
    mode = _mode_of(path, label, follow_links=False)
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise ArlmError(f"{label}: {path} exists and is not a regular file")
    if mode is not None and stat.S_ISLNK(mode) and not path.is_file():
        raise ArlmError(f"{label}: {path} is a link to something that is not a regular file")
    parent = _existing_parent(path, label)
    _probe_writable(parent, label)
    return path


def _mode_of(path: Path, label: str, *, follow_links: bool) -> int | None:
    """``path``'s mode (of the link itself unless ``follow_links``), None if nothing is there;
    a parent that is a file or an unreadable path is one ArlmError line."""
    try:
        return (path.stat() if follow_links else path.lstat()).st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise ArlmError(f"{label}: {_first_file(path.parent)} is a file, not a folder") from None
    except OSError as exc:
        raise ArlmError(f"{label}: cannot use {path} ({_explain(exc)})") from None


def _checkpoint_backend(file: Path) -> str | None:
    """The backend a training checkpoint was made for, from its safetensors header (8 bytes of
    length, then JSON whose ``__metadata__.state`` holds the run settings)."""
    import struct

    try:
        with open(file, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > 16 * 1024 * 1024:
                return None
            header = json.loads(handle.read(length))
        state = json.loads(header["__metadata__"]["state"])
        backend = state["run"]["backend"]
    except (OSError, ValueError, KeyError, TypeError, struct.error, RecursionError):
        return None
    return backend if isinstance(backend, str) else None


def model_kind(folder: Path) -> str | None:
    """The backend of the model (or training checkpoint) in ``folder``, if it holds one."""
    file = folder / "config.json"
    try:
        if file.is_file() and file.stat().st_size <= 16 * 1024 * 1024:
            value = json.loads(file.read_text(encoding="utf-8"))
            backend = value.get("backend") if isinstance(value, dict) else None
            if isinstance(backend, str):
                return backend
    except (OSError, ValueError, RecursionError):
        pass
    checkpoint = folder / "checkpoint.safetensors"
    return _checkpoint_backend(checkpoint) if checkpoint.is_file() else None


def check_model_dir(
    path: str | Path, kind: str, *, option: str = "--out", typed: str | None = None
) -> Path:
    """Check that a model of ``kind`` (``ngram``, ``lstm``, ...) may be written into ``path``.

    Allowed: a new folder in an existing, writable folder; an empty folder; a folder that
    already holds an arlm model or checkpoint of the same kind (retraining, resuming). Anything
    else is one ArlmError line naming the path and the problem (``typed``: what the user typed,
    when it is not the path itself, as for ``--name``)."""
    text = str(path) if typed is None else typed
    path = Path(path).expanduser()
    label = f"{option} {text}"
    mode = _mode_of(path, label, follow_links=True)
    if mode is None:
        if path.is_symlink():
            raise ArlmError(f"{label}: {path} is a broken link")
        _probe_writable(_existing_parent(path, label), label)
        return path
    if not stat.S_ISDIR(mode):
        raise ArlmError(f"{label}: {path} is a file; a model is saved in a folder")
    try:
        entries = sorted(p.name for p in path.iterdir())
    except OSError as exc:
        raise ArlmError(f"{label}: cannot read {path} ({_explain(exc)})") from None
    foreign = [n for n in entries if n not in MODEL_FILES and not n.endswith(".tmp")]
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ArlmError(
            f"{label}: {path} is a folder that is not an arlm model (it holds {shown}); "
            "choose a new or empty folder"
        )
    found = model_kind(path)
    if entries and found is not None and found != kind:
        raise ArlmError(
            f"{label}: {path} holds a {found} model, not a {kind} one; choose another folder"
        )
    _probe_writable(path, label)
    return path


def model_destination(out: str | Path | None, name: str | None, kind: str) -> Path:
    """The model directory a training command writes: ``--out DIR`` or ``--name NAME`` (in
    arlm's user models folder), checked with ``check_model_dir`` before any work."""
    if out is not None and name is not None:
        raise ArlmError("give either --out DIR or --name NAME, not both")
    if name is not None:
        from arlm_tui.paths import user_models_dir

        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ArlmError(f"--name {name!r}: a model name has no slashes; use --out DIR")
        models = user_models_dir()
        try:
            models.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArlmError(f"cannot create {models} ({_explain(exc)})") from None
        return check_model_dir(models / name, kind, option="--name", typed=name)
    if out is None:
        raise ArlmError("say where to save the model: --out DIR (or --name NAME)")
    return check_model_dir(out, kind)


# --------------------------------------------------------------------------- writing
def _umask() -> int:
    # os.umask can only be read by setting it; put it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The permission bits every file arlm writes gets: 0666 & ~umask, as ``open()`` gives."""
    return 0o666 & ~_umask()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def writing(path: str | Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block ends without error the file is
    flushed to disk and renamed over ``path`` (atomic on POSIX). On any error, including a full
    disk, the temporary file is removed and ``path`` is left as it was; an OSError becomes one
    ArlmError line."""
    path = Path(path)
    folder = path.parent
    from arlm_tui import paths

    if paths.served_root() is not None:  # served: nothing is written outside the visitor's
        paths.user_path(folder.absolute())  # folder, whatever path got here (PathRefused)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ArlmError(f"cannot write {path} ({_explain(exc)})") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        if durable:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ArlmError(f"cannot write {path} ({_explain(exc)})") from None
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        problem = _writer_problem(exc)
        if problem is None:
            raise
        raise ArlmError(f"cannot write {path} ({problem})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(folder)


def write_bytes(path: str | Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (see ``writing``)."""
    with writing(path, durable=durable) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str, *, durable: bool = True) -> None:
    """Write UTF-8 ``text`` (``\\n`` line ends) to ``path`` whole or not at all."""
    write_bytes(path, text.encode("utf-8"), durable=durable)


__all__ = [
    "MODEL_FILES",
    "check_model_dir",
    "check_output_file",
    "file_mode",
    "model_destination",
    "model_kind",
    "write_bytes",
    "write_text",
    "writing",
]
