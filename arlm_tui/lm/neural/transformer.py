"""A small decoder-only transformer (GPT-2 style, pre-LayerNorm) with a key/value cache.

    x_0 = E[w_t] + P[t]                                   token + learned position   (B, T, d)
    x' = x + Attn(LN_1(x))                                 every block, ``layers`` of them
    x  = x' + MLP(LN_2(x'))
    z  = LN_f(x) Eᵀ                                        logits, tied to the embedding
    Attn: for each head, softmax(q kᵀ / √d_head + causal mask) v, heads concatenated, projected
    MLP:  W_2 GELU(W_1 x + b_1) + b_2, 4·d wide (GELU in GPT-2's tanh form)

Generation keeps every layer's keys and values (the KV cache) so a step runs only the new
token through the net: its query attends over the cached keys, one matrix-vector product per
head. The cache is a pool of slots, one per position read (``KVPool``); a state lists the slots
of each row's window, so beams that share a prefix share its slots and reordering them moves
slot numbers, not keys. The step itself is compiled (``kernels``).

Causal masks with a cache: ``scaled_dot_product_attention(is_causal=True)`` aligns its mask
top-left, so a single new query would see key 0 only. This module uses no mask for a one-token
step (the new token may see every cached key), ``is_causal`` only when there is no cache yet
(queries and keys then coincide), and an explicit bottom-right mask for a chunk of several new
tokens after a cache.

Texts longer than C: the window restarts (``config.window_start``): when a window is full, the
last K = C//2 tokens are re-read at positions 0…K−1 (a re-prefill) and generation continues
from there, so a step stays cheap and the model only ever sees positions it learned.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from arlm_tui.lm.neural import fastpath
from arlm_tui.lm.neural.batch import BOS_ID, log_probs, mask_start_token, rows_by_length
from arlm_tui.lm.neural.config import TransformerConfig, window_spans, window_start

_KERNELS: list = []
#: Eᵀ is copied into a contiguous (d, V) matrix for chunk reads up to this many numbers (a
#: GPT-2's 38.6 M are used in place: the copy would double the largest matrix's memory)
_CONTIGUOUS_HEAD = 1 << 22


def _kernels():
    """The compiled step's module (``kernels``), or None without numba, with ``ARLM_NO_JIT=1``
    or after it failed (``_give_up_compiling``); imported on first use (numba takes ~0.2 s)."""
    if not _KERNELS:
        try:
            from arlm_tui.lm.neural import kernels

            _KERNELS.append(None if kernels.disabled() else kernels)
        except Exception as exc:  # noqa: BLE001 - ImportError, or numba unable to set up
            _give_up_compiling(exc)
    return _KERNELS[0]


def _give_up_compiling(exc: Exception) -> None:
    """Run the torch path from now on, and say why once (a broken numba setup, an
    unwritable cache, a compiler error): slower, never wrong."""
    import warnings

    _KERNELS[:] = [None]
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    warnings.warn(f"arlm: the transformer's compiled step is unavailable ({first}); "
                  "using torch calls instead", RuntimeWarning, stacklevel=3)  # fmt: skip


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t attends to positions ≤ t."""

    def __init__(self, config: TransformerConfig, device: str | None = None):
        super().__init__()
        d = config.d_model
        self.heads = config.heads
        self.d_head = d // config.heads
        self.c_attn = nn.Linear(d, 3 * d, device=device)  # W_q, W_k, W_v stacked
        self.c_proj = nn.Linear(d, d, device=device)  # W_o
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) → (B, H, T, d_head)."""
        B, T, _ = x.shape
        return x.view(B, T, self.heads, self.d_head).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Full causal attention over x (B, T, d), no cache (training, scoring)."""
        B, T, d = x.shape
        q, k, v = (self.split_heads(t) for t in self.c_attn(x).split(d, dim=2))
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, T, d_head)
        y = y.transpose(1, 2).reshape(B, T, d)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward: W_2 GELU(W_1 x + b_1) + b_2.

    GELU(u) ≈ ½u(1 + tanh(√(2/π)(u + 0.044715u³))), GPT-2's form (and 4× faster on a CPU than
    the exact erf form for one token)."""

    def __init__(self, config: TransformerConfig, device: str | None = None):
        super().__init__()
        self.c_fc = nn.Linear(config.d_model, 4 * config.d_model, device=device)
        self.c_proj = nn.Linear(4 * config.d_model, config.d_model, device=device)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    """x + Attn(LN_1(x)), then + MLP(LN_2(·)): pre-LayerNorm residual block."""

    def __init__(self, config: TransformerConfig, device: str | None = None):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model, device=device)
        self.attn = CausalSelfAttention(config, device)
        self.ln_2 = nn.LayerNorm(config.d_model, device=device)
        self.mlp = MLP(config, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class KVPool:
    """The keys and values of every position the states of one generation have read.

    k, v: (layers, S, H, d_head) float32 (``k_t``/``v_t``: torch views of the same memory).
    A slot holds one position's key and value vectors, every layer and head; it is written
    once, when its token is read, and never changed. A state lists for each row the slots of
    its window's positions (``TransformerState.slots``), so rows may share slots (beams with a
    common prefix, copies of one prompt), reordering beams copies slot numbers rather than
    keys, and an older state (undo, a beam's ancestor) stays valid: nothing it reads is ever
    overwritten. The capacity is fixed (memory is only touched as slots are used); a state that
    needs more moves its live slots to a new pool (``TransformerLM._moved``), and a pool is
    freed with the last state that uses it.
    """

    def __init__(self, config: TransformerConfig, capacity: int):
        H, dh = config.heads, config.d_model // config.heads
        self.k = np.empty((config.layers, capacity, H, dh), dtype=np.float32)
        self.v = np.empty_like(self.k)
        self.k_t, self.v_t = torch.from_numpy(self.k), torch.from_numpy(self.v)
        self.used = 0
        self._lock = threading.Lock()  # states may be extended from two threads

    @property
    def capacity(self) -> int:
        return self.k.shape[1]

    def allocate(self, n: int) -> int | None:
        """The first of n fresh consecutive slots, or None if the pool has no room for them."""
        with self._lock:
            if self.used + n > self.capacity:
                return None
            first = self.used
            self.used += n
        return first


@dataclass(slots=True)
class TransformerState:
    """B sequences read into a ``KVPool``: row b's window has ``lengths[b]`` tokens
    ``ids[b, :lengths[b]]`` whose keys and values are in slots ``slots[b, :lengths[b]]``, and
    starts at text position ``offsets[b]``. Entries past a row's length are padding. A state is
    never changed once made (not frozen only because a frozen dataclass is slower to build,
    and one is built per generated token).

    ``queries``: (layers, B, H, d_head) the queries, scaled by 1/√d_head, of the last token
    read, from which ``TransformerLM.attention`` recomputes that token's attention weights
    when asked (the compiled step never stores them).
    """

    pool: KVPool
    slots: np.ndarray  # (B, W) int64
    ids: np.ndarray  # (B, W) int64
    lengths: np.ndarray  # (B,) tokens in each row's window
    offsets: np.ndarray  # (B,) position in the text of each window's first token
    queries: np.ndarray
    longest: int  # max(lengths)

    def __len__(self) -> int:
        return len(self.lengths)


class TransformerLM(nn.Module):
    """Token + position embeddings → ``layers`` blocks → LayerNorm → tied output projection."""

    def __init__(self, config: TransformerConfig, device: str | None = None):
        """``device="meta"``: no memory and no initialisation, for weights assigned after
        (a checkpoint's, ``gpt2.load_gpt2``)."""
        super().__init__()
        config.validate()
        self.config = config
        V, C, d = config.vocab_size, config.context, config.d_model
        # on "meta", a given empty weight skips nn.Embedding's initialisation (which imports
        # torch's compiler stack there: seconds)
        empty = (lambda n: torch.empty(n, d, device=device)) if device == "meta" else lambda n: None
        self.wte = nn.Embedding(V, d, device=device, _weight=empty(V))
        self.wpe = nn.Embedding(C, d, device=device, _weight=empty(C))
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config, device) for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.d_model, device=device)
        self.scale = 1.0 / math.sqrt(config.d_model // config.heads)
        if device != "meta":
            self._init_weights()
        self._step_weights: tuple | None = None
        self._fast: fastpath.StepWeights | None = None
        #: ids never predicted (logit −∞): arlm's ``<s>``; a checkpoint's own start token and
        #: padding rows for a loaded GPT-2 (``gpt2.load_gpt2``)
        self.never: tuple[int, ...] = (BOS_ID,)
        #: block matrices left in a memory-mapped checkpoint (``fastpath.MappedMatrices``)
        self.mapped_matrices: fastpath.MappedMatrices | None = None

    def _init_weights(self) -> None:
        # GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/√(2L) so the
        # residual stream's variance does not grow with depth.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
        for block in cast("list[Block]", self.blocks):  # an nn.ModuleList of Blocks
            for proj in (block.attn.c_proj, block.mlp.c_proj):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * self.config.layers))

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """z = LN_f(x) Eᵀ with p(<s>) = 0 (every id of ``never``)."""
        logits = F.linear(self.ln_f(x), self.wte.weight)
        if self.never == (BOS_ID,):
            return mask_start_token(logits)
        return logits.index_fill(-1, torch.tensor(self.never, dtype=torch.long), float("-inf"))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Tokens idx (B, T ≤ C) at positions 0…T−1 → logits (B, T, V)."""
        T = idx.shape[1]
        if T > self.config.context:
            raise ValueError(f"idx: {T} tokens do not fit the {self.config.context} positions")
        x = self.drop(self.wte(idx) + self.wpe.weight[:T])  # (B, T, d)
        for block in self.blocks:
            x = block(x)
        return self._logits(x)

    # ---------------------------------------------------------------- the cached path
    def _weights_for_steps(self) -> torch.Tensor:
        """The weights of the cached path: numpy arrays for ``kernels.decode_step``
        (``self._fast``, see ``fastpath.StepWeights``), and Eᵀ for a chunk's output product,
        as a contiguous (d, V) copy when E is small (measured ~5× faster than ``F.linear``
        with E on two cores), as a view of E otherwise; returns Eᵀ.

        The copies are rebuilt when any weight has changed since (every in-place update bumps
        a tensor's version counter); ``start`` checks, ``decode_step`` reuses them.
        """
        versions = tuple(p._version for p in self.parameters())
        if self._step_weights is None or self._step_weights[0] != versions:
            with torch.no_grad():
                head = self.wte.weight.detach().t()
                if head.numel() <= _CONTIGUOUS_HEAD:  # a large E is used in place
                    head = head.contiguous()
                self._fast = fastpath.step_weights(self, self.never)
            self._step_weights = (versions, head)
            self._warm_up()
        return self._step_weights[1]

    def _warm_up(self) -> None:
        """Run both compiled entry points once on a two-token text, so that their compilation
        (seconds, the first time on a machine; then read from numba's cache) happens while the
        model is being prepared, not in the middle of a generation."""
        kernel = _kernels()
        if kernel is None:
            return
        try:
            self._run_both(kernel)
        except Exception as exc:  # noqa: BLE001 - whatever stops compiling, torch still works
            _give_up_compiling(exc)

    def _run_both(self, kernel) -> None:
        """``decode_step`` on <s> at position 0, then ``extend_step`` with one more token."""
        pool = KVPool(self.config, 2)
        slots = np.zeros((1, 1), dtype=np.int64)
        ids = np.full((1, 1), BOS_ID, dtype=np.int64)
        logprobs = np.empty((1, self.config.vocab_size))
        queries = self._no_queries(1)
        zero = np.zeros(1, dtype=np.int64)
        fast = cast(fastpath.StepWeights, self._fast)  # set by _weights_for_steps before this
        kernel.decode_step(*fast.arrays(), ids[0], zero, slots, pool.k, pool.v, logprobs,
                           queries)  # fmt: skip
        kernel.extend_step(*fast.arrays(), ids[0], np.ones(1, dtype=np.int64), slots, ids,
                           1, np.empty((1, 2), np.int64), np.empty((1, 2), np.int64), pool.k,
                           pool.v, logprobs, queries)  # fmt: skip

    def _step_logits(self, x: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
        """z = LN_f(x) Eᵀ for the cached path (B, d) → (B, V), p(<s>) = 0."""
        ln_f = self.ln_f
        logits = (
            torch.layer_norm(x, (self.config.d_model,), ln_f.weight, ln_f.bias, ln_f.eps) @ head
        )
        logits[:, list(self.never)] = float("-inf")
        return logits

    def _no_queries(self, batch: int) -> np.ndarray:
        c = self.config
        return np.empty((c.layers, batch, c.heads, c.d_model // c.heads), dtype=np.float32)

    def _room(self, batch: int) -> int:
        """Free slots a new pool gets: enough for every row to read 2·C more tokens, at most
        256 MB of keys and values (memory is only touched as slots are used; a full pool is
        moved from, which bounds what one generation holds)."""
        c = self.config
        slot_bytes = 2 * c.layers * c.d_model * 4
        return max(1, min(2 * batch * c.context, max(2 * c.context, (256 << 20) // slot_bytes)))

    def _pool(self, live: int, batch: int) -> KVPool:
        """A pool for ``live`` slots plus ``_room(batch)``."""
        return KVPool(self.config, live + self._room(batch))

    def decode_step(
        self, idx: np.ndarray, positions: np.ndarray, slots: np.ndarray, pool: KVPool
    ) -> tuple[np.ndarray, np.ndarray]:
        """One new token per row, idx (B,), at window positions ``positions`` (B,): row b's
        cached keys are in pool slots slots[b, :positions[b]], its new ones go to slot
        slots[b, positions[b]]. The new query may attend to every cached key, so there is no
        mask. Returns float64 log-probs (B, V) and the queries (layers, B, H, d_head).

        The hot path of generation: ``kernels.decode_step``, compiled; without numba,
        ``forward_cached`` (torch calls) for each group of rows at one position.
        """
        kernel = _kernels()
        if kernel is None:
            logprobs = np.empty((len(idx), self.config.vocab_size))
            queries = self._no_queries(len(idx))
            with torch.inference_mode():
                for past in np.unique(positions).tolist():
                    rows = np.flatnonzero(positions == past)
                    ids = torch.from_numpy(idx[rows]).unsqueeze(1)
                    logprobs[rows], queries[:, rows] = self.forward_cached(
                        ids, pool, slots[rows, : past + 1], past
                    )
            return logprobs, queries
        if self._fast is None:
            self._weights_for_steps()
        fast = cast(fastpath.StepWeights, self._fast)  # _weights_for_steps sets it
        logprobs = np.empty((len(idx), self.config.vocab_size))
        queries = self._no_queries(len(idx))
        kernel.decode_step(*fast.arrays(), idx, positions, slots, pool.k, pool.v, logprobs,
                           queries)  # fmt: skip
        return logprobs, queries

    def forward_cached(
        self, idx: torch.Tensor, pool: KVPool, slots: np.ndarray, past: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Read tokens idx (B, T) at window positions past…past+T−1, with torch calls.

        ``slots`` (B, past + T): the pool slots of each row's earlier positions, then of the
        new ones, where their keys and values are written. Returns the float64 log-probs after
        the last token (B, V) and the last token's queries (layers, B, H, d_head).
        """
        B, T = idx.shape
        end = past + T
        d = self.config.d_model
        H, dh = self.config.heads, d // self.config.heads
        x = self.wte.weight[idx] + self.wpe.weight[past:end]  # (B, T, d)
        new = torch.from_numpy(np.ascontiguousarray(slots[:, past:end]).reshape(-1))
        earlier = torch.from_numpy(np.ascontiguousarray(slots[:, :past]))
        mask = None
        if past > 0:
            # bottom-right causal mask: query i (position past+i) sees keys 0 … past+i
            mask = torch.ones(T, end, dtype=torch.bool).tril(diagonal=past)
        queries = []
        for layer, block in enumerate(cast("list[Block]", self.blocks)):
            attn = block.attn
            qkv = attn.c_attn(block.ln_1(x))  # (B, T, 3d)
            q = qkv[..., :d].view(B, T, H, dh).transpose(1, 2)  # (B, H, T, dh)
            k = qkv[..., d : 2 * d].reshape(B, T, H, dh)
            v = qkv[..., 2 * d :].reshape(B, T, H, dh)
            pool.k_t[layer].index_copy_(0, new, k.reshape(B * T, H, dh))
            pool.v_t[layer].index_copy_(0, new, v.reshape(B * T, H, dh))
            if past > 0:  # the cached keys first, gathered from their slots
                k = torch.cat([pool.k_t[layer][earlier], k], dim=1)
                v = torch.cat([pool.v_t[layer][earlier], v], dim=1)
            y = F.scaled_dot_product_attention(
                q,
                k.transpose(1, 2),
                v.transpose(1, 2),
                attn_mask=mask,
                is_causal=past == 0,  # no cache yet: queries and keys coincide, top-left is right
            )
            x = x + attn.c_proj(y.transpose(1, 2).reshape(B, T, d))
            x = x + block.mlp(block.ln_2(x))
            queries.append(q[:, :, -1] * self.scale)  # scaled, as the compiled step's
        head = self._weights_for_steps()
        return log_probs(self._step_logits(x[:, -1], head)), torch.stack(queries).numpy()

    def attention(self, state: TransformerState) -> list[torch.Tensor]:
        """Attention weights of the last token read, per layer (B, H, keys), keys = window
        positions; recomputed from the stored queries and the cached keys:

            a = softmax(q kᵀ / √d_head)   over the row's keys 0 … lengths[b]−1
        (the stored queries are q / √d_head already)
        """
        keys = int(state.lengths.max())
        valid = torch.arange(keys)[None, :] < torch.from_numpy(state.lengths)[:, None]  # (B, T)
        slots = torch.from_numpy(np.ascontiguousarray(state.slots[:, :keys]))
        weights = []
        for layer, q in enumerate(torch.from_numpy(state.queries)):
            k = state.pool.k_t[layer][slots]  # (B, T, H, dh)
            scores = torch.einsum("bhd,bthd->bht", q, k)
            scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
            weights.append(torch.softmax(scores, dim=-1))
        return weights

    def _read(
        self, windows: list[list[int]], pool: KVPool, slots: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Read equal-length ``windows`` at positions 0… into their new ``slots`` (G, T)."""
        idx = np.array(windows, dtype=np.int64)
        if idx.shape[1] == 1:
            return self.decode_step(idx[:, 0], np.zeros(len(idx), dtype=np.int64), slots, pool)
        return self.forward_cached(torch.from_numpy(idx), pool, slots, 0)

    def start(self, contexts: Sequence[Sequence[int]]) -> tuple[np.ndarray, TransformerState]:
        """Read B contexts (each starting with ``<s>``) into a new pool; log-probs (B, V)."""
        C, K = self.config.context, self.config.keep
        B = len(contexts)
        self._weights_for_steps()  # rebuilt if the weights changed since (training)
        offsets = np.array([window_start(len(c), C, K) for c in contexts], dtype=np.int64)
        windows = [list(c)[o:] for c, o in zip(contexts, offsets)]
        lengths = np.array([len(w) for w in windows], dtype=np.int64)
        # identical windows (a beam's B copies of one prompt) are read once and share slots
        unique: dict[tuple[int, ...], list[int]] = {}
        for row, window in enumerate(windows):
            unique.setdefault(tuple(window), []).append(row)
        pool = self._pool(sum(len(w) for w in unique), B)
        width = int(lengths.max())
        slots = np.zeros((B, width), dtype=np.int64)
        ids = np.full((B, width), BOS_ID, dtype=np.int64)
        logprobs = np.empty((B, self.config.vocab_size))
        queries = self._no_queries(B)
        group_windows = [list(w) for w in unique]
        for group in rows_by_length(group_windows).values():
            T = len(group_windows[group[0]])
            first = cast(int, pool.allocate(len(group) * T))  # the pool was sized for them
            new = np.arange(first, first + len(group) * T).reshape(len(group), T)
            group_logprobs, group_queries = self._read([group_windows[g] for g in group], pool, new)
            for i, g in enumerate(group):
                rows = unique[tuple(group_windows[g])]
                slots[rows, :T] = new[i]
                ids[rows, :T] = group_windows[g]
                logprobs[rows] = group_logprobs[i]
                queries[:, rows] = group_queries[:, i : i + 1]
        return logprobs, TransformerState(pool, slots, ids, lengths, offsets, queries, width)

    def _moved(self, state: TransformerState, room: int) -> TransformerState:
        """The same state in a new pool holding only its live slots, with room for ``room``
        more (a full pool's states keep the old one: nothing is copied back)."""
        live_mask = np.arange(state.slots.shape[1])[None, :] < state.lengths[:, None]
        live = np.unique(state.slots[live_mask])
        pool = KVPool(self.config, len(live) + room)
        pool.allocate(len(live))
        pool.k[:, : len(live)] = state.pool.k[:, live]
        pool.v[:, : len(live)] = state.pool.v[:, live]
        slots = np.where(live_mask, np.searchsorted(live, state.slots).clip(0, len(live) - 1), 0)
        return TransformerState(pool, slots, state.ids, state.lengths, state.offsets,
                                state.queries, state.longest)  # fmt: skip

    #: ``extend`` and ``select`` take numpy ids and run no torch call on the usual path (the
    #: backend then skips torch's inference mode and tensor conversions)
    numpy_steps = True

    def extend(
        self, state: TransformerState, idx: np.ndarray | torch.Tensor
    ) -> tuple[np.ndarray, TransformerState]:
        """Append token idx[b] to row b: one token's forward pass, log-probs (B, V), and a new
        state. ``state`` stays valid: the new keys and values go to fresh slots.

        A row whose window is full (C tokens) restarts it: its last K tokens and the new one
        are read again at positions 0…K (``config.window_start``).
        """
        tokens = idx.numpy() if isinstance(idx, torch.Tensor) else idx
        C, K = self.config.context, self.config.keep
        B = len(tokens)
        restarting = state.longest >= C
        need = B + K * int(np.count_nonzero(state.lengths >= C)) if restarting else B
        if state.pool.used + need > state.pool.capacity:
            state = self._moved(state, max(need, self._room(B)))
        pool = state.pool
        first = cast(int, pool.allocate(need))  # room was made above
        if restarting:
            return self._extend_restarting(state, tokens, first)
        lengths = state.lengths
        width = state.longest + 1
        slots = np.empty((B, width), dtype=np.int64)
        ids = np.empty((B, width), dtype=np.int64)
        logprobs = np.empty((B, self.config.vocab_size))
        queries = self._no_queries(B)
        kernel = _kernels()
        if kernel is not None:  # the usual case: bookkeeping and step in one compiled call
            fast = cast(fastpath.StepWeights, self._fast)  # built by start's _weights_for_steps
            kernel.extend_step(*fast.arrays(), tokens, lengths, state.slots, state.ids, first,
                               slots, ids, pool.k, pool.v, logprobs, queries)  # fmt: skip
        else:
            slots[:, :-1] = state.slots
            ids[:, :-1] = state.ids
            slots[:, -1] = ids[:, -1] = 0
            rows = np.arange(B)
            slots[rows, lengths] = np.arange(first, first + B)
            ids[rows, lengths] = tokens
            logprobs, queries = self.decode_step(tokens, lengths, slots, pool)
        return logprobs, TransformerState(
            pool, slots, ids, lengths + 1, state.offsets, queries, width
        )

    def _extend_restarting(
        self, state: TransformerState, tokens: np.ndarray, first: int
    ) -> tuple[np.ndarray, TransformerState]:
        """``extend`` when some row's window is full: that row keeps its last K tokens and
        reads them again, with the new one, at positions 0…K; the other rows step as usual.
        The pool slots from ``first`` on are this step's."""
        C, K = self.config.context, self.config.keep
        lengths = state.lengths
        B = len(lengths)
        full = lengths >= C
        restarting = np.flatnonzero(full)
        stepping = np.flatnonzero(~full)
        new_lengths = np.where(full, K + 1, lengths + 1)
        offsets = state.offsets + np.where(full, C - K, 0)
        width = int(new_lengths.max())
        slots = np.zeros((B, width), dtype=np.int64)
        ids = np.zeros((B, width), dtype=np.int64)
        logprobs = np.empty((B, self.config.vocab_size))
        queries = self._no_queries(B)
        if len(stepping):
            kept = lengths[stepping]
            for row in stepping.tolist():
                n = int(lengths[row])
                slots[row, :n] = state.slots[row, :n]
                ids[row, :n] = state.ids[row, :n]
            slots[stepping, kept] = np.arange(first, first + len(stepping))
            ids[stepping, kept] = tokens[stepping]
            logprobs[stepping], queries[:, stepping] = self.decode_step(
                tokens[stepping], kept, slots[stepping], state.pool
            )
        start = first + len(stepping)
        fresh = np.arange(start, start + len(restarting) * (K + 1)).reshape(-1, K + 1)
        slots[restarting, : K + 1] = fresh
        ids[restarting, :K] = state.ids[restarting, C - K : C]
        ids[restarting, K] = tokens[restarting]
        with torch.inference_mode():
            logprobs[restarting], queries[:, restarting] = self.forward_cached(
                torch.from_numpy(ids[restarting, : K + 1]), state.pool, fresh, 0
            )
        return logprobs, TransformerState(
            state.pool, slots, ids, new_lengths, offsets, queries, width
        )

    def select(
        self, state: TransformerState, index: np.ndarray | torch.Tensor
    ) -> TransformerState:
        """Rows ``index`` of the state (beam reordering): slot numbers are copied, never keys."""
        rows = index.numpy() if isinstance(index, torch.Tensor) else index
        if len(rows) == len(state.lengths) and np.array_equal(rows, np.arange(len(rows))):
            return state
        lengths = state.lengths[rows]
        width = int(lengths.max()) if len(rows) else 0
        return TransformerState(state.pool, state.slots[rows, :width], state.ids[rows, :width],
                                lengths, state.offsets[rows], state.queries[:, rows],
                                width)  # fmt: skip

    def chunked_logits(self, ids: Sequence[int]) -> Iterator[tuple[int, torch.Tensor]]:
        """(p, logits after positions p … p+k−1) for ``ids`` (starting with ``<s>``), read
        through the same windows as generation (``window_spans``), one window at a time."""
        for a, b, first in window_spans(len(ids), self.config.context, self.config.keep):
            logits = self(torch.tensor([list(ids[a:b])], dtype=torch.long))[0]
            yield a + first, logits[first:]

    def sequence_logits(self, ids: Sequence[int]) -> torch.Tensor:
        """Logits after each prefix of ``ids`` (which starts with ``<s>``): (T, V)."""
        return torch.cat([logits for _, logits in self.chunked_logits(ids)])

    # ---------------------------------------------------------------- hidden states
    def _window_hidden(
        self, window: Sequence[int]
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """Read one window (tokens at positions 0…T−1, T ≤ C) as ``forward`` does: LN_f(x_t)
        at each position (T, d), and each layer's keys and values (1, H, T, d_head)."""
        T = len(window)
        d = self.config.d_model
        x = self.wte(torch.tensor([list(window)], dtype=torch.long)) + self.wpe.weight[:T]
        cache = []
        for block in cast("list[Block]", self.blocks):
            attn = block.attn
            q, k, v = (attn.split_heads(t) for t in attn.c_attn(block.ln_1(x)).split(d, dim=2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (1, H, T, d_head)
            x = x + attn.c_proj(y.transpose(1, 2).reshape(1, T, d))
            x = x + block.mlp(block.ln_2(x))
            cache.append((k, v))
        return self.ln_f(x)[0], cache

    def sequence_hidden(self, ids: Sequence[int]) -> torch.Tensor:
        """The last hidden state at each position of ``ids`` (which starts with ``<s>``):
        LN_f(x_t), the vector the output projection reads, (T, d) (as Hugging Face's GPT-2
        reports ``hidden_states[-1]``), through the same windows as ``chunked_logits``.
        Contrastive search compares these."""
        rows = []
        for a, b, first in window_spans(len(ids), self.config.context, self.config.keep):
            rows.append(self._window_hidden(ids[a:b])[0][first:])
        return torch.cat(rows)

    def candidate_hidden(
        self, ids: Sequence[int], candidates: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``sequence_hidden(ids)`` (T, d), and for each candidate v the last row of
        ``sequence_hidden(ids + [v])`` (k, d), in one pass over ``ids`` and one batched step.

        The text with a candidate is T + 1 tokens long; its last position is read in the
        window that starts at a = ``window_start(T + 1)``. The keys and values of ids[a:] are
        those of the context's last window when it starts at a too (the usual case); when the
        candidate would start a new window they are read once more from ids[a:] (K tokens).
        Then the k candidates are one batch of one-token queries at position T − a, each
        attending over those keys and its own (no mask: every cached key is earlier)."""
        C, K = self.config.context, self.config.keep
        T, k, d = len(ids), len(candidates), self.config.d_model
        a = window_start(T + 1, C, K)
        rows, cache = [], None
        for start, end, first in window_spans(T, C, K):
            states, layer_kv = self._window_hidden(ids[start:end])
            rows.append(states[first:])
            if start == a:
                cache = layer_kv
        if cache is None:  # the candidate starts a new window
            cache = self._window_hidden(ids[a:])[1]
        position = T - a
        x = self.wte(torch.tensor(list(candidates), dtype=torch.long))[:, None, :]
        x = x + self.wpe.weight[position : position + 1]  # (k, 1, d)
        for block, (past_k, past_v) in zip(cast("list[Block]", self.blocks), cache):
            attn = block.attn
            q, k_new, v_new = (attn.split_heads(t)
                               for t in attn.c_attn(block.ln_1(x)).split(d, dim=2))
            keys = torch.cat([past_k.expand(k, -1, -1, -1), k_new], dim=2)
            values = torch.cat([past_v.expand(k, -1, -1, -1), v_new], dim=2)
            y = F.scaled_dot_product_attention(q, keys, values)  # (k, H, 1, d_head)
            x = x + attn.c_proj(y.transpose(1, 2).reshape(k, 1, d))
            x = x + block.mlp(block.ln_2(x))
        return torch.cat(rows), self.ln_f(x)[:, 0]
