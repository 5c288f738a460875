"""Tiny models given by explicit probability tables, for tests, lesson labs and games.

``TableModel`` is an n-gram model whose conditional distributions are written down rather than
estimated: p(w | last n-1 tokens). ``random_model`` fills the table with Dirichlet draws (for
property tests); ``greedy_trap_model`` is a five-word model on which greedy decoding provably
misses the most probable sentence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real

import numpy as np

from arlm_tui.lm.base import BOS, EOS, UNK, LanguageModel
from arlm_tui.text.tokenizers import WordTokenizer

Distribution = Mapping[str, float]


class TableModel(LanguageModel):
    """p(w | h) read from a table, h = the last ``order - 1`` tokens (padded with ``<s>``).

    ``table`` maps a context (a tuple of ``order - 1`` token strings, e.g. ``("<s>", "i")``) to
    ``{next token: probability}``; tokens not listed get 0. A context that is not in the table
    uses ``default`` (a distribution), or else the uniform distribution over V' = every token
    but ``<s>``. Each distribution must sum to 1 (within 1e-6) unless ``normalize=True``, which
    rescales it. ``<s>`` is never predicted.
    """

    backend = "table"

    def __init__(
        self,
        vocab: Sequence[str],
        order: int,
        table: Mapping[tuple[str, ...], Distribution],
        *,
        default: Distribution | None = None,
        normalize: bool = False,
        name: str = "table",
    ):
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be an integer >= 1, got {order!r}")
        self.tokenizer = WordTokenizer.from_vocab(vocab)
        self.order = order
        self.name = name
        self._normalize = normalize
        self._logprobs: dict[tuple[int, ...], np.ndarray] = {}
        for context, dist in table.items():
            key = self._context_key(context)
            self._logprobs[key] = self._distribution_logprobs(dist, f"table[{tuple(context)!r}]")
        if default is not None:
            self._default = self._distribution_logprobs(default, "default")
        else:
            self._default = np.full(self.vocab_size, -math.log(self.vocab_size - 1))
            self._default[self.bos_id] = -np.inf

    # ------------------------------------------------------------------ construction helpers
    def _context_key(self, context: Sequence[str]) -> tuple[int, ...]:
        context = tuple(context)
        if len(context) != self.order - 1:
            raise ValueError(
                f"table: context {context!r} must have order - 1 = {self.order - 1} tokens"
            )
        lookup = self.tokenizer.token_to_id
        missing = [t for t in context if t not in lookup]
        if missing:
            raise ValueError(f"table: context token {missing[0]!r} is not in the vocabulary")
        return tuple(lookup[t] for t in context)

    def _distribution_logprobs(self, dist: Distribution, where: str) -> np.ndarray:
        lookup = self.tokenizer.token_to_id
        probs = np.zeros(self.vocab_size)
        for token, p in dist.items():
            if token not in lookup:
                raise ValueError(f"{where}: token {token!r} is not in the vocabulary")
            if token == BOS and p > 0:
                raise ValueError(f"{where}: {BOS} is never predicted")
            if not (isinstance(p, Real) and not isinstance(p, bool) and math.isfinite(p) and p >= 0):
                raise ValueError(f"{where}: probability of {token!r} must be >= 0, got {p!r}")
            probs[lookup[token]] += p
        total = probs.sum()
        if total <= 0:
            raise ValueError(f"{where}: the probabilities sum to 0")
        if not self._normalize and abs(total - 1.0) > 1e-6:
            raise ValueError(f"{where}: the probabilities sum to {total:g}, not 1")
        with np.errstate(divide="ignore"):
            return np.log(probs / total)

    # ------------------------------------------------------------------ the protocol
    def history(self, context_ids: Sequence[int]) -> tuple[int, ...]:
        """The last order - 1 ids of ``<s>``-padded context."""
        n = self.order - 1
        if n == 0:
            return ()
        padded = [self.bos_id] * n + [int(i) for i in context_ids]
        return tuple(padded[len(padded) - n :])

    def distribution_logprobs(self, history: tuple[int, ...]) -> np.ndarray:
        """log p(· | history) for a history of order - 1 ids (not copied: do not modify)."""
        return self._logprobs.get(history, self._default)

    def next_logprobs(self, context_ids: Sequence[int]) -> np.ndarray:
        return self.distribution_logprobs(self.history(context_ids)).copy()

    def describe(self) -> dict:
        return {**super().describe(), "order": self.order}


class _RandomTableModel(TableModel):
    """A TableModel whose distribution for every context is drawn on first use:
    p(· | h) ~ Dirichlet(concentration) over V', with the generator seeded by (seed, *h)."""

    def __init__(self, vocab: Sequence[str], order: int, seed: int, concentration: float,
                 name: str):
        super().__init__(vocab, order, {}, name=name)
        self.seed = seed
        self.concentration = concentration

    def distribution_logprobs(self, history: tuple[int, ...]) -> np.ndarray:
        cached = self._logprobs.get(history)
        if cached is None:
            rng = np.random.default_rng([self.seed, self.order, *history])
            draw = rng.dirichlet(np.full(self.vocab_size - 1, self.concentration))
            probs = np.insert(draw, self.bos_id, 0.0)
            with np.errstate(divide="ignore"):
                cached = np.log(probs)
            self._logprobs[history] = cached
        return cached


def random_model(
    vocab_size: int, order: int = 2, seed: int = 0, concentration: float = 0.5
) -> TableModel:
    """A model with ``vocab_size`` tokens in all (the three specials and words ``w3``, ``w4``,
    ...) whose distribution for every context is a Dirichlet(concentration) draw over V' (all
    tokens but ``<s>``), deterministic in (seed, order, context). Small concentrations give
    peaked distributions."""
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 4:
        raise ValueError(f"vocab_size must be an integer >= 4 (3 specials + words), got {vocab_size!r}")
    if not (concentration > 0 and math.isfinite(concentration)):
        raise ValueError(f"concentration must be > 0, got {concentration!r}")
    words = [f"w{i}" for i in range(3, vocab_size)]
    return _RandomTableModel(words, order, seed, concentration,
                             name=f"random-v{vocab_size}-n{order}-s{seed}")


def greedy_trap_model() -> TableModel:
    """A bigram model on which greedy decoding misses the most probable sentence.

    p(the | <s>) = 0.5, p(a | <s>) = 0.4, p(</s> | <s>) = 0.1;
    p(dog | the) = 0.35, p(cat | the) = 0.3, p(nice | the) = 0.25, p(</s> | the) = 0.1;
    p(dog | a) = 0.9, p(</s> | a) = 0.1;  p(dog | nice) = 0.5, p(cat | nice) = 0.5;
    p(</s> | dog) = p(</s> | cat) = 1.

    Greedy: "the dog </s>" with probability 0.5 · 0.35 · 1 = 0.175; the most probable sentence
    is "a dog </s>" with 0.4 · 0.9 · 1 = 0.36, which beam search with width 2 finds.
    """
    table: dict[tuple[str, ...], dict[str, float]] = {
        (BOS,): {"the": 0.5, "a": 0.4, EOS: 0.1},
        ("the",): {"dog": 0.35, "cat": 0.3, "nice": 0.25, EOS: 0.1},
        ("a",): {"dog": 0.9, EOS: 0.1},
        ("nice",): {"dog": 0.5, "cat": 0.5},
        ("dog",): {EOS: 1.0},
        ("cat",): {EOS: 1.0},
        (EOS,): {EOS: 1.0},
        (UNK,): {EOS: 1.0},
    }
    return TableModel(["the", "a", "dog", "cat", "nice"], 2, table, name="greedy-trap")
