"""Choosing the next token: one decoding step (``decode_step``) and whole generations.

Greedy takes w* = argmax_w p(w | context) after the processors; sampling draws w* ~ p' where p'
is the processed distribution; contrastive search re-ranks the processed top-k by
(1 − α)·p − α·(degeneration penalty) (``contrastive``). Every step returns a ``Trace``.

Randomness: step i of a generation with seed s uses number i of ``np.random.default_rng(s)`` as
its uniform draw u in [0, 1) (``draws.step_draw`` reads it with random access), and picks
the first token id (in id order) whose cumulative probability exceeds u (inverse-CDF
sampling). A step's choice therefore depends only on
(seed, step index, distribution): undo, redo and replay make the same choices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.draws import VERSION as DRAWS_VERSION
from arlm_tui.decoding.draws import step_draw
from arlm_tui.decoding.processors import (
    LogitsProcessor,
    Mirostat,
    ProbsProcessor,
    dry_breaker_ids,
    entropy,
    softmax,
)
from arlm_tui.decoding.tokens import TokenSeq
from arlm_tui.decoding.trace import MirostatStep, Stage, Trace
from arlm_tui.errors import ArlmError
from arlm_tui.lm.base import BOS, LanguageModel, log_softmax


@dataclass
class GenerationResult:
    """``ids``: the generated token ids after the prompt (``</s>`` included when the text ended);
    ``traces``: one per step; ``finished``: True if ``</s>`` was generated."""

    ids: list[int]
    traces: list[Trace] = field(default_factory=list)
    finished: bool = False

    @property
    def logprob(self) -> float:
        """log p(generated | prompt) = Σ log p(w_t | w_<t) (for beam search: of the best
        hypothesis, as the last trace's running total)."""
        return float(self.traces[-1].cum_logprob) if self.traces else 0.0


def as_prompt_ids(model: LanguageModel, prompt: str | Sequence[int]) -> list[int]:
    """Token ids of a prompt given as text or ids (ids are checked against the vocabulary)."""
    if isinstance(prompt, str):
        return list(model.tokenizer.encode(prompt))
    ids = [int(i) for i in prompt]
    bad = [i for i in ids if not 0 <= i < model.vocab_size]
    if bad:
        raise ValueError(f"prompt_ids: id {bad[0]} is outside the vocabulary [0, {model.vocab_size})")
    return ids


def model_token_id(model: LanguageModel, token: int | str) -> int:
    """The id of ``token`` in ``model``'s vocabulary: an id, a vocabulary string, or text that
    the tokenizer encodes as one known token. ArlmError (one line naming the token and the
    model) otherwise, and for ``<s>``, which only starts a text (unless the model uses one
    token for start and end, as GPT-2 does)."""
    vocab = model.vocab
    if isinstance(token, str):
        lookup = getattr(model.tokenizer, "token_to_id", None)
        if lookup is not None and token in lookup:
            token_id = lookup[token]
        else:
            ids = model.tokenizer.encode(token)
            if len(ids) != 1 or ids[0] == model.unk_id:
                raise ArlmError(f"{token!r} is not a single token of {model.name}'s vocabulary")
            token_id = ids[0]
    else:
        token_id = int(token)
        if not 0 <= token_id < len(vocab):
            raise ArlmError(f"token id {token_id} is outside the vocabulary "
                            f"(0 to {len(vocab) - 1})")
    if token_id == model.bos_id and model.bos_id != model.eos_id:
        raise ArlmError(f"{BOS} only marks the start of a text; it cannot be generated")
    return token_id


def bias_token_id(model: LanguageModel) -> Callable[[str], int]:
    """How the logit bias finds its tokens in ``model``: ``model_token_id``, its error
    prefixed with the knob's name (``logit_bias: 'zzz' is not a single token of ...``)."""

    def token_id(token: str) -> int:
        try:
            return model_token_id(model, token)
        except ArlmError as exc:
            raise ArlmError(f"logit_bias: {exc}", knob="logit_bias") from None

    return token_id


def processors_for(model: LanguageModel, config: DecodingConfig, prompt_length: int
                   ) -> list[LogitsProcessor]:
    """``config``'s processors for ``model``: its ``</s>``, DRY's breakers from its tokenizer,
    the logit bias's tokens from its vocabulary."""
    breakers = dry_breaker_ids(model.tokenizer) if config.dry_multiplier else frozenset()
    return config.processors(model.eos_id, prompt_length, breakers, bias_token_id(model))


def model_logprobs(model: LanguageModel, logprobs: np.ndarray) -> np.ndarray:
    """The model's log-probs as float64, renormalised (log-softmax) if the model's scores do not
    sum to one (stupid backoff), so that they can be sampled from."""
    lp = np.asarray(logprobs, dtype=np.float64)
    return lp if model.normalized else log_softmax(lp)


def sample_index(probs: np.ndarray, u: float) -> int:
    """Inverse CDF: the first id i with Σ_{j<=i} p_j > u (so a token with p = 0 is never picked)."""
    cdf = np.cumsum(probs)
    i = int(np.searchsorted(cdf, u, side="right"))
    if i >= probs.size:  # u above a cdf that rounding left just below 1
        i = int(np.flatnonzero(probs)[-1])
    return i




def _rank(probs: np.ndarray, token_id: int) -> int:
    """1-based rank of ``token_id`` by probability; ties rank the lower id first."""
    p = probs[token_id]
    return int(np.count_nonzero(probs > p) + np.count_nonzero(probs[:token_id] == p) + 1)


def decode_step(
    model: LanguageModel,
    context_ids: Sequence[int],
    raw_logprobs: np.ndarray,
    config: DecodingConfig,
    step_index: int,
    prompt_length: int,
    cum_logprob: float = 0.0,
    num_tokens: int = 0,
    force: int | None = None,
    *,
    processors: Sequence[LogitsProcessor] | None = None,
    config_dict: dict[str, Any] | None = None,
    draws: int = DRAWS_VERSION,
    mirostat_mu: float | None = None,
) -> Trace:
    """Choose the token after ``context_ids`` and explain the choice.

    A ``TokenSeq`` context is kept in the Trace as it is (shared, not copied); any other
    sequence is copied into a list.
    ``raw_logprobs``: the model's log p(· | context) ([V]); ``step_index``: which generated token
    this is (0 = first; it seeds the draw); ``cum_logprob``/``num_tokens``: running totals over
    the tokens generated before this one; ``force``: the learner's choice (any id; it is taken
    even if a processor removed it). With ``strategy="beam"`` the choice must be forced (beam
    search picks it) and ``final_probs`` is the processed distribution the beam scored.
    ``processors`` (default ``config.processors(...)``) and ``config_dict`` may be passed in
    to save work in a loop. ``draws``: which version of the random draws (``draws.step_draw``;
    1 only to replay a session saved in format 1). ``mirostat_mu``: mirostat's bound μ for this
    step, the ``mu_after`` of the step before (None: the first step's 2τ); the Trace's
    ``mirostat`` records it and the next μ.
    """
    vocab_size = model.vocab_size
    raw = model_logprobs(model, raw_logprobs)
    if raw.shape != (vocab_size,):
        raise ValueError(f"raw_logprobs must have shape ({vocab_size},), got {raw.shape}")
    if raw.base is not None and raw.base.nbytes > raw.nbytes:
        raw = raw.copy()  # a row of a batch: the Trace keeps the row, not the whole batch
    if processors is None:
        processors = processors_for(model, config, prompt_length)

    raw_probs = np.exp(raw)  # raw is normalised: softmax(log p) = p
    stages = [Stage("raw", "model", logprobs=raw)]  # its probs: exp(raw) again on access
    z = raw
    z_removed = raw == -np.inf
    top_p_cutoff: int | None = None
    probs = raw_probs
    mirostat: Mirostat | None = None
    for processor in processors:
        if isinstance(processor, Mirostat):
            mirostat = processor
            processor.mu = processor.initial_mu if mirostat_mu is None else float(mirostat_mu)
        if getattr(processor, "uses_probs", False):  # probs = softmax(z): pass it on
            new = cast("ProbsProcessor", processor)(context_ids, z, probs=probs)
        else:
            new = processor(context_ids, z)
        new_removed = new == -np.inf
        newly = (new_removed > z_removed).nonzero()[0]  # removed now, not before
        if getattr(processor, "removes_only", False):  # p renormalised over what is left
            probs = np.where(new_removed, 0.0, probs)
            probs /= np.add.reduce(probs)
            # the stage rebuilds these probs from the stage before when asked (see Stage)
            stages.append(Stage(processor.name, processor.label, None, newly,
                                previous=stages[-1]))
        else:
            probs = softmax(new)
            stages.append(Stage(processor.name, processor.label, probs, newly))
            stages[-1].note = getattr(processor, "note", None)
        if processor.name == "top_p":
            top_p_cutoff = vocab_size - int(np.count_nonzero(new_removed))
        z, z_removed = new, new_removed

    draw: float | None = None
    final_entropy: float | None = None
    best = -1
    final: int | None = None  # the Trace's: None = the last stage's probs, an id = one-hot
    contrastive = None
    if config.strategy == "beam":
        if force is None:
            raise ValueError("force: a beam step's token is chosen by BeamSearch, pass it")
        final_probs = probs
    elif config.strategy == "contrastive":  # the choice re-ranks the processed top-k
        final_probs = probs
        if force is None:
            from arlm_tui.decoding.contrastive import contrastive_step

            contrastive = contrastive_step(model, context_ids, probs, config.penalty_alpha,
                                           config.contrastive_top_k)
            best = contrastive.winner.token_id
    elif config.sampling:
        final_probs = probs
    else:  # greedy, or temperature 0
        best = int(np.argmax(z))
        final_probs = np.zeros(vocab_size)
        final_probs[best] = 1.0
        final_entropy = 0.0  # a one-hot distribution
        final = best

    if force is not None:
        chosen = int(force)
        if not 0 <= chosen < vocab_size:
            raise ValueError(f"force: token id {chosen} is outside the vocabulary [0, {vocab_size})")
    elif config.sampling:
        draw = step_draw(config.seed, step_index, draws)
        chosen = sample_index(final_probs, draw)
    else:
        chosen = best

    mirostat_step = None
    if mirostat is not None:  # the last processor: final_probs is what it left, renormalised
        surprise, mu_after = mirostat.update(float(final_probs[chosen]))
        mirostat_step = MirostatStep(mirostat.tau, mirostat.eta, mirostat.mu, mu_after,
                                     surprise)

    logprob = float(raw[chosen])
    vocab = model.vocab
    return Trace(
        step=int(step_index),
        strategy=config.strategy,
        context=context_ids if isinstance(context_ids, TokenSeq) else list(context_ids),
        raw_logprobs=raw,
        stages=stages,
        final=final,
        chosen_id=chosen,
        chosen_token=vocab[chosen],
        chosen_prob=float(final_probs[chosen]),
        chosen_raw_prob=float(raw_probs[chosen]),
        chosen_rank=_rank(raw_probs, chosen),
        forced=force is not None,
        draw=draw,
        entropy=entropy(raw_probs),
        final_entropy=entropy(final_probs) if final_entropy is None else final_entropy,
        logprob=logprob,
        cum_logprob=float(cum_logprob) + logprob,
        num_tokens=int(num_tokens) + 1,
        top_p_cutoff=top_p_cutoff,
        config=config_dict if config_dict is not None else config.to_dict(),
        vocab=vocab,
        token_text=getattr(model.tokenizer, "token_text", None),
        mirostat=mirostat_step,
        contrastive=contrastive,
    )


def generate_ids(
    model: LanguageModel, prompt_ids: str | Sequence[int], config: DecodingConfig
) -> GenerationResult:
    """Generate after ``prompt_ids`` with ``config`` until ``</s>``, ``max_tokens`` tokens or
    the end of the beam search: a ``Session`` stepped to the end, the one generation path that
    the API, the CLI, the play screen, labs and games share, so every knob means the same
    everywhere. ``ids`` are the generated tokens (for beam search, the best hypothesis);
    ``traces`` one per step.
    """
    from arlm_tui.decoding.session import Session

    session = Session(model, as_prompt_ids(model, prompt_ids), config)
    while session.step() is not None:
        pass
    return GenerationResult(session.generated_ids, session.traces, session.finished)


def greedy(
    model: LanguageModel, prompt_ids: str | Sequence[int], *, max_tokens: int = 50, **knobs: Any
) -> GenerationResult:
    """Greedy decoding: w_t = argmax_w p(w | w_<t) (after min-length / repetition processors)."""
    config = DecodingConfig(strategy="greedy", max_tokens=max_tokens, **knobs)
    return generate_ids(model, prompt_ids, config)


def sample(
    model: LanguageModel,
    prompt_ids: str | Sequence[int],
    *,
    max_tokens: int = 50,
    seed: int = 0,
    **knobs: Any,
) -> GenerationResult:
    """Ancestral sampling: w_t ~ p'(w | w_<t), p' the processed distribution (temperature,
    top-k, top-p, ... given as knobs)."""
    config = DecodingConfig(strategy="sample", max_tokens=max_tokens, seed=seed, **knobs)
    return generate_ids(model, prompt_ids, config)
