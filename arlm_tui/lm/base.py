"""The one protocol every language-model backend follows.

A language model here is a next-token distribution: given the tokens since the start of a text,
``next_logprobs(context_ids)`` returns natural-log probabilities over the whole vocabulary,
normalised so that ``logsumexp == 0``. The model adds its own start padding (``<s>`` tokens for an
n-gram, nothing but a learned start for a neural net), so an empty context gives the distribution
of the first token. ``<s>`` is never predicted: its log-probability is ``-inf``.

Generation needs the same thing many times, so there is an incremental and batched form that
carries a backend-specific *state* for a batch of B sequences (beams):

    logprobs, state = model.start([prompt_ids] * B)     # (B, V) and a state for B sequences
    logprobs, state = model.extend(state, next_ids)     # append one token to each sequence
    state = model.select(state, beam_indices)           # reorder / duplicate / drop sequences

For an n-gram the state is just the recent history; a recurrent net keeps its hidden state so a
step costs one cell update; a transformer keeps its key/value cache. The default implementation
below keeps the full token lists and calls ``next_logprobs`` once per sequence, which is correct
for every backend; fast backends override it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# the special tokens live with the tokenizers; imported from here too, as before
from arlm_tui.text.tokenizers import BOS as BOS
from arlm_tui.text.tokenizers import EOS as EOS
from arlm_tui.text.tokenizers import UNK as UNK


@dataclass
class ListState:
    """Default batched state: the token ids of each sequence since the start of the text."""

    histories: list[list[int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.histories)


@dataclass
class Attention:
    """Where one position looks: ``weights[layer, head, key]`` (each row sums to 1) over the
    tokens ``key_ids`` (the window the position reads, ``<s>`` included)."""

    weights: np.ndarray  # (layers, heads, keys), float64
    key_ids: list[int]


class LanguageModel(ABC):
    """Base class of every backend. Subclasses set ``name``, ``tokenizer`` and implement
    ``next_logprobs``; they may override ``start``/``extend``/``select`` for speed."""

    #: Short identifier ("pyref-kn3", "oracle-lstm", or a path).
    name: str = "model"
    #: Backend family shown to the learner ("ngram", "lstm", "transformer", "oracle", ...).
    backend: str = "unknown"
    #: Tokenizer with ``encode(text) -> ids`` and ``decode(ids) -> text``.
    tokenizer: Any

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab(self) -> list[str]:
        """Token strings, index = id."""
        return self.tokenizer.vocab

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def bos_id(self) -> int:
        return self.tokenizer.bos_id

    @property
    def eos_id(self) -> int:
        return self.tokenizer.eos_id

    @property
    def unk_id(self) -> int:
        return self.tokenizer.unk_id

    @property
    def normalized(self) -> bool:
        """False for scores that do not sum to one (stupid backoff): excluded from perplexity."""
        return True

    def describe(self) -> dict[str, Any]:
        """Facts for ``arlm models list --json`` and the model picker."""
        return {"name": self.name, "backend": self.backend, "vocab_size": self.vocab_size}

    # ------------------------------------------------------------------ one context
    @abstractmethod
    def next_logprobs(self, context_ids: Sequence[int]) -> np.ndarray:
        """log p(w | context) for every w in the vocabulary, shape [V], float64."""

    # ------------------------------------------------------------------ incremental, batched
    def start(self, contexts: Sequence[Sequence[int]]) -> tuple[np.ndarray, Any]:
        """Consume B contexts; return next-token log-probs (B, V) and a state for B sequences."""
        state = ListState([list(c) for c in contexts])
        return self._logprobs_of(state), state

    def extend(self, state: Any, token_ids: Sequence[int]) -> tuple[np.ndarray, Any]:
        """Append ``token_ids[b]`` to sequence b; return the next log-probs (B, V) and new state.

        The input state is not modified, so a caller may keep it (undo)."""
        if len(token_ids) != len(state):
            raise ValueError(f"extend got {len(token_ids)} tokens for {len(state)} sequences")
        new = ListState([h + [int(t)] for h, t in zip(state.histories, token_ids)])
        return self._logprobs_of(new), new

    def select(self, state: Any, indices: Sequence[int]) -> Any:
        """Keep sequences ``indices`` (in that order, repeats allowed): beam reordering."""
        return ListState([list(state.histories[int(i)]) for i in indices])

    # ------------------------------------------------------------------ hidden states
    # (optional: contrastive search compares them; a model without them refuses it)
    @property
    def has_hidden_states(self) -> bool:
        """True when ``hidden_states`` gives the network's last hidden states."""
        return False

    def hidden_states(self, context_ids: Sequence[int]) -> np.ndarray | None:
        """The last hidden state (the vector the output layer reads) at every position the
        model reads for ``context_ids``, its start included: (positions, d) float64, the last
        row being the state that predicts the next token. None for a model without hidden
        states (an n-gram's counts, a table)."""
        return None

    def candidate_hidden_states(
        self, context_ids: Sequence[int], candidate_ids: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """What contrastive search compares: ``(context, candidates)`` where ``context`` is
        ``hidden_states(context_ids)`` (T, d), the start and every token of the context (those
        a window holds, for a model that cuts a long text to its window), and
        row i of ``candidates`` (k, d) is the last hidden state after reading
        ``candidate_ids[i]`` right after the context, that is
        ``hidden_states([*context_ids, candidate_ids[i]])[-1]``. None for a model without
        hidden states.

        The default is exactly that: one pass over the text for the context and one more per
        candidate (k + 1 passes), right for every backend. A net with an incremental form
        overrides it with one pass over the context, keeping its state there (keys and values,
        a recurrent state), and the k candidates as a batch of one-token extensions; the
        numbers are the same up to float rounding."""
        context = self.hidden_states(context_ids)
        if context is None:
            return None
        rows = []
        for v in candidate_ids:
            states = self.hidden_states([*context_ids, int(v)])
            if states is None:
                return None
            rows.append(states[-1])
        candidates = np.stack(rows) if rows else np.zeros((0, context.shape[1]))
        return context, candidates

    def _logprobs_of(self, state: ListState) -> np.ndarray:
        if not state.histories:
            return np.zeros((0, self.vocab_size))
        return np.stack([self.next_logprobs(h) for h in state.histories])

    # ------------------------------------------------------------------ a whole text (#14 §2)
    def sequence_logprobs(self, token_ids: Sequence[int]) -> np.ndarray:
        """log p(token_ids[k] | token_ids[:k]) for every k, shape [T], float64: the terms of
        the chain rule, log p(w_1 … w_T) = Σ_k log p(w_k | w_<k). Append ``eos_id`` to score the
        end of a text.

        The default steps through ``start``/``extend``, one token at a time, which is right for
        every backend; backends that score a whole text in one pass override it."""
        return chain_rule_logprobs(self, [], token_ids)

    # ------------------------------------------------------------------ attention (#14 §2)
    def attention(self, context_ids: Sequence[int]) -> Attention | None:
        """The attention weights of the last position of ``context_ids`` over the tokens it
        reads, for each layer and head; None for a backend without attention (the default:
        only the transformer has some)."""
        return None


def chain_rule_logprobs(
    model: LanguageModel, prefix: Sequence[int], ids: Sequence[int]
) -> np.ndarray:
    """log p(ids[k] | prefix, ids[:k]) for each k, one ``extend`` a token (no ``</s>`` added)."""
    out = np.empty(len(ids))
    logprobs, state = model.start([list(prefix)])
    for k, token in enumerate(ids):
        out[k] = logprobs[0, token]
        if k + 1 < len(ids):
            logprobs, state = model.extend(state, [token])
    return out


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable log-softmax: x - logsumexp(x). Rows of all ``-inf`` stay ``-inf``."""
    logits = np.asarray(logits, dtype=np.float64)
    m = np.max(logits, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        lse = np.log(np.sum(np.exp(logits - m), axis=axis, keepdims=True)) + m
    return logits - lse
