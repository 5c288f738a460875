"""Information measures: how far a model's next-token distribution q is from the truth p.

All in nats (natural log) unless a ``base`` is given (``base=2`` gives bits), over probability
vectors indexed alike:

    H(p)      = -Σ_w p(w) log p(w)                 entropy: the uncertainty left in the truth
    H(p, q)   = -Σ_w p(w) log q(w)                 cross-entropy: expected surprise under q
    KL(p ‖ q) =  Σ_w p(w) log (p(w) / q(w)) >= 0   the extra surprise for using q instead of p

with 0 · log 0 = 0, and H(p, q) = KL(p ‖ q) = inf when q(w) = 0 for some w with p(w) > 0. The
three are tied by H(p, q) = H(p) + KL(p ‖ q): since H(p) does not depend on the model, lowering
cross-entropy (and perplexity) is the same as lowering KL.

With the oracle language (``arlm_tui.lm.oracle``) p is known exactly: ``compare_at`` shows the
three numbers for any models at any context, ``heldout_perplexity`` measures a model on stories,
and ``oracle_floor`` is the perplexity of the truth itself, which no model beats in expectation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from arlm_tui.errors import ArlmError
from arlm_tui.lm.base import LanguageModel, log_softmax

if TYPE_CHECKING:
    from arlm_tui.text.tokenizers import Tokenizer

#: How far from 1 a probability vector's sum may be.
SUM_TOLERANCE = 1e-6


def _probability_vector(values: Any, name: str) -> np.ndarray:
    p = np.asarray(values, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D probability vector, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"{name} must have finite entries >= 0")
    if abs(p.sum() - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"{name} must sum to 1 (within {SUM_TOLERANCE}), got {p.sum()!r}")
    return p


def _pair(p: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
    p = _probability_vector(p, "p")
    q = np.asarray(q, dtype=np.float64)
    if q.shape != p.shape:
        raise ValueError(f"q must have the shape of p {p.shape}, got {q.shape}")
    if not np.all(np.isfinite(q)) or np.any(q < 0) or q.sum() > 1.0 + SUM_TOLERANCE:
        raise ValueError("q must have finite entries >= 0 summing to at most 1")
    return p, q


def _log_base(base: float) -> float:
    if not base > 0 or base == 1:
        raise ValueError(f"base must be > 0 and != 1, got {base!r}")
    return math.log(base)


def entropy_nats(probs: np.ndarray) -> float:
    """H(p) = -Σ_i p_i ln p_i in nats (terms with p_i = 0 count 0), without checking that p is a
    distribution: the hot path of every decoding step. Never negative (a one-hot p can round to
    -1e-17)."""
    p = np.asarray(probs, dtype=np.float64)
    log_p = np.log(p, out=np.zeros_like(p), where=p > 0)  # ln 0 counted as 0
    # a numpy sum, not np.dot: above 10,000 entries OpenBLAS splits a dot product over its
    # threads, which on a busy machine waits for a core (measured 23 ms at 50,257 tokens)
    return max(0.0, -float(np.add.reduce(np.multiply(p, log_p, out=log_p))))


def cross_entropy_nats(p: np.ndarray, q: np.ndarray) -> float:
    """H(p, q) = -Σ_i p_i ln q_i in nats over p's support (terms with p_i = 0 count 0), inf when
    q_i = 0 where p_i > 0; unchecked, like ``entropy_nats`` (``cross_entropy`` checks)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    support = p > 0
    if np.any(q[support] <= 0):
        return math.inf
    return float(-np.sum(p[support] * np.log(q[support])))


def perplexity(nll: float, count: float = 1) -> float:
    """PP = exp(NLL / N): the perplexity of N tokens whose negative log-likelihoods (nats) sum
    to ``nll``; with the default N = 1, exp of a mean NLL, a cross-entropy or an entropy (the
    number of equally likely choices that would be as uncertain).

    inf when a token had probability 0 (NLL = inf) or exp overflows; nan when N = 0 or NLL is
    nan (nothing scored yet)."""
    if not count > 0 or math.isnan(nll):
        return math.nan
    try:
        return math.exp(nll / count)
    except OverflowError:
        return math.inf


def entropy(p: Any, *, base: float = math.e) -> float:
    """H(p) = -Σ_w p(w) log p(w), with 0 · log 0 = 0 (nats; ``base=2`` for bits)."""
    return entropy_nats(_probability_vector(p, "p")) / _log_base(base)


def cross_entropy(p: Any, q: Any, *, base: float = math.e) -> float:
    """H(p, q) = -Σ_w p(w) log q(w); inf if q(w) = 0 where p(w) > 0.

    ``q`` may sum to less than 1 (mass a model puts on tokens outside p's vocabulary, see
    ``align``): that mass is simply lost, which can only raise H(p, q)."""
    p, q = _pair(p, q)
    return cross_entropy_nats(p, q) / _log_base(base)


def kl_divergence(p: Any, q: Any, *, base: float = math.e) -> float:
    """KL(p ‖ q) = Σ_w p(w) log(p(w) / q(w)) >= 0; inf if q(w) = 0 where p(w) > 0."""
    p, q = _pair(p, q)
    support = p > 0
    if np.any(q[support] == 0):
        return math.inf
    ps, qs = p[support], q[support]
    return float(np.sum(ps * (np.log(ps) - np.log(qs))) / _log_base(base))


def _vocab_of(model_or_vocab: LanguageModel | Tokenizer | Sequence[str]) -> Sequence[str]:
    vocab = cast("Iterable[str]", getattr(model_or_vocab, "vocab", model_or_vocab))
    return list(vocab)


def align(
    p_model: LanguageModel | Tokenizer | Sequence[str],
    q_model: LanguageModel | Tokenizer | Sequence[str],
    logprobs_q: Any,
) -> np.ndarray:
    """Re-index q's log-probs onto p's vocabulary by token string.

    ``p_model`` and ``q_model`` are models, tokenizers or token lists (anything with ``vocab``).
    Returns log q over p's vocabulary: entry i is q's log-prob of the token string
    ``p_vocab[i]``, or -inf (zero mass) if q's vocabulary lacks it. Mass that q puts on tokens
    p's vocabulary lacks is dropped, not renormalised (so the result may sum to less than 1)."""
    p_vocab, q_vocab = _vocab_of(p_model), _vocab_of(q_model)
    logprobs_q = np.asarray(logprobs_q, dtype=np.float64)
    if logprobs_q.shape != (len(q_vocab),):
        raise ValueError(
            f"logprobs_q must have shape ({len(q_vocab)},) like q's vocabulary, "
            f"got {logprobs_q.shape}")
    if p_vocab == q_vocab:
        return logprobs_q.copy()
    q_index = {token: i for i, token in enumerate(q_vocab)}
    aligned = np.full(len(p_vocab), -np.inf)
    for i, token in enumerate(p_vocab):
        j = q_index.get(token)
        if j is not None:
            aligned[i] = logprobs_q[j]
    return aligned


@dataclass(frozen=True)
class InformationRow:
    """One model's numbers at one context: p = the oracle, q = the model (nats)."""

    model: str
    backend: str
    entropy: float  # H(p)
    cross_entropy: float  # H(p, q)
    kl: float  # KL(p ‖ q)
    coverage: float  # Σ q over the oracle's tokens (< 1 if q bets on tokens p does not have)
    possible: bool  # False if the oracle had to fall back (the context is impossible)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _context_ids(model: LanguageModel, context: str | Sequence[str]) -> list[int]:
    if isinstance(context, str):
        return list(model.tokenizer.encode(context))
    lookup = model.tokenizer.token_to_id
    return [lookup.get(token, model.unk_id) for token in context]


def _distribution(model: LanguageModel, context_ids: Sequence[int]) -> np.ndarray:
    logprobs = np.asarray(model.next_logprobs(context_ids), dtype=np.float64)
    if not model.normalized:  # stupid backoff scores: compare what a sampler would use
        logprobs = log_softmax(logprobs)
    return logprobs


def compare_at(context: str | Sequence[str], oracle: LanguageModel,
               models: Iterable[LanguageModel]) -> list[InformationRow]:
    """H(p), H(p, q) and KL(p ‖ q) of every model at one context, p being the oracle's
    next-token distribution and q the model's aligned onto the oracle's vocabulary by token
    string (``align``). ``context`` is text (each model encodes it with its own tokenizer) or a
    list of token strings. Unnormalised models (stupid backoff) are renormalised first.
    Each row satisfies H(p, q) = H(p) + KL(p ‖ q)."""
    oracle_ids = _context_ids(oracle, context)
    p = np.exp(_distribution(oracle, oracle_ids))
    p = p / p.sum()
    is_possible = getattr(oracle, "is_possible", None)
    possible = bool(is_possible(oracle_ids)) if is_possible is not None else True
    h_p = entropy(p)
    rows = []
    for model in models:
        logq = align(oracle, model, _distribution(model, _context_ids(model, context)))
        q = np.exp(logq)
        rows.append(InformationRow(
            model=model.name,
            backend=model.backend,
            entropy=h_p,
            cross_entropy=cross_entropy(p, q),
            kl=kl_divergence(p, q),
            coverage=float(q.sum()),
            possible=possible,
        ))
    return rows


def heldout_nll(model: LanguageModel, texts: Iterable[str]) -> tuple[float, int]:
    """(−Σ log q(w_t | w_<t), N) over every text: its tokens (the model's own tokenizer) then
    ``</s>``, each text read from its start."""
    if not model.normalized:
        raise ArlmError(f"model {model.name} gives scores that do not sum to one "
                        "(stupid backoff): it has no perplexity")
    from arlm_tui.lm.scoring import score_ids

    total, count = 0.0, 0
    for text in texts:
        logprobs = score_ids(model, model.tokenizer.encode(text))
        total -= float(logprobs.sum())
        count += len(logprobs)
    return total, count


def heldout_perplexity(model: LanguageModel, texts: Iterable[str]) -> float:
    """PP = exp(−(1/N) Σ_t log q(w_t | w_<t)) over the texts' tokens and one ``</s>`` each.

    inf if the model gives some token probability zero. ValueError if there is no text."""
    total, count = heldout_nll(model, texts)
    if count == 0:
        raise ValueError("texts must contain at least one text")
    return perplexity(total, count)


def oracle_floor(oracle: LanguageModel, texts: Iterable[str]) -> float:
    """The oracle's own perplexity on the texts: the floor no model can beat in expectation.

    On stories drawn from p, E[−log q(w | context)] = H(p, q) = H(p) + KL(p ‖ q) >= H(p) at
    every step, so the expected NLL of any q is at least the oracle's (on a finite sample a
    model can be lucky, but not on average)."""
    return heldout_perplexity(oracle, texts)
