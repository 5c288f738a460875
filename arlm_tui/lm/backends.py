"""Every backend arlm knows, in one table: adding a backend = one module + one row here.

A row (``Backend``) says how a model of that kind is found and read (the ``"backend"`` of a
model directory's ``config.json``, a file suffix such as ``.arpa``, a ``hf:`` name, or a folder
it recognises), whether one generation step is cheap enough to run on the UI thread, and, for
the neural kinds, its architecture config, the net built from it, how it is trained and the
extra options of its ``arlm train`` command. ``registry.load_model``, ``lm.neural`` (configs,
nets, model directories), ``train.neural``, ``cli.train_neural`` and the play screen read it.

Rows name their code by import path (``"module:attribute"``), so reading the table imports
neither torch nor numpy: the code is imported when a model of that kind is loaded or trained.
A row may hold the object itself instead (a test's fake backend does).

    BACKENDS["lstm"].load_from(path)            # -> LanguageModel (imports torch only now)
    inline_step("ngram")                        # True: the play screen steps it on the UI thread
    neural_backends()                           # the rows `arlm train` offers, in table order
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from arlm_tui.lm.base import LanguageModel
    from arlm_tui.lm.neural.config import ModelConfig

#: Code named by import path ("package.module:attribute.attribute") or the object itself.
Ref = str | Callable[..., Any]


def resolve(ref: Ref) -> Any:
    """The object an import path names (imported now), or ``ref`` itself if it is one."""
    if not isinstance(ref, str):
        return ref
    module, _, attribute = ref.partition(":")
    found: Any = importlib.import_module(module)
    for part in filter(None, attribute.split(".")):
        found = getattr(found, part)
    return found


@dataclass(frozen=True)
class Option:
    """One extra flag of ``arlm train <kind>``: argparse's ``add_argument``, as data."""

    flag: str  # "--heads"
    help: str
    group: str = "model"  # the help section: "data" | "model" | "training" | "output"
    type: Callable[[str], Any] | None = None  # int, float; None for a switch
    action: str | None = None  # "store_true" for a switch

    def add_to(self, group: Any) -> None:
        """Add the flag to an argparse parser or argument group."""
        kwargs: dict[str, Any] = {"help": self.help}
        if self.type is not None:
            kwargs["type"] = self.type
        if self.action is not None:
            kwargs["action"] = self.action
        group.add_argument(self.flag, **kwargs)


@dataclass(frozen=True)
class Training:
    """How ``arlm train <kind>`` trains a neural backend (``train.neural.train_neural``)."""

    help: str  # the command's one-line help
    title: str  # the model card's heading: "<title> language model"
    lr: float  # AdamW learning rate: the best of a small sweep on the oracle language
    batch_size: int  # rows per batch: texts or windows, or (window, target) pairs
    #: how texts become batches (``train.neural.make_data``): "recurrent" (truncated BPTT,
    #: hidden state carried between chunks), "window" (n−1 tokens → the next one) or
    #: "positions" (every position of a window of learned positions predicts its next token)
    batches: str
    context_help: str  # what ``--context`` means for this kind


@dataclass(frozen=True)
class Backend:
    """One backend: how its models are found and loaded, what a step costs, how it trains."""

    name: str  # config.json's "backend" for a model directory of this kind
    about: str  # one line for people
    #: ``(path) -> LanguageModel``; None: models of this kind exist only in memory (table)
    load: Ref | None = None
    #: one step (``extend``) is cheap enough to run on the UI thread; else a worker thread
    inline_step: bool = False
    # how models of this kind are found besides config.json's "backend" (then it is not read):
    scheme: str | None = None  # a name starting with it ("hf:PATH"); the rest is the path
    suffix: str | None = None  # a file with this suffix (".arpa")
    detect: Ref | None = None  # ``(path) -> bool``: claims a folder without arlm's config.json
    missing: str | None = None  # said (UnknownModelError) when ``load`` cannot be imported
    # the neural kinds (torch):
    config: Ref | None = None  # the architecture dataclass (torch-free; ``lm.neural.config``)
    net: Ref | None = None  # the nn.Module built from a config: ``net(config)``
    training: Training | None = None
    options: tuple[Option, ...] = ()  # extra flags of ``arlm train <name>``

    @property
    def neural(self) -> bool:
        """A torch net trained by ``arlm train <name>``."""
        return self.net is not None

    @property
    def reads_config_json(self) -> bool:
        """Found by config.json's ``"backend"`` (not by a scheme, a suffix or a detector)."""
        return (
            self.load is not None
            and self.scheme is None
            and self.suffix is None
            and self.detect is None
        )

    @property
    def recurrent(self) -> bool:
        """Its ``context`` is the BPTT length (the hidden state carries the whole past), not a
        window, and training carries the hidden state from one chunk to the next."""
        return self.training is not None and self.training.batches == "recurrent"

    def load_from(self, path: str | Path) -> LanguageModel:
        """Load a model of this kind from ``path`` (imports the backend's code now)."""
        if self.load is None:
            raise ValueError(f"{self.name} models are built in memory, not loaded")
        try:
            loader = resolve(self.load)
        except ImportError:
            if self.missing is None:
                raise
            from arlm_tui.errors import UnknownModelError

            raise UnknownModelError(self.missing) from None
        return loader(path)

    def detects(self, path: str | Path) -> bool:
        return self.detect is not None and bool(resolve(self.detect)(path))

    def config_class(self) -> type[ModelConfig]:
        if self.config is None:
            raise ValueError(f"{self.name} is not a neural backend")
        return resolve(self.config)

    def build_net(self, config: ModelConfig) -> nn.Module:
        """A freshly initialised net (random weights) of this kind for ``config``."""
        if self.net is None:
            raise ValueError(f"{self.name} is not a neural backend")
        return resolve(self.net)(config)


def _recurrent(cell: str, title: str, help: str, lr: float) -> Backend:
    return Backend(
        cell,
        help.split(" ", 2)[2],  # "Elman recurrent network (torch)"
        load="arlm_tui.lm.neural:load_neural",
        config="arlm_tui.lm.neural.config:RecurrentConfig",
        net="arlm_tui.lm.neural.rnn:RecurrentLM",
        training=Training(
            help=help,
            title=title,
            lr=lr,
            batch_size=32,
            batches="recurrent",
            context_help="time steps unrolled by truncated BPTT (default 64)",
        ),
    )


_HF_MISSING = "hf: models need the optional Hugging Face backend, which is not installed"

#: The table, in the order ``arlm train`` and the model list show the kinds. Loading tries the
#: rows with a scheme or a detector in this order (GPT-2 folders before any other ``hf:``).
BACKENDS: dict[str, Backend] = {
    row.name: row
    for row in (
        Backend("ngram", "counted n-gram with smoothing (numpy)",
                load="arlm_tui.lm.ngram:NGramModel.load", inline_step=True),
        Backend("table", "probabilities written down by hand (tests, labs, games)",
                inline_step=True),
        Backend("oracle", "the oracle language's exact distribution",
                load="arlm_tui.lm.oracle:load_oracle", inline_step=True),
        Backend("arpa", "back-off n-gram read from an ARPA file",
                load="arlm_tui.lm.arpa:read_arpa", suffix=".arpa"),
        Backend("gpt2", "a Hugging Face GPT-2 folder run on arlm's own transformer",
                load="arlm_tui.lm.neural.gpt2:load_gpt2", scheme="hf:",
                detect="arlm_tui.lm.neural.gpt2:native_gpt2"),
        Backend("hf", "any other Hugging Face causal LM, through transformers",
                load="arlm_tui.lm.hf:load_hf", scheme="hf:", missing=_HF_MISSING),
        _recurrent("rnn", "Elman RNN", "train an Elman recurrent network (torch)", 3e-3),
        _recurrent("gru", "GRU", "train a GRU recurrent network (torch)", 1e-2),
        _recurrent("lstm", "LSTM", "train an LSTM recurrent network (torch)", 1e-2),
        Backend(
            "ffn",
            "feed-forward fixed-window network, Bengio et al. 2003 (torch)",
            load="arlm_tui.lm.neural:load_neural",
            config="arlm_tui.lm.neural.config:FeedForwardConfig",
            net="arlm_tui.lm.neural.ffn:FeedForwardLM",
            training=Training(
                help="train a feed-forward fixed-window network, Bengio et al. 2003 (torch)",
                title="feed-forward (fixed window)",
                lr=3e-3,
                batch_size=512,  # single (window, target) pairs: more of them
                batches="window",
                context_help="window n−1: tokens the model sees (default 4)",
            ),
        ),
        Backend(
            "transformer",
            "small decoder-only transformer with a KV cache (torch)",
            load="arlm_tui.lm.neural:load_neural",
            config="arlm_tui.lm.neural.config:TransformerConfig",
            net="arlm_tui.lm.neural.transformer:TransformerLM",
            training=Training(
                help="train a small decoder-only transformer (torch)",
                title="transformer (decoder-only)",
                lr=2e-3,
                batch_size=32,
                batches="positions",
                context_help="learned positions: the longest window attended over (default 256)",
            ),
            options=(
                Option("--heads", "attention heads (divides --d-model)", type=int),
                Option(
                    "--bf16",
                    "round the trained weights to bfloat16: half the file and faster generation "
                    "(the card records the held-out perplexity before and after)",
                    group="output",
                    action="store_true",
                ),
            ),
        ),
    )
}

#: The neural kinds (config.json's "backend" of a torch model directory), in table order.
NEURAL_BACKENDS: tuple[str, ...] = tuple(r.name for r in BACKENDS.values() if r.neural)
#: The recurrent cells among them (``RecurrentConfig.cell``).
RECURRENT_CELLS: tuple[str, ...] = tuple(r.name for r in BACKENDS.values() if r.recurrent)


def get(name: str) -> Backend | None:
    """The row of backend ``name``, or None."""
    return BACKENDS.get(name)


def neural(name: str) -> Backend:
    """The row of neural backend ``name``; ValueError naming the kinds if there is none."""
    row = BACKENDS.get(name)
    if row is None or not row.neural:
        kinds = ", ".join(r.name for r in neural_backends())
        raise ValueError(f"kind must be one of {kinds}, got {name!r}")
    return row


def neural_backends() -> list[Backend]:
    """The rows ``arlm train`` offers a command for, in table order."""
    return [r for r in BACKENDS.values() if r.neural]


def inline_step(backend: str) -> bool:
    """One step of a ``backend`` model is cheap enough for the UI thread (unknown: no)."""
    row = BACKENDS.get(backend)
    return row is not None and row.inline_step


def by_scheme(text: str) -> tuple[Backend, str] | None:
    """The row that reads the name ``text`` ("hf:PATH") and the path after the scheme."""
    for row in BACKENDS.values():
        if row.scheme and text.startswith(row.scheme) and row.load is not None:
            rest = text[len(row.scheme):]
            if row.detect is None or row.detects(rest):
                return row, rest
    return None


def by_suffix(path: Path) -> Backend | None:
    """The row that reads the file ``path`` by its suffix (".arpa")."""
    suffix = path.suffix.lower()
    return next((r for r in BACKENDS.values() if r.suffix and r.suffix == suffix), None)


def file_suffixes() -> list[str]:
    return [r.suffix for r in BACKENDS.values() if r.suffix]


def by_detection(path: Path) -> Backend | None:
    """The row that recognises the folder ``path`` (a GPT-2 checkpoint) without config.json's
    "backend"."""
    return next((r for r in BACKENDS.values() if r.detect is not None and r.detects(path)), None)


def by_config(backend: str) -> Backend | None:
    """The row that loads a model directory whose config.json says ``"backend": backend``."""
    row = BACKENDS.get(backend)
    return row if row is not None and row.reads_config_json else None
