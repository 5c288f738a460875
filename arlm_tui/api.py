"""The Python API: ``load_model``, ``score`` and ``generate``.

These are what the README documents and what notebooks and tests use:

    model = load_model("pyref-word-kn3")
    score(model, "the object is returned")      # per-token log-probs, NLL, perplexity
    generate(model, "the", strategy="sample", temperature=0.8, top_p=0.9, seed=1)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from arlm_tui.lm.base import LanguageModel
from arlm_tui.lm.information import perplexity as perplexity_of
from arlm_tui.lm.registry import load_model
from arlm_tui.lm.scoring import score_ids, score_ids_from

__all__ = ["generate", "load_model", "score", "score_ids", "score_ids_from"]


def _as_model(model: LanguageModel | str) -> LanguageModel:
    return model if isinstance(model, LanguageModel) else load_model(model)


def score(model: LanguageModel | str, text: str) -> dict[str, Any]:
    """Score every token of ``text``, then the closing ``</s>``.

    Returns ``tokens``, ``logprobs`` (natural log, one per token), ``nll`` (nats, = −Σ log p),
    ``perplexity`` (= exp(nll / N)), ``bits_per_token`` (= nll / (N ln 2)) and ``normalized``.
    For a model whose scores are not probabilities (stupid backoff) perplexity and bits are
    ``None``: they would not mean anything.
    """
    model = _as_model(model)
    ids = model.tokenizer.encode(text)
    logprobs = score_ids(model, ids)
    tokens = [model.vocab[i] for i in ids] + [model.vocab[model.eos_id]]
    n = len(logprobs)
    nll = float(-np.sum(logprobs))
    normalized = bool(model.normalized)
    perplexity = bits = None
    if normalized:
        perplexity = perplexity_of(nll, n)
        bits = nll / (n * math.log(2)) if math.isfinite(nll) else math.inf
    return {
        "model": model.name,
        "tokens": tokens,
        "logprobs": [float(x) for x in logprobs],
        "nll": nll,
        "num_tokens": n,
        "perplexity": perplexity,
        "bits_per_token": bits,
        "normalized": normalized,
    }


def generate(
    model: LanguageModel | str,
    prompt: str = "",
    *,
    strategy: str | None = None,
    max_tokens: int = 50,
    seed: int = 0,
    preset: str | None = None,
    **knobs: Any,
) -> dict[str, Any]:
    """Generate a continuation of ``prompt``; the same dict as ``arlm generate --json``.

    ``text`` is the prompt followed by the continuation, ``completion`` the continuation alone,
    ``tokens`` the generated tokens, ``logprob`` the model's log-probability of them (natural log,
    including ``</s>`` when the text ended; the model's own, before any processor). Knobs: the
    other knobs of ``arlm_tui.decoding.KNOBS`` (temperature, top_p, repetition_penalty,
    beam_width, ..., by name). A knob the strategy would ignore
    (``temperature`` with greedy, ``beam_width`` with sampling, a sampling knob at temperature
    0) raises ``KnobError`` (a ValueError) rather than being dropped. ``strategy``: greedy
    unless given (or set by the preset).

    ``preset``: start from a well-known tool's defaults (``"llama.cpp"``, ``"openai"``,
    ``"hf"``, ``"hf-sample"``; ``arlm_tui.decoding.presets``): its strategy and processor
    knobs, every other processor knob off; ``strategy`` and knobs given here win over it.

    ``logit_bias``: {token: bias} (a bias in [-100, 100], or ``"ban"``/``-inf``); ``stop``: a
    string or a list of them; the text stops when it ends with one, and ``stop`` in the result
    says which (None: ``</s>`` or ``max_tokens`` ended it). ``mirostat_tau``/``mirostat_eta``:
    mirostat v2; each step's ``mirostat`` gives its μ before and after.

    ``chain``: the processors that ran, in their order, then the choice (``["T = 0.8",
    "top-k = 40", "draw"]``). ``steps`` summarises each step without repeating the text
    (``context_length``; beam hypotheses by length, last token and parent), so it grows
    linearly with ``max_tokens``.

    The generation is ``generate_ids``: a stepped ``Session``, the same path as the CLI and the
    play screen, so the same knobs and seed give the same tokens everywhere.
    """
    from arlm_tui.decoding import DecodingConfig, generate_ids
    from arlm_tui.decoding.presets import chain, merge_knobs

    model = _as_model(model)
    strategy, knobs = merge_knobs(preset, {**knobs, "strategy": strategy}, {}, "greedy")
    config = DecodingConfig(strategy=strategy, max_tokens=max_tokens, seed=seed, **knobs)
    config.check_knobs_apply()
    prompt_ids = model.tokenizer.encode(prompt)
    result = generate_ids(model, prompt_ids, config)
    generated = list(result.ids)
    traces = result.traces
    full = list(prompt_ids) + generated
    if config.strategy == "beam":  # the best hypothesis changes lineage from step to step
        logprob = float(np.sum(score_ids_from(model, prompt_ids, generated))) if generated else 0.0
    else:
        logprob = float(sum(t.logprob for t in traces))
    shown = [t for t in generated if t != model.eos_id]
    return {
        "text": model.tokenizer.decode(full),
        "completion": model.tokenizer.decode(shown),
        "prompt": prompt,
        "tokens": [model.vocab[t] for t in generated],
        "token_ids": generated,
        "logprob": logprob,
        "num_tokens": len(generated),
        "finished": bool(generated) and generated[-1] == model.eos_id,
        "stop": traces[-1].stop if traces else None,
        "strategy": config.strategy,
        "seed": seed,
        "model": model.name,
        "config": config.to_dict(),
        "chain": chain(config),
        "steps": [t.to_dict(top_n=5, text=False) for t in traces],
    }
