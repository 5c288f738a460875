"""Contrastive search (Su et al. 2022, "A Contrastive Framework for Neural Text Generation").

Greedy decoding of a neural model drifts into repeating itself: the model's next hidden state
comes to resemble the states it already produced. Contrastive search takes the k most probable
tokens (after the processors) as candidates and scores each by

    score(v) = (1 − α) · p(v | context) − α · max_j cos(h_v, h_j)

where h_v is the model's last hidden state after reading v (the vector its output layer reads)
and h_j the hidden states at every earlier position, the prompt and the start included. The
second term is the degeneration penalty: a candidate that would take the model back to a state
it has been in scores lower. The highest score wins (on a tie, the more probable candidate).
α = 0 is greedy decoding; α = 1 ignores the probabilities (beyond the top-k cut).

This is Hugging Face's contrastive search (``generate(penalty_alpha=α, top_k=k)``, since
transformers 4.50 the ``transformers-community/contrastive-search`` generate): the candidates
are ``topk(softmax(processed logits), k)``, the context states the last layer's
``hidden_states[-1]`` at every position before the candidate, and ``argmax`` picks the first of
equal scores. Hugging Face carries the context states over from step to step; here they are
computed again from the text at each step (the same numbers, and always right after an undo,
a forced token or a model switch): one pass over the text, which leaves the net's state after
it (keys and values, a recurrent state), then the k candidates read from that state as one
batch (``LanguageModel.candidate_hidden_states``).

Only a model with hidden states (``LanguageModel.has_hidden_states``: the neural backends and
Hugging Face models) can be searched this way; an n-gram model is refused in one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from arlm_tui.decoding.processors import top_indices
from arlm_tui.errors import ArlmError
from arlm_tui.lm.base import LanguageModel

_KINDS = {"ngram": "an n-gram", "table": "a probability-table", "oracle": "an oracle n-gram",
          "arpa": "an ARPA n-gram"}


class NoHiddenStates(ArlmError, ValueError):
    """Contrastive search asked of a model without hidden states (an n-gram)."""


def check_hidden_states(model: LanguageModel) -> None:
    """NoHiddenStates (one line) unless ``model`` exposes hidden states."""
    if not model.has_hidden_states:
        kind = _KINDS.get(model.backend, f"a {model.backend}")
        raise NoHiddenStates(f"contrastive search needs a model with hidden states; "
                             f"{model.name} is {kind} model")


@dataclass(frozen=True)
class ContrastiveCandidate:
    """One of the top-k tokens: ``prob`` = p(v | context) after the processors; ``similarity``
    = max_j cos(h_v, h_j), the degeneration penalty; ``similar_to`` = that j (0 is the start,
    j ≥ 1 the j-th token of the text); ``score`` = (1 − α)·prob − α·similarity."""

    token_id: int
    token: str
    prob: float
    similarity: float
    similar_to: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"token_id": self.token_id, "token": self.token, "prob": self.prob,
                "degeneration_penalty": self.similarity, "similar_to": self.similar_to,
                "score": self.score}


@dataclass(frozen=True)
class ContrastiveStep:
    """One step of contrastive search: α, the candidates (most probable first) and which one
    won (``chosen``, an index into ``candidates``)."""

    alpha: float
    candidates: tuple[ContrastiveCandidate, ...]
    chosen: int

    @property
    def winner(self) -> ContrastiveCandidate:
        return self.candidates[self.chosen]

    def to_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "top_k": len(self.candidates), "chosen": self.chosen,
                "candidates": [c.to_dict() for c in self.candidates]}


def cosine_similarities(candidates: np.ndarray, context: np.ndarray) -> np.ndarray:
    """cos(h_v, h_j) for every candidate row v and context row j: (k, T). A zero vector has
    similarity 0 with everything."""
    def unit(x: np.ndarray) -> np.ndarray:
        norm = np.linalg.norm(x, axis=-1, keepdims=True)
        return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)

    return unit(candidates) @ unit(context).T


def contrastive_scores(probs: np.ndarray, similarities: np.ndarray, alpha: float) -> np.ndarray:
    """(1 − α)·p − α·max_j cos: ``similarities`` (k, T) → scores (k,)."""
    return (1.0 - alpha) * probs - alpha * similarities.max(axis=1)


def _states(model: LanguageModel, context: list[int],
            candidates: list[int]) -> tuple[np.ndarray, np.ndarray]:
    states = model.candidate_hidden_states(context, candidates)
    if states is None:  # has_hidden_states said otherwise
        check_hidden_states(model)
        raise NoHiddenStates(f"{model.name} gave no hidden states")
    return states


def contrastive_step(
    model: LanguageModel,
    context_ids: Sequence[int],
    probs: np.ndarray,
    alpha: float,
    top_k: int,
) -> ContrastiveStep:
    """Choose the token after ``context_ids`` by contrastive search; ``probs``: the processed
    next-token distribution [V]. The hidden states come from
    ``model.candidate_hidden_states``: one pass over the text and the k candidates as one
    batch of one-token steps for the neural and Hugging Face models (one pass per candidate
    for a model without that shortcut)."""
    check_hidden_states(model)
    context = list(context_ids)
    k = min(int(top_k), int(np.count_nonzero(probs)))
    ids = top_indices(probs, k)
    # (T, d): the start, then every token; (k, d): each candidate read after the text
    context_states, candidate_states = _states(model, context, ids.tolist())
    similarities = cosine_similarities(candidate_states, context_states)
    scores = contrastive_scores(probs[ids], similarities, alpha)
    chosen = int(np.argmax(scores))  # the first of equal scores: the more probable
    vocab = model.vocab
    candidates = tuple(
        ContrastiveCandidate(int(v), vocab[int(v)], float(probs[v]),
                             float(similarities[i].max()), int(similarities[i].argmax()),
                             float(scores[i]))
        for i, v in enumerate(ids.tolist()))
    return ContrastiveStep(float(alpha), candidates, chosen)
