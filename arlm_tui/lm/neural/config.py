"""Architecture configs of the neural backends: plain dataclasses, no torch.

One dataclass per family, read and written as the ``"architecture"`` object of a model
directory's ``config.json``. Keeping them torch-free lets the CLI validate flags and the model
list describe a directory without loading torch.

    RecurrentConfig(cell="lstm", vocab_size=V, d_model=m, layers=L)   # rnn | gru | lstm
    FeedForwardConfig(vocab_size=V, context=n-1, d_model=d, d_hidden=h)
    TransformerConfig(vocab_size=V, context=C, layers=L, heads=H, d_model=d)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from arlm_tui.errors import ArlmError

# Backend names, as written in ``config.json``'s ``"backend"``: the table of backends says which
# are neural and which config class each reads (``lm.backends``); re-exported from here.
from arlm_tui.lm.backends import NEURAL_BACKENDS as NEURAL_BACKENDS
from arlm_tui.lm.backends import RECURRENT_CELLS as RECURRENT_CELLS


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")


def _check_dropout(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1), got {value!r}")


@dataclass(frozen=True)
class Flags:
    """The sizes ``arlm train`` was given (None: the family's default) and the dropout."""

    sizes: Mapping[str, int | None]
    dropout: float = 0.0

    def pick(self, name: str, default: Any) -> Any:
        value = self.sizes.get(name)
        return default if value is None else value


@dataclass
class RecurrentConfig:
    """Embedding (V × m), ``layers`` stacked cells of width m, output projection (m × V).

    ``context`` is not a limit of the model (the hidden state carries the whole past); it is
    the number of time steps that truncated back-propagation through time unrolls in training.
    """

    cell: str = "lstm"
    vocab_size: int = 0
    d_model: int = 128
    layers: int = 1
    dropout: float = 0.0
    tie_weights: bool = True
    context: int = 64

    @property
    def kind(self) -> str:
        """The backend name (config.json's ``"backend"``): the cell."""
        return self.cell

    @classmethod
    def from_flags(cls, kind: str, vocab_size: int, flags: Flags) -> RecurrentConfig:
        """``make_config`` for the recurrent kinds: the cell is the kind."""
        base = cls(cell=kind)
        return cls(
            cell=kind,
            vocab_size=vocab_size,
            d_model=flags.pick("d_model", base.d_model),
            layers=flags.pick("layers", base.layers),
            dropout=flags.dropout,
            context=flags.pick("context", base.context),
        )

    def parameters(self) -> int:
        """V·m (E) + L·g·(2m² + 2m) (g = 1, 3, 4 gates for rnn, gru, lstm) + V (b_y)
        + V·m when the output projection is not tied to E."""
        v, m, gates = self.vocab_size, self.d_model, {"rnn": 1, "gru": 3, "lstm": 4}
        g = gates.get(self.cell, 4)
        head = 0 if self.tie_weights else v * m
        return v * m + self.layers * g * (2 * m * m + 2 * m) + v + head

    def validate(self) -> RecurrentConfig:
        if self.cell not in RECURRENT_CELLS:
            raise ValueError(f"cell must be one of {', '.join(RECURRENT_CELLS)}, got {self.cell!r}")
        _check_int("vocab_size", self.vocab_size, 3)
        _check_int("d_model", self.d_model, 1)
        _check_int("layers", self.layers, 1, 16)
        _check_int("context", self.context, 1)
        _check_dropout(self.dropout)
        if self.tie_weights not in (True, False):
            raise ValueError(f"tie_weights must be true or false, got {self.tie_weights!r}")
        return self


@dataclass
class FeedForwardConfig:
    """Bengio et al. (2003): the last n−1 = ``context`` embeddings (each d = ``d_model`` wide),
    concatenated, through ``layers`` tanh layers of width ``d_hidden``, then a softmax over V."""

    vocab_size: int = 0
    context: int = 4
    d_model: int = 64
    d_hidden: int = 256
    layers: int = 1
    dropout: float = 0.0

    kind: ClassVar[str] = "ffn"

    @classmethod
    def from_flags(cls, kind: str, vocab_size: int, flags: Flags) -> FeedForwardConfig:
        """``make_config`` for the feed-forward model: ``layers`` counts tanh hidden layers
        and the hidden width is 4·d_model."""
        base = cls()
        width = flags.pick("d_model", base.d_model)
        return cls(
            vocab_size=vocab_size,
            context=flags.pick("context", base.context),
            d_model=width,
            d_hidden=4 * width if isinstance(width, int) else base.d_hidden,
            layers=flags.pick("layers", base.layers),
            dropout=flags.dropout,
        )

    def parameters(self) -> int:
        """V·d + (C·d·h + h) + (L − 1)(h² + h) + h·V + V."""
        v, d, h, c = self.vocab_size, self.d_model, self.d_hidden, self.context
        return v * d + (c * d * h + h) + (self.layers - 1) * (h * h + h) + h * v + v

    def validate(self) -> FeedForwardConfig:
        _check_int("vocab_size", self.vocab_size, 3)
        _check_int("context", self.context, 1, 256)
        _check_int("d_model", self.d_model, 1)
        _check_int("d_hidden", self.d_hidden, 1)
        _check_int("layers", self.layers, 1, 16)
        _check_dropout(self.dropout)
        return self


@dataclass
class TransformerConfig:
    """Decoder-only, pre-LayerNorm transformer with learned positions and tied embeddings.

    ``context`` (C) is the number of learned positions: the longest window the model attends
    over. Longer texts are read through windows that restart every C − C//2 tokens
    (see ``window_start``).
    """

    vocab_size: int = 0
    context: int = 256
    layers: int = 4
    heads: int = 4
    d_model: int = 128
    dropout: float = 0.0

    kind: ClassVar[str] = "transformer"

    @classmethod
    def from_flags(cls, kind: str, vocab_size: int, flags: Flags) -> TransformerConfig:
        """``make_config`` for the transformer (the only kind with ``heads``)."""
        base = cls()
        return cls(
            vocab_size=vocab_size,
            context=flags.pick("context", base.context),
            layers=flags.pick("layers", base.layers),
            heads=flags.pick("heads", base.heads),
            d_model=flags.pick("d_model", base.d_model),
            dropout=flags.dropout,
        )

    def parameters(self) -> int:
        """V·d + C·d + L(12d² + 13d) + 2d   (output tied to E)."""
        v, d, c = self.vocab_size, self.d_model, self.context
        return v * d + c * d + self.layers * (12 * d * d + 13 * d) + 2 * d

    def validate(self) -> TransformerConfig:
        _check_int("vocab_size", self.vocab_size, 3)
        _check_int("context", self.context, 2, 65536)
        _check_int("layers", self.layers, 1, 64)
        _check_int("heads", self.heads, 1)
        _check_int("d_model", self.d_model, 1)
        if self.d_model % self.heads:
            raise ValueError(
                f"d_model must be a multiple of heads, got d_model={self.d_model}, "
                f"heads={self.heads}"
            )
        _check_dropout(self.dropout)
        return self

    @property
    def keep(self) -> int:
        """K: tokens kept when a full window restarts (C // 2)."""
        return self.context // 2


ModelConfig = RecurrentConfig | FeedForwardConfig | TransformerConfig

#: The largest net arlm builds: 250 M parameters are 1 GB of float32 weights (4 GB while
#: training, with AdamW's two moments and the gradients). A config above it is refused by
#: name and number before anything is allocated.
MAX_PARAMETERS = 250_000_000


class ModelTooLargeError(ArlmError, ValueError):
    """A config whose net would have more than ``MAX_PARAMETERS`` parameters (a user's
    mistake, so an ArlmError: one line, no traceback)."""


def parameter_estimate(config: ModelConfig) -> int:
    """The number of parameters the net of ``config`` has, from the config alone (no torch).

    recurrent: V·m (E) + L·g·(2m² + 2m) (g = 1, 3, 4 gates for rnn, gru, lstm) + V (b_y)
               + V·m when the output projection is not tied to E
    ffn:       V·d + (C·d·h + h) + (L − 1)(h² + h) + h·V + V
    transformer: V·d + C·d + L(12d² + 13d) + 2d   (output tied to E)

    Each config class computes its own (``parameters()``).
    """
    return config.parameters()


def check_size(config: ModelConfig, limit: int = MAX_PARAMETERS) -> ModelConfig:
    """``config`` if its net has at most ``limit`` parameters, else ModelTooLargeError."""
    count = parameter_estimate(config)
    if count > limit:
        kind = config.kind
        shape = ", ".join(
            f"{name} {getattr(config, name):,}"
            for name in ("d_model", "layers", "context", "vocab_size")
        )
        raise ModelTooLargeError(
            f"this {kind} would have {count:,} parameters ({shape}); the limit is "
            f"{limit:,} ({limit * 4 // 10**9} GB of weights)"
        )
    return config


def config_to_dict(config: ModelConfig) -> dict[str, Any]:
    """The ``"architecture"`` object of ``config.json``."""
    return asdict(config)


def config_from_dict(backend: str, d: Mapping[str, Any]) -> ModelConfig:
    """Rebuild and validate a config; unknown backend, unknown field or bad value -> ValueError."""
    from arlm_tui.lm import backends

    row = backends.get(backend)
    if row is None or not row.neural:
        kinds = ", ".join(r.name for r in backends.neural_backends())
        raise ValueError(f"backend must be one of {kinds}, got {backend!r}")
    cls = row.config_class()
    if not isinstance(d, Mapping):
        raise TypeError("the architecture must be a JSON object")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown architecture field(s): {', '.join(unknown)}")
    config = cls(**dict(d))
    if config.kind != backend:  # a recurrent config names its cell
        raise ValueError(f"cell {config.kind!r} does not match backend {backend!r}")
    return check_size(config.validate())


def make_config(
    kind: str,
    vocab_size: int,
    *,
    layers: int | None = None,
    d_model: int | None = None,
    heads: int | None = None,
    context: int | None = None,
    dropout: float = 0.0,
) -> ModelConfig:
    """A config for backend ``kind`` from the training flags; None keeps each family's default.

    ``heads`` only applies to the transformer. For the feed-forward model ``layers`` counts tanh
    hidden layers and the hidden width is 4·d_model.
    """
    from arlm_tui.lm import backends

    cls = backends.neural(kind).config_class()  # ValueError naming the kinds
    flags = Flags(
        {"layers": layers, "d_model": d_model, "heads": heads, "context": context}, dropout
    )
    config = cls.from_flags(kind, vocab_size, flags)
    return check_size(config.validate())


def window_start(length: int, context: int, keep: int) -> int:
    """Where the transformer's window starts for a sequence of ``length`` tokens (``<s>`` included).

    With C = ``context`` learned positions and K = ``keep``: up to C tokens the window is the
    whole sequence; after that it restarts, keeping the last K tokens, every S = C − K tokens:

        start(n) = 0                      if n ≤ C
                 = ⌈(n − C) / S⌉ · S       otherwise      (so n − start is in [K+1, C])

    A pure function of n, so the cached path and a fresh forward pass read the same window.
    """
    if length <= context:
        return 0
    stride = context - keep
    return -(-(length - context) // stride) * stride


def window_spans(length: int, context: int, keep: int) -> list[tuple[int, int, int]]:
    """The windows that score a sequence of ``length`` input tokens with ``window_start``'s rule.

    Returns (a, b, first): run the net on tokens [a, b) and keep the predictions made at
    positions a+first … b−1. Every position is kept exactly once, read through the same window
    the incremental path would use. The first window is (0, min(C, length), 0); then
    a = S, 2S, … with S = C − K and first = K.
    """
    spans = [(0, min(context, length), 0)]
    stride = context - keep
    start = stride
    while start + keep < length:
        spans.append((start, min(start + context, length), keep))
        start += stride
    return spans
