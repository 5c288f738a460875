"""Saving and loading neural model directories (safetensors and JSON; never pickle).

    <dir>/config.json        {"backend", "format": 1, "architecture": {...}, "vocab_size",
                              "context", "tokenizer", "training": {...}, "summary": {...}}
    <dir>/model.safetensors  the net's tensors, by their torch state_dict names
    <dir>/tokenizer.json     the tokenizer (arlm_tui.text.tokenizers)
    <dir>/card.md            how the model was made (written by training)

Anything missing, corrupt, truncated or inconsistent raises ``ModelLoadError`` with one line
naming the file at fault.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from arlm_tui.errors import ModelLoadError
from arlm_tui.lm import backends
from arlm_tui.lm.neural.backend import NeuralLanguageModel, set_inference_threads
from arlm_tui.lm.neural.config import ModelConfig, config_from_dict, config_to_dict

FORMAT = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"


def build_net(backend: str, config: ModelConfig) -> nn.Module:
    """A freshly initialised net of the family ``backend`` (weights random): the net class of
    its row in the table of backends."""
    row = backends.get(backend)
    if row is None or not row.neural:
        kinds = ", ".join(r.name for r in backends.neural_backends())
        raise ValueError(f"backend must be one of {kinds}, got {backend!r}")
    return row.build_net(config)


def backend_of(net: nn.Module) -> str:
    """The ``config.json`` backend name of a net (its config knows its kind)."""
    return config_of(net).kind


def config_of(net: nn.Module) -> ModelConfig:
    """The config a net was built from (every arlm net keeps it as ``.config``)."""
    return cast(ModelConfig, net.config)


def weights_of(net: nn.Module) -> dict[str, torch.Tensor]:
    """The net's tensors as safetensors wants them: contiguous, detached, on the CPU."""
    return {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}


def _finite(value: Any) -> Any:
    """JSON has no inf/NaN: store them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_config(
    directory: Path,
    net: nn.Module,
    tokenizer: Any,
    *,
    training: dict[str, Any] | None = None,
    summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``config.json`` for ``net``; returns what was written."""
    net_config = config_of(net)
    config = {
        "backend": backend_of(net),
        "format": FORMAT,
        "architecture": config_to_dict(net_config),
        "vocab_size": net_config.vocab_size,
        "context": net_config.context,
        "tokenizer": getattr(tokenizer, "kind", "unknown"),
        "training": _finite(dict(training or {})),
        "summary": _finite(dict(summary or {})),
    }
    text = json.dumps(config, indent=2, ensure_ascii=False)
    from arlm_tui.outputs import write_text

    write_text(Path(directory) / CONFIG_FILE, text + "\n")
    return config


def save_weights(net: nn.Module, file: Path) -> None:
    """Write the net's tensors to ``file`` atomically (a crash never leaves half a file)."""
    _write_tensors(weights_of(net), file)


def _write_tensors(tensors: dict[str, torch.Tensor], file: Path) -> None:
    from safetensors.torch import save_file

    from arlm_tui.outputs import writing

    with writing(file) as tmp:  # renamed into place; 0666 & ~umask like every other file
        save_file(tensors, str(tmp), metadata={"format": str(FORMAT)})


def save_neural(
    model: NeuralLanguageModel,
    directory: str | Path,
    *,
    training: dict[str, Any] | None = None,
) -> Path:
    """Write config.json, model.safetensors, tokenizer.json (and card.md if there is none yet)
    of ``model`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(model.net, directory / WEIGHTS_FILE)
    model.tokenizer.save(directory / TOKENIZER_FILE)
    write_config(directory, model.net, model.tokenizer, training=training, summary=model.summary)
    if not (directory / "card.md").is_file():  # training writes a fuller one
        from arlm_tui.lm.card import write_card

        facts = {k: v for k, v in model.describe().items() if v is not None}
        write_card(directory, f"{model.backend} language model", facts)
    return directory


def read_neural_config(directory: Path) -> tuple[str, ModelConfig, dict[str, Any]]:
    """(backend, architecture config, the whole JSON) from ``config.json``, checked."""
    file = directory / CONFIG_FILE
    if not file.exists() and not file.is_symlink():  # else: inputs says what it is
        raise ModelLoadError("missing (not a model directory)", path=file)
    from arlm_tui import inputs

    with inputs.reported_as(ModelLoadError):  # a regular file, size and depth bounded
        raw = inputs.load_json(file, limit=inputs.LIMITS["config"], what="config")
    if not isinstance(raw, dict):
        raise ModelLoadError("not a JSON object", path=file)
    backend = raw.get("backend")
    row = backends.get(backend) if isinstance(backend, str) else None
    if not isinstance(backend, str) or row is None or not row.neural:
        raise ModelLoadError(f"backend {backend!r} is not a neural backend", path=file)
    if raw.get("format") != FORMAT:
        raise ModelLoadError(
            f"format {raw.get('format')!r} is not supported (expected {FORMAT})", path=file
        )
    try:
        # config_from_dict checks that the architecture is a mapping (TypeError if not)
        config = config_from_dict(backend, cast(Mapping[str, Any], raw.get("architecture")))
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"architecture: {exc}", path=file) from None
    if raw.get("vocab_size", config.vocab_size) != config.vocab_size:
        raise ModelLoadError(
            f"vocab_size {raw.get('vocab_size')!r} does not match the architecture's "
            f"{config.vocab_size}",
            path=file,
        )
    return backend, config, raw


def load_weights(net: nn.Module, file: Path) -> None:
    """Fill ``net`` from a safetensors file whose names and shapes must match exactly."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not file.is_file():
        raise ModelLoadError("missing", path=file)
    from arlm_tui import inputs

    with inputs.reported_as(ModelLoadError):  # never a FIFO or a device
        inputs.check_regular_file(file, what="weights file")
    try:
        tensors = load_file(str(file))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot read the weights ({first})", path=file) from None
    expected = net.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        what = f"missing {', '.join(missing[:3])}" if missing else ""
        if unexpected:
            what += ("; " if what else "") + f"unexpected {', '.join(unexpected[:3])}"
        raise ModelLoadError(f"tensors do not match config.json: {what}", path=file)
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ModelLoadError(
                f"{name} has shape {tuple(tensor.shape)}, config.json implies "
                f"{tuple(expected[name].shape)}",
                path=file,
            )
        if not tensor.is_floating_point():
            raise ModelLoadError(f"{name} is not floating point ({tensor.dtype})", path=file)
        if not torch.isfinite(tensor).all():
            raise ModelLoadError(f"{name} contains inf or NaN", path=file)
    net.load_state_dict({k: v.float() for k, v in tensors.items()})


def load_neural(directory: str | Path) -> NeuralLanguageModel:
    """Load a model directory written by ``save_neural`` (or ``arlm train <neural kind>``)."""
    from arlm_tui.text.tokenizers import load_tokenizer

    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError("not a directory", path=directory)
    backend, config, raw = read_neural_config(directory)
    tokenizer = load_tokenizer(directory / TOKENIZER_FILE)
    if len(tokenizer.vocab) != config.vocab_size:
        raise ModelLoadError(
            f"{len(tokenizer.vocab)} tokens, but config.json says vocab_size {config.vocab_size}",
            path=directory / TOKENIZER_FILE,
        )
    with torch.random.fork_rng():  # the random init is overwritten: leave the seed alone
        net = build_net(backend, config)
    load_weights(net, directory / WEIGHTS_FILE)
    set_inference_threads()
    summary = raw.get("summary") if isinstance(raw.get("summary"), dict) else {}
    return NeuralLanguageModel(
        net, tokenizer, backend=backend, name=directory.name, summary=summary
    )


def store_bfloat16(out: Path, valid: Sequence[str]) -> tuple[float | None, float | None]:
    """Round every weight of the model in ``out`` to the nearest bfloat16 number and store it
    so (half the file; a transformer's compiled step then reads its matrices in half the bytes,
    see ``kernels``). The held-out perplexity on ``valid`` before and after goes into
    config.json's summary and the card (None without held-out texts). Returns (before, after).
    """
    from safetensors.torch import load_file

    from arlm_tui.lm.information import heldout_nll, perplexity
    from arlm_tui.lm.registry import write_summary

    def heldout_perplexity() -> float | None:
        if not valid:
            return None
        return round(perplexity(*heldout_nll(load_neural(out), valid)), 4)

    before = heldout_perplexity()
    file = out / WEIGHTS_FILE
    _write_tensors({k: v.to(torch.bfloat16) for k, v in load_file(str(file)).items()}, file)
    after = heldout_perplexity()
    summary = json.loads((out / CONFIG_FILE).read_text(encoding="utf-8")).get("summary", {})
    if after is not None:
        summary["heldout_perplexity"] = after
    write_summary(out, {**summary, "weights": "bfloat16"})
    from arlm_tui.outputs import write_text

    card = out / "card.md"
    write_text(
        card,
        card.read_text(encoding="utf-8")
        + "\nThe weights were then rounded to bfloat16 (8-bit mantissa) and are stored so"
        + (f"; held-out perplexity {before} before, {after} after (every token and </s> of "
           "the held-out texts)" if after is not None else "")
        + ". Computation stays float32.\n",
            )
    return before, after
