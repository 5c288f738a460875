"""The count-table lab: an n-gram model's counts, one context's next tokens and a sentence
scored factor by factor (``count_table``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from arlm_tui.learn.labs.base import context_ids, corpus_sentences, ngram_of, register_lab
from arlm_tui.lm.base import BOS

#: Smoothings the trigram lab cycles through (``interp`` holds sentences out: see its note).
SMOOTHING_CYCLE: tuple[str, ...] = ("mle", "addk", "kn", "stupid", "interp")
#: Largest order the trigram lab offers.
MAX_LAB_ORDER = 4


@dataclass(frozen=True)
class ScoredToken:
    """One factor of a scored sentence: p(token | context)."""

    context: tuple[str, ...]
    token: str
    prob: float


@dataclass(frozen=True)
class ContextRow:
    """One next token of the highlighted context: c(h, w), c(h), MLE c(h, w)/c(h), model p."""

    token: str
    count: int
    context_total: int
    mle: float
    prob: float


@dataclass(frozen=True)
class CountTable:
    """An n-gram model's count table and, optionally, one context's full distribution and one
    sentence scored factor by factor: p(w₁ … w_T </s>) = ∏_t p(w_t | w_{t−n+1} … w_{t−1})."""

    corpus: tuple[str, ...]
    order: int
    smoothing: str
    k: float
    vocab_size: int
    rows: tuple[Any, ...]  # ngram.CountRow: context, next_token, count, context_total, probability
    context: tuple[str, ...] | None  # the highlighted context, <s>-padded to order − 1 tokens
    context_rows: tuple[ContextRow, ...]  # every possible next token of that context
    sentence: str | None
    factors: tuple[ScoredToken, ...]
    sentence_prob: float | None
    note: str = ""

    @property
    def sentence_nll(self) -> float | None:
        """−ln p(sentence </s>) in nats (inf when a factor is 0)."""
        if self.sentence_prob is None:
            return None
        return math.inf if self.sentence_prob <= 0 else -math.log(self.sentence_prob)


def count_table(
    corpus: str | Sequence[str] = "toy",
    order: int = 3,
    smoothing: str = "mle",
    k: float = 1.0,
    context: str | None = None,
    sentence: str | None = None,
) -> CountTable:
    """Fit the n-gram model of ``corpus`` and return its count table (``NGramModel.count_table``),
    the distribution p(· | context) over V' = every token but ``<s>``, and ``sentence`` scored."""
    model = ngram_of(corpus, order, smoothing, k)
    vocab = model.vocab
    width = model.order - 1

    def padded(ids: Sequence[int]) -> tuple[str, ...]:
        history = [model.bos_id] * width + list(ids)
        return tuple(vocab[i] for i in history[len(history) - width :]) if width else ()

    highlight: tuple[str, ...] | None = None
    context_rows: list[ContextRow] = []
    if context is not None:
        ids = context_ids(model, context)
        highlight = padded(ids)
        probs = np.exp(model.next_logprobs(ids))
        seen = {row.next_token: row for row in model.count_table(ids)}
        total = next(iter(seen.values())).context_total if seen else 0
        for token_id in np.argsort(-probs, kind="stable"):
            token = vocab[int(token_id)]
            if token == BOS:
                continue
            count = seen[token].count if token in seen else 0
            context_rows.append(
                ContextRow(token, count, total, count / total if total else 0.0,
                           float(probs[token_id]))
            )
    factors: list[ScoredToken] = []
    sentence_prob = None
    if sentence is not None:
        ids = model.tokenizer.encode(sentence) + [model.eos_id]
        for t, token_id in enumerate(ids):
            p = float(np.exp(model.next_logprobs(ids[:t])[token_id]))
            factors.append(ScoredToken(padded(ids[:t]), vocab[token_id], p))
        sentence_prob = float(np.prod([f.prob for f in factors]))
    info = model.describe()
    note = ""
    if smoothing == "interp":
        note = f"λ = {', '.join(f'{x:.2f}' for x in info.get('lambdas', []))} ({info.get('lambda_fit')})"
    elif smoothing == "stupid":
        note = "stupid backoff: scores, not probabilities (they need not sum to 1)"
    elif smoothing == "addk":
        note = f"add-k with k = {model.k:g}: (c(h, w) + k) / (c(h) + k·|V'|), |V'| = {len(vocab) - 1}"
    elif smoothing == "mle":
        note = "MLE: c(h, w) / c(h); an unseen context backs off to the longest one seen"
    elif smoothing == "kn":
        note = "interpolated modified Kneser–Ney"
    return CountTable(
        corpus=corpus_sentences(corpus),
        order=model.order,
        smoothing=model.smoothing,
        k=float(model.k),
        vocab_size=model.vocab_size,
        rows=tuple(model.count_table()),
        context=highlight,
        context_rows=tuple(context_rows),
        sentence=sentence,
        factors=tuple(factors),
        sentence_prob=sentence_prob,
        note=note,
    )


@register_lab(
    "trigram_table",
    ("corpus", "order", "smoothing"),
    ("k", "context", "sentence"),
    description="count table of an n-gram model fitted on `corpus` ('toy' or a list of "
    "sentences); the rows of `context` highlighted, `sentence` scored factor by factor",
)
def from_preset(p: dict[str, Any]) -> CountTable:
    return count_table(p["corpus"], p["order"], p["smoothing"], p.get("k", 1.0),
                       p.get("context"), p.get("sentence"))
