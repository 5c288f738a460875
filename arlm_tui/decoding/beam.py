"""Beam search (stepwise and in one call) and exact search by enumeration, for comparison.

Beam search keeps the ``width`` most probable partial hypotheses. At each step every live
hypothesis h is extended by every token w, candidate log p(h + w) = log p(h) + log p(w | h);
candidates are ranked by that log-probability (ties: lower beam index, then lower token id).
Going down the ranking (as Hugging Face transformers does, over the best 2·width candidates):

* a candidate ending in ``</s>`` ranked within the first ``width`` becomes a finished
  hypothesis with score = log p / L^α, where L is its generated length counting ``</s>`` and α
  is the length penalty (α = 0: raw log-probability; α > 0 favours longer texts);
* any other candidate becomes a live beam, until ``width`` live beams are chosen.

A live beam reaching ``max_tokens`` tokens is finished as it is (same score formula). Only the
``width`` best finished hypotheses are kept. The search stops when no live beam is left, or

* ``early_stopping=True``: as soon as ``width`` hypotheses have finished;
* ``early_stopping=False``: when ``width`` have finished and the best live beam cannot beat the
  worst of them by Hugging Face's heuristic: best live log p / (current length)^α <= worst
  finished score. (The heuristic is exact for α = 0; for α > 0 a longer continuation could in
  principle still score better.)

The model state is batched over beams: ``model.select`` reorders it by parent beam and
``model.extend`` appends each beam's new token, one call per step.

Processors: beam search applies ``min_tokens``, ``repetition_penalty`` and ``no_repeat_ngram``
(the sampling knobs do not apply); the scores are the processed log-probabilities.

Diverse beam search (Vijayakumar et al. 2016, as Hugging Face's group beam search, now the
``transformers-community/group-beam-search`` generate): ``num_beam_groups`` G splits the beam
into G groups of width B/G. Within a step the groups are expanded in order, each exactly as
above with its own width, its own finished list and its own stopping test; before group g
ranks its candidates, each candidate's processed log-probability loses λ · c(w), where c(w)
counts the live beams of groups 0..g−1 that chose token w at this step (Hamming diversity, λ
= ``diversity_penalty``). The penalty stays in the hypothesis's running score, as in Hugging
Face. All groups start from the prompt; the search ends when every group is done, and the
finished hypotheses of all groups are ranked together. With G = 1 this is beam search; with λ
= 0 every group is the ordinary beam search of width B/G. A group that is done contributes no
tokens to the later groups' counts (Hugging Face counts its padding tokens). If G changes
mid-search, every group starts again from the best live hypothesis.

``exact_search`` enumerates every sequence (ending with ``</s>`` or of ``max_tokens`` tokens)
and scores it the same way: with a width that keeps every hypothesis, beam search returns the
same list.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np

from arlm_tui.decoding.config import KNOBS, DecodingConfig
from arlm_tui.decoding.processors import (
    LogitsProcessor,
    MinLength,
    apply_processors,
    build_processors,
    check_number,
    dry_breaker_ids,
    top_indices,
)
from arlm_tui.decoding.strategies import as_prompt_ids, decode_step, model_logprobs
from arlm_tui.decoding.tokens import TokenSeq
from arlm_tui.decoding.trace import BeamStep, CandidateTable, Hypothesis, Trace
from arlm_tui.lm.base import LanguageModel


def length_normalized(logprob: float, length: int, length_penalty: float) -> float:
    """score = log p / L^α (L = generated length counting ``</s>``; L = 0 gives log p)."""
    return logprob / (length**length_penalty) if length > 0 else logprob


class _Ids:
    """A hypothesis's ids as a sort key that builds them only to break a tie of scores."""

    __slots__ = ("h",)

    def __init__(self, h: Hypothesis):
        self.h = h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Ids) and self.h.ids == other.h.ids

    def __lt__(self, other: _Ids) -> bool:
        return self.h.ids < other.h.ids


def _best_first(hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    return sorted(hypotheses, key=lambda h: (-h.score, _Ids(h)))


def beam_processors(
    model: LanguageModel, prompt_length: int, config: DecodingConfig
) -> list[LogitsProcessor]:
    """The processors beam search applies: min_tokens, repetition_penalty, no_repeat_ngram."""
    from arlm_tui.decoding.strategies import bias_token_id

    return build_processors(config.processor_knobs(), eos_id=model.eos_id,
                            prompt_length=prompt_length, sampling=False,
                            breakers=dry_breaker_ids(model.tokenizer)
                            if config.dry_multiplier else frozenset(),
                            token_id=bias_token_id(model))


@dataclass(frozen=True)
class BeamSnapshot:
    """What a search is at one moment (for undo): live and finished hypotheses, step count."""

    live: tuple[Hypothesis, ...]
    finished: tuple[Hypothesis, ...]
    step_count: int
    done: bool
    num_groups: int = 1  # the beam groups the live hypotheses were made in


class BeamSearch:
    """Beam search one step at a time (see the module docstring for the rules).

    ``config`` supplies beam_width, max_tokens, length_penalty, early_stopping, min_tokens,
    repetition_penalty and no_repeat_ngram; it may be replaced between steps (``.config = ...``).
    ``generated_ids``/``generated_logprob``: tokens already generated after the prompt (they
    count towards the length, min_tokens and max_tokens), e.g. when a session switches to beam
    search mid-text. ``context`` may give the text so far (prompt, then generated ids) as a
    ``TokenSeq`` instead: the hypotheses then share it rather than copy it. ``first_step``: the
    number (from 0) its first step has in the text, so that a search begun mid-text numbers its
    ``BeamStep``s as the text's steps are numbered.

    Texts are stored once: each hypothesis extends its parent's ``TokenSeq`` by one node.
    """

    def __init__(
        self,
        model: LanguageModel,
        prompt_ids: str | Sequence[int],
        config: DecodingConfig | None = None,
        *,
        generated_ids: Sequence[int] = (),
        generated_logprob: float = 0.0,
        context: TokenSeq | None = None,
        first_step: int = 0,
    ):
        self.model = model
        self.prompt_ids = as_prompt_ids(model, prompt_ids)
        self.config = config if config is not None else DecodingConfig(strategy="beam")
        if context is None:
            context = TokenSeq.of(self.prompt_ids).extend(int(i) for i in generated_ids)
        elif len(context) < len(self.prompt_ids):
            raise ValueError("context: shorter than the prompt")
        root = self._hypothesis(context, float(generated_logprob), None)
        self._live: list[Hypothesis] = [root]
        self._finished: list[Hypothesis] = []
        self.step_count = first_step
        self._done = False
        self._state = None
        self._logprobs: np.ndarray | None = None
        self._pending: tuple[list[int], list[int]] | None = None
        self._config_cache: tuple | None = None
        self._groups = self.config.num_beam_groups  # the groups the live beams belong to
        if root.length and root.seq.last == model.eos_id or root.length >= self.config.max_tokens:
            self._live, self._finished, self._done = [], [dataclasses.replace(root, finished=True)], True

    # ------------------------------------------------------------------ snapshots
    def snapshot(self) -> BeamSnapshot:
        return BeamSnapshot(tuple(self._live), tuple(self._finished), self.step_count, self._done,
                            self._groups)

    @classmethod
    def from_snapshot(
        cls,
        model: LanguageModel,
        prompt_ids: Sequence[int],
        config: DecodingConfig,
        snapshot: BeamSnapshot,
    ) -> BeamSearch:
        """A search continuing from ``snapshot`` (the model state is rebuilt from the texts)."""
        search = cls(model, prompt_ids, config)
        search._live = list(snapshot.live)
        search._finished = list(snapshot.finished)
        search.step_count = snapshot.step_count
        search._done = snapshot.done
        search._groups = snapshot.num_groups
        return search

    # ------------------------------------------------------------------ state
    @property
    def done(self) -> bool:
        return self._done

    @property
    def hypotheses(self) -> list[Hypothesis]:
        """The live beams, most probable first (with beam groups: group by group)."""
        return list(self._live)

    @property
    def finished(self) -> list[Hypothesis]:
        """Finished hypotheses (at most ``beam_width``), best score first."""
        return list(self._finished)

    @property
    def best(self) -> Hypothesis | None:
        """The best finished hypothesis once done, else the most probable live beam (the first
        of equals; with beam groups, over every group)."""
        if self._done or not self._live:
            if self._finished:
                return self._finished[0]
            return self._live[0] if self._live else None
        live = self._live
        if self.config.num_beam_groups == 1:
            return live[0]  # the ranking put it first
        return max(live, key=lambda h: h.logprob)

    def _hypothesis(self, seq: TokenSeq, logprob: float, parent: int | None,
                    finished: bool = False, group: int = 0) -> Hypothesis:
        """The hypothesis whose whole context (prompt included) is ``seq``."""
        start = len(self.prompt_ids)
        score = length_normalized(logprob, len(seq) - start, self.config.length_penalty)
        return Hypothesis(seq, start, logprob, score, finished, parent, self.model.vocab, group)

    def _processors(self) -> list[LogitsProcessor]:
        return self._for_config()[0]

    def _for_config(self) -> tuple[list[LogitsProcessor], DecodingConfig, dict[str, Any]]:
        """The processors, the Trace's (beam) config and its dict, built once per config."""
        cached = self._config_cache
        if cached is None or cached[0] is not self.config:
            config = self.config
            trace_config = config if config.strategy == "beam" else config.replace(strategy="beam")
            processors = beam_processors(self.model, len(self.prompt_ids), config)
            cached = (config, processors, trace_config, trace_config.to_dict())
            self._config_cache = cached
        return cached[1], cached[2], cached[3]

    def _ensure_logprobs(self) -> np.ndarray:
        """Next-token log-probs (B, V) of the live beams, bringing the model state up to date."""
        if self._state is None or self._logprobs is None:
            contexts = [h.seq for h in self._live]
            self._logprobs, self._state = self.model.start(contexts)
            self._pending = None
        elif self._pending is not None:
            parents, tokens = self._pending
            state = self.model.select(self._state, parents)
            self._logprobs, self._state = self.model.extend(state, tokens)
            self._pending = None
        return self._logprobs

    def _regroup(self, groups: int) -> None:
        """The number of beam groups changed mid-search: every group starts again from the
        best live hypothesis (as all groups start from the prompt); finished hypotheses stay,
        each in group (its group mod G)."""
        best = self.best
        if best is not None and self._live:
            self._live = [dataclasses.replace(best, parent=None, group=0)]
            self._state = self._logprobs = self._pending = None
        self._finished = [h if h.group < groups else dataclasses.replace(h, group=h.group % groups)
                          for h in self._finished]
        self._groups = groups

    # ------------------------------------------------------------------ one step
    def step(self) -> BeamStep | None:
        """Extend every live beam by one token; None if the search is already done.

        With G = ``num_beam_groups`` > 1 the groups are expanded in order, each as an ordinary
        beam search of width B/G over its own beams (its own finished list and stopping test);
        group g's candidate scores first lose λ · (how many beams of groups 0..g−1 chose the
        same token at this step). All groups start from the same text."""
        if self._done:
            return None
        model, config = self.model, self.config
        alpha, eos = config.length_penalty, model.eos_id
        groups = config.num_beam_groups
        width = config.beam_width // groups  # one group's width (the whole beam when G = 1)
        penalty = config.diversity_penalty
        vocab = model.vocab
        if groups != self._groups:
            self._regroup(groups)
        logprobs = self._ensure_logprobs()
        live = self._live
        processors = self._processors()
        rows = []
        for b, hyp in enumerate(live):
            lp = model_logprobs(model, logprobs[b])
            if processors:
                lp = apply_processors(processors, hyp.seq, lp)
            rows.append(lp)
        scores = np.stack(rows) + np.array([h.logprob for h in live])[:, None]  # (B, V)
        num_beams, vocab_size = scores.shape
        num_candidates = int(np.count_nonzero(np.isfinite(scores)))
        shared_root = num_beams == 1 and live[0].parent is None  # every group starts from it
        chosen = np.zeros(vocab_size) if groups > 1 else None  # earlier groups' tokens, counted

        kept: list[list[Hypothesis]] = []
        finished: list[Hypothesis] = []
        group_done: list[bool] = []
        columns: list[list] = [[], [], [], [], [], []]  # parent, token, group, lp, cut, length
        # (parents, tokens, log-probs and cuts are numpy parts, one per group)
        selected: set[int] = set()  # (g · B + b) · V + w of every candidate kept
        for g in range(groups):
            members = [0] if shared_root else [b for b, h in enumerate(live) if h.group == g]
            old_finished = [h for h in self._finished if h.group == g]
            if not members:  # this group is done
                kept.append([])
                finished += old_finished
                group_done.append(True)
                continue
            group_scores = scores[members]
            cut = None
            if chosen is not None and penalty and chosen.any():  # Hamming diversity
                cut = penalty * chosen
                group_scores = group_scores - cut
            flat = group_scores.ravel()
            ranked = top_indices(flat, min(2 * width, int(np.count_nonzero(np.isfinite(flat)))))
            new_live: list[Hypothesis] = []
            new_finished: list[Hypothesis] = []
            for rank, index in enumerate(ranked.tolist()):
                i, w = divmod(index, vocab_size)
                b = members[i]
                if w == eos:
                    if rank >= width:
                        continue
                    new_finished.append(self._hypothesis(live[b].seq.append(w),
                                                         float(flat[index]), b, True, g))
                else:
                    new_live.append(self._hypothesis(live[b].seq.append(w), float(flat[index]),
                                                     b, group=g))
                selected.add((g * num_beams + b) * vocab_size + w)
                if len(new_live) == width:
                    break
            if chosen is not None:  # (beams that reach max_tokens count too)
                np.add.at(chosen, [h.seq.last for h in new_live], 1.0)
            if new_live and new_live[0].length >= config.max_tokens:
                new_finished += [dataclasses.replace(h, finished=True) for h in new_live]
                new_live = []

            # What the step shows: each beam's best few continuations (every survivor is among
            # its beam's best `width`), plus its </s> candidate; kept as columns.
            rows_of: list[int] = []
            tokens: list[int] = []
            for i, b in enumerate(members):
                row = group_scores[i]
                finite = int(np.count_nonzero(np.isfinite(row)))
                shown = top_indices(row, min(width + 1, finite)).tolist()
                if np.isfinite(row[eos]) and eos not in shown:
                    shown.append(eos)
                rows_of += [i] * len(shown)
                tokens += shown
                columns[5] += [live[b].length + 1] * len(shown)
            rows_index = np.array(rows_of, dtype=np.intp)
            token_index = np.array(tokens, dtype=np.intp)
            columns[0].append(np.array(members, dtype=np.int32)[rows_index])
            columns[1].append(token_index)
            columns[2].append(np.full(len(tokens), g, dtype=np.int32))
            columns[3].append(group_scores[rows_index, token_index])
            columns[4].append(np.zeros(len(tokens)) if cut is None else cut[token_index])

            group_finished = _best_first(old_finished + new_finished)[:width]
            finished += group_finished
            kept.append(new_live)
            if not new_live:
                group_done.append(True)
            elif len(group_finished) >= width:
                if config.early_stopping:
                    group_done.append(True)
                else:
                    best = new_live[0]
                    attainable = length_normalized(best.logprob, best.length, alpha)
                    group_done.append(group_finished[-1].score >= attainable)
            else:
                group_done.append(False)

        def joined(parts: list, dtype: Any) -> np.ndarray:
            return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(
                0, dtype=dtype)

        cand_parents = joined(columns[0], np.int32)
        cand_tokens = joined(columns[1], np.int32)
        cand_groups = joined(columns[2], np.int32)
        cand_logprobs = joined(columns[3], np.float64)
        cand_cuts = joined(columns[4], np.float64)
        order = np.lexsort((cand_tokens, cand_parents, cand_groups, -cand_logprobs))
        cand_parents, cand_tokens = cand_parents[order], cand_tokens[order]
        cand_groups, cand_logprobs, cand_cuts = cand_groups[order], cand_logprobs[order], \
            cand_cuts[order]
        cand_scores = np.array([length_normalized(float(lp), columns[5][i], alpha)
                                for lp, i in zip(cand_logprobs.tolist(), order.tolist())])
        keys = (cand_groups.astype(np.int64) * num_beams + cand_parents) * vocab_size + cand_tokens
        pruned = ~np.isin(keys, np.fromiter(selected, dtype=np.int64, count=len(selected)))
        table = CandidateTable(cand_parents, cand_tokens, cand_logprobs, cand_scores, pruned,
                               vocab, cand_groups if groups > 1 else None,
                               cand_cuts if groups > 1 else None)

        self._finished = _best_first(finished)
        self.step_count += 1
        self._done = all(group_done)
        # a done group's beams stop; when the whole search is done they stay on show
        self._live = [h for g, hyps in enumerate(kept) for h in hyps
                      if self._done or not group_done[g]]
        if not self._done:
            # every live hypothesis after a step has a parent beam
            self._pending = ([h.parent for h in self._live if h.parent is not None],
                             [h.seq.last for h in self._live])
        return BeamStep(
            table=table,
            survivors=list(self._live),
            finished=list(self._finished),
            num_candidates=num_candidates,
            step=self.step_count - 1,
            done=self._done,
            num_groups=groups,
        )

    def step_trace(self) -> Trace | None:
        """``step()`` wrapped in a Trace about the best hypothesis after the step: its last token
        as the choice, its parent's distribution as the raw one, the BeamStep in ``beam``."""
        if self._done:
            return None
        if self.config.num_beam_groups != self._groups:
            self._regroup(self.config.num_beam_groups)
        before = self._live
        raw_rows = self._ensure_logprobs()
        beam_step = self.step()
        best = self.best
        if beam_step is None or best is None or not best.length:
            return None
        context = best.seq.parent
        assert context is not None
        row = best.parent
        if row is not None and row < len(before) and before[row].seq is context:
            raw = raw_rows[row]
        else:  # a hypothesis finished at an earlier step
            row = next((b for b, h in enumerate(before) if h.seq is context), None)
            raw = raw_rows[row] if row is not None else self.model.next_logprobs(context)
        processors, config, config_dict = self._for_config()
        trace = decode_step(self.model, context, raw, config, best.length - 1,
                            len(self.prompt_ids), force=best.seq.last,
                            processors=processors, config_dict=config_dict)
        return dataclasses.replace(trace, step=beam_step.step, beam=beam_step, forced=False,
                                   cum_logprob=best.logprob, num_tokens=best.length)

    def run(self) -> list[BeamStep]:
        """Step until done; the steps taken."""
        steps = []
        while not self._done:
            step = self.step()
            if step is None:
                break
            steps.append(step)
        return steps

    def results(self, n_best: int | None = None) -> list[tuple[list[int], float]]:
        """(ids, score) of the finished hypotheses, best first (runs the search to the end)."""
        self.run()
        n = self.config.beam_width if n_best is None else n_best
        return [(h.ids, h.score) for h in self._finished[:n]]


@overload
def beam_search(
    model: LanguageModel,
    prompt_ids: str | Sequence[int],
    width: int,
    max_tokens: int,
    length_penalty: float = 1.0,
    *,
    early_stopping: bool = True,
    min_tokens: int = 0,
    repetition_penalty: float = 1.0,
    no_repeat_ngram: int = 0,
    n_best: int | None = None,
    return_steps: Literal[False] = False,
    num_beam_groups: int = 1,
    diversity_penalty: float = 0.0,
) -> list[tuple[list[int], float]]: ...


@overload
def beam_search(
    model: LanguageModel,
    prompt_ids: str | Sequence[int],
    width: int,
    max_tokens: int,
    length_penalty: float = 1.0,
    *,
    early_stopping: bool = True,
    min_tokens: int = 0,
    repetition_penalty: float = 1.0,
    no_repeat_ngram: int = 0,
    n_best: int | None = None,
    return_steps: Literal[True],
    num_beam_groups: int = 1,
    diversity_penalty: float = 0.0,
) -> tuple[list[tuple[list[int], float]], list[BeamStep]]: ...


def beam_search(
    model: LanguageModel,
    prompt_ids: str | Sequence[int],
    width: int,
    max_tokens: int,
    length_penalty: float = 1.0,
    *,
    early_stopping: bool = True,
    min_tokens: int = 0,
    repetition_penalty: float = 1.0,
    no_repeat_ngram: int = 0,
    n_best: int | None = None,
    return_steps: bool = False,
    num_beam_groups: int = 1,
    diversity_penalty: float = 0.0,
) -> list[tuple[list[int], float]] | tuple[list[tuple[list[int], float]], list[BeamStep]]:
    """The ``n_best`` (default ``width``) best finished hypotheses as (ids, score), best first.

    ids are the generated tokens after the prompt (ending with ``</s>`` unless the hypothesis
    stopped at ``max_tokens``); score = Σ log p / len(ids)^length_penalty, log p as processed
    (min_tokens, repetition_penalty, no_repeat_ngram). With ``return_steps=True`` also returns
    the list of BeamSteps. The best hypothesis is what ``generate_ids`` (and so a stepped
    ``Session``) gives with the same knobs. ``num_beam_groups`` G and ``diversity_penalty`` λ:
    diverse beam search (see the module docstring); the scores then include the penalties.
    """
    beam_knob = KNOBS["beam_width"]
    width = int(check_number("width", width, beam_knob.min, beam_knob.max, integer=True))
    if n_best is not None:
        n_best = int(check_number("n_best", n_best, 1, width, integer=True))
    config = DecodingConfig(
        strategy="beam",
        beam_width=width,
        max_tokens=max_tokens,
        length_penalty=length_penalty,
        early_stopping=early_stopping,
        min_tokens=min_tokens,
        repetition_penalty=repetition_penalty,
        no_repeat_ngram=no_repeat_ngram,
        num_beam_groups=num_beam_groups,
        diversity_penalty=diversity_penalty,
    )
    search = BeamSearch(model, prompt_ids, config)
    steps = search.run()
    results = search.results(n_best)
    return (results, steps) if return_steps else results


def exact_search(
    model: LanguageModel,
    prompt_ids: str | Sequence[int],
    max_tokens: int,
    length_penalty: float = 1.0,
    *,
    min_tokens: int = 0,
    limit: int = 200_000,
) -> list[tuple[list[int], float]]:
    """Every possible continuation as (ids, score), best first (ties: smaller ids first).

    A continuation ends with ``</s>`` or has ``max_tokens`` tokens; ``</s>`` is not allowed
    before ``min_tokens`` tokens; score = Σ log p / len(ids)^length_penalty; sequences of
    probability 0 are left out. Only for tiny vocabularies: ValueError if V^max_tokens > limit.
    """
    max_tokens = int(check_number("max_tokens", max_tokens, 1, math.inf, integer=True))
    vocab_size = model.vocab_size
    if vocab_size**max_tokens > limit:
        raise ValueError(
            f"max_tokens: exact search would enumerate up to V^max_tokens = "
            f"{vocab_size}^{max_tokens} sequences, more than limit = {limit}"
        )
    prompt = as_prompt_ids(model, prompt_ids)
    eos = model.eos_id
    min_length = MinLength(min_tokens, eos, len(prompt))
    results: list[tuple[list[int], float]] = []
    stack: list[tuple[list[int], float]] = [([], 0.0)]
    while stack:
        ids, logprob = stack.pop()
        context = prompt + ids
        lp = min_length(context, model_logprobs(model, model.next_logprobs(context)))
        for w in np.flatnonzero(np.isfinite(lp)).tolist():
            total = logprob + float(lp[w])
            longer = ids + [w]
            if w == eos or len(longer) >= max_tokens:
                results.append((longer, length_normalized(total, len(longer), length_penalty)))
            else:
                stack.append((longer, total))
    results.sort(key=lambda r: (-r[1], r[0]))
    return results
