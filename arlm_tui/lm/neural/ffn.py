"""Feed-forward fixed-window language model (Bengio et al., 2003).

The next token depends only on the last n−1 tokens (left-padded with ``<s>``):

    x = [e_{w_{k-n+1}}; … ; e_{w_{k-1}}]     concatenated embeddings          ((n−1)·d)
    h = tanh(W^(h) x + b^(h))                hidden layer (``layers`` of them)  (h)
    z = W^(o) h + b^(o)                      logits                              (V)
    p(w_k | w_{k-n+1} … w_{k-1}) = softmax(z)

Like an n-gram model it cannot see past its window; unlike one it shares strength between
similar contexts through the embeddings. The state carried while generating is just the
window of the last n−1 ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import nn

from arlm_tui.lm.neural.batch import BOS_ID, mask_start_token
from arlm_tui.lm.neural.config import FeedForwardConfig


@dataclass(frozen=True)
class WindowState:
    """The last n−1 token ids of B sequences: (B, n−1)."""

    window: torch.Tensor

    def __len__(self) -> int:
        return int(self.window.shape[0])


class FeedForwardLM(nn.Module):
    """Embeddings of a fixed window → tanh layers → softmax over the vocabulary."""

    def __init__(self, config: FeedForwardConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        widths = [config.context * config.d_model] + [config.d_hidden] * config.layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(widths))
        self.drop = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.d_hidden, config.vocab_size)
        nn.init.normal_(self.wte.weight, std=0.1)
        nn.init.zeros_(self.lm_head.bias)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """Windows of ids (..., n−1) → logits (..., V)."""
        x = self.wte(window).flatten(-2)  # (..., (n−1)·d): the concatenation
        x = self.drop(x)
        for layer in self.hidden:
            x = self.drop(torch.tanh(layer(x)))  # (..., h)
        return mask_start_token(self.lm_head(x))

    def pad(self, context: Sequence[int]) -> list[int]:
        """The window of a context: its last n−1 ids, left-padded with ``<s>``."""
        n1 = self.config.context
        context = list(context)[-n1:]
        return [BOS_ID] * (n1 - len(context)) + context

    # ---------------------------------------------------------------- incremental decoding
    def start(self, contexts: Sequence[Sequence[int]]) -> tuple[torch.Tensor, WindowState]:
        """Windows of B contexts (each starting with ``<s>``); logits of the next token (B, V)."""
        window = torch.tensor([self.pad(c) for c in contexts], dtype=torch.long)
        window = window.reshape(len(contexts), self.config.context)
        return self(window), WindowState(window)

    def extend(self, state: WindowState, idx: torch.Tensor) -> tuple[torch.Tensor, WindowState]:
        """Slide each window by one token idx (B,): logits (B, V) and the new windows."""
        window = torch.cat([state.window[:, 1:], idx.unsqueeze(1)], dim=1)
        return self(window), WindowState(window)

    def select(self, state: WindowState, index: torch.Tensor) -> WindowState:
        return WindowState(state.window.index_select(0, index))

    def chunked_logits(
        self, ids: Sequence[int], chunk: int = 512
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """(p, logits after positions p … p+k−1) for ``ids`` (starting with ``<s>``), a chunk of
        windows at a time."""
        n1 = self.config.context
        padded = torch.tensor([BOS_ID] * (n1 - 1) + list(ids), dtype=torch.long)
        windows = padded.unfold(0, n1, 1)  # (T, n−1): the window read before each prediction
        for start in range(0, len(ids), chunk):
            yield start, self(windows[start : start + chunk])

    def sequence_logits(self, ids: Sequence[int]) -> torch.Tensor:
        """Logits after each prefix of ``ids`` (which starts with ``<s>``): (T, V)."""
        return torch.cat([logits for _, logits in self.chunked_logits(ids)])

    def sequence_hidden(self, ids: Sequence[int]) -> torch.Tensor:
        """The last tanh layer's activations for the window before each prediction of
        ``ids`` (which starts with ``<s>``), the vector the output layer reads: (T, h).
        Contrastive search compares these."""
        n1 = self.config.context
        padded = torch.tensor([BOS_ID] * (n1 - 1) + list(ids), dtype=torch.long)
        return self._hidden(padded.unfold(0, n1, 1))

    def _hidden(self, windows: torch.Tensor) -> torch.Tensor:
        """The last tanh layer's activations for windows of ids (N, n−1): (N, h)."""
        x = self.wte(windows).flatten(-2)  # (N, (n−1)·d)
        for layer in self.hidden:
            x = torch.tanh(layer(x))
        return x

    def candidate_hidden(
        self, ids: Sequence[int], candidates: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``sequence_hidden(ids)`` (T, h), and for each candidate v the last row of
        ``sequence_hidden(ids + [v])`` (k, h): the k windows that end with a candidate, read
        as one batch."""
        windows = torch.tensor([self.pad([*ids, int(v)]) for v in candidates], dtype=torch.long)
        windows = windows.reshape(len(candidates), self.config.context)
        return self.sequence_hidden(ids), self._hidden(windows)
