"""Finding and loading models by name or path: the bundled ones, the user's, or any directory.

A model directory holds ``config.json`` whose ``"backend"`` says which loader reads the rest
(``ngram``, ``oracle``, ``rnn``/``gru``/``lstm``/``ffn``/``transformer``); an ``.arpa`` file is read
as a back-off n-gram; a Hugging Face GPT-2 folder (``model_type`` gpt2) runs on arlm's own
transformer (``lm.neural.gpt2``), other ``hf:PATH`` folders through ``transformers``. Which
backend reads what is one table, ``lm.backends``; this module only finds the files. Names are looked up first among the bundled models (``models/``), then among
the user's (``$ARLM_HOME/models``). Loading never unpickles anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arlm_tui import paths
from arlm_tui.errors import ModelLoadError, UnknownModelError

if TYPE_CHECKING:  # pragma: no cover
    from arlm_tui.lm.base import LanguageModel  # numpy: not needed to list or name models

#: The model used when a command is given no ``--model``.
DEFAULT_MODEL = "oracle-kn3"


@dataclass(frozen=True)
class ModelEntry:
    """A model found on disk, described from its ``config.json`` without loading its weights."""

    name: str
    path: Path
    origin: str  # "bundled" | "user"
    config: dict[str, Any]

    @property
    def backend(self) -> str:
        return str(self.config.get("backend", "?"))

    def summary(self) -> dict[str, Any]:
        info = self.config.get("summary", {})
        return {
            "name": self.name,
            "backend": self.backend,
            "origin": self.origin,
            "parameters": info.get("parameters"),
            "corpus": info.get("corpus"),
            "heldout_perplexity": info.get("heldout_perplexity"),
            "path": str(self.path),
        }


def read_config(directory: Path) -> dict[str, Any]:
    """``config.json`` of a model directory, or a one-line ModelLoadError naming the file."""
    file = Path(directory) / "config.json"
    if not file.exists() and not file.is_symlink():  # else: inputs says what it is
        raise ModelLoadError("missing config.json (not a model directory)", path=file)
    from arlm_tui import inputs

    with inputs.reported_as(ModelLoadError):  # a regular file, size and depth bounded
        config = inputs.load_json(file, limit=inputs.LIMITS["config"], what="config")
    if not isinstance(config, dict) or "backend" not in config:
        raise ModelLoadError('no "backend" field', path=file)
    return config


def write_summary(directory: str | Path, summary: dict[str, Any], **extra: Any) -> None:
    """Store what ``arlm models list`` shows (corpus, parameters, held-out perplexity...) in the
    model's ``config.json`` under ``"summary"``; non-finite numbers are left out (JSON has none)."""
    import math

    file = Path(directory) / "config.json"
    config = json.loads(file.read_text(encoding="utf-8"))
    config["summary"] = {
        k: v for k, v in summary.items() if not (isinstance(v, float) and not math.isfinite(v))
    }
    for key, value in extra.items():
        config.setdefault(key, value)
    from arlm_tui.outputs import write_text

    write_text(file, json.dumps(config, indent=2) + "\n")


def _scan(root: Path, origin: str) -> list[ModelEntry]:
    entries: list[ModelEntry] = []
    if not root.is_dir():
        return entries
    for child in sorted(root.iterdir()):
        if (child / "config.json").is_file():
            try:
                config = read_config(child)
            except ModelLoadError:
                config = {"backend": "broken"}
            entries.append(ModelEntry(child.name, child, origin, config))
    return entries


def list_models() -> list[ModelEntry]:
    """Every bundled and user-trained model (bundled first; a user model may not shadow one)."""
    bundled = _scan(paths.models_dir(), "bundled")
    names = {e.name for e in bundled}
    user = [e for e in _scan(paths.user_models_dir(), "user") if e.name not in names]
    return bundled + user


def resolve(name_or_path: str | Path) -> Path:
    """The directory (or ARPA file) a model name or path refers to."""
    text = str(name_or_path)
    for entry in list_models():
        if entry.name == text:
            return entry.path
    path = Path(text).expanduser()
    if path.exists():
        return path
    known = ", ".join(e.name for e in list_models()) or "none"
    raise UnknownModelError(f"unknown model {text!r} (known models: {known}; or give a path)")


def load_model(name_or_path: str | Path | LanguageModel | None = None) -> LanguageModel:
    """Load a model by bundled/user name, directory path, ``.arpa`` file or ``hf:PATH``: the
    backend that reads it comes from the table of backends (``lm.backends``)."""
    from arlm_tui.lm import backends
    from arlm_tui.lm.base import LanguageModel

    if isinstance(name_or_path, LanguageModel):
        return name_or_path
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    text = str(name_or_path)
    schemed = backends.by_scheme(text)  # "hf:PATH": a GPT-2 folder first, then transformers
    if schemed is not None:
        reader, rest = schemed
        model = reader.load_from(rest)
        model.name = text
        return model
    path = resolve(text)
    if path.is_file():
        by_suffix = backends.by_suffix(path)  # an .arpa file
        if by_suffix is None:
            kinds = " or ".join(f"an {s}" for s in backends.file_suffixes())
            raise ModelLoadError(f"not a model directory or {kinds} file", path=path)
        model = by_suffix.load_from(path)
        model.name = path.stem
        return model
    # a folder a backend recognises (a Hugging Face GPT-2 checkpoint), else config.json says
    row = backends.by_detection(path)
    if row is None:
        backend = read_config(path)["backend"]
        row = backends.by_config(backend)
    if row is None:
        raise ModelLoadError(f'unknown backend "{backend}"', path=path / "config.json")
    model = row.load_from(path)
    model.name = text if not Path(text).exists() else path.name
    return model
