"""Training the neural backends: maximum likelihood with AdamW, resumable, deterministic.

The objective is the average negative log-likelihood of every next token, the cross-entropy
between the data and the model:

    L(θ) = −(1/N) Σ_texts Σ_t log p_θ(w_t | <s> w_1 … w_{t−1})      (targets include </s>)
    held-out perplexity = exp(L on the validation texts)

Each family reads its texts the way it reads them when generating, so the validation
perplexity is exactly the one ``arlm score`` reports:

* feed-forward: every target with its window of n−1 previous tokens (``<s>``-padded);
* transformer: the windows of ``window_spans`` (each position scored once, read through the
  window the KV-cache path would use);
* recurrent: each text from h_0 = 0, unrolled ``context`` steps at a time with the hidden
  state carried between chunks but cut from the graph: truncated back-propagation through time.

Data order is a pure function of (seed, epoch), so a run resumed from ``checkpoint.safetensors``
+ ``checkpoint.json`` (weights, AdamW moments, RNG state, counters; never pickle) continues
exactly as if it had not stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from arlm_tui.errors import ArlmError, ModelLoadError
from arlm_tui.lm import backends
from arlm_tui.lm.information import perplexity
from arlm_tui.lm.neural.backend import NeuralLanguageModel, parameter_count
from arlm_tui.lm.neural.config import (
    ModelConfig,
    TransformerConfig,
    config_to_dict,
    make_config,
    window_spans,
)
from arlm_tui.lm.neural.io import WEIGHTS_FILE, build_net, save_weights, write_config
from arlm_tui.progress import ProgressBar, is_terminal

BOS_ID, EOS_ID = 1, 2
IGNORE = -100  # target id that contributes no loss (padding, positions scored elsewhere)
CHECKPOINT_WEIGHTS = "checkpoint.safetensors"
CHECKPOINT_STATE = "checkpoint.json"
#: AdamW learning rates per family (each row of ``lm.backends``): the best of a small sweep
#: (1e-3 … 1e-2) on the oracle language at the default sizes, 8 epochs (warm-up, then cosine
#: decay to a tenth).
DEFAULT_LR = {r.name: r.training.lr for r in backends.neural_backends() if r.training}
DEFAULT_EPOCHS = 10
#: Rows per batch: texts (or windows) for the sequence models, but single (window, target)
#: pairs for the feed-forward model, which therefore gets more of them.
DEFAULT_BATCH = {r.name: r.training.batch_size for r in backends.neural_backends() if r.training}
#: Texts longer than this many BPTT chunks are cut into pieces for training (each piece starts
#: from h_0 = 0), so one huge text does not leave a batch of one row.
RECURRENT_PIECE_CHUNKS = 16
VALID_BATCH = 64


# ------------------------------------------------------------------------------ records
@dataclass
class TrainProgress:
    """What a progress callback is told: after every step, and after every epoch."""

    phase: str  # "step" | "epoch" | "partial" (an epoch cut short by ``steps``) | "done"
    step: int
    total_steps: int
    epoch: int  # 1-based epoch in progress (or just finished)
    epochs: int | None
    loss: float  # training NLL per token: the last step's ("step") or the epoch's mean
    val_perplexity: float | None
    best_val_perplexity: float | None
    tokens_per_second: float


@dataclass
class TrainResult:
    """How a training run went; the model itself is in ``out_dir``."""

    out_dir: Path
    backend: str
    parameters: int
    steps: int
    epochs_completed: int
    train_loss: float  # mean NLL per token over the last epoch (or the steps run)
    val_perplexity: float | None  # best held-out perplexity (the saved weights')
    val_history: list[float] = field(default_factory=list)
    loss_history: list[float] = field(default_factory=list)  # mean training loss per epoch
    stopped_early: bool = False
    resumed_from_step: int = 0
    seconds: float = 0.0
    train_tokens: int = 0

    def model(self) -> NeuralLanguageModel:
        from arlm_tui.lm.neural import load_neural

        return load_neural(self.out_dir)


# ------------------------------------------------------------------------------ data
def encode_texts(texts: Sequence[str], tokenizer: Any, what: str) -> list[np.ndarray]:
    """``<s> ids </s>`` for every text that has tokens; anything that is not text -> ArlmError."""
    for number, text in enumerate(texts, 1):
        if not isinstance(text, str):
            raise ArlmError(f"{what} text {number} is not text but {type(text).__name__}")
        if "\x00" in text:
            raise ArlmError(f"{what} text {number} contains a NUL byte: binary data, not text")
    encoded = tokenizer.encode_batch(list(texts))
    return [np.array([BOS_ID, *ids, EOS_ID], dtype=np.int64) for ids in encoded if ids]


def _bucketed(order: np.ndarray, lengths: np.ndarray, batch_size: int, rng) -> list[np.ndarray]:
    """Batches of ``order`` where each batch holds rows of similar length (less padding).

    Rows are sorted by length inside groups of 50 batches, cut into batches, and the batches
    shuffled (when ``rng`` is given), so the order stays random but deterministic."""
    batches: list[np.ndarray] = []
    group = batch_size * 50
    for start in range(0, len(order), group):
        part = order[start : start + group]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


class FeedForwardData:
    """Every target token with the n−1 tokens before it (``<s>``-padded at a text's start)."""

    def __init__(self, seqs: list[np.ndarray], n1: int):
        pieces, targets, offset = [], [], 0
        for s in seqs:
            padded = np.concatenate([np.full(n1 - 1, BOS_ID, dtype=np.int64), s])
            targets.append(offset + np.arange(n1, len(padded)))
            pieces.append(padded)
            offset += len(padded)
        self.stream = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        self.targets = np.concatenate(targets) if targets else np.zeros(0, dtype=np.int64)
        self.offsets = np.arange(-n1, 0)
        self.tokens = len(self.targets)

    def plan(self, batch_size: int, rng) -> list[np.ndarray]:
        order = rng.permutation(len(self.targets)) if rng is not None else np.arange(self.tokens)
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def chunks(self, batch: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        where = self.targets[batch]
        window = self.stream[where[:, None] + self.offsets]  # (B, n−1)
        yield torch.from_numpy(window), torch.from_numpy(self.stream[where])


class _PaddedRows:
    """Rows of different lengths (``lengths``), batched with rows of similar length and padded:
    inputs with 0, targets with ``IGNORE`` (no loss there)."""

    lengths: np.ndarray

    def plan(self, batch_size: int, rng) -> list[np.ndarray]:
        rows = len(self.lengths)
        order = rng.permutation(rows) if rng is not None else np.arange(rows)
        return _bucketed(order, self.lengths, batch_size, rng)

    def _blank(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inputs (zeros) and targets (IGNORE) of shape (B, longest row in ``batch``)."""
        T = int(self.lengths[batch].max())
        return (np.zeros((len(batch), T), dtype=np.int64),
                np.full((len(batch), T), IGNORE, dtype=np.int64))


class TransformerData(_PaddedRows):
    """The windows of every text (``window_spans``), predictions outside the scored part masked."""

    def __init__(self, seqs: list[np.ndarray], context: int, keep: int):
        self.seqs = seqs
        rows = [
            (i, a, b, first)
            for i, s in enumerate(seqs)
            for a, b, first in window_spans(len(s) - 1, context, keep)
        ]
        self.rows = np.array(rows, dtype=np.int64).reshape(-1, 4)
        self.lengths = self.rows[:, 2] - self.rows[:, 1]
        self.tokens = int(sum(len(s) - 1 for s in seqs))

    def chunks(self, batch: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self._blank(batch)
        for r, (i, a, b, first) in enumerate(self.rows[batch]):
            s = self.seqs[i]
            x[r, : b - a] = s[a:b]
            y[r, first : b - a] = s[a + 1 + first : b + 1]
        yield torch.from_numpy(x), torch.from_numpy(y)


class RecurrentData(_PaddedRows):
    """Whole texts, one per row, unrolled ``bptt`` steps at a time (truncated BPTT)."""

    def __init__(self, seqs: list[np.ndarray], bptt: int, piece: int | None):
        rows = []
        for s in seqs:
            if piece is None or len(s) <= piece + 1:
                rows.append(s)
            else:  # pieces overlap by one token so that every target is kept once
                rows.extend(s[i : i + piece + 1] for i in range(0, len(s) - 1, piece))
        self.rows = rows
        self.lengths = np.array([len(r) - 1 for r in rows], dtype=np.int64)
        self.bptt = bptt
        self.tokens = int(self.lengths.sum())

    def chunks(self, batch: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self._blank(batch)
        T = x.shape[1]
        for r, i in enumerate(batch):
            s = self.rows[i]
            x[r, : len(s) - 1] = s[:-1]
            y[r, : len(s) - 1] = s[1:]
        for t in range(0, T, self.bptt):
            yield (
                torch.from_numpy(x[:, t : t + self.bptt]),
                torch.from_numpy(y[:, t : t + self.bptt]),
            )

    def steps(self, batch: np.ndarray) -> int:
        return -(-int(self.lengths[batch].max()) // self.bptt)


def make_data(kind: str, seqs: list[np.ndarray], config: ModelConfig, *, training: bool):
    """The batches of ``kind``'s layout (``Training.batches`` of its row in ``lm.backends``)."""
    batches = _training(kind).batches
    if batches == "window":
        return FeedForwardData(seqs, config.context)
    if batches == "positions":
        return TransformerData(seqs, config.context, cast(TransformerConfig, config).keep)
    if batches != "recurrent":
        raise ValueError(f"{kind}: unknown batch layout {batches!r}")
    piece = config.context * RECURRENT_PIECE_CHUNKS if training else None
    return RecurrentData(seqs, config.context, piece)


def _training(kind: str) -> backends.Training:
    """How ``kind`` trains (its row of the table of backends); ValueError for other kinds."""
    training = backends.neural(kind).training
    if training is None:
        raise ValueError(f"{kind} has no training defaults in the table of backends")
    return training


def _steps_in(data: Any, plan: list[np.ndarray]) -> int:
    if isinstance(data, RecurrentData):
        return sum(data.steps(batch) for batch in plan)
    return len(plan)


# ------------------------------------------------------------------------------ the loop
def _loss(net: nn.Module, kind: str, x: torch.Tensor, y: torch.Tensor, state: Any):
    """Summed NLL of the targets y and the number of targets; the carried state for RNNs."""
    if backends.neural(kind).recurrent:
        logits, state = net(x, state)
    else:
        logits = net(x)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )
    return loss, int((y != IGNORE).sum()), state


def evaluate(net: nn.Module, kind: str, data: Any) -> float:
    """Perplexity exp(−(1/N) Σ log p) of ``data`` under the net (eval mode, no gradients)."""
    if data.tokens == 0:
        return math.nan
    was_training = net.training
    net.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for batch in data.plan(VALID_BATCH, None):
            state = None
            for x, y in data.chunks(batch):
                loss, n, state = _loss(net, kind, x, y, state)
                total += float(loss)
                count += n
    net.train(was_training)
    return perplexity(total, count)


def _learning_rate(base: float, progress: float, step: int, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to base/10 at progress 1."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(max(progress, 0.0), 1.0)
    return base * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def _optimizer(net: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    # Decay matrices only: shrinking biases, gains and b_y towards 0 does not regularise.
    decay = [p for p in net.parameters() if p.dim() >= 2]
    rest = [p for p in net.parameters() if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


# ------------------------------------------------------------------------------ checkpoints
def _vocab_digest(tokenizer: Any) -> str:
    return hashlib.sha256("\n".join(tokenizer.vocab).encode("utf-8")).hexdigest()[:16]


#: The checkpoint format: one safetensors file whose metadata holds the counters as JSON.
CHECKPOINT_FORMAT = "2"


def _save_checkpoint(out: Path, net: nn.Module, optimizer, state: dict[str, Any]) -> None:
    """Weights, AdamW moments and the RNG state as tensors, and the counters and settings as
    JSON in the same file's metadata: one file renamed into place, so a kill at any instant
    leaves the old checkpoint or the new one, never the step counter of one with the
    optimizer of the other."""
    from safetensors.torch import save_file

    from arlm_tui.outputs import writing

    tensors = {f"model.{k}": v.detach().contiguous() for k, v in net.state_dict().items()}
    opt = optimizer.state_dict()
    for pid, slots in opt["state"].items():
        for name, value in slots.items():
            tensors[f"optim.{pid}.{name}"] = value.detach().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    groups = [{k: v for k, v in g.items()} for g in opt["param_groups"]]
    record = dict(state, param_groups=groups)
    metadata = {"format": CHECKPOINT_FORMAT, "state": json.dumps(record)}
    with writing(out / CHECKPOINT_WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    (out / CHECKPOINT_STATE).unlink(missing_ok=True)  # an older arlm's second file


def _checkpoint_state(weights_file: Path) -> dict[str, Any]:
    """The counters and settings stored in a checkpoint's metadata, checked."""
    from safetensors import SafetensorError, safe_open

    from arlm_tui import inputs

    try:
        with inputs.reported_as(ModelLoadError):
            inputs.check_regular_file(weights_file, what="checkpoint")
        with safe_open(str(weights_file), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if metadata.get("format") != CHECKPOINT_FORMAT or "state" not in metadata:
            raise ValueError("written by another version of arlm")
        state = inputs.parse_json(metadata["state"], source=weights_file)
        settings = state.get("run") if isinstance(state, dict) else None
        if not isinstance(settings, dict):
            raise KeyError("run settings")
    except (SafetensorError, OSError, ValueError, KeyError, ArlmError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"unreadable checkpoint ({first}); retrain with --no-resume", path=weights_file
        ) from None
    return state


def _load_checkpoint(out: Path, net: nn.Module, optimizer, run: dict[str, Any]) -> dict[str, Any]:
    """Restore a checkpoint into ``net`` and ``optimizer``; returns the saved counters."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights_file = out / CHECKPOINT_WEIGHTS
    state = _checkpoint_state(weights_file)
    saved = state["run"]
    changed = [k for k in run if saved.get(k) != run[k]]
    if changed:
        key = changed[0]
        raise ArlmError(
            f"was written by a run with different settings ({key}: {saved.get(key)!r} there, "
            f"{run[key]!r} now); use the same settings, another --out, or --no-resume",
            path=weights_file,
        )
    try:
        tensors = load_file(str(weights_file))
        net.load_state_dict(
            {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        )
        slots: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, pid, name = key.split(".", 2)
                slots.setdefault(int(pid), {})[name] = value
        groups = state["param_groups"]
        for group in groups:
            group["betas"] = tuple(group["betas"])
        optimizer.load_state_dict({"state": slots, "param_groups": groups})
        torch.set_rng_state(tensors["rng.torch"])
    except (SafetensorError, OSError, KeyError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"cannot resume ({first}); retrain with --no-resume", path=weights_file
        ) from None
    return state


def _remove_checkpoint(out: Path) -> None:
    for name in (CHECKPOINT_WEIGHTS, CHECKPOINT_STATE):
        (out / name).unlink(missing_ok=True)


# ------------------------------------------------------------------------------ progress
class TrainingBar:
    """The default progress display: a ``rich`` progress bar on a terminal (step, loss,
    held-out perplexity) with a line per epoch above it, and only the line per epoch when
    stderr is not a terminal (logs, CI)."""

    def __init__(self, label: str = "training", stream: TextIO | None = None):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = is_terminal(self.stream)
        self._bar: ProgressBar | None = None

    def __call__(self, event: TrainProgress) -> None:
        val = "" if event.val_perplexity is None else f" · val ppl {event.val_perplexity:.2f}"
        epochs = f"/{event.epochs}" if event.epochs else ""
        if event.phase == "step":
            if not self.tty:
                return
            if self._bar is None:
                self._bar = ProgressBar(self.label, event.total_steps, stream=self.stream,
                                        refresh_seconds=0.1)
            self._bar.update(event.step, extra=(
                f"step {event.step}/{event.total_steps} · epoch {event.epoch}{epochs} · "
                f"loss {event.loss:.3f}{val} · {event.tokens_per_second:,.0f} tok/s"))
        elif event.phase in ("epoch", "partial"):
            part = " (part)" if event.phase == "partial" else ""
            line = (f"{self.label}: epoch {event.epoch}{epochs}{part} · step {event.step} · "
                    f"train loss {event.loss:.3f}{val}")
            if self._bar is not None:
                self._bar.log(line)
            else:
                self.stream.write(line + "\n")
                self.stream.flush()
        elif self._bar is not None:
            self._bar.close(summary=False)
            self._bar = None


# ------------------------------------------------------------------------------ entry point
def training_threads(net: nn.Module) -> int:
    """Intra-op threads for training: one for small nets, whose operations are too short to
    share (a second thread then mostly spins, and badly so on a busy machine), up to two for
    nets of a million parameters or so, whose matrix products split well."""
    return 1 if parameter_count(net) < 200_000 else min(2, os.cpu_count() or 1)


def check_hyperparameters(
    kind: str,
    *,
    epochs: int | None,
    steps: int | None,
    lr: float | None,
    batch_size: int | None,
    dropout: float,
    patience: int | None,
) -> None:
    """ValueError naming the first parameter outside its range."""
    _training(kind)  # ValueError naming the kinds
    for name, value in (("epochs", epochs), ("steps", steps)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if lr is not None and not (isinstance(lr, int | float) and 0 < lr <= 1):
        raise ValueError(f"lr must be in (0, 1], got {lr!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not (isinstance(dropout, int | float) and 0 <= dropout < 1):
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if patience is not None and (not isinstance(patience, int) or patience < 0):
        raise ValueError(
            f"patience must be an integer >= 0 (0 = never stop early), got {patience!r}"
        )


def train_neural(
    kind: str,
    texts_train: Sequence[str],
    texts_valid: Sequence[str],
    tokenizer: Any,
    out_dir: str | Path,
    *,
    layers: int | None = None,
    d_model: int | None = None,
    heads: int | None = None,
    context: int | None = None,
    epochs: int | None = None,
    steps: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    dropout: float = 0.0,
    patience: int | None = 3,
    resume: bool = True,
    progress: Callable[[TrainProgress], None] | None = None,
    corpus: str = "",
    weight_decay: float = 0.01,
    clip_norm: float = 1.0,
    checkpoint_every: int | None = None,
    checkpoint_seconds: float = 30.0,
    threads: int | None = None,
) -> TrainResult:
    """Train a ``kind`` model on ``texts_train`` and save it, with its card, in ``out_dir``.

    Runs ``epochs`` passes (default 10) or ``steps`` updates (if both are given, whichever ends
    first). After each epoch the held-out perplexity on ``texts_valid`` is measured; the best
    weights are kept in ``model.safetensors`` and training stops after ``patience`` epochs
    without improvement (0 or None: never early). A checkpoint is written after each epoch and
    every ``checkpoint_seconds`` of training (or every ``checkpoint_every`` steps, if given); with ``resume`` an interrupted run in the
    same ``out_dir`` continues from it and gives the same result as an uninterrupted one. The
    checkpoint files are removed when training completes.

    None for ``lr``, ``batch_size`` or an architecture size picks the family's default
    (its row in ``lm.backends``: ``DEFAULT_LR``, ``DEFAULT_BATCH``; ``config.make_config``).
    """
    check_hyperparameters(
        kind,
        epochs=epochs,
        steps=steps,
        lr=lr,
        batch_size=batch_size,
        dropout=dropout,
        patience=patience,
    )
    if epochs is None and steps is None:
        epochs = DEFAULT_EPOCHS
    lr = _training(kind).lr if lr is None else float(lr)
    batch_size = _training(kind).batch_size if batch_size is None else batch_size
    config = make_config(
        kind,
        len(tokenizer.vocab),
        layers=layers,
        d_model=d_model,
        heads=heads,
        context=context,
        dropout=dropout,
    )
    train_seqs = encode_texts(texts_train, tokenizer, "training")
    valid_seqs = encode_texts(texts_valid, tokenizer, "validation")
    train_tokens = int(sum(len(s) - 1 for s in train_seqs))
    # A window longer than the whole corpus would leave positions (transformer) or window
    # slots (feed-forward) that no training text ever fills. A recurrent net's context is only
    # the BPTT length, so any corpus with a token will do.
    needed = 1 if backends.neural(kind).recurrent else config.context + 1
    if train_tokens < needed:
        raise ArlmError(
            f"the training texts have {train_tokens} tokens (with </s>), too few for "
            f"--context {config.context}: use a smaller --context or a bigger corpus"
            if needed > 1
            else "the training texts have no tokens"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    saved_threads = torch.get_num_threads()
    try:
        return _run(
            kind,
            config,
            train_seqs,
            valid_seqs,
            tokenizer,
            out,
            epochs=epochs,
            steps=steps,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            dropout=dropout,
            patience=patience or 0,
            resume=resume,
            progress=progress,
            corpus=corpus,
            weight_decay=weight_decay,
            clip_norm=clip_norm,
            checkpoint_every=checkpoint_every,
            checkpoint_seconds=checkpoint_seconds,
            threads=threads,
            texts=(len(texts_train), len(texts_valid)),
        )
    finally:
        torch.set_num_threads(saved_threads)


def _run(
    kind: str,
    config: ModelConfig,
    train_seqs: list[np.ndarray],
    valid_seqs: list[np.ndarray],
    tokenizer: Any,
    out: Path,
    *,
    epochs: int | None,
    steps: int | None,
    lr: float,
    batch_size: int,
    seed: int,
    dropout: float,
    patience: int,
    resume: bool,
    progress: Callable[[TrainProgress], None] | None,
    corpus: str,
    weight_decay: float,
    clip_norm: float,
    checkpoint_every: int | None,
    checkpoint_seconds: float,
    threads: int | None,
    texts: tuple[int, int],
) -> TrainResult:
    torch.manual_seed(seed)
    net = build_net(kind, config)
    net.train()
    torch.set_num_threads(threads or training_threads(net))
    optimizer = _optimizer(net, lr, weight_decay)
    train_data = make_data(kind, train_seqs, config, training=True)
    valid_data = make_data(kind, valid_seqs, config, training=False)

    steps_per_epoch = _steps_in(
        train_data, train_data.plan(batch_size, np.random.default_rng([seed, 0]))
    )
    planned = min(
        steps if steps is not None else math.inf,
        epochs * steps_per_epoch if epochs is not None else math.inf,
    )
    planned = int(planned)
    warmup = min(100, max(1, planned // 20))
    run = {
        "backend": kind,
        "architecture": config_to_dict(config),
        "vocab": _vocab_digest(tokenizer),
        "train_tokens": train_data.tokens,
        "lr": lr,
        "batch_size": batch_size,
        "seed": seed,
        "epochs": epochs,
        "steps": steps,
        "weight_decay": weight_decay,
        "clip_norm": clip_norm,
    }

    step, epoch, next_batch = 0, 0, 0
    best, bad_epochs, stopped_early = math.inf, 0, False
    val_history: list[float] = []
    loss_history: list[float] = []
    epoch_loss, epoch_count = 0.0, 0
    elapsed_before = 0.0
    resumed_from = 0
    if resume and (out / CHECKPOINT_WEIGHTS).is_file():
        saved = _load_checkpoint(out, net, optimizer, run)
        step, epoch, next_batch = saved["step"], saved["epoch"], saved["batch"]
        best = math.inf if saved["best"] is None else saved["best"]
        bad_epochs = saved["bad_epochs"]
        val_history, loss_history = saved["val_history"], saved["loss_history"]
        epoch_loss, epoch_count = saved["epoch_loss"], saved["epoch_count"]
        elapsed_before = saved["seconds"]
        resumed_from = step
    else:  # a fresh run: nothing of an earlier run in this directory may survive
        _remove_checkpoint(out)
        (out / WEIGHTS_FILE).unlink(missing_ok=True)

    started = time.perf_counter()
    window_tokens, window_start = 0, time.perf_counter()

    def counters(batch_index: int) -> dict[str, Any]:
        return {
            "format": 1,
            "run": run,
            "step": step,
            "epoch": epoch,
            "batch": batch_index,
            "best": None if best == math.inf else best,
            "bad_epochs": bad_epochs,
            "val_history": val_history,
            "loss_history": loss_history,
            "epoch_loss": epoch_loss,
            "epoch_count": epoch_count,
            "seconds": elapsed_before + time.perf_counter() - started,
        }

    def report(phase: str, loss: float) -> None:
        if progress is None:
            return
        seconds = max(time.perf_counter() - window_start, 1e-9)
        progress(
            TrainProgress(
                phase=phase,
                step=step,
                total_steps=planned,
                epoch=epoch + (phase in ("step", "partial")),
                epochs=epochs,
                loss=loss,
                val_perplexity=val_history[-1] if val_history else None,
                best_val_perplexity=None if best == math.inf else best,
                tokens_per_second=window_tokens / seconds,
            )
        )

    def validate_and_keep() -> None:
        nonlocal best, bad_epochs
        if valid_data.tokens == 0:
            save_weights(net, out / WEIGHTS_FILE)
            return
        ppl = evaluate(net, kind, valid_data)
        val_history.append(ppl)
        if ppl < best * (1 - 1e-4):
            best, bad_epochs = ppl, 0
            save_weights(net, out / WEIGHTS_FILE)
        else:
            bad_epochs += 1

    def out_of_steps() -> bool:
        return steps is not None and step >= steps

    last_saved_step, last_saved_time = step, time.perf_counter()

    def checkpoint_due() -> bool:
        if checkpoint_every:
            return step - last_saved_step >= checkpoint_every
        return time.perf_counter() - last_saved_time >= checkpoint_seconds

    while not out_of_steps() and (epochs is None or epoch < epochs):
        plan = train_data.plan(batch_size, np.random.default_rng([seed, epoch]))
        while next_batch < len(plan) and not out_of_steps():
            state, complete = None, True
            for x, y in train_data.chunks(plan[next_batch]):
                if out_of_steps():
                    complete = False
                    break
                for group in optimizer.param_groups:
                    group["lr"] = _learning_rate(lr, step / max(planned, 1), step, warmup)
                loss_sum, count, state = _loss(net, kind, x, y, state)
                if state is not None:
                    state = state.detach()  # truncated BPTT: no gradient into earlier chunks
                optimizer.zero_grad(set_to_none=True)
                (loss_sum / max(count, 1)).backward()
                # Exploding gradients: through many steps of W_hh (or many layers) a gradient
                # can grow geometrically; rescaling it to norm ≤ clip_norm keeps one bad batch
                # from throwing the weights far away.
                nn.utils.clip_grad_norm_(net.parameters(), clip_norm)
                optimizer.step()
                step += 1
                step_loss = loss_sum.item()
                epoch_loss += step_loss
                epoch_count += count
                window_tokens += count
                report("step", step_loss / max(count, 1))
            if not complete:
                break
            next_batch += 1
            if checkpoint_due() and next_batch < len(plan):
                _save_checkpoint(out, net, optimizer, counters(next_batch))
                last_saved_step, last_saved_time = step, time.perf_counter()
        if next_batch < len(plan):
            break  # out of steps inside this epoch
        loss_history.append(epoch_loss / max(epoch_count, 1))
        epoch_loss, epoch_count = 0.0, 0
        epoch += 1
        next_batch = 0
        validate_and_keep()
        report("epoch", loss_history[-1])
        window_tokens, window_start = 0, time.perf_counter()
        if patience and bad_epochs >= patience:
            stopped_early = True
            break
        if not out_of_steps() and (epochs is None or epoch < epochs):
            _save_checkpoint(out, net, optimizer, counters(0))
            last_saved_step, last_saved_time = step, time.perf_counter()

    if epoch_count:  # stopped by --steps inside an epoch: count and judge that part too
        loss_history.append(epoch_loss / epoch_count)
        validate_and_keep()
        report("partial", loss_history[-1])
    if progress is not None:
        report("done", loss_history[-1] if loss_history else math.nan)

    seconds = elapsed_before + time.perf_counter() - started
    best_ppl = None if best == math.inf else best
    _write_model_files(
        out,
        net,
        tokenizer,
        kind,
        config,
        corpus=corpus,
        texts=texts,
        train_tokens=train_data.tokens,
        valid_tokens=valid_data.tokens,
        best=best_ppl,
        training={
            "optimizer": "AdamW",
            "lr": lr,
            "schedule": f"linear warm-up {warmup} steps, cosine to lr/10",
            "batch_size": batch_size,
            "seed": seed,
            "dropout": dropout,
            "weight_decay": weight_decay,
            "clip_norm": clip_norm,
            "epochs": epochs,
            "steps": steps,
            "patience": patience,
            "steps_done": step,
            "epochs_done": epoch,
            "stopped_early": stopped_early,
            "val_history": val_history,
            "loss_history": loss_history,
            "seconds": round(seconds, 2),
        },
    )
    _remove_checkpoint(out)
    return TrainResult(
        out_dir=out,
        backend=kind,
        parameters=parameter_count(net),
        steps=step,
        epochs_completed=epoch,
        train_loss=loss_history[-1] if loss_history else math.nan,
        val_perplexity=best_ppl,
        val_history=val_history,
        loss_history=loss_history,
        stopped_early=stopped_early,
        resumed_from_step=resumed_from,
        seconds=seconds,
        train_tokens=train_data.tokens,
    )


def _write_model_files(
    out: Path,
    net: nn.Module,
    tokenizer: Any,
    kind: str,
    config: ModelConfig,
    *,
    corpus: str,
    texts: tuple[int, int],
    train_tokens: int,
    valid_tokens: int,
    best: float | None,
    training: dict[str, Any],
) -> None:
    """config.json, tokenizer.json and card.md next to the kept weights."""
    from arlm_tui.lm.card import write_card

    if not (out / WEIGHTS_FILE).is_file():
        save_weights(net, out / WEIGHTS_FILE)
    tokenizer.save(out / "tokenizer.json")
    parameters = parameter_count(net)
    summary = {
        "corpus": corpus or None,
        "parameters": parameters,
        "heldout_perplexity": best,
        "heldout_tokens": valid_tokens,
        "train_texts": texts[0],
        "train_tokens": train_tokens,
        "training_seconds": training["seconds"],
    }
    write_config(out, net, tokenizer, training=training, summary=summary)
    shape = _training(kind).title
    facts: dict[str, Any] = {
        "backend": f"{kind} (torch)",
        "architecture": ", ".join(
            f"{k} {v}" for k, v in config_to_dict(config).items() if k not in ("vocab_size", "cell")
        ),
        "parameters": f"{parameters:,}",
        "corpus": corpus or "(not recorded)",
        "tokenizer": f"{getattr(tokenizer, 'kind', '?')}, {len(tokenizer.vocab)} tokens",
        "training texts": texts[0],
        "training tokens (incl. </s>)": train_tokens,
        "held-out texts": texts[1],
        "held-out tokens (incl. </s>)": valid_tokens,
        "held-out perplexity": "n/a" if best is None else best,
        "epochs / steps": f"{training['epochs_done']} / {training['steps_done']}",
        "stopped early": "yes" if training["stopped_early"] else "no",
        "training time (s)": training["seconds"],
        "optimizer": f"AdamW, lr {training['lr']:g}, batch {training['batch_size']}, "
        f"clip {training['clip_norm']:g}, seed {training['seed']}",
    }
    write_card(
        out,
        f"{shape} language model",
        facts,
        notes=(
            "Weights are in model.safetensors (the epoch with the best held-out perplexity). "
            "Held-out perplexity scores every token of each held-out text, then </s>, read the "
            "way the model reads text when generating."
        ),
    )
