"""The greedy-versus-beam lab: greedy decoding, beam search and the most probable sequence
(``greedy_vs_beam``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from arlm_tui.learn.labs.base import MODEL_KEYS, context_ids, lab_model, register_lab, token_text
from arlm_tui.lm.base import LanguageModel


@dataclass(frozen=True)
class Decoded:
    """A generated continuation: its tokens, p of each, log p = Σ ln p and the beam score."""

    tokens: tuple[str, ...]
    probs: tuple[float, ...]
    logprob: float
    score: float

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)


@dataclass(frozen=True)
class BeamRow:
    """The live beams after one beam-search step (best first) and the candidates dropped."""

    step: int
    survivors: tuple[Decoded, ...]
    pruned: tuple[tuple[str, float], ...]  # (hypothesis text, log p)
    finished: tuple[Decoded, ...]


@dataclass(frozen=True)
class GreedyVsBeam:
    """Greedy decoding, beam search of ``width`` and, when the vocabulary is small enough,
    the most probable sequence overall (exact search)."""

    prompt: str
    width: int
    max_tokens: int
    length_penalty: float
    greedy: Decoded
    beams: tuple[Decoded, ...]  # best first
    steps: tuple[BeamRow, ...]
    best: Decoded | None

    @property
    def greedy_missed(self) -> bool | None:
        """True when the greedy sequence is less probable than the best one."""
        if self.best is None:
            return None
        return self.greedy.score < self.best.score - 1e-12

    @property
    def beam_found_best(self) -> bool | None:
        if self.best is None or not self.beams:
            return None
        return abs(self.beams[0].score - self.best.score) <= 1e-12


def _decoded(model: LanguageModel, prompt: list[int], ids: Sequence[int],
             length_penalty: float) -> Decoded:
    from arlm_tui.decoding.beam import length_normalized

    probs, logprob, context = [], 0.0, list(prompt)
    for token_id in ids:
        lp = float(model.next_logprobs(context)[token_id])
        probs.append(math.exp(lp))
        logprob += lp
        context.append(int(token_id))
    tokens = tuple(token_text(model, int(i)) for i in ids)
    return Decoded(tokens, tuple(probs), logprob,
                   length_normalized(logprob, len(ids), length_penalty))


def greedy_vs_beam(
    model: LanguageModel,
    width: int,
    max_tokens: int = 10,
    length_penalty: float = 0.0,
    prompt: str = "",
) -> GreedyVsBeam:
    """Greedy w_t = argmax p(w | w_<t) against beam search keeping the ``width`` most probable
    prefixes, scored log p / L^α (α = ``length_penalty``); exact search when V^max_tokens is
    small, to say which sequence is really the most probable."""
    from arlm_tui.decoding import DecodingConfig, beam_search, exact_search, generate_ids

    prompt_ids = context_ids(model, prompt)
    greedy_ids = generate_ids(
        model, prompt_ids, DecodingConfig(strategy="greedy", max_tokens=max_tokens)
    ).ids
    results, beam_steps = beam_search(
        model, prompt_ids, width, max_tokens, length_penalty, return_steps=True
    )
    beams = tuple(_decoded(model, prompt_ids, ids, length_penalty) for ids, _ in results)
    rows: list[BeamRow] = []
    for step in beam_steps:
        survivors = tuple(
            _decoded(model, prompt_ids, h.ids, length_penalty) for h in step.survivors
        )
        finished = tuple(_decoded(model, prompt_ids, h.ids, length_penalty) for h in step.finished)
        pruned = tuple(
            (" ".join([*_parent_tokens(rows, c.parent), c.token]), c.logprob)
            for c in step.pruned
        )
        rows.append(BeamRow(step.step, survivors, pruned, finished))
    best = None
    try:
        exact = exact_search(model, prompt_ids, max_tokens, length_penalty)
    except ValueError:  # too many sequences to enumerate
        exact = []
    if exact:
        best = _decoded(model, prompt_ids, exact[0][0], length_penalty)
    return GreedyVsBeam(
        prompt=prompt,
        width=int(width),
        max_tokens=int(max_tokens),
        length_penalty=float(length_penalty),
        greedy=_decoded(model, prompt_ids, greedy_ids, length_penalty),
        beams=beams,
        steps=tuple(rows),
        best=best,
    )


def _parent_tokens(rows: list[BeamRow], parent: int) -> tuple[str, ...]:
    """The tokens of live beam ``parent`` before the current step."""
    if not rows:
        return ()
    survivors = rows[-1].survivors
    return survivors[parent].tokens if 0 <= parent < len(survivors) else ()


@register_lab(
    "greedy_vs_beam",
    ("model", "width"),
    ("max_tokens", "length_penalty", "prompt") + MODEL_KEYS,
    description="greedy decoding next to beam search of `width` beams on `model`",
)
def from_preset(p: dict[str, Any]) -> GreedyVsBeam:
    return greedy_vs_beam(lab_model(p), p["width"], p.get("max_tokens", 10),
                          p.get("length_penalty", 0.0), p.get("prompt", ""))
