"""N-gram language models: count what follows each (n-1)-token context, then smooth (numpy only).

An order-n model makes the Markov assumption p(w_t | w_1 .. w_{t-1}) ≈ p(w_t | w_{t-n+1} .. w_{t-1}).
Training pads every sentence with n-1 ``<s>`` on the left and one ``</s>`` on the right and counts,
for every predicted token (each real token and the ``</s>``), the j-gram ending at it, for every
order j = 1..n. So the unigram counts c(w) count predicted tokens, ``<s>`` is never counted as a
next token (it is never predicted: log-prob -inf), and the counts of a context h are
c(h) = Σ_w c(h, w).

Five smoothings turn the counts into a next-token distribution (formulas in the docstrings of
``NGramModel._prepare_*``): ``mle`` (relative frequencies, backing off to the longest context
seen in training), ``addk`` (add-k / Laplace), ``interp`` (Jelinek-Mercer interpolation with
weights fitted by EM on held-out text), ``stupid`` (stupid backoff: scores, not probabilities)
and ``kn`` (interpolated modified Kneser-Ney, the default).

Every smoothing except stupid backoff is computed by one recursion from the lowest order up,

    p_j(w | h) = α_j(h, w) + γ_j(h) · p_{j-1}(w | h')     if the context h was seen at order j
    p_j(w | h) = p_{j-1}(w | h')                           otherwise,

where h' drops the oldest token of h, α_j(h, w) = 0 for a w never seen after h, and p_0 is the
uniform distribution over V' = the vocabulary without ``<s>`` (or all zeros for mle). At fit or
load time α is precomputed for every stored n-gram and γ for every context, in contiguous arrays
with one slice per context, so a full distribution costs n dictionary look-ups and n vector
operations, and scoring a text is vectorised over its tokens.
"""

from __future__ import annotations

import json
import math
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from arlm_tui.errors import CorpusError, ModelLoadError
from arlm_tui.lm.base import LanguageModel

if TYPE_CHECKING:  # pragma: no cover
    from arlm_tui.text.tokenizers import Tokenizer

#: The smoothing methods, by the name used in configs and on the command line.
SMOOTHINGS: tuple[str, ...] = ("mle", "addk", "interp", "stupid", "kn")
#: Orders an n-gram model may have.
MIN_ORDER, MAX_ORDER = 1, 5
#: Stupid backoff's fixed back-off factor (Brants et al. 2007).
STUPID_ALPHA = 0.4
#: Version of the saved directory format.
FORMAT = 1
#: Largest interpolation weight λ'_j of one order (see ``_prepare_interp``): the rest keeps an
#: unseen word's probability above zero.
MAX_INTERP_WEIGHT = 0.999

#: The file names of a saved model directory.
CONFIG_FILE, TOKENIZER_FILE, NGRAMS_FILE = "config.json", "tokenizer.json", "ngrams.safetensors"


@dataclass(frozen=True)
class CountRow:
    """One line of a count table: c(context, next_token), c(context) and the model's p."""

    context: tuple[str, ...]
    next_token: str
    count: int
    context_total: int
    probability: float


class InconsistentCountsError(ValueError):
    """The n-gram tables of different orders do not fit together (only a corrupt file does this)."""


# ---------------------------------------------------------------------------------- one order
class _OrderTable:
    """All distinct j-grams of one order j, sorted, their counts, and an index of their contexts.

    ``grams[r]`` is the r-th j-gram (lexicographic order of ids) and ``counts[r]`` its count
    c(h, w). The j-grams sharing a context h (their first j-1 ids) are the contiguous rows
    ``ctx_start[k]:ctx_end[k]`` with ``k = ctx_index[h]``; ``ctx_total[k]`` = c(h).
    """

    def __init__(self, grams: np.ndarray, counts: np.ndarray, vocab_size: int):
        self.order = int(grams.shape[1])
        self.grams = np.ascontiguousarray(grams, dtype=np.int32)
        self.counts = np.ascontiguousarray(counts, dtype=np.int64)
        self.vocab_size = vocab_size
        self.next_ids = self.grams[:, -1].astype(np.intp)
        size = len(self.grams)
        contexts = self.grams[:, :-1]
        new_context = np.ones(size, dtype=bool)
        if size > 1:
            new_context[1:] = np.any(contexts[1:] != contexts[:-1], axis=1)
        self.ctx_start = np.flatnonzero(new_context)
        self.ctx_end = np.append(self.ctx_start[1:], size)
        self.ctx_of_row = np.repeat(np.arange(len(self.ctx_start)), self.ctx_end - self.ctx_start)
        self.ctx_index: dict[tuple[int, ...], int] = {
            tuple(c): k for k, c in enumerate(contexts[self.ctx_start].tolist())
        }
        self.ctx_total = np.add.reduceat(self.counts, self.ctx_start)
        # Rows are sorted by (context, next id), so these keys are strictly increasing: one
        # binary search finds the row of any (context row, next id) pair.
        self.keys = self.ctx_of_row.astype(np.int64) * vocab_size + self.next_ids

    def __len__(self) -> int:
        return len(self.grams)

    def lookup(
        self, contexts: Iterable[tuple[int, ...]], next_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each (context, next id) pair: the context's index k (-1 if never seen) and the
        j-gram's row r (-1 if never seen). ``next_ids`` must lie in [0, vocab_size)."""
        get = self.ctx_index.get
        ctx_rows = np.fromiter((get(c, -1) for c in contexts), dtype=np.int64, count=len(next_ids))
        if not len(self.keys):
            return ctx_rows, np.full(len(next_ids), -1, dtype=np.int64)
        keys = ctx_rows * self.vocab_size + next_ids
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = (ctx_rows >= 0) & (self.keys[pos] == keys)
        return ctx_rows, np.where(found, pos, -1)


def _sorted_unique_grams(grams: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort j-grams lexicographically (with their counts); InconsistentCountsError on repeats."""
    order = np.lexsort(grams.T[::-1]) if grams.shape[1] else np.arange(len(grams))
    grams, counts = grams[order], counts[order]
    if len(grams) > 1 and not np.all(np.any(grams[1:] != grams[:-1], axis=1)):
        raise InconsistentCountsError(f"an n-gram of order {grams.shape[1]} is listed twice")
    return grams, counts


def kn_discounts(counts: np.ndarray) -> tuple[tuple[float, float, float], str]:
    """Modified Kneser-Ney discounts (D1, D2, D3+) from counts-of-counts (Chen & Goodman 1998).

    With n_i = the number of n-grams seen exactly i times:

        Y = n1 / (n1 + 2 n2),  D1 = 1 - 2Y n2/n1,  D2 = 2 - 3Y n3/n2,  D3+ = 3 - 4Y n4/n3.

    Returns ``((D1, D2, D3), "modified")``. When the corpus is too small for these (some n_i = 0,
    or a D_i outside (0, i]) all three are the single absolute discount D = n1 / (n1 + 2 n2),
    or 0.5 when that is not in (0, 1]: ``((D, D, D), "absolute")``.
    """
    n1, n2, n3, n4 = (int(np.count_nonzero(counts == i)) for i in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) > 0:
        y = n1 / (n1 + 2 * n2)
        d1, d2, d3 = 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3
        if 0 < d1 <= 1 and 0 < d2 <= 2 and 0 < d3 <= 3:
            return (d1, d2, d3), "modified"
    d = n1 / (n1 + 2 * n2) if n1 + 2 * n2 > 0 else 0.0
    if not 0 < d <= 1:
        d = 0.5
    return (d, d, d), "absolute"


# ---------------------------------------------------------------------------------- shared base
class HistoryModel(LanguageModel):
    """A model that conditions on the last n-1 tokens only (n-gram counts, an ARPA file).

    The context is padded on the left with n-1 ``<s>`` and cut to its last n-1 ids, the
    *history*; subclasses give ``_scores(history)``, the [V] next-token probabilities. A ``<s>``
    inside a context starts a new sentence, as in SRILM and KenLM: what comes before the last
    ``<s>`` is forgotten (the history is padded with ``<s>`` from there), so one ``<s>`` and
    n-1 of them mean the same start. The batched state of ``start``/``extend``/``select`` is a
    tuple holding each sequence's history.
    """

    order: int

    @abstractmethod
    def _scores(self, history: tuple[int, ...]) -> np.ndarray:
        """p(w | history) for every w, shape [V] (scores for a model that is not normalized)."""

    def _history(self, context_ids: Sequence[int]) -> tuple[int, ...]:
        """The last n-1 ids of ``<s>``·(n-1) + context: what the model conditions on."""
        width = self.order - 1
        if width == 0:
            return ()
        tail = tuple(int(t) for t in context_ids[max(0, len(context_ids) - width) :])
        self._check_ids(tail, "context_ids")
        return self._restart((self.bos_id,) * (width - len(tail)) + tail)

    def _restart(self, history: tuple[int, ...]) -> tuple[int, ...]:
        """``history`` with everything before its last ``<s>`` replaced by ``<s>``."""
        bos = self.bos_id
        if bos not in history:
            return history
        last = len(history) - 1 - history[::-1].index(bos)
        return (bos,) * (last + 1) + history[last + 1 :]

    def _check_ids(self, ids: Iterable[int], what: str) -> None:
        size = self.vocab_size
        for token_id in ids:
            if not 0 <= token_id < size:
                raise ValueError(
                    f"{what}: token id {token_id} is outside the vocabulary [0, {size})"
                )

    def next_logprobs(self, context_ids: Sequence[int]) -> np.ndarray:
        """log p(w | last n-1 tokens of the ``<s>``-padded context) for every w: shape [V].

        Natural logs; -inf for ``<s>`` and for anything with probability 0 (mle, stupid)."""
        with np.errstate(divide="ignore"):
            return np.log(self._scores(self._history(context_ids)))

    # ------------------------------------------------------------------ incremental, batched
    def start(self, contexts: Sequence[Sequence[int]]) -> tuple[np.ndarray, Any]:
        """Log-probs (B, V) for B contexts; the state is the tuple of their (n-1)-id histories."""
        state = tuple(self._history(c) for c in contexts)
        return self._batch_logprobs(state), state

    def extend(self, state: Any, token_ids: Sequence[int]) -> tuple[np.ndarray, Any]:
        """Append ``token_ids[b]`` to history b (keeping the last n-1 ids); ``state`` unchanged."""
        if len(token_ids) != len(state):
            raise ValueError(f"extend got {len(token_ids)} tokens for {len(state)} sequences")
        ids = [int(t) for t in token_ids]
        self._check_ids(ids, "token_ids")
        width = self.order - 1
        if width == 0:
            new: tuple[tuple[int, ...], ...] = tuple(() for _ in ids)
        else:
            new = tuple(self._restart((h + (t,))[-width:]) for h, t in zip(state, ids))
        return self._batch_logprobs(new), new

    def select(self, state: Any, indices: Sequence[int]) -> Any:
        """Keep histories ``indices`` in that order (repeats allowed): beam reordering."""
        return tuple(state[int(i)] for i in indices)

    def _batch_logprobs(self, state: tuple[tuple[int, ...], ...]) -> np.ndarray:
        if not state:
            return np.zeros((0, self.vocab_size))
        distinct = {h: None for h in state}  # beams often share a history: compute it once
        with np.errstate(divide="ignore"):
            rows = {h: np.log(self._scores(h)) for h in distinct}
        return np.stack([rows[h] for h in state])

    def sequence_logprobs(self, token_ids: Sequence[int]) -> np.ndarray:
        """log p(token_ids[t] | token_ids[:t]) for every t, shape [T]; append ``eos_id`` to
        score the end of a sentence. The sum is the log-probability of the whole sequence."""
        ids = [int(t) for t in token_ids]
        self._check_ids(ids, "token_ids")
        width = self.order - 1
        padded = [self.bos_id] * width + ids
        with np.errstate(divide="ignore"):
            return np.array(
                [
                    np.log(self._scores(self._restart(tuple(padded[t : t + width])))[w])
                    for t, w in enumerate(ids)
                ]
            )


# ---------------------------------------------------------------------------------- the model
class NGramModel(HistoryModel):
    """An order-n count-based language model (build it with ``NGramModel.fit`` or ``load``).

    ``next_logprobs(context_ids)`` pads the context on the left with n-1 ``<s>`` and uses its last
    n-1 tokens h: log p(w | h) for every w. The batched state of ``start``/``extend``/``select`` is
    a tuple holding, per sequence, the tuple of its last n-1 ids (``<s>``-padded).
    """

    backend = "ngram"

    def __init__(
        self,
        tokenizer: Tokenizer,
        tables: dict[int, _OrderTable],
        *,
        smoothing: str,
        k: float = 1.0,
        lambdas: Sequence[float] | None = None,
        discounts: Sequence[Sequence[float]] | None = None,
        discount_kinds: Sequence[str] | None = None,
        name: str = "ngram",
        info: dict[str, Any] | None = None,
    ):
        """Use ``fit`` or ``load``; this wires already-built count tables to a smoothing."""
        self.tokenizer = tokenizer
        self.name = name
        self.order = len(tables)
        self.smoothing = _check_smoothing(smoothing)
        self.k = _check_k(k)
        self._tables = tables
        self._info = dict(info or {})
        size = len(tokenizer.vocab)
        self._bos = tokenizer.bos_id
        # V' = the vocabulary without <s>: what can actually follow a context.
        self._num_predictable = size - 1
        # c(h, w) / c(h) for every stored n-gram
        self._rel = {j: t.counts / t.ctx_total[t.ctx_of_row] for j, t in tables.items()}
        uniform = np.full(size, 1.0 / self._num_predictable)
        uniform[self._bos] = 0.0
        self._uniform = uniform
        self._alpha: dict[int, np.ndarray] = {}
        self._gamma: dict[int, np.ndarray] = {}
        self.lambdas: list[float] | None = None
        self.discounts: dict[int, tuple[float, float, float]] | None = None
        self.discount_kinds: dict[int, str] | None = None
        if self.smoothing == "mle":
            self._prepare_mle()
        elif self.smoothing == "addk":
            self._prepare_addk()
        elif self.smoothing == "interp":
            self._prepare_interp(lambdas)
        elif self.smoothing == "stupid":
            self._prepare_stupid()
        else:
            self._prepare_kn(discounts, discount_kinds)

    # ------------------------------------------------------------------ smoothings
    def _prepare_mle(self) -> None:
        """Maximum likelihood: p(w | h) = c(h, w) / c(h).

        h is the longest suffix of the n-1 previous tokens that was seen as a context in training
        (all n-1 when seen; for order 1 or a never-seen previous token, the unigram MLE
        c(w) / N). A w never seen after that h gets probability 0 (log-prob -inf). As a
        recursion: α_j = c(h, w) / c(h), γ_j(h) = 0, p_0 = 0.
        """
        self._base = np.zeros_like(self._uniform)
        for j, table in self._tables.items():
            self._alpha[j] = self._rel[j]
            self._gamma[j] = np.zeros(len(table.ctx_start))

    def _prepare_addk(self) -> None:
        """Add-k (Laplace for k = 1) on the top order only:

            p(w | h) = (c(h, w) + k) / (c(h) + k·|V'|)       V' = vocabulary without <s>

        A context never seen gets the uniform 1/|V'|. As a recursion with p_0 uniform:
        α(h, w) = c(h, w) / (c(h) + k|V'|), γ(h) = k|V'| / (c(h) + k|V'|).
        """
        self._base = self._uniform
        mass = self.k * self._num_predictable
        for j, table in self._tables.items():
            denominator = table.ctx_total + mass
            self._alpha[j] = table.counts / denominator[table.ctx_of_row]
            self._gamma[j] = mass / denominator

    def _prepare_interp(self, lambdas: Sequence[float] | None) -> None:
        """Jelinek-Mercer linear interpolation of the MLE of every order and a uniform 0-gram:

            p(w | h) = λ_0 / |V'| + Σ_{j=1..n} λ_j · c(h_j, w) / c(h_j)        Σ_j λ_j = 1

        h_j = the last j-1 tokens. If only the contexts of orders 1..m were seen in training,
        orders above m are dropped and λ_0..λ_m renormalised. That is the same as the recursion
        p_j = λ'_j p_ML,j + (1 - λ'_j) p_{j-1} with λ'_j = λ_j / (λ_0 + .. + λ_j), p_0 = 1/|V'|
        (α = λ'_j c(h, w)/c(h), γ = 1 - λ'_j). ``fit`` chooses λ by EM (``fit_interp_weights``).
        """
        self._base = self._uniform
        n = self.order
        lam = np.full(n + 1, np.nan) if lambdas is None else np.asarray(lambdas, dtype=np.float64)
        if lam.shape != (n + 1,) or not np.all(np.isfinite(lam)) or np.any(lam < 0):
            raise ValueError(f"lambdas must be {n + 1} finite weights >= 0, got {lambdas!r}")
        if lam[0] <= 0 or abs(lam.sum() - 1) > 1e-6:
            raise ValueError(f"lambdas must sum to 1 with lambdas[0] > 0, got {lambdas!r}")
        lam = lam / lam.sum()
        self.lambdas = [float(x) for x in lam]
        stick = interp_weights_to_stick(lam)
        for j, table in self._tables.items():
            self._alpha[j] = stick[j] * self._rel[j]
            self._gamma[j] = np.full(len(table.ctx_start), 1.0 - stick[j])

    def _prepare_stupid(self) -> None:
        """Stupid backoff (Brants et al. 2007), a score S rather than a probability:

            S(w | h) = c(h, w) / c(h)        if c(h, w) > 0
                     = 0.4 · S(w | h')       otherwise (also when h was never seen)
            S(w)     = c(w) / N              unigrams (N = number of training tokens)

        The scores of a context do not sum to 1 (``normalized`` is False) and ``next_logprobs``
        returns their logs; a word never seen at all scores 0 (-inf). Decoding renormalises them
        for sampling; perplexity is refused.
        """
        self._base = np.zeros_like(self._uniform)
        for j, table in self._tables.items():
            self._alpha[j] = self._rel[j]
            self._gamma[j] = np.full(len(table.ctx_start), STUPID_ALPHA)

    def _prepare_kn(
        self,
        discounts: Sequence[Sequence[float]] | None,
        kinds: Sequence[str] | None,
    ) -> None:
        """Interpolated modified Kneser-Ney (Chen & Goodman 1998):

            p_j(w | h) = max(c_j(h, w) - D_j(c_j(h, w)), 0) / c_j(h) + γ_j(h) · p_{j-1}(w | h')
            γ_j(h)     = (D_j1 N1(h•) + D_j2 N2(h•) + D_j3+ N3+(h•)) / c_j(h)
            p_0(w)     = 1 / |V'|      (so <unk> and unseen words keep some mass; p_0(<s>) = 0)

        c_n is the raw count at the top order; a lower order j < n uses continuation counts
        c_j(h, w) = N1+(• h w), the number of distinct tokens seen before h w. N_i(h•) counts the
        words w with c_j(h, w) = i (3+: at least 3). The discounts D_j1, D_j2, D_j3+ of each order
        come from its counts-of-counts (``kn_discounts``, with its small-corpus fallback). Every
        distribution sums to 1: the discounted mass is exactly γ_j(h)·Σ_w p_{j-1}(w | h').
        """
        self._base = self._uniform
        n = self.order
        if discounts is not None and len(discounts) != n:
            raise ValueError(f"discounts must hold {n} triples (D1, D2, D3+), got {discounts!r}")
        self.discounts, self.discount_kinds = {}, {}
        for j in range(n, 0, -1):
            table = self._tables[j]
            counts = table.counts if j == n else self._continuation_counts(j)
            if discounts is None:
                (d1, d2, d3), kind = kn_discounts(counts)
            else:
                d1, d2, d3 = (float(x) for x in discounts[j - 1])
                kind = kinds[j - 1] if kinds is not None else "stored"
                if not (0 < d1 <= 1 and 0 < d2 <= 2 and 0 < d3 <= 3):
                    raise ValueError(f"discounts of order {j} must lie in (0, 1], (0, 2], (0, 3]")
            self.discounts[j], self.discount_kinds[j] = (d1, d2, d3), kind
            discount = np.where(counts == 1, d1, np.where(counts == 2, d2, d3))
            context_total = np.add.reduceat(counts, table.ctx_start).astype(np.float64)
            self._alpha[j] = np.maximum(counts - discount, 0.0) / context_total[table.ctx_of_row]
            self._gamma[j] = np.add.reduceat(discount, table.ctx_start) / context_total

    def _continuation_counts(self, j: int) -> np.ndarray:
        """N1+(• h w) for every j-gram h w: how many distinct (j+1)-grams end with it."""
        lower, upper = self._tables[j], self._tables[j + 1]
        suffixes = upper.grams[:, 1:]
        _, rows = lower.lookup(map(tuple, suffixes[:, :-1].tolist()), suffixes[:, -1])
        if np.any(rows < 0):
            raise InconsistentCountsError(
                f"an n-gram of order {j + 1} ends with an n-gram missing from order {j}"
            )
        continuation = np.bincount(rows, minlength=len(lower))
        if np.any(continuation == 0):
            raise InconsistentCountsError(
                f"an n-gram of order {j} is never the end of an n-gram of order {j + 1}"
            )
        return continuation

    # ------------------------------------------------------------------ distributions
    @property
    def normalized(self) -> bool:
        return self.smoothing != "stupid"

    def _levels(self, top: int) -> range:
        # add-k smooths the top order alone; the others combine every order up to the top.
        return range(top, top + 1) if self.smoothing == "addk" else range(1, top + 1)

    def _scores(self, history: tuple[int, ...]) -> np.ndarray:
        """p(· | history) as a [V] vector (scores for stupid backoff); len(history) < order.

        A history of j-1 ids gives the order-j model's distribution (the top order for n-1)."""
        top = len(history) + 1
        scores = self._base.copy()
        stupid = self.smoothing == "stupid"
        for j in self._levels(top):
            table = self._tables[j]
            k = table.ctx_index.get(history[top - j :])
            if stupid:
                if j > 1:
                    scores *= STUPID_ALPHA
                if k is not None:
                    s, e = table.ctx_start[k], table.ctx_end[k]
                    scores[table.next_ids[s:e]] = self._alpha[j][s:e]
            elif k is not None:
                s, e = table.ctx_start[k], table.ctx_end[k]
                scores *= self._gamma[j][k]
                scores[table.next_ids[s:e]] += self._alpha[j][s:e]
        return scores

    def _pair_scores(self, histories: np.ndarray, next_ids: np.ndarray) -> np.ndarray:
        """p(next_ids[t] | histories[t]) for T pairs at once; histories is (T, top-1).

        The same recursion as ``_scores``, applied to one word per history."""
        top = histories.shape[1] + 1
        next_ids = np.asarray(next_ids, dtype=np.int64)
        scores = self._base[next_ids]
        stupid = self.smoothing == "stupid"
        for j in self._levels(top):
            table = self._tables[j]
            ctx_rows, rows = table.lookup(map(tuple, histories[:, top - j :].tolist()), next_ids)
            found = rows >= 0
            alpha = np.where(found, self._alpha[j][rows], 0.0)
            if stupid:
                scores = np.where(found, alpha, scores * STUPID_ALPHA if j > 1 else scores)
            else:
                seen = ctx_rows >= 0
                gamma = np.where(seen, self._gamma[j][ctx_rows], 1.0)
                scores = np.where(seen, alpha + gamma * scores, scores)
        return scores

    def prob(self, word_id: int, context_ids: Sequence[int]) -> float:
        """p(word | context) (a score for stupid backoff)."""
        history = np.asarray([self._history(context_ids)], dtype=np.int64).reshape(1, -1)
        self._check_ids([int(word_id)], "word_id")
        return float(self._pair_scores(history, np.asarray([int(word_id)]))[0])

    def sequence_logprobs(self, token_ids: Sequence[int]) -> np.ndarray:
        """log p(token_ids[t] | token_ids[:t]) for every t, shape [T], vectorised.

        Equal to ``next_logprobs(token_ids[:t])[token_ids[t]]``; append ``eos_id`` to score the
        end of a sentence. The sum is the log-probability of the whole sequence."""
        ids = np.asarray(token_ids, dtype=np.int64).reshape(-1)
        self._check_ids(np.unique(ids).tolist(), "token_ids")
        width = self.order - 1
        padded = np.concatenate([np.full(width, self._bos, dtype=np.int64), ids])
        histories = padded[np.arange(len(ids))[:, None] + np.arange(width)[None, :]]
        # a <s> inside the text starts a new sentence: <s> before it in the history (_restart)
        before_bos = np.flip(np.maximum.accumulate(np.flip(histories == self._bos, 1), 1), 1)
        histories[before_bos] = self._bos
        with np.errstate(divide="ignore"):
            return np.log(self._pair_scores(histories.reshape(len(ids), width), ids))

    # ------------------------------------------------------------------ tables for the learner
    def count_table(
        self, context: Sequence[int] | None = None, *, order: int | None = None
    ) -> list[CountRow]:
        """Counts of the top order (or ``order``) with the model's smoothed p(next | context).

        Rows are sorted by context (token strings), then by descending count, then next token.
        With ``context`` (token ids) only that context's rows: it is ``<s>``-padded on the left
        and its last ``order``-1 ids are used, so both the tokens since the start of a text and
        a literal context such as ``[<s>, <s>]`` work. ``count`` and ``context_total`` are raw
        counts c(h, w), c(h) (for kn even at lower orders, where p uses continuation counts).
        """
        j = self.order if order is None else _check_order(order, self.order)
        table = self._tables[j]
        if context is None:
            rows = np.arange(len(table))
        else:
            width = j - 1
            tail = tuple(int(t) for t in list(context)[max(0, len(context) - width) :])
            self._check_ids(tail, "context")
            history = self._restart((self._bos,) * (width - len(tail)) + tail)
            k = table.ctx_index.get(history)
            if k is None:
                return []
            rows = np.arange(table.ctx_start[k], table.ctx_end[k])
        grams = table.grams[rows].astype(np.int64)
        probabilities = self._pair_scores(grams[:, :-1], grams[:, -1])
        vocab = self.vocab
        totals = table.ctx_total[table.ctx_of_row[rows]]
        result = [
            CountRow(
                context=tuple(vocab[i] for i in gram[:-1]),
                next_token=vocab[gram[-1]],
                count=int(count),
                context_total=int(total),
                probability=float(p),
            )
            for gram, count, total, p in zip(
                grams.tolist(), table.counts[rows], totals, probabilities
            )
        ]
        result.sort(key=lambda r: (r.context, -r.count, r.next_token))
        return result

    def num_ngrams(self, order: int) -> int:
        """How many distinct n-grams of ``order`` were seen in training."""
        return len(self._tables[_check_order(order, self.order)])

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts.update(
            order=self.order,
            smoothing=self.smoothing,
            normalized=self.normalized,
            training_tokens=int(self._tables[1].counts.sum()),
            ngrams={j: len(t) for j, t in self._tables.items()},
        )
        if self.smoothing == "addk":
            facts["k"] = self.k
        if self.smoothing == "stupid":
            facts["alpha"] = STUPID_ALPHA
        if self.discounts is not None and self.discount_kinds is not None:
            facts["discounts"] = {
                j: {"D1": d[0], "D2": d[1], "D3+": d[2], "kind": self.discount_kinds[j]}
                for j, d in sorted(self.discounts.items())
            }
        if self.lambdas is not None:
            facts["lambdas"] = list(self.lambdas)
        facts.update(self._info)
        return facts

    def __repr__(self) -> str:
        return f"NGramModel(name={self.name!r}, order={self.order}, smoothing={self.smoothing!r})"

    # ------------------------------------------------------------------ training
    @classmethod
    def fit(
        cls,
        sentences: Iterable[Sequence[int]],
        tokenizer: Tokenizer,
        *,
        order: int = 3,
        smoothing: str = "kn",
        k: float = 1.0,
        valid: Iterable[Sequence[int]] | None = None,
        name: str = "ngram",
        progress: Callable[[int, int], None] | None = None,
    ) -> NGramModel:
        """Count the n-grams of ``sentences`` (token-id sequences) and smooth them.

        ``k`` is add-k's pseudo-count. ``valid`` is only used by ``interp``: its λ are fitted by
        EM on ``valid`` when given, else on a held-out 10% of ``sentences`` (the ones
        ``train_valid_split(sentences, 0.1, seed=0)`` picks), whose tokens are then left out of
        the counts. ``progress(done, total)`` is called as sentences are read. ``<s>`` ids
        inside a sentence are dropped: ``<s>`` is padding, never a token to predict.
        """
        order = _check_order(order)
        smoothing = _check_smoothing(smoothing)
        k = _check_k(k)
        size = len(tokenizer.vocab)
        bos, eos = tokenizer.bos_id, tokenizer.eos_id
        train = _id_arrays(sentences, size, bos, "sentences", progress)
        if not train:
            raise CorpusError("no training sentences: the corpus is empty")
        info: dict[str, Any] = {}
        heldout: list[np.ndarray] = []
        if smoothing == "interp":
            if valid is not None:
                heldout = _id_arrays(valid, size, bos, "valid")
                info["lambda_fit"] = "EM on the validation sentences"
            else:
                from arlm_tui.text.corpora import train_valid_split

                train, heldout = train_valid_split(train, 0.1, seed=0)
                info["lambda_fit"] = "EM on 10% of the training sentences, held out of the counts"
            if not heldout:
                info["lambda_fit"] = "no held-out sentences: default weights λ'_j = 1/2"
            info["heldout_sentences"] = len(heldout)
        info["training_sentences"] = len(train)
        windows = _windows(train, order, bos, eos)
        tables = {}
        for j in range(1, order + 1):
            grams, counts = np.unique(windows[:, order - j :], axis=0, return_counts=True)
            tables[j] = _OrderTable(grams.reshape(-1, j), counts, size)
        lambdas = None
        if smoothing == "interp":
            stick = fit_interp_weights(tables, _windows(heldout, order, bos, eos), size - 1)
            lambdas = stick_to_interp_weights(stick)
        return cls(
            tokenizer, tables, smoothing=smoothing, k=k, lambdas=lambdas, name=name, info=info
        )

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> None:
        """Write ``config.json``, ``tokenizer.json`` and ``ngrams.safetensors`` (the n-grams and
        their counts per order) into ``directory`` (created if needed). ``card.md`` is the
        caller's."""
        from safetensors.numpy import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "backend": self.backend,
            "format": FORMAT,
            "name": self.name,
            "order": self.order,
            "smoothing": self.smoothing,
            "k": self.k,
            "vocab_size": self.vocab_size,
            "discounts": None,
            "discount_kinds": None,
            "lambdas": self.lambdas,
            "info": self._info,
        }
        if self.smoothing == "stupid":
            config["alpha"] = STUPID_ALPHA
        if self.discounts is not None and self.discount_kinds is not None:
            config["discounts"] = [list(self.discounts[j]) for j in range(1, self.order + 1)]
            config["discount_kinds"] = [self.discount_kinds[j] for j in range(1, self.order + 1)]
        tensors = {}
        for j, table in self._tables.items():
            tensors[f"ngrams.{j}"] = np.ascontiguousarray(table.grams, dtype=np.int32)
            tensors[f"counts.{j}"] = np.ascontiguousarray(table.counts, dtype=np.int64)
        from arlm_tui.outputs import write_text, writing

        with writing(directory / NGRAMS_FILE) as tmp:  # each file renamed into place
            save_file(tensors, str(tmp))
        self.tokenizer.save(directory / TOKENIZER_FILE)
        text = json.dumps(config, indent=2, ensure_ascii=False)
        write_text(directory / CONFIG_FILE, text + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> NGramModel:
        """Read a directory written by ``save``. Anything missing, corrupt or inconsistent raises
        ModelLoadError naming the file."""
        from arlm_tui.text.tokenizers import load_tokenizer

        directory = Path(directory)
        if not directory.is_dir():
            raise ModelLoadError("not a model directory", path=directory)
        config_path = directory / CONFIG_FILE
        config = _read_config(config_path)
        tokenizer = load_tokenizer(directory / TOKENIZER_FILE)
        size = len(tokenizer.vocab)
        if config.get("vocab_size", size) != size:
            raise ModelLoadError(
                f"vocab_size {config['vocab_size']} does not match the {size} tokens of "
                f"{TOKENIZER_FILE}",
                path=config_path,
            )
        ngrams_path = directory / NGRAMS_FILE
        tables = _read_tables(ngrams_path, config["order"], size, tokenizer.bos_id)
        try:
            return cls(
                tokenizer,
                tables,
                smoothing=config["smoothing"],
                k=config.get("k", 1.0),
                lambdas=config.get("lambdas"),
                discounts=config.get("discounts"),
                discount_kinds=_list_of(config.get("discount_kinds"), config["order"]),
                name=config.get("name") or directory.name,
                info=config.get("info") if isinstance(config.get("info"), dict) else None,
            )
        except InconsistentCountsError as exc:
            raise ModelLoadError(str(exc), path=ngrams_path) from None
        except (ValueError, TypeError) as exc:
            raise ModelLoadError(str(exc), path=config_path) from None


# ---------------------------------------------------------------------------------- interp EM
def fit_interp_weights(
    tables: dict[int, _OrderTable],
    heldout: np.ndarray,
    num_predictable: int,
    *,
    max_iterations: int = 500,
    tolerance: float = 1e-9,
) -> np.ndarray:
    """EM for the interpolation weights, on held-out n-gram windows (T, n) (last column = w).

    The model (``NGramModel._prepare_interp``) is a chain: at order j, if the context h_j was
    seen, emit from p_ML,j with probability λ'_j or go down to order j-1; order 0 (uniform)
    always emits. E-step: r_tj = posterior that token t came from order j. M-step:

        λ'_j = Σ_t r_tj / Σ_t Σ_{i<=j} r_ti        over the tokens t whose context h_j was seen

    (emissions at j over visits to j). Returns λ' (λ'_0 = 1), each λ'_j capped at
    ``MAX_INTERP_WEIGHT``; 1/2 for an order no held-out context reaches (or no held-out data).
    """
    n = len(tables)
    stick = np.full(n + 1, 0.5)
    stick[0] = 1.0
    if not len(heldout):
        return stick
    next_ids = heldout[:, -1].astype(np.int64)
    p = np.zeros((len(heldout), n + 1))
    seen = np.zeros((len(heldout), n + 1), dtype=bool)
    p[:, 0], seen[:, 0] = 1.0 / num_predictable, True
    for j, table in tables.items():
        ctx_rows, rows = table.lookup(map(tuple, heldout[:, n - j : n - 1].tolist()), next_ids)
        seen[:, j] = ctx_rows >= 0
        rel = table.counts / table.ctx_total[table.ctx_of_row]
        p[:, j] = np.where(rows >= 0, rel[rows], 0.0)
    for _ in range(max_iterations):
        # weight[t, j] = λ'_j · Π_{i > j, h_i seen} (1 - λ'_i): the prior of emitting at order j
        keep_going = np.where(seen, 1.0 - stick, 1.0)
        below = np.ones_like(keep_going)
        below[:, :-1] = np.cumprod(keep_going[:, :0:-1], axis=1)[:, ::-1]
        joint = np.where(seen, stick * below, 0.0) * p
        posterior = joint / joint.sum(axis=1, keepdims=True)
        emitted = (posterior * seen).sum(axis=0)
        visited = (np.cumsum(posterior, axis=1) * seen).sum(axis=0)
        new = stick.copy()
        reached = visited > 0
        new[reached] = emitted[reached] / visited[reached]
        new[0] = 1.0
        new[1:] = np.clip(new[1:], 0.0, MAX_INTERP_WEIGHT)
        done = np.max(np.abs(new - stick)) < tolerance
        stick = new
        if done:
            break
    return stick


def stick_to_interp_weights(stick: np.ndarray) -> list[float]:
    """λ_j = λ'_j · Π_{i>j} (1 - λ'_i): the weights Σ_j λ_j p_ML,j when every context is seen."""
    stick = np.asarray(stick, dtype=np.float64)
    remaining = np.append(np.cumprod(1.0 - stick[:0:-1])[::-1], 1.0)
    return [float(x) for x in stick * remaining]


def interp_weights_to_stick(lambdas: np.ndarray) -> np.ndarray:
    """λ'_j = λ_j / (λ_0 + .. + λ_j): the inverse of ``stick_to_interp_weights``."""
    lambdas = np.asarray(lambdas, dtype=np.float64)
    return lambdas / np.cumsum(lambdas)


# ---------------------------------------------------------------------------------- helpers
def _check_order(order: Any, top: int = MAX_ORDER) -> int:
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or not 1 <= order <= top:
        raise ValueError(f"order must be an integer in {MIN_ORDER}..{top}, got {order!r}")
    return int(order)


def _check_smoothing(smoothing: Any) -> str:
    if smoothing not in SMOOTHINGS:
        raise ValueError(f"smoothing must be one of {', '.join(SMOOTHINGS)}, got {smoothing!r}")
    return str(smoothing)


def _check_k(k: Any) -> float:
    if isinstance(k, bool) or not isinstance(k, int | float) or not (0 < k < math.inf):
        raise ValueError(f"k must be a finite number > 0, got {k!r}")
    return float(k)


def _id_arrays(
    sentences: Iterable[Sequence[int]],
    vocab_size: int,
    bos: int,
    what: str,
    progress: Callable[[int, int], None] | None = None,
) -> list[np.ndarray]:
    """Sentences as int64 arrays without ``<s>``; ValueError for ids outside the vocabulary."""
    items = list(sentences)
    arrays = []
    for i, sentence in enumerate(items):
        if isinstance(sentence, str):
            raise TypeError(f"{what} must hold token-id sequences (tokenizer.encode), not text")
        ids = np.asarray(sentence, dtype=np.int64).reshape(-1)
        if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
            bad = ids[(ids < 0) | (ids >= vocab_size)][0]
            raise ValueError(
                f"{what}[{i}]: token id {bad} is outside the vocabulary [0, {vocab_size})"
            )
        arrays.append(ids[ids != bos])
        if progress is not None and (i + 1) % 1000 == 0:
            progress(i + 1, len(items))
    if progress is not None:
        progress(len(items), len(items))
    return arrays


def _windows(sentences: list[np.ndarray], order: int, bos: int, eos: int) -> np.ndarray:
    """The n-gram ending at every predicted token: (T, order) int32, sentences padded with
    order-1 ``<s>`` before and one ``</s>`` after."""
    width = order - 1
    if not sentences:
        return np.zeros((0, order), dtype=np.int32)
    padding, end = np.full(width, bos, dtype=np.int64), np.array([eos], dtype=np.int64)
    pieces: list[np.ndarray] = []
    for ids in sentences:
        pieces += (padding, ids, end)
    stream = np.concatenate(pieces)
    predicted = np.flatnonzero(stream != bos)
    return stream[predicted[:, None] + np.arange(-width, 1)[None, :]].astype(np.int32)


def _list_of(value: Any, length: int) -> list[Any] | None:
    return value if isinstance(value, list) and len(value) == length else None


def _read_config(path: Path) -> dict[str, Any]:
    from arlm_tui import inputs

    if not path.exists() and not path.is_symlink():
        raise ModelLoadError("file not found", path=path)
    with inputs.reported_as(ModelLoadError):  # a regular file, size and depth bounded
        config = inputs.load_json(path, limit=inputs.LIMITS["config"], what="config")
    if not isinstance(config, dict):
        raise ModelLoadError("must be a JSON object", path=path)
    if config.get("backend") != "ngram":
        raise ModelLoadError(f"backend is {config.get('backend')!r}, not 'ngram'", path=path)
    if config.get("format") != FORMAT:
        raise ModelLoadError(f"format {config.get('format')!r} is not supported", path=path)
    for check, key in ((_check_order, "order"), (_check_smoothing, "smoothing")):
        try:
            check(config.get(key))
        except ValueError as exc:
            raise ModelLoadError(str(exc), path=path) from None
    return config


def _read_tables(path: Path, order: int, vocab_size: int, bos: int) -> dict[int, _OrderTable]:
    """The per-order n-gram tables of a saved model, validated against the config and vocab."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not path.is_file():
        raise ModelLoadError("file not found", path=path)
    from arlm_tui import inputs

    with inputs.reported_as(ModelLoadError):  # never a FIFO or a device
        inputs.check_regular_file(path, what="n-gram table")
    try:
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(
            f"corrupt or truncated safetensors file ({first})", path=path
        ) from None
    expected = {f"{kind}.{j}" for kind in ("ngrams", "counts") for j in range(1, order + 1)}
    if set(arrays) != expected:
        raise ModelLoadError(
            f"holds arrays {sorted(arrays)}, expected {sorted(expected)} for order {order}",
            path=path,
        )
    tables = {}
    for j in range(1, order + 1):
        grams, counts = arrays[f"ngrams.{j}"], arrays[f"counts.{j}"]
        problem = _table_problem(grams, counts, j, vocab_size, bos)
        if problem:
            raise ModelLoadError(problem, path=path)
        try:
            grams, counts = _sorted_unique_grams(grams.astype(np.int64), counts.astype(np.int64))
        except InconsistentCountsError as exc:
            raise ModelLoadError(str(exc), path=path) from None
        tables[j] = _OrderTable(grams, counts, vocab_size)
    return tables


def _table_problem(grams: np.ndarray, counts: np.ndarray, j: int, size: int, bos: int) -> str:
    if grams.ndim != 2 or grams.shape[1] != j or not np.issubdtype(grams.dtype, np.integer):
        return f"ngrams.{j} must be an integer array of shape (M, {j}), got {grams.shape}"
    if counts.shape != (len(grams),) or not np.issubdtype(counts.dtype, np.integer):
        return f"counts.{j} must be an integer array of shape ({len(grams)},), got {counts.shape}"
    if not len(grams):
        return f"no n-grams of order {j}"
    if grams.min() < 0 or grams.max() >= size:
        return f"ngrams.{j} has token ids outside the tokenizer's vocabulary [0, {size})"
    if np.any(grams[:, -1] == bos):
        return f"ngrams.{j} predicts <s>, which is only padding"
    if counts.min() <= 0:
        return f"counts.{j} has counts <= 0"
    return ""
