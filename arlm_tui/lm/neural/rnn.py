"""Recurrent language models: Elman RNN, GRU and LSTM cells under one module.

    x_t = E[w_t]                          embedding of the token read at step t    (m)
    h_t = cell(x_t, h_{t-1})              L stacked cells; layer ℓ reads h_t of layer ℓ−1
    z_t = W_hy h_t + b_y                  logits over the vocabulary (W_hy = E when tied)
    p(w_{t+1} | w_1 … w_t) = softmax(z_t)

The cells are torch's ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` (fused kernels, much faster than a
Python loop); the docstrings of ``Elman``, ``GRU`` and ``LSTM`` give the exact
equations torch computes, in the lecture's notation, and ``tests/test_neural_rnn.py`` checks
them against a hand-written step. h_0 = c_0 = 0.

A step of generation is one cell update per layer: the state carried between steps is
``RecurrentState`` (h, and c for the LSTM), so the context is unbounded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from arlm_tui.lm.neural.batch import mask_start_token, rows_by_length
from arlm_tui.lm.neural.config import RecurrentConfig


class Elman(nn.RNN):
    """Elman RNN (torch ``nn.RNN``, tanh):

    h_t = tanh(W_xh x_t + b_xh + W_hh h_{t-1} + b_hh)

    torch keeps two bias vectors; their sum is the lecture's single b_h.
    """


class GRU(nn.GRU):
    """Gated recurrent unit (torch ``nn.GRU``):

    r_t = σ(W_xr x_t + b_xr + W_hr h_{t-1} + b_hr)            reset gate
    z_t = σ(W_xz x_t + b_xz + W_hz h_{t-1} + b_hz)            update gate
    h̃_t = tanh(W_xh x_t + b_xh + r_t ⊙ (W_hh h_{t-1} + b_hh))  candidate
    h_t = (1 − z_t) ⊙ h̃_t + z_t ⊙ h_{t-1}

    torch applies the reset gate after the recurrent product, r_t ⊙ (W_hh h_{t-1} + b_hh); the
    lecture's form multiplies first, W_hh (r_t ⊙ h_{t-1}). Both are standard GRU variants.
    """


class LSTM(nn.LSTM):
    """Long short-term memory (torch ``nn.LSTM``):

    i_t = σ(W_xi x_t + W_hi h_{t-1} + b_i)      input gate
    f_t = σ(W_xf x_t + W_hf h_{t-1} + b_f)      forget gate
    g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)   candidate cell
    o_t = σ(W_xo x_t + W_ho h_{t-1} + b_o)      output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t             cell state (the additive path)
    h_t = o_t ⊙ tanh(c_t)

    torch stores the four gates stacked in the order i, f, g, o (weight_ih_l0 is 4m × d) and
    keeps two bias vectors whose sum is each b.
    """


_CELLS: dict[str, type[nn.Module]] = {"rnn": Elman, "gru": GRU, "lstm": LSTM}


@dataclass(frozen=True)
class RecurrentState:
    """Hidden state of B sequences: h (L, B, m), and the LSTM's cell state c (L, B, m)."""

    h: torch.Tensor
    c: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.h.shape[1])

    def as_torch(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        return self.h if self.c is None else (self.h, self.c)

    @staticmethod
    def from_torch(state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> RecurrentState:
        if isinstance(state, tuple):
            return RecurrentState(state[0], state[1])
        return RecurrentState(state)

    def detach(self) -> RecurrentState:
        """The same values cut from the graph: truncated BPTT stops gradients here."""
        return RecurrentState(self.h.detach(), None if self.c is None else self.c.detach())


class RecurrentLM(nn.Module):
    """Embedding → L recurrent layers → (dropout) → output projection, optionally tied to E."""

    def __init__(self, config: RecurrentConfig):
        super().__init__()
        config.validate()
        self.config = config
        m = config.d_model
        self.wte = nn.Embedding(config.vocab_size, m)
        self.drop = nn.Dropout(config.dropout)
        self.cell = _CELLS[config.cell](
            m,
            m,
            num_layers=config.layers,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.lm_head = None if config.tie_weights else nn.Linear(m, config.vocab_size, bias=False)
        self.b_y = nn.Parameter(torch.zeros(config.vocab_size))
        self._init_weights()

    def _init_weights(self) -> None:
        # E keeps torch's N(0, 1): with cell weights U(±1/√m) the gate pre-activations then
        # have the same spread at any width. (Measured: E ~ U(±0.1), as in older word-level
        # examples, leaves the gates almost input-blind and trains many times slower.)
        if self.config.cell == "lstm":
            # Forget-gate bias 1 (Jozefowicz et al., 2015): f_t starts near σ(1) ≈ 0.73, so the
            # cell state, and its gradient, is mostly carried over at the start of training.
            m = self.config.d_model
            with torch.no_grad():
                for name, param in self.cell.named_parameters():
                    if name.startswith("bias_ih"):
                        param[m : 2 * m].fill_(1.0)
                    elif name.startswith("bias_hh"):
                        param[m : 2 * m].fill_(0.0)

    def zero_state(self, batch: int) -> RecurrentState:
        """h_0 = c_0 = 0 for ``batch`` sequences."""
        shape = (self.config.layers, batch, self.config.d_model)
        h = torch.zeros(shape)
        return RecurrentState(h, torch.zeros(shape) if self.config.cell == "lstm" else None)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        """z = W_hy h + b_y, with p(<s>) = 0."""
        weight = self.wte.weight if self.lm_head is None else self.lm_head.weight
        return mask_start_token(F.linear(h, weight, self.b_y))

    def forward(
        self, idx: torch.Tensor, state: RecurrentState | None = None
    ) -> tuple[torch.Tensor, RecurrentState]:
        """Read tokens idx (B, T) from ``state`` (default h_0 = 0); logits (B, T, V), last state."""
        if state is None:
            state = self.zero_state(idx.shape[0])
        x = self.drop(self.wte(idx))  # (B, T, m)
        out, last = self.cell(x, state.as_torch())  # (B, T, m)
        return self._logits(self.drop(out)), RecurrentState.from_torch(last)

    # ---------------------------------------------------------------- incremental decoding
    def start(self, contexts: Sequence[Sequence[int]]) -> tuple[torch.Tensor, RecurrentState]:
        """Read B contexts (each starting with ``<s>``); logits of the next token (B, V)."""
        logits = torch.empty(len(contexts), self.config.vocab_size)
        shape = (self.config.layers, len(contexts), self.config.d_model)
        h = torch.empty(shape)
        c = torch.empty(shape) if self.config.cell == "lstm" else None
        for rows in rows_by_length(contexts).values():
            idx = torch.tensor([list(contexts[r]) for r in rows], dtype=torch.long)
            out, last = self.cell(self.wte(idx), self.zero_state(len(rows)).as_torch())
            last = RecurrentState.from_torch(last)
            index = torch.tensor(rows)
            logits[index] = self._logits(out[:, -1])  # only the last position's logits
            h[:, index] = last.h
            if c is not None:  # an lstm: its state has c too
                c[:, index] = cast(torch.Tensor, last.c)
        return logits, RecurrentState(h, c)

    def extend(
        self, state: RecurrentState, idx: torch.Tensor
    ) -> tuple[torch.Tensor, RecurrentState]:
        """One cell update per layer for tokens idx (B,): logits (B, V) and a new state."""
        x = self.wte.weight[idx].unsqueeze(1)  # (B, 1, m)
        out, last = self.cell(x, state.as_torch())
        return self._logits(out[:, 0]), RecurrentState.from_torch(last)

    def select(self, state: RecurrentState, index: torch.Tensor) -> RecurrentState:
        """Rows ``index`` of the state (beam reordering); a copy, the input is untouched."""
        h = state.h.index_select(1, index)
        c = None if state.c is None else state.c.index_select(1, index)
        return RecurrentState(h, c)

    def chunked_logits(
        self, ids: Sequence[int], chunk: int = 512
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """(p, logits after positions p … p+k−1) for ``ids`` (starting with ``<s>``), a chunk at
        a time with the hidden state carried, so a long text never holds (T, V) at once."""
        state = self.zero_state(1)
        for start in range(0, len(ids), chunk):
            idx = torch.tensor([list(ids[start : start + chunk])], dtype=torch.long)
            logits, state = self(idx, state)
            yield start, logits[0]

    def sequence_logits(self, ids: Sequence[int]) -> torch.Tensor:
        """Logits after each prefix of ``ids`` (which starts with ``<s>``): (T, V)."""
        return torch.cat([logits for _, logits in self.chunked_logits(ids)])

    def sequence_hidden(self, ids: Sequence[int]) -> torch.Tensor:
        """The last layer's h_t at each position of ``ids`` (which starts with ``<s>``), the
        vector the output projection reads: (T, m). Contrastive search compares these."""
        idx = torch.tensor([list(ids)], dtype=torch.long)
        out, _ = self.cell(self.wte(idx), self.zero_state(1).as_torch())  # (1, T, m)
        return out[0]

    def candidate_hidden(
        self, ids: Sequence[int], candidates: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``sequence_hidden(ids)`` (T, m), and for each candidate v the last row of
        ``sequence_hidden(ids + [v])`` (k, m): one pass over ``ids``, then its state copied to
        k rows and one cell update per layer for the k candidates at once."""
        idx = torch.tensor([list(ids)], dtype=torch.long)
        out, last = self.cell(self.wte(idx), self.zero_state(1).as_torch())  # (1, T, m)
        state = self.select(RecurrentState.from_torch(last),
                            torch.zeros(len(candidates), dtype=torch.long))  # fmt: skip
        x = self.wte(torch.tensor(list(candidates), dtype=torch.long)).unsqueeze(1)  # (k, 1, m)
        step, _ = self.cell(x, state.as_torch())
        return out[0], step[:, 0]
