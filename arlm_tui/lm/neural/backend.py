"""The neural nets behind arlm's one ``LanguageModel`` protocol.

``NeuralLanguageModel`` wraps a torch net (``RecurrentLM``, ``FeedForwardLM`` or
``TransformerLM``) and its tokenizer. Every sequence the net reads starts with ``<s>``:

    next_logprobs(w_1 … w_t) = log softmax(z),   z = net(<s> w_1 … w_t)[last]

``start``/``extend``/``select`` pass the net's own state through (hidden state, window, or KV
cache), so a generation step costs one cell update or one token's forward pass. Log-probs come
back as float64 numpy arrays (computed from float32 logits in float64, so each row's logsumexp
is 0 to float64 precision); ``<s>`` always has log-probability −∞.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
import torch
from torch import nn

from arlm_tui.lm.base import Attention, LanguageModel
from arlm_tui.lm.neural.batch import log_probs

if TYPE_CHECKING:
    from arlm_tui.lm.neural.config import ModelConfig


class NeuralNet(Protocol):
    """What ``NeuralLanguageModel`` calls on its net (``RecurrentLM``, ``FeedForwardLM``,
    ``TransformerLM``): each keeps its config and passes its own state through."""

    config: ModelConfig

    def start(self, contexts: Sequence[Sequence[int]]) -> tuple[Any, Any]: ...

    def extend(self, state: Any, idx: Any) -> tuple[Any, Any]: ...

    def select(self, state: Any, index: Any) -> Any: ...

    def chunked_logits(self, ids: Sequence[int]) -> Iterator[tuple[int, torch.Tensor]]: ...

    def sequence_hidden(self, ids: Sequence[int]) -> torch.Tensor: ...

    def candidate_hidden(
        self, ids: Sequence[int], candidates: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def attention(self, state: Any) -> list[torch.Tensor]: ...


def parameter_count(net: nn.Module) -> int:
    """Number of trained numbers in ``net`` (a tied matrix counts once)."""
    return sum(p.numel() for p in net.parameters())


def set_inference_threads() -> None:
    """One intra-op thread for generation. Measured with benchmarks/bench_neural.py on two
    cores: a second thread speeds only the output product up (one step 0.48 ms instead of
    0.57), and when the other core is busy every step waits for it (up to 2–4 ms)."""
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


class NeuralLanguageModel(LanguageModel):
    """A trained net + tokenizer, with facts from its ``config.json`` for ``describe()``."""

    def __init__(
        self,
        net: nn.Module,
        tokenizer: Any,
        *,
        backend: str,
        name: str = "neural",
        summary: dict[str, Any] | None = None,
    ):
        vocab_size = cast(NeuralNet, net).config.vocab_size
        if len(tokenizer.vocab) != vocab_size:
            raise ValueError(
                f"tokenizer: {len(tokenizer.vocab)} tokens, but the net predicts {vocab_size}"
            )
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.backend = backend
        self.name = name
        self.summary = dict(summary or {})
        self._last_state: Any = None
        #: the net steps on numpy ids without torch (the transformer's compiled step)
        self._numpy_steps = bool(getattr(net, "numpy_steps", False))

    @property
    def _net(self) -> NeuralNet:
        """``net`` as the steps see it (an ``nn.Module`` that is also a ``NeuralNet``)."""
        return cast(NeuralNet, self.net)

    # ------------------------------------------------------------------ conversions
    def _ids(self, ids: Sequence[int], what: str) -> list[int]:
        ids = [int(i) for i in ids]
        V = self._net.config.vocab_size
        if ids and (min(ids) < 0 or max(ids) >= V):
            bad = next(i for i in ids if not 0 <= i < V)
            raise ValueError(f"{what}: token ids must be in [0, {V}), got {bad}")
        return ids

    @staticmethod
    def _logprobs(scores: torch.Tensor | np.ndarray) -> np.ndarray:
        """Log-probs from a net's output: torch logits (recurrent, feed-forward nets) are
        normalised here; the transformer returns float64 log-probs already (its compiled
        step normalises them in the same loop)."""
        if isinstance(scores, np.ndarray):
            return scores
        return log_probs(scores)

    # ------------------------------------------------------------------ the protocol
    def next_logprobs(self, context_ids: Sequence[int]) -> np.ndarray:
        context = [self.bos_id] + self._ids(context_ids, "context_ids")
        with torch.inference_mode():
            logits, _ = self._net.start([context])
        return self._logprobs(logits[0])

    def start(self, contexts: Sequence[Sequence[int]]) -> tuple[np.ndarray, Any]:
        rows = [[self.bos_id] + self._ids(c, "contexts") for c in contexts]
        if not rows:
            raise ValueError("contexts: need at least one context")
        with torch.inference_mode():
            logits, state = self._net.start(rows)
        self._last_state = state
        return self._logprobs(logits), state

    def extend(self, state: Any, token_ids: Sequence[int]) -> tuple[np.ndarray, Any]:
        if len(token_ids) != len(state):
            raise ValueError(f"token_ids: {len(token_ids)} tokens for {len(state)} sequences")
        idx = np.array(self._ids(token_ids, "token_ids"), dtype=np.int64)
        if self._numpy_steps:
            logits, new = self._net.extend(state, idx)
        else:
            with torch.inference_mode():
                logits, new = self._net.extend(state, torch.from_numpy(idx))
        self._last_state = new
        return self._logprobs(logits), new

    def select(self, state: Any, indices: Sequence[int]) -> Any:
        index = np.array([int(i) for i in indices], dtype=np.int64)
        if len(index) and (int(index.min()) < 0 or int(index.max()) >= len(state)):
            raise ValueError(f"indices: must be in [0, {len(state)}), got {list(indices)}")
        if self._numpy_steps:
            return self._net.select(state, index)
        with torch.inference_mode():
            return self._net.select(state, torch.from_numpy(index))

    def score_ids(self, ids: Sequence[int]) -> np.ndarray:
        """log p(ids[k] | <s> ids[:k]) for every k, in one pass over the text."""
        ids = self._ids(ids, "ids")
        out = np.zeros(len(ids))
        targets = torch.tensor(ids, dtype=torch.long)
        with torch.inference_mode():
            for start, logits in self._net.chunked_logits([self.bos_id] + ids[:-1]):
                chunk = torch.log_softmax(logits.double(), dim=-1)
                wanted = targets[start : start + len(chunk)].unsqueeze(1)
                out[start : start + len(chunk)] = chunk.gather(1, wanted)[:, 0].numpy()
        return out

    def sequence_logprobs(self, ids: Sequence[int]) -> np.ndarray:
        """One pass over the text (``LanguageModel.sequence_logprobs``, whose default steps
        token by token): what ``score`` and held-out perplexity use."""
        return self.score_ids(ids)

    # ------------------------------------------------------------------ hidden states
    @property
    def has_hidden_states(self) -> bool:
        return hasattr(self.net, "sequence_hidden")

    def hidden_states(self, context_ids: Sequence[int]) -> np.ndarray | None:
        """The net's last hidden state at ``<s>`` and at every token of the context
        (``sequence_hidden``): (len(context) + 1, d), float64."""
        if not self.has_hidden_states:
            return None
        ids = [self.bos_id] + self._ids(context_ids, "context_ids")
        with torch.inference_mode():
            return self._net.sequence_hidden(ids).double().numpy()

    def candidate_hidden_states(
        self, context_ids: Sequence[int], candidate_ids: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``LanguageModel.candidate_hidden_states`` in one pass over ``<s>`` + the context,
        keeping the net's state there (a transformer's keys and values in its window, a
        recurrent net's hidden state), and the k candidates as one batch of one-token steps
        (``candidate_hidden`` of each net): the numbers of ``hidden_states`` up to float32
        rounding. Contrastive search only; generation's steps are untouched."""
        if not self.has_hidden_states:
            return None
        ids = [self.bos_id] + self._ids(context_ids, "context_ids")
        candidates = self._ids(candidate_ids, "candidate_ids")
        with torch.inference_mode():
            if not candidates:
                context = self._net.sequence_hidden(ids).double().numpy()
                return context, np.zeros((0, context.shape[1]))
            context_t, candidates_t = self._net.candidate_hidden(ids, candidates)
            return context_t.double().numpy(), candidates_t.double().numpy()

    # ------------------------------------------------------------------ facts
    @property
    def parameters(self) -> int:
        return parameter_count(self.net)

    @property
    def last_attention(self) -> np.ndarray | None:
        """Transformer only: attention weights of the last token read by the most recent
        ``start``/``extend`` call (sequence 0), shape (layers, heads, keys); keys are the
        positions of the current window (``attention_keys``). None for other backends."""
        state = self._last_state
        if getattr(state, "queries", None) is None:
            return None
        length = int(state.lengths[0])
        with torch.inference_mode():
            weights = self._net.attention(state)
        return np.stack([w[0, :, :length].double().numpy() for w in weights])

    @property
    def attention_keys(self) -> list[int] | None:
        """Token ids of the keys in ``last_attention`` (the window of sequence 0)."""
        state = self._last_state
        if getattr(state, "queries", None) is None:
            return None
        return state.ids[0, : int(state.lengths[0])].tolist()

    def attention(self, context_ids: Sequence[int]) -> Attention | None:
        """The transformer's attention from the last position of ``context_ids`` (see
        ``LanguageModel.attention``); None for the recurrent and feed-forward nets."""
        self.start([list(context_ids)])
        weights = self.last_attention
        if weights is None:
            return None
        return Attention(weights, self.attention_keys or [])

    def describe(self) -> dict[str, Any]:
        from arlm_tui.lm import backends

        config = self._net.config
        row = backends.get(self.backend)
        window = row is not None and not row.recurrent  # else context is the BPTT length
        facts = super().describe()
        facts.update(
            parameters=self.parameters,
            layers=config.layers,
            width=config.d_model,
            heads=getattr(config, "heads", None),
            context=config.context if window else None,
            corpus=self.summary.get("corpus"),
            heldout_perplexity=self.summary.get("heldout_perplexity"),
        )
        if not window:
            facts["bptt_steps"] = config.context
        return facts
