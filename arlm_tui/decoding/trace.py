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
from typing import TYPE_CHECKING, Any

import numpy as np

from arlm_tui.decoding.tokens import TokenSeq
from arlm_tui.lm.information import perplexity

if TYPE_CHECKING:
    from arlm_tui.decoding.contrastive import ContrastiveStep

_LN2 = math.log(2.0)


def json_float(x: float) -> float | str:
    """JSON has no infinities or NaN: write them as the strings "inf", "-inf", "nan"."""
    x = float(x)
    return x if math.isfinite(x) else str(x)


class Stage:
    """The distribution after one processor ("raw" is the model's own).

    ``probs``: the [V] probabilities after this processor; ``removed``: the ids newly removed
    at this stage (a list, ascending).

    A long generation keeps a Trace per step, so a stage stores as little as it can and builds
    ``probs`` on each access, exactly as ``decode_step`` computed them: the raw stage from the
    model's log-probs (``logprobs=``, which the Trace keeps anyway): p = exp(log p); a stage of a
    processor that only removes tokens (``previous=``) from the stage before it: its
    probabilities with the removed ids set to 0, renormalised. Only other stages (temperature,
    repetition penalty) store their vector. The removed ids are stored as int32 ids or as a
    bit mask over the vocabulary, whichever is smaller.
    """

    __slots__ = ("_logprobs", "_mask", "_previous", "_probs", "_removed", "label", "name",
                 "note")

    def __init__(self, name: str, label: str, probs: np.ndarray | None = None,
                 removed: Sequence[int] | np.ndarray = (), *,
                 logprobs: np.ndarray | None = None, previous: Stage | None = None):
        if sum(x is not None for x in (probs, logprobs, previous)) != 1:
            raise ValueError("Stage needs one of probs, logprobs or previous")
        self.name = name
        self.label = label
        #: what the processor found at this step, for the explanations (DRY: (repeat
        #: length, the token that would extend it)); None for most processors
        self.note: Any = None
        self._probs = probs
        self._logprobs = logprobs
        self._previous = previous
        ids = np.asarray(removed, dtype=np.int64)
        size = self._size()
        self._mask = ids.size * 4 > (size + 7) // 8  # a bit mask is smaller
        self._removed: np.ndarray  # packed bits (uint8) or ids (int32)
        if self._mask:
            mask = np.zeros(size, dtype=bool)
            mask[ids] = True
            self._removed = np.packbits(mask)
        else:
            self._removed = ids.astype(np.int32) if ids.size else _NO_IDS

    def _size(self) -> int:
        stage = self
        while stage._previous is not None:
            stage = stage._previous
        vector = stage._probs if stage._probs is not None else stage._logprobs
        assert vector is not None  # a stage without previous has probs or logprobs
        return int(vector.shape[-1])

    def _removed_ids(self) -> np.ndarray:
        if self._mask:
            return np.flatnonzero(np.unpackbits(self._removed, count=self._size()))
        return self._removed

    @property
    def probs(self) -> np.ndarray:
        if self._probs is not None:
            return self._probs
        if self._logprobs is not None:
            return np.exp(self._logprobs)
        previous = self._previous
        assert previous is not None  # neither probs nor logprobs: built from the stage before
        before = previous.probs
        probs = before.copy() if before is previous._probs else before
        probs[self._removed_ids()] = 0.0
        probs /= np.add.reduce(probs)
        return probs

    @property
    def removed(self) -> list[int]:
        return self._removed_ids().tolist()

    @property
    def num_removed(self) -> int:
        if self._mask:
            return int(np.unpackbits(self._removed, count=self._size()).sum())
        return int(self._removed.size)

    @property
    def kept(self) -> int:
        """How many tokens still have probability > 0."""
        return int(np.count_nonzero(self.probs))

    def __repr__(self) -> str:
        return f"Stage({self.name!r}, {self.label!r}, removed={self.num_removed})"


_NO_IDS = np.zeros(0, dtype=np.int32)


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
    #: diverse beam search: the parent's group, and λ · (earlier groups' picks of the token)
    #: already taken off ``logprob``
    group: int = 0
    diversity_penalty: float = 0.0

    def to_dict(self, groups: bool = False) -> dict[str, Any]:
        """``groups``: add the group and the diversity penalty (diverse beam search)."""
        out: dict[str, Any] = {
            "parent": self.parent,
            "token_id": self.token_id,
            "token": self.token,
            "logprob": json_float(self.logprob),
            "score": json_float(self.score),
        }
        if groups:
            out["group"] = self.group
            out["diversity_penalty"] = json_float(self.diversity_penalty)
        return out


@dataclass(slots=True)
class Hypothesis:
    """A generated continuation: ``ids`` after the prompt (``</s>`` included when finished).

    The text is stored once, shared with the hypothesis it extends: ``seq`` is the whole
    context (prompt, then the generated ids) as a ``TokenSeq`` and ``start`` the prompt's
    length. ``ids`` and ``tokens`` are new lists built from it on each access."""

    seq: TokenSeq
    start: int
    logprob: float  # Σ log p of the generated tokens
    score: float  # logprob / len(ids)^α
    finished: bool
    parent: int | None = None  # index of the beam it extends, at the step that made it
    vocab: Sequence[str] = field(default=(), repr=False, compare=False)
    group: int = 0  # its beam group (diverse beam search), 0 otherwise

    @property
    def ids(self) -> list[int]:
        return self.seq[self.start:]

    @property
    def tokens(self) -> list[str]:
        vocab = self.vocab
        return [vocab[i] for i in self.ids] if vocab else [str(i) for i in self.ids]

    @property
    def length(self) -> int:
        """len(ids), without building them."""
        return len(self.seq) - self.start

    def to_dict(self, text: bool = True, groups: bool = False) -> dict[str, Any]:
        """``text=False``: the length and the last token instead of the whole continuation
        (it is the ``parent``'s at the step before plus that token), so that a record of many
        steps does not repeat every text. ``groups``: add its beam group."""
        if text:
            head: dict[str, Any] = {"ids": self.ids, "tokens": self.tokens}
        else:
            last = self.seq.last if self.length else None
            head = {"length": self.length, "last_id": last,
                    "last_token": None if last is None else
                    self.vocab[last] if self.vocab else str(last)}
        return {
            **head,
            "logprob": json_float(self.logprob),
            "score": json_float(self.score),
            "finished": self.finished,
            "parent": self.parent,
            **({"group": self.group} if groups else {}),
        }


@dataclass(eq=False)
class CandidateTable:
    """Beam candidates as columns (one row each), so a step keeps a few numbers per
    candidate rather than one object; ``BeamStep.candidates`` builds the objects on demand."""

    parents: np.ndarray  # int
    token_ids: np.ndarray  # int
    logprobs: np.ndarray  # float
    scores: np.ndarray  # float
    pruned: np.ndarray  # bool: not among the survivors nor the finished
    vocab: Sequence[str] = field(default=(), repr=False)
    groups: np.ndarray | None = None  # int: the parent's beam group (diverse beam search)
    penalties: np.ndarray | None = None  # float: the diversity penalty taken off logprobs

    def rows(self, mask: np.ndarray | None = None) -> list[BeamCandidate]:
        vocab = self.vocab
        index = range(len(self.parents)) if mask is None else np.flatnonzero(mask).tolist()
        parents, ids = self.parents.tolist(), self.token_ids.tolist()
        logprobs, scores = self.logprobs.tolist(), self.scores.tolist()
        groups = self.groups.tolist() if self.groups is not None else None
        cuts = self.penalties.tolist() if self.penalties is not None else None
        return [BeamCandidate(parents[i], ids[i], vocab[ids[i]] if vocab else str(ids[i]),
                              logprobs[i], scores[i], groups[i] if groups is not None else 0,
                              cuts[i] if cuts is not None else 0.0) for i in index]


@dataclass(eq=False)
class BeamStep:
    """One step of beam search.

    ``candidates``: the best continuations of each live beam (enough to contain every survivor),
    best first; ``num_candidates``: how many finite-probability continuations there were in all;
    ``survivors``: the new live beams, best first; ``pruned``: stored candidates that were
    dropped; ``finished``: the finished hypotheses after this step, best score first.
    ``candidates`` and ``pruned`` are built from ``table`` on each access."""

    table: CandidateTable
    survivors: list[Hypothesis]
    finished: list[Hypothesis]
    num_candidates: int = 0
    step: int = 0
    done: bool = False
    num_groups: int = 1  # diverse beam search: how many beam groups

    @property
    def candidates(self) -> list[BeamCandidate]:
        return self.table.rows()

    @property
    def pruned(self) -> list[BeamCandidate]:
        return self.table.rows(self.table.pruned)

    def to_dict(self, text: bool = True) -> dict[str, Any]:
        """``text=False``: hypotheses without their whole texts (see ``Hypothesis.to_dict``).
        With beam groups, every hypothesis and candidate also names its group and each
        candidate its diversity penalty."""
        groups = self.num_groups > 1
        return {
            "step": self.step,
            "num_candidates": self.num_candidates,
            **({"num_groups": self.num_groups} if groups else {}),
            "candidates": [c.to_dict(groups) for c in self.candidates],
            "survivors": [h.to_dict(text, groups) for h in self.survivors],
            "pruned": [c.to_dict(groups) for c in self.pruned],
            "finished": [h.to_dict(text, groups) for h in self.finished],
            "done": self.done,
        }


@dataclass(frozen=True, slots=True)
class MirostatStep:
    """Mirostat's state at one step: the target ``tau`` (bits), the bound ``mu_before`` the
    step cut with, the ``surprise`` -log2 p of the chosen token in the distribution it was
    drawn from (None when that probability is 0: a forced token the cut removed), and
    ``mu_after`` = mu_before - η·(surprise - tau), the next step's bound."""

    tau: float
    eta: float
    mu_before: float
    mu_after: float
    surprise: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"tau": self.tau, "eta": self.eta, "mu_before": json_float(self.mu_before),
                "mu_after": json_float(self.mu_after),
                "surprise": None if self.surprise is None else json_float(self.surprise)}


class RunningScores:
    """Perplexity and bits per token of the T generated tokens so far, from the class's ``nll``
    (-Σ log p(w_t | w_<t), nats) and ``num_tokens`` (T). Shared by Trace and Session."""

    __slots__ = ()

    if TYPE_CHECKING:  # what a subclass provides (Trace: fields, Session: properties)
        @property
        def nll(self) -> float: ...

        @property
        def num_tokens(self) -> int: ...

    @property
    def perplexity(self) -> float:
        """exp(NLL / T) over the T generated tokens so far (NaN before the first token)."""
        return perplexity(self.nll, self.num_tokens)

    @property
    def bits_per_token(self) -> float:
        """NLL / (T ln 2)."""
        return self.nll / (self.num_tokens * _LN2) if self.num_tokens else math.nan


@dataclass(eq=False, slots=True)  # compared by identity: numpy fields have no truth value
class Trace(RunningScores):
    """Everything about one decoding step. Probabilities are [V] float64 vectors, index = id.

    ``raw_logprobs`` are the model's log-probs (renormalised if the model's scores do not sum
    to one); ``stages[0]`` is "raw", then one stage per active processor; ``final_probs`` is the
    distribution the choice was made from (one-hot on the arg-max for greedy); ``chosen_rank``
    is 1-based in the raw distribution (ties: lower id first). ``logprob`` = log p(chosen |
    context) under the model; ``cum_logprob`` and ``num_tokens`` run over the generated tokens,
    this one included.

    A long generation keeps one Trace per step, so a Trace stores each [V] vector once:
    ``raw_probs`` (= exp(raw_logprobs)) is computed on access, and ``final`` holds the final
    distribution only when it is not already a stage's (None: the last stage's; an int: one-hot
    on that id, greedy); ``final_probs`` builds it.
    """

    step: int
    strategy: str
    context: Sequence[int]  # the ids before the choice (a shared TokenSeq in a generation)
    raw_logprobs: np.ndarray
    stages: list[Stage]
    final: np.ndarray | int | None
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
    #: mirostat's μ before and after this step (None when mirostat is off)
    mirostat: MirostatStep | None = None
    #: the stop string the text ended with at this step (None: no stop string ended it)
    stop: str | None = None
    #: Token strings (index = id), shared with the model, and how one token reads on screen.
    vocab: Sequence[str] = field(default=(), repr=False, compare=False)
    token_text: Callable[[int], str] | None = field(default=None, repr=False, compare=False)
    #: contrastive search: the candidates with their degeneration penalties and scores
    #: (a ``contrastive.ContrastiveStep``), None for the other strategies
    contrastive: ContrastiveStep | None = None

    # ------------------------------------------------------------------ derived numbers
    @property
    def context_ids(self) -> list[int]:
        """The ids before the choice, as a new list."""
        context = self.context
        return context.tolist() if isinstance(context, TokenSeq) else list(context)

    @property
    def removed_by(self) -> dict[int, str]:
        """Token id -> name of the processor that removed it."""
        out: dict[int, str] = {}
        for stage in self.stages[1:]:
            out.update(dict.fromkeys(stage.removed, stage.name))
        return out

    def removed_by_of(self, ids: Sequence[int] | np.ndarray) -> dict[int, str]:
        """``removed_by`` for ``ids`` only (cheaper for a few rows of a large vocabulary)."""
        ids = np.asarray(ids, dtype=np.int64)
        out: dict[int, str] = {}
        for stage in self.stages[1:]:
            hit = ids[np.isin(ids, stage._removed_ids())]
            out.update(dict.fromkeys(hit.tolist(), stage.name))
        return out

    @property
    def raw_probs(self) -> np.ndarray:
        return self.stages[0].probs

    @property
    def final_probs(self) -> np.ndarray:
        final = self.final
        if final is None:
            return self.stages[-1].probs
        if isinstance(final, int):
            out = np.zeros(self.raw_logprobs.shape[-1])
            out[final] = 1.0
            return out
        return final

    @property
    def nll(self) -> float:
        """Negative log-likelihood of the generated tokens so far: -Σ log p, in nats."""
        return -self.cum_logprob

    @property
    def effective_choices(self) -> float:
        """exp(entropy): how many equally likely tokens would be as uncertain."""
        return perplexity(self.entropy)

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
        final = self.final_probs
        removed_by = self.removed_by_of(order)
        return [
            {
                "id": int(i),
                "token": self.vocab[int(i)] if self.vocab else str(int(i)),
                "text": self.text_of(int(i)),
                "rank": rank,
                "raw_prob": float(raw[i]),
                "final_prob": float(final[i]),
                "removed_by": removed_by.get(int(i)),
                "chosen": int(i) == self.chosen_id,
            }
            for rank, i in enumerate(order, start=1)
        ]

    def to_dict(self, top_n: int = 20, *, text: bool = True) -> dict[str, Any]:
        """A JSON-safe summary: scalars, the stages' names and counts, the top-n rows; no [V]
        vectors. Infinite numbers are written as strings. ``text=False`` leaves out the texts
        (``context_length`` instead of ``context_ids``; beam hypotheses by length and last
        token), so that the summaries of N steps take O(N) room, not O(N²)."""
        context: dict[str, Any] = (
            {"context_ids": self.context_ids} if text else {"context_length": len(self.context)})
        return {
            "step": self.step,
            "strategy": self.strategy,
            **context,
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
                {"name": s.name, "label": s.label, "removed": s.num_removed, "kept": s.kept}
                for s in self.stages
            ],
            "config": dict(self.config),
            "top": [
                {k: json_float(v) if isinstance(v, float) else v for k, v in row.items()}
                for row in self.top(top_n)
            ],
            "beam": self.beam.to_dict(text) if self.beam is not None else None,
            "mirostat": self.mirostat.to_dict() if self.mirostat is not None else None,
            "stop": self.stop,
            "contrastive": (self.contrastive.to_dict() if self.contrastive is not None
                            else None),
        }
