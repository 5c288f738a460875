"""Traces: the record of one decoding step, which every screen, the CLI's --json, games and labs
read instead of recomputing anything.

A ``Trace`` holds the model's distribution, the distribution after each processor (``stages``),
what each processor removed, the choice and why (its probabilities, rank, the random draw), the
entropy before and after processing, and the running log-probability of the generated text.
Beam-search steps add a ``BeamStep``: every candidate with its score, the survivors, the pruned
candidates and the finished hypotheses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

_LN2 = math.log(2.0)


def json_float(x: float) -> float | str:
    """JSON has no infinities or NaN: write them as the strings "inf", "-inf", "nan"."""
    x = float(x)
    return x if math.isfinite(x) else str(x)


@dataclass(eq=False)
class Stage:
    """The distribution after one processor ("raw" is the model's own)."""

    name: str
    label: str
    probs: np.ndarray  # [V] after this processor
    removed: list[int]  # ids newly removed at this stage

    @property
    def kept(self) -> int:
        """How many tokens still have probability > 0."""
        return int(np.count_nonzero(self.probs))


@dataclass
class BeamCandidate:
    """A live hypothesis (``parent``, its index among the beams) extended by one token.

    ``logprob`` = log p(hypothesis + token): live beams are ranked by it. ``score`` = logprob /
    length^α, what the hypothesis would score if it ended here (the length counts ``</s>``)."""

    parent: int
    token_id: int
    token: str
    logprob: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "parent": self.parent,
            "token_id": self.token_id,
            "token": self.token,
            "logprob": json_float(self.logprob),
            "score": json_float(self.score),
        }


@dataclass
class Hypothesis:
    """A generated continuation: ``ids`` after the prompt (``</s>`` included when finished)."""

    ids: list[int]
    tokens: list[str]
    logprob: float  # Σ log p of the generated tokens
    score: float  # logprob / len(ids)^α
    finished: bool
    parent: int | None = None  # index of the beam it extends, at the step that made it

    def to_dict(self) -> dict[str, Any]:
        return {
            "ids": list(self.ids),
            "tokens": list(self.tokens),
            "logprob": json_float(self.logprob),
            "score": json_float(self.score),
            "finished": self.finished,
            "parent": self.parent,
        }


@dataclass
class BeamStep:
    """One step of beam search.

    ``candidates``: the best continuations of each live beam (enough to contain every survivor);
    ``num_candidates``: how many finite-probability continuations there were in all;
    ``survivors``: the new live beams, best first; ``pruned``: stored candidates that were
    dropped; ``finished``: the finished hypotheses after this step, best score first."""

    candidates: list[BeamCandidate]
    survivors: list[Hypothesis]
    pruned: list[BeamCandidate]
    finished: list[Hypothesis]
    num_candidates: int = 0
    step: int = 0
    done: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "num_candidates": self.num_candidates,
            "candidates": [c.to_dict() for c in self.candidates],
            "survivors": [h.to_dict() for h in self.survivors],
            "pruned": [c.to_dict() for c in self.pruned],
            "finished": [h.to_dict() for h in self.finished],
            "done": self.done,
        }


class RunningScores:
    """Perplexity and bits per token of the T generated tokens so far, from the class's ``nll``
    (-Σ log p(w_t | w_<t), nats) and ``num_tokens`` (T). Shared by Trace and Session."""

    @property
    def perplexity(self) -> float:
        """exp(NLL / T) over the T generated tokens so far (NaN before the first token)."""
        return math.exp(self.nll / self.num_tokens) if self.num_tokens else math.nan

    @property
    def bits_per_token(self) -> float:
        """NLL / (T ln 2)."""
        return self.nll / (self.num_tokens * _LN2) if self.num_tokens else math.nan


@dataclass(eq=False)  # compared by identity: numpy fields have no single truth value
class Trace(RunningScores):
    """Everything about one decoding step. Probabilities are [V] float64 vectors, index = id.

    ``raw_logprobs`` are the model's log-probs (renormalised if the model's scores do not sum
    to one); ``stages[0]`` is "raw", then one stage per active processor; ``final_probs`` is the
    distribution the choice was made from (one-hot on the arg-max for greedy); ``chosen_rank``
    is 1-based in the raw distribution (ties: lower id first). ``logprob`` = log p(chosen |
    context) under the model; ``cum_logprob`` and ``num_tokens`` run over the generated tokens,
    this one included.
    """

    step: int
    strategy: str
    context_ids: list[int]
    raw_logprobs: np.ndarray
    stages: list[Stage]
    final_probs: np.ndarray
    chosen_id: int
    chosen_token: str
    chosen_prob: float
    chosen_raw_prob: float
    chosen_rank: int
    forced: bool
    draw: float | None
    entropy: float
    final_entropy: float
    logprob: float
    cum_logprob: float
    num_tokens: int
    top_p_cutoff: int | None
    config: dict[str, Any]
    beam: BeamStep | None = None
    #: Token strings (index = id), shared with the model, and how one token reads on screen.
    vocab: Sequence[str] = field(default=(), repr=False, compare=False)
    token_text: Callable[[int], str] | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ derived numbers
    @cached_property
    def removed_by(self) -> dict[int, str]:
        """Token id -> name of the processor that removed it."""
        out: dict[int, str] = {}
        for stage in self.stages[1:]:
            out.update(dict.fromkeys(stage.removed, stage.name))
        return out

    @property
    def raw_probs(self) -> np.ndarray:
        return self.stages[0].probs

    @property
    def nll(self) -> float:
        """Negative log-likelihood of the generated tokens so far: -Σ log p, in nats."""
        return -self.cum_logprob

    @property
    def effective_choices(self) -> float:
        """exp(entropy): how many equally likely tokens would be as uncertain."""
        return math.exp(self.entropy)

    @property
    def kept(self) -> int:
        """Number of tokens with probability > 0 in ``final_probs``."""
        return int(np.count_nonzero(self.final_probs))

    def text_of(self, token_id: int) -> str:
        """How token ``token_id`` reads on screen."""
        if self.token_text is not None:
            return self.token_text(int(token_id))
        return self.vocab[int(token_id)] if self.vocab else str(token_id)

    # ------------------------------------------------------------------ tables
    def top(self, n: int = 10) -> list[dict[str, Any]]:
        """The ``n`` most probable tokens under the model (ties: lower id first), one dict each:
        id, token, text, rank, raw_prob, final_prob, removed_by (processor name or None),
        chosen."""
        raw = self.raw_probs
        n = max(0, min(int(n), raw.size))
        if n == 0:
            return []
        if n < raw.size:
            candidates = np.argpartition(-raw, n - 1)[:n]
            threshold = raw[candidates].min()
            candidates = np.flatnonzero(raw >= threshold)  # every tie with the n-th
        else:
            candidates = np.arange(raw.size)
        order = candidates[np.lexsort((candidates, -raw[candidates]))][:n]
        removed_by = self.removed_by
        return [
            {
                "id": int(i),
                "token": self.vocab[int(i)] if self.vocab else str(int(i)),
                "text": self.text_of(int(i)),
                "rank": rank,
                "raw_prob": float(raw[i]),
                "final_prob": float(self.final_probs[i]),
                "removed_by": removed_by.get(int(i)),
                "chosen": int(i) == self.chosen_id,
            }
            for rank, i in enumerate(order, start=1)
        ]

    def to_dict(self, top_n: int = 20) -> dict[str, Any]:
        """A JSON-safe summary: scalars, the stages' names and counts, the top-n rows; no [V]
        vectors. Infinite numbers are written as strings."""
        return {
            "step": self.step,
            "strategy": self.strategy,
            "context_ids": list(self.context_ids),
            "chosen_id": self.chosen_id,
            "chosen_token": self.chosen_token,
            "chosen_text": self.text_of(self.chosen_id),
            "chosen_prob": json_float(self.chosen_prob),
            "chosen_raw_prob": json_float(self.chosen_raw_prob),
            "chosen_rank": self.chosen_rank,
            "forced": self.forced,
            "draw": self.draw,
            "entropy": json_float(self.entropy),
            "final_entropy": json_float(self.final_entropy),
            "effective_choices": json_float(self.effective_choices),
            "logprob": json_float(self.logprob),
            "cum_logprob": json_float(self.cum_logprob),
            "num_tokens": self.num_tokens,
            "nll": json_float(self.nll),
            "perplexity": json_float(self.perplexity),
            "bits_per_token": json_float(self.bits_per_token),
            "top_p_cutoff": self.top_p_cutoff,
            "kept": self.kept,
            "stages": [
                {"name": s.name, "label": s.label, "removed": len(s.removed), "kept": s.kept}
                for s in self.stages
            ],
            "config": dict(self.config),
            "top": [
                {k: json_float(v) if isinstance(v, float) else v for k, v in row.items()}
                for row in self.top(top_n)
            ],
            "beam": self.beam.to_dict() if self.beam is not None else None,
        }
