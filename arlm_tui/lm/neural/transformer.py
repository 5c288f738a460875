"""A small decoder-only transformer (GPT-2 style, pre-LayerNorm) with a key/value cache.

    x_0 = E[w_t] + P[t]                                   token + learned position   (B, T, d)
    x' = x + Attn(LN_1(x))                                 every block, ``layers`` of them
    x  = x' + MLP(LN_2(x'))
    z  = LN_f(x) Eᵀ                                        logits, tied to the embedding
    Attn: for each head, softmax(q kᵀ / √d_head + causal mask) v, heads concatenated, projected
    MLP:  W_2 GELU(W_1 x + b_1) + b_2, 4·d wide (GELU in GPT-2's tanh form)

Generation keeps every layer's keys and values (the KV cache) so a step runs only the new
token through the net: its query attends over the cached keys, one matrix-vector product per
head. The cache is preallocated for C = ``context`` positions (``KVCache``).

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
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from arlm_tui.lm.neural import fastpath
from arlm_tui.lm.neural.batch import BOS_ID, mask_start_token, rows_by_length
from arlm_tui.lm.neural.config import TransformerConfig, window_spans, window_start


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t attends to positions ≤ t."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        d = config.d_model
        self.heads = config.heads
        self.d_head = d // config.heads
        self.c_attn = nn.Linear(d, 3 * d)  # W_q, W_k, W_v stacked
        self.c_proj = nn.Linear(d, d)  # W_o
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

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.d_model, 4 * config.d_model)
        self.c_proj = nn.Linear(4 * config.d_model, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    """x + Attn(LN_1(x)), then + MLP(LN_2(·)): pre-LayerNorm residual block."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


#: Freed cache buffers (keys, values, ids) by shape, at most _POOL_BYTES in all.
_POOL: dict[tuple[int, ...], list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
_POOL_BYTES = 64 << 20


def _no_storage_users(tensor: torch.Tensor) -> int:
    return -1


#: Tensors sharing a tensor's memory (torch's own count; without it buffers are not reused).
_storage_users = (
    (lambda t: torch._C._storage_Use_Count(t.untyped_storage()._cdata))
    if hasattr(torch._C, "_storage_Use_Count")
    else _no_storage_users
)


def _buffers(shape: tuple[int, ...], ids_shape: tuple[int, int]):
    """Keys, values (float32 ``shape``) and ids (int64 ``ids_shape``): recycled or new."""
    free = _POOL.get(shape)
    if free:
        return free.pop()
    return (
        np.empty(shape, dtype=np.float32),
        np.empty(shape, dtype=np.float32),
        np.empty(ids_shape, dtype=np.int64),
    )


def _recycle(k: np.ndarray, v: np.ndarray, ids: np.ndarray) -> None:
    pooled = sum(a.nbytes for free in _POOL.values() for entry in free for a in entry)
    if pooled + k.nbytes + v.nbytes + ids.nbytes <= _POOL_BYTES:
        _POOL.setdefault(k.shape, []).append((k, v, ids))


class KVCache:
    """Keys and values of every layer, preallocated for C positions.

    k, v: (layers, B, H, C, d_head); ids: (B, C) the tokens at those positions; ``filled[b]``:
    how many positions of row b have been written. States share a cache and each sees only its
    first ``lengths[b]`` positions; a state may append in place only where nothing was written
    yet (lengths == filled), otherwise it copies first. So appending never changes what another
    state sees, and a kept state (undo, a beam's ancestor) stays valid.
    """

    def __init__(self, config: TransformerConfig, batch: int):
        H, C, dh = config.heads, config.context, config.d_model // config.heads
        shape = (config.layers, batch, H, C, dh)
        self.k_np, self.v_np, self.ids_np = _buffers(shape, (batch, C))
        self.ids_np.fill(BOS_ID)
        # torch views of the same memory (numpy for the fast path, torch for the rest)
        self.k, self.v = torch.from_numpy(self.k_np), torch.from_numpy(self.v_np)
        self.ids = torch.from_numpy(self.ids_np)
        self.filled = np.zeros(batch, dtype=np.int64)
        self._unshared = self._references()

    def _references(self) -> tuple[int, ...]:
        """How many references hold each buffer (numpy) and its memory (torch views)."""
        arrays = (self.k_np, self.v_np, self.ids_np)
        return tuple(sys.getrefcount(a) for a in arrays) + tuple(
            _storage_users(t) for t in (self.k, self.v, self.ids)
        )

    def __del__(self) -> None:
        # Give the memory back for the next cache, unless something still looks at it (a
        # view kept by a caller). A reused buffer has its pages mapped already: a fresh one
        # costs a page fault per 4 KiB written, which made copying a beam's cache 4× slower.
        try:
            if _storage_users is not _no_storage_users and self._references() == self._unshared:
                _recycle(self.k_np, self.v_np, self.ids_np)
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown: nothing to give back
            pass

    def take(self, config: TransformerConfig, rows: torch.Tensor, lengths: np.ndarray) -> KVCache:
        """A new cache holding rows ``rows`` of this one, each with its first ``lengths`` keys."""
        new = KVCache(config, len(rows))
        # one strided copy per row and tensor (advanced indexing would copy twice: through a
        # temporary); only the ``lengths[b]`` keys row b sees
        for b, (row, length) in enumerate(zip(rows.tolist(), lengths.tolist())):
            new.k_np[:, b, :, :length] = self.k_np[:, row, :, :length]
            new.v_np[:, b, :, :length] = self.v_np[:, row, :, :length]
        upto = int(lengths.max()) if len(lengths) else 0
        new.ids[:, :upto] = self.ids[rows, :upto]
        new.filled[:] = lengths
        return new


@dataclass(frozen=True)
class TransformerState:
    """B sequences: the shared cache, each row's window length and where its window starts.

    ``queries``: for each layer, the query scaled by 1/√d_head (B, H, d_head) of the last token
    read, from which
    ``TransformerLM.attention`` recomputes that token's attention weights when asked (the fast
    path itself never materialises them).
    """

    cache: KVCache
    lengths: np.ndarray  # (B,) tokens in each row's window
    offsets: np.ndarray  # (B,) position in the text of each window's first token
    queries: tuple[torch.Tensor, ...]

    def __len__(self) -> int:
        return len(self.lengths)


class TransformerLM(nn.Module):
    """Token + position embeddings → ``layers`` blocks → LayerNorm → tied output projection."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        self.wpe = nn.Embedding(config.context, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.scale = 1.0 / math.sqrt(config.d_model // config.heads)
        self._init_weights()
        self._step_weights: tuple | None = None
        self._fast: fastpath.StepWeights | None = None

    def _init_weights(self) -> None:
        # GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/√(2L) so the
        # residual stream's variance does not grow with depth.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
        for block in self.blocks:
            for proj in (block.attn.c_proj, block.mlp.c_proj):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * self.config.layers))

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """z = LN_f(x) Eᵀ with p(<s>) = 0."""
        return mask_start_token(F.linear(self.ln_f(x), self.wte.weight))

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
        """The weights of the cached path: numpy copies for ``fastpath.decode_step``
        (``self._fast``), and Eᵀ as a contiguous (d, V) matrix for a chunk's output product
        (measured ~5× faster than ``F.linear`` with E on two cores); returns Eᵀ.

        The copies are rebuilt when any weight has changed since (every in-place update bumps
        a tensor's version counter); ``start`` checks, ``decode_step`` reuses them.
        """
        versions = tuple(p._version for p in self.parameters())
        if self._step_weights is None or self._step_weights[0] != versions:
            with torch.no_grad():
                head = self.wte.weight.detach().t().contiguous()
                self._fast = fastpath.step_weights(self, BOS_ID)
            self._step_weights = (versions, head)
        return self._step_weights[1]

    def _step_logits(self, x: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
        """z = LN_f(x) Eᵀ for the cached path (B, d) → (B, V), p(<s>) = 0."""
        ln_f = self.ln_f
        logits = (
            torch.layer_norm(x, (self.config.d_model,), ln_f.weight, ln_f.bias, ln_f.eps) @ head
        )
        logits.select(1, BOS_ID).fill_(float("-inf"))
        return logits

    def decode_step(
        self, idx: torch.Tensor, cache: KVCache, past: int
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One new token per row, idx (B,), at position ``past`` after ``past`` cached keys.

        The hot path of generation, computed in numpy by ``fastpath.decode_step`` (a third of
        the framework calls' cost) on the cache's memory. The new query may attend to every
        cached key, so there is no mask. Returns logits (B, V) and each layer's query
        (B, H, d_head).
        """
        if self._fast is None:
            self._weights_for_steps()
        logits, queries = fastpath.decode_step(
            self._fast, idx.numpy(), cache.k_np, cache.v_np, past
        )
        return torch.from_numpy(logits), [torch.from_numpy(q) for q in queries]

    def forward_cached(
        self, idx: torch.Tensor, cache: KVCache, past: int
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Read tokens idx (B, T) at positions past…past+T−1 of a cache holding ``past`` keys.

        Writes their keys/values into ``cache`` (B rows); returns the logits after the last
        token (B, V) and, per layer, the last token's query (B, H, d_head).
        """
        B, T = idx.shape
        if T == 1:
            return self.decode_step(idx[:, 0], cache, past)
        k_cache, v_cache = cache.k, cache.v
        end = past + T
        d = self.config.d_model
        H, dh = self.config.heads, d // self.config.heads
        x = self.wte.weight[idx] + self.wpe.weight[past:end]  # (B, T, d)
        mask = None
        if past > 0:
            # bottom-right causal mask: query i (position past+i) sees keys 0 … past+i
            mask = torch.ones(T, end, dtype=torch.bool).tril(diagonal=past)
        queries = []
        for layer, block in enumerate(self.blocks):
            attn = block.attn
            qkv = attn.c_attn(block.ln_1(x))  # (B, T, 3d)
            q = qkv[..., :d].view(B, T, H, dh).transpose(1, 2)  # (B, H, T, dh)
            k_cache[layer, :, :, past:end] = qkv[..., d : 2 * d].view(B, T, H, dh).transpose(1, 2)
            v_cache[layer, :, :, past:end] = qkv[..., 2 * d :].view(B, T, H, dh).transpose(1, 2)
            y = F.scaled_dot_product_attention(
                q,
                k_cache[layer, :, :, :end],
                v_cache[layer, :, :, :end],
                attn_mask=mask,
                is_causal=past == 0,  # no cache yet: queries and keys coincide, top-left is right
            )
            x = x + attn.c_proj(y.transpose(1, 2).reshape(B, T, d))
            x = x + block.mlp(block.ln_2(x))
            queries.append(q[:, :, -1] * self.scale)  # scaled, as the fast path's
        head = self._weights_for_steps()
        return self._step_logits(x[:, -1], head), queries

    def attention(self, state: TransformerState) -> list[torch.Tensor]:
        """Attention weights of the last token read, per layer (B, H, keys), keys = window
        positions; recomputed from the stored queries and the cached keys:

            a = softmax(q kᵀ / √d_head)   over the row's keys 0 … lengths[b]−1
        (the stored queries are q / √d_head already)
        """
        keys = int(state.lengths.max())
        valid = torch.arange(keys)[None, :] < torch.from_numpy(state.lengths)[:, None]  # (B, T)
        weights = []
        for layer, q in enumerate(state.queries):
            k = state.cache.k[layer, :, :, :keys]  # (B, H, T, dh)
            scores = (q.unsqueeze(2) @ k.transpose(-2, -1))[:, :, 0]  # (B, H, T)
            scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
            weights.append(torch.softmax(scores, dim=-1))
        return weights

    def _read(
        self, windows: Sequence[Sequence[int]], cache: KVCache, rows: Sequence[int], past: int
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Read equal-length ``windows`` into cache rows ``rows`` after ``past`` cached keys."""
        idx = torch.tensor([list(w) for w in windows], dtype=torch.long)
        end = past + idx.shape[1]
        if len(rows) == len(cache.filled) and list(rows) == list(range(len(rows))):
            logits, queries = self.forward_cached(idx, cache, past)
        else:  # some rows only: work on a copy of them, then put their keys back
            index = torch.tensor(list(rows))
            part = cache.take(self.config, index, np.full(len(rows), past))
            logits, queries = self.forward_cached(idx, part, past)
            cache.k[:, index, :, :end] = part.k[:, :, :, :end]
            cache.v[:, index, :, :end] = part.v[:, :, :, :end]
        cache.ids[list(rows), past:end] = idx
        cache.filled[list(rows)] = end
        return logits, queries

    def start(self, contexts: Sequence[Sequence[int]]) -> tuple[torch.Tensor, TransformerState]:
        """Read B contexts (each starting with ``<s>``) into a new cache; logits (B, V)."""
        C, K = self.config.context, self.config.keep
        B = len(contexts)
        self._weights_for_steps()  # rebuilt if the weights changed since (training)
        cache = KVCache(self.config, B)
        offsets = np.array([window_start(len(c), C, K) for c in contexts], dtype=np.int64)
        windows = [list(c)[o:] for c, o in zip(contexts, offsets)]
        lengths = np.array([len(w) for w in windows], dtype=np.int64)
        logits = torch.empty(B, self.config.vocab_size)
        dh = self.config.d_model // self.config.heads
        queries = [torch.empty(B, self.config.heads, dh) for _ in self.blocks]
        # identical contexts (a beam's B copies of one prompt) are read once, then copied
        unique: dict[tuple[int, ...], list[int]] = {}
        for row, window in enumerate(windows):
            unique.setdefault(tuple(window), []).append(row)
        firsts = [rows[0] for rows in unique.values()]
        for group in rows_by_length([windows[r] for r in firsts]).values():
            rows = [firsts[g] for g in group]
            group_logits, group_queries = self._read([windows[r] for r in rows], cache, rows, 0)
            for i, row in enumerate(rows):
                copies = unique[tuple(windows[row])]
                logits[copies] = group_logits[i]
                for layer, q in enumerate(group_queries):
                    queries[layer][copies] = q[i]
        duplicates = [r for rows in unique.values() for r in rows[1:]]
        if duplicates:
            source = torch.tensor([unique[tuple(windows[r])][0] for r in duplicates])
            target = torch.tensor(duplicates)
            upto = int(lengths.max())
            cache.k[:, target, :, :upto] = cache.k[:, source, :, :upto]
            cache.v[:, target, :, :upto] = cache.v[:, source, :, :upto]
            cache.ids[target, :upto] = cache.ids[source, :upto]
            cache.filled[duplicates] = cache.filled[source.numpy()]
        return logits, TransformerState(cache, lengths, offsets, tuple(queries))

    def extend(
        self, state: TransformerState, idx: torch.Tensor
    ) -> tuple[torch.Tensor, TransformerState]:
        """Append token idx[b] to row b: one token's forward pass (B, V) and a new state.

        ``state`` stays valid: the new keys go where no other state looks, or into a copy.
        """
        C, K = self.config.context, self.config.keep
        lengths = state.lengths
        full = lengths >= C
        any_full = bool(full.any())
        cache = state.cache
        if any_full or not np.array_equal(cache.filled, lengths):
            cache = cache.take(self.config, torch.arange(len(lengths)), lengths)
        new_lengths = lengths + 1
        offsets = state.offsets
        if not any_full and lengths.min() == lengths.max():  # the usual case: one batch
            past = int(lengths[0])
            logits, queries = self.decode_step(idx, cache, past)
            cache.ids_np[:, past] = idx.numpy()
            cache.filled[:] = past + 1
            return logits, TransformerState(cache, new_lengths, offsets, tuple(queries))
        B = len(lengths)
        logits = torch.empty(B, self.config.vocab_size)
        offsets = offsets.copy()
        groups: dict[int, list[int]] = {}
        for row in range(B):
            groups.setdefault(int(lengths[row]), []).append(row)
        dh = self.config.d_model // self.config.heads
        queries = [torch.empty(B, self.config.heads, dh) for _ in self.blocks]
        for length, rows in groups.items():
            if length >= C:  # window full: keep its last K tokens and re-read them at 0…K−1
                kept = cache.ids[rows, C - K :]
                windows = torch.cat([kept, idx[rows].unsqueeze(1)], dim=1).tolist()
                past = 0
                new_lengths[rows] = K + 1
                offsets[rows] += C - K
            else:
                windows = idx[rows].unsqueeze(1).tolist()
                past = length
            group_logits, group_queries = self._read(windows, cache, rows, past)
            logits[rows] = group_logits
            for layer, q in enumerate(group_queries):
                queries[layer][rows] = q
        return logits, TransformerState(cache, new_lengths, offsets, tuple(queries))

    def select(self, state: TransformerState, index: torch.Tensor) -> TransformerState:
        """Rows ``index`` of the state (beam reordering): a new cache unless nothing moves."""
        rows = index.numpy()
        if len(rows) == len(state.lengths) and np.array_equal(rows, np.arange(len(rows))):
            return state
        lengths = state.lengths[rows]
        cache = state.cache.take(self.config, index, lengths)
        queries = tuple(q.index_select(0, index) for q in state.queries)
        return TransformerState(cache, lengths, state.offsets[rows], queries)

    def chunked_logits(self, ids: Sequence[int]) -> Iterator[tuple[int, torch.Tensor]]:
        """(p, logits after positions p … p+k−1) for ``ids`` (starting with ``<s>``), read
        through the same windows as generation (``window_spans``), one window at a time."""
        for a, b, first in window_spans(len(ids), self.config.context, self.config.keep):
            logits = self(torch.tensor([list(ids[a:b])], dtype=torch.long))[0]
            yield a + first, logits[first:]

    def sequence_logits(self, ids: Sequence[int]) -> torch.Tensor:
        """Logits after each prefix of ``ids`` (which starts with ``<s>``): (T, V)."""
        return torch.cat([logits for _, logits in self.chunked_logits(ids)])
