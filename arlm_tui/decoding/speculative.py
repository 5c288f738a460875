"""Speculative decoding: a cheap draft model proposes k tokens, the target model checks them.

Speculative sampling (Leviathan et al. 2023; Chen et al. 2023) produces text whose distribution is
exactly the target's, while calling the target once per round instead of once per token:

    1. the draft samples x₁ … x_k one by one from q(· | context, x_<i);
    2. the target gives p(· | context, x_<i) for i = 1 … k+1 (one batched call);
    3. for i = 1 … k: accept x_i with probability min(1, p(x_i) / q(x_i));
       at the first rejection, emit a token drawn from the residual
       norm(max(0, p − q)) instead, and stop the round;
    4. if all k were accepted, emit a bonus token drawn from p(· | context, x₁ … x_k).

Why it is exact: P(emit x) = q(x)·min(1, p(x)/q(x)) + P(reject)·r(x) = min(q, p)(x) + max(0, p − q)(x)
= p(x), since P(reject) = Σ max(0, p − q) is exactly the residual's normaliser.

Distributions are given as functions ``context_ids -> probs [V]`` (the *final* sampling
distributions, e.g. after temperature and top-p), so any model and any warping can be used; both
must share one vocabulary (the same token ids). numpy only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from arlm_tui.decoding.strategies import sample_index

if TYPE_CHECKING:
    from arlm_tui.lm.base import LanguageModel

#: context ids -> a probability vector over the shared vocabulary.
Distribution = Callable[[Sequence[int]], np.ndarray]


@dataclass(frozen=True)
class Proposal:
    """One drafted token and the target's verdict on it."""

    token_id: int
    draft_prob: float  # q(x_i | context, x_<i)
    target_prob: float  # p(x_i | context, x_<i)
    accept_prob: float  # min(1, p / q)
    draw: float  # the uniform u; accepted when u < accept_prob
    accepted: bool


@dataclass
class SpeculativeRound:
    """One round: what the draft proposed, what the target kept, what was emitted."""

    context_ids: list[int]
    proposals: list[Proposal]  # the drafted tokens examined, up to and including a rejection
    emitted_ids: list[int]  # accepted prefix, then the resampled or bonus token
    outcome: str  # "resampled" (a proposal was rejected), "bonus" (all accepted), "eos"
    drafted: int = 0  # tokens the draft proposed in this round (k, or fewer at </s>)
    target_probs: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def accepted(self) -> int:
        return sum(1 for p in self.proposals if p.accepted)


def residual_distribution(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """norm(max(0, p − q)): what a rejection resamples from.

    When p ≤ q nowhere leaves mass (p == q), a rejection cannot happen; p is returned then so the
    function is total.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    r = np.maximum(p - q, 0.0)
    total = r.sum()
    if total <= 1e-15:
        return p / p.sum()
    return r / total


def _draw(probs: np.ndarray, u: float) -> int:
    """Inverse-CDF draw over token ids in id order (the project's sampling convention)."""
    return sample_index(probs / probs.sum(), u)


def speculative_round(
    target: Distribution,
    draft: Distribution,
    context_ids: Sequence[int],
    k: int,
    rng: np.random.Generator,
    *,
    eos_id: int | None = None,
    target_batch: Callable[[list[list[int]]], list[np.ndarray]] | None = None,
) -> SpeculativeRound:
    """Run one draft-then-verify round after ``context_ids``; see the module docstring.

    ``target_batch`` (optional) computes the target's k+1 distributions in one call, as a real
    system does with one forward pass; by default ``target`` is called once per prefix. A drafted
    ``eos_id`` ends the proposal early (nothing follows the end of a text).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1 (tokens drafted per round), got {k}")
    context = [int(t) for t in context_ids]
    drafted: list[int] = []
    draft_probs: list[np.ndarray] = []
    for _ in range(k):
        q = np.asarray(draft(context + drafted), dtype=np.float64)
        token = _draw(q, float(rng.random()))
        drafted.append(token)
        draft_probs.append(q)
        if eos_id is not None and token == eos_id:
            break
    prefixes = [context + drafted[:i] for i in range(len(drafted) + 1)]
    if target_batch is not None:
        target_probs = [np.asarray(p, dtype=np.float64) for p in target_batch(prefixes)]
    else:
        target_probs = [np.asarray(target(prefix), dtype=np.float64) for prefix in prefixes]

    proposals: list[Proposal] = []
    emitted: list[int] = []
    for i, token in enumerate(drafted):
        p, q = target_probs[i], draft_probs[i]
        accept_prob = min(1.0, float(p[token]) / float(q[token])) if q[token] > 0 else 0.0
        u = float(rng.random())
        accepted = u < accept_prob
        proposals.append(
            Proposal(token, float(q[token]), float(p[token]), accept_prob, u, accepted)
        )
        if not accepted:
            emitted.append(_draw(residual_distribution(p, q), float(rng.random())))
            return SpeculativeRound(context, proposals, emitted, "resampled", len(drafted),
                                    target_probs)
        emitted.append(token)
        if eos_id is not None and token == eos_id:
            return SpeculativeRound(context, proposals, emitted, "eos", len(drafted), target_probs)
    emitted.append(_draw(target_probs[len(drafted)], float(rng.random())))
    return SpeculativeRound(context, proposals, emitted, "bonus", len(drafted), target_probs)


@dataclass
class SpeculativeResult:
    ids: list[int]
    rounds: list[SpeculativeRound]
    finished: bool

    @property
    def acceptance_rate(self) -> float:
        """Accepted drafted tokens / drafted tokens examined."""
        examined = sum(len(r.proposals) for r in self.rounds)
        return sum(r.accepted for r in self.rounds) / examined if examined else 0.0

    @property
    def tokens_per_target_call(self) -> float:
        """Emitted tokens per round: 1 for ordinary decoding, up to k+1 here."""
        return len(self.ids) / len(self.rounds) if self.rounds else 0.0


def speculative_generate(
    target: Distribution,
    draft: Distribution,
    prompt_ids: Sequence[int],
    *,
    k: int = 4,
    max_tokens: int = 20,
    seed: int = 0,
    eos_id: int | None = None,
    target_batch: Callable[[list[list[int]]], list[np.ndarray]] | None = None,
) -> SpeculativeResult:
    """Generate up to ``max_tokens`` tokens by speculative rounds (stops after ``eos_id``)."""
    if max_tokens < 0:
        raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
    rng = np.random.default_rng(seed)
    ids: list[int] = []
    rounds: list[SpeculativeRound] = []
    finished = False
    while len(ids) < max_tokens and not finished:
        rnd = speculative_round(
            target, draft, list(prompt_ids) + ids, k, rng, eos_id=eos_id,
            target_batch=target_batch,
        )
        rounds.append(rnd)
        for token in rnd.emitted_ids:
            if len(ids) >= max_tokens:
                break
            ids.append(token)
            if eos_id is not None and token == eos_id:
                finished = True
                break
    return SpeculativeResult(ids, rounds, finished)


def model_distribution(model: LanguageModel, **warp_knobs: Any) -> Distribution:
    """The final sampling distribution of a LanguageModel as a function of the context.

    p = warp(log p_model(· | context), **warp_knobs) (temperature, top_k, top_p, min_p, ...);
    with no knobs, p is the model's own distribution (renormalised if it is not normalised).
    """
    def distribution(context_ids: Sequence[int]) -> np.ndarray:
        logprobs = np.asarray(model.next_logprobs(list(context_ids)), dtype=np.float64)
        if warp_knobs:
            from arlm_tui.decoding.processors import warp

            return np.asarray(warp(logprobs, **warp_knobs), dtype=np.float64)
        finite = np.isfinite(logprobs)
        probs = np.zeros_like(logprobs)
        probs[finite] = np.exp(logprobs[finite] - logprobs[finite].max())
        return probs / probs.sum()

    return distribution


def same_vocabulary(a: LanguageModel, b: LanguageModel) -> bool:
    """True when two models give the same id to every token (required to draft for each other)."""
    return list(a.vocab) == list(b.vocab)
