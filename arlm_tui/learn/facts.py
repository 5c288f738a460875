"""Recompute the numbers a lesson states (its ``facts:``) with the engine, so text cannot drift.

Each fact's ``compute`` mapping names a kind from ``lessons.FACT_KINDS``. The n-gram kinds fit a
real ``arlm_tui.lm.ngram.NGramModel`` on the corpus ("toy" = ``TOY_CORPUS``, or a list of
sentences written in the lesson) with a ``WordTokenizer``; the decoding kinds go through
``arlm_tui.decoding.warp``; the information-theory kinds are the formulas themselves, in nats
unless ``unit: bits``. The engine is imported only when an engine-backed fact is computed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from arlm_tui.learn.lessons import FACT_KINDS, Fact, as_number
from arlm_tui.lm.base import BOS, EOS, UNK
from arlm_tui.lm.information import cross_entropy_nats, entropy_nats, perplexity

if TYPE_CHECKING:
    from arlm_tui.lm.neural.config import TransformerConfig
    from arlm_tui.lm.ngram import NGramModel


def compute_fact(fact: Fact | Mapping[str, Any]) -> float:
    """The value the engine computes for a fact (or for a bare ``compute`` mapping)."""
    compute = fact.compute if isinstance(fact, Fact) else fact
    kind = compute.get("kind")
    if kind not in _COMPUTERS:
        raise ValueError(f"compute kind must be one of {', '.join(FACT_KINDS)}, not {kind!r}")
    missing = [key for key in FACT_KINDS[kind].required if key not in compute]
    if missing:
        raise ValueError(f"compute kind {kind!r} needs {', '.join(missing)}")
    return float(_COMPUTERS[kind](compute))


# ---------------------------------------------------------------------------- helpers
def _numbers(values: Sequence[Any], name: str) -> np.ndarray:
    out = []
    for value in values:
        if isinstance(value, Mapping):  # {token, prob} items of a chain_rule lab
            value = value.get("prob")
        number = as_number(value)
        if number is None:
            raise ValueError(f"{name} must hold numbers, got {value!r}")
        out.append(number)
    return np.asarray(out, dtype=np.float64)


def _scale(compute: Mapping[str, Any]) -> float:
    """Divide nats by this to get the requested unit."""
    unit = compute.get("unit", "nats")
    if unit not in ("nats", "bits"):
        raise ValueError(f"unit must be 'nats' or 'bits', not {unit!r}")
    return math.log(2) if unit == "bits" else 1.0


def _pq(compute: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    p, q = _numbers(compute["p"], "p"), _numbers(compute["q"], "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length ({p.size} vs {q.size})")
    return p, q


# ---------------------------------------------------------------------------- pure formulas
def _chain_product(c: Mapping[str, Any]) -> float:
    """p(x₁, …, x_T) = ∏_t p(x_t | x_<t)."""
    return float(np.prod(_numbers(c["conditionals"], "conditionals")))


def _nll(c: Mapping[str, Any]) -> float:
    """NLL = −Σ_t ln p(x_t | x_<t); divided by N with per_token, by ln 2 with unit: bits."""
    probs = _numbers(c["conditionals"], "conditionals")
    with np.errstate(divide="ignore"):
        total = -float(np.sum(np.log(probs)))
    if c.get("per_token", False):
        total /= probs.size
    return total / _scale(c)


def _perplexity(c: Mapping[str, Any]) -> float:
    """PP = exp(−(1/N) Σ_t ln p(x_t | x_<t))."""
    probs = _numbers(c["conditionals"], "conditionals")
    with np.errstate(divide="ignore"):
        return perplexity(-float(np.sum(np.log(probs))), probs.size)


def _entropy(c: Mapping[str, Any]) -> float:
    """H(p) = −Σ_x p(x) ln p(x)."""
    p = _numbers(c["probs"], "probs")
    return entropy_nats(p) / _scale(c)


def _cross_entropy(c: Mapping[str, Any]) -> float:
    """H(p, q) = −Σ_x p(x) ln q(x)."""
    p, q = _pq(c)
    return cross_entropy_nats(p, q) / _scale(c)


def _kl(c: Mapping[str, Any]) -> float:
    """KL(p ‖ q) = Σ_x p(x) ln(p(x) / q(x)) = H(p, q) − H(p)."""
    p, q = _pq(c)
    return (cross_entropy_nats(p, q) - entropy_nats(p)) / _scale(c)


def _ngram_param_count(c: Mapping[str, Any]) -> float:
    """V^(n−1) contexts × (V − 1) free probabilities each."""
    vocab, n = int(c["V"]), int(c["n"])
    return float(vocab ** (n - 1) * (vocab - 1))


def _ffn_param_count(c: Mapping[str, Any]) -> float:
    """Embeddings V·d + hidden layer h·(n−1)·d + h + output layer V·h + V."""
    vocab, d, n, h = (int(c[key]) for key in ("V", "d", "n", "h"))
    return float(vocab * d + h * (n - 1) * d + h + vocab * h + vocab)


# ---------------------------------------------------------------------------- decoding engine
def _softmax_temperature(c: Mapping[str, Any]) -> float:
    """softmax(z / T)_i, via ``arlm_tui.decoding.warp``."""
    from arlm_tui.decoding import warp

    logits = _numbers(c["logits"], "logits")
    index = int(c["index"])
    if not 0 <= index < logits.size:
        raise ValueError(f"index must be in 0..{logits.size - 1}, not {index}")
    temperature = as_number(c["temperature"])
    return float(warp(logits, temperature=temperature)[index])


def _top_p_kept(c: Mapping[str, Any]) -> float:
    """How many tokens survive top-p (nucleus) filtering, via ``arlm_tui.decoding.warp``."""
    from arlm_tui.decoding import warp

    probs = _numbers(c["probs"], "probs")
    with np.errstate(divide="ignore"):
        logits = np.log(probs)
    return float(np.count_nonzero(warp(logits, top_p=as_number(c["p"])) > 0))


def _power_temperature(c: Mapping[str, Any]) -> float:
    """p_i^(1/T) / Σ_j p_j^(1/T), via ``warp`` on ln p (the logits of a count model)."""
    from arlm_tui.decoding import warp

    probs = _numbers(c["probs"], "probs")
    index = int(c["index"])
    if not 0 <= index < probs.size:
        raise ValueError(f"index must be in 0..{probs.size - 1}, not {index}")
    with np.errstate(divide="ignore"):
        logits = np.log(probs)
    return float(warp(logits, temperature=as_number(c["temperature"]))[index])


def _repetition_penalty(c: Mapping[str, Any]) -> float:
    """softmax(z')_i where z' = ``RepetitionPenalty(penalty)`` applied with `seen` as context."""
    from arlm_tui.decoding.processors import RepetitionPenalty, softmax

    logits = _numbers(c["logits"], "logits")
    index = int(c["index"])
    if not 0 <= index < logits.size:
        raise ValueError(f"index must be in 0..{logits.size - 1}, not {index}")
    penalized = RepetitionPenalty(cast(float, as_number(c["penalty"])))([int(i) for i in c["seen"]], logits)
    return float(softmax(penalized)[index])


#: What a ``sampler`` fact measures (``_sampler``).
SAMPLER_MEASURES = ("kept", "prob", "logit", "logit_drop", "cutoff", "spread", "surprise",
                    "mu_after")


def _sampler(c: Mapping[str, Any]) -> float:
    """A number from the engine's processor chain (``processors.make_processors`` with the
    fact's ``knobs``, sampling, applied in ``PROCESSORS`` order to ``logits`` or ln ``probs``,
    with ``history`` as the text so far, all of it generated):

    ``kept``: how many tokens survive; ``prob``: the final probability of token ``index``;
    ``logit``: its logit after the chain; ``logit_drop``: how much the chain lowered it;
    ``cutoff``: the cut of the first processor that has one (eta's η on the probabilities it
    sees, top-nσ's max − n·σ on the logits); ``spread``: the top logit (or probability) it
    sees minus that cut (top-nσ: n·σ); ``surprise``: −log₂ of token ``index``'s final
    probability, in bits; ``mu_after``: mirostat's next bound μ − η·(surprise − τ) when token
    ``index`` is drawn at the first step (μ = 2τ)."""
    from arlm_tui.decoding.processors import Mirostat, make_processors, softmax

    if "probs" in c:
        with np.errstate(divide="ignore"):
            logits = np.log(_numbers(c["probs"], "probs"))
    else:
        logits = _numbers(c["logits"], "logits")
    measure = str(c["measure"])
    if measure not in SAMPLER_MEASURES:
        raise ValueError(f"measure must be one of {', '.join(SAMPLER_MEASURES)}, not {measure!r}")
    knobs = dict(c.get("knobs") or {})
    history = [int(i) for i in c.get("history", [])]
    if any(not 0 <= i < logits.size for i in history):
        raise ValueError(f"history must hold token indices in 0..{logits.size - 1}")
    index = int(c.get("index", 0))
    if not 0 <= index < logits.size:
        raise ValueError(f"index must be in 0..{logits.size - 1}, not {index}")
    z = logits
    mirostat: Mirostat | None = None
    for processor in make_processors(sampling=True, eos_id=0, prompt_length=0, **knobs):
        if processor.name == "mirostat":
            mirostat = cast(Mirostat, processor)
        if measure in ("cutoff", "spread") and hasattr(processor, "cutoff"):
            seen = softmax(z) if getattr(processor, "uses_probs", False) else z
            cut = float(processor.cutoff(seen))
            return cut if measure == "cutoff" else float(np.max(seen)) - cut
        z = processor(history, z)
    if measure in ("cutoff", "spread"):
        raise ValueError("measure cutoff needs a processor with a cut (eta, top_n_sigma)")
    if measure == "kept":
        return float(np.count_nonzero(np.isfinite(z)))
    if measure == "prob":
        return float(softmax(z)[index])
    if measure == "logit":
        return float(z[index])
    if measure == "surprise":
        return float(-np.log2(softmax(z)[index]))
    if measure == "mu_after":
        if mirostat is None:
            raise ValueError("measure mu_after needs mirostat_tau in the knobs")
        return float(mirostat.update(float(softmax(z)[index]))[1])
    return float(logits[index] - z[index])


def _contrastive_score(c: Mapping[str, Any]) -> float:
    """(1 − α)·p_v − α·s_v for candidate ``index``, via ``decoding.contrastive``'s
    ``contrastive_scores`` (each candidate's largest similarity given as a one-column row)."""
    from arlm_tui.decoding.contrastive import contrastive_scores

    probs = _numbers(c["candidates"], "candidates")
    similarities = _numbers(c["similarities"], "similarities")
    if probs.shape != similarities.shape:
        raise ValueError(f"candidates and similarities must have the same length "
                         f"({probs.size} vs {similarities.size})")
    index = int(c["index"])
    if not 0 <= index < probs.size:
        raise ValueError(f"index must be in 0..{probs.size - 1}, not {index}")
    alpha = as_number(c["alpha"])
    if alpha is None:
        raise ValueError(f"alpha must be a number, not {c['alpha']!r}")
    scores = contrastive_scores(probs, similarities[:, None], alpha)
    return float(scores[index])


_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


def _recurrent_param_count(c: Mapping[str, Any]) -> float:
    """blocks · m · (d + m + 1) with one bias per block; with ``biases: torch``, the parameter
    count of the engine's own cell (``lm.neural.rnn``, two biases per block)."""
    cell, d, m = str(c["cell"]), int(c["d"]), int(c["m"])
    if cell not in _BLOCKS:
        raise ValueError(f"cell must be one of {', '.join(_BLOCKS)}, not {cell!r}")
    if c.get("biases", "one") == "torch":
        from arlm_tui.lm.neural.rnn import _CELLS

        return float(sum(p.numel() for p in _CELLS[cell](d, m).parameters()))
    return float(_BLOCKS[cell] * m * (d + m + 1))


def _transformer_config(c: Mapping[str, Any], d: int, layers: int) -> TransformerConfig:
    from arlm_tui.lm.neural.config import TransformerConfig

    return TransformerConfig(vocab_size=int(c.get("V", 3)), context=int(c.get("positions", 2)),
                             layers=layers, heads=1, d_model=d)


def _transformer_param_count(c: Mapping[str, Any]) -> float:
    """Parameters of ``lm.neural.transformer.TransformerLM`` counted on a net built from the
    config: part "total", L·(12d² + 13d) + V·d + positions·d + 2d (the output tied to the embedding),
    "blocks" (its L blocks) or "block" (one of them)."""
    from arlm_tui.lm.neural.transformer import TransformerLM

    net = TransformerLM(_transformer_config(c, int(c["d"]), int(c["layers"])))
    part = c.get("part", "total")
    counted = net.blocks[0] if part == "block" else net.blocks if part == "blocks" else net
    return float(sum(p.numel() for p in counted.parameters()))


def _kv_step_macs(c: Mapping[str, Any]) -> float:
    """L · (12d² + 2td): per layer q, k, v, output projections 4d², feed-forward 8d²,
    attention over t cached keys and values 2td."""
    layers, d, t = int(c["layers"]), int(c["d"]), int(c["t"])
    return float(layers * (12 * d * d + 2 * t * d))


def _kv_cache_floats(c: Mapping[str, Any]) -> float:
    """Keys plus values a ``KVPool`` holds for T positions: 2 · L · T · d."""
    from arlm_tui.lm.neural.transformer import KVPool

    config = _transformer_config({}, int(c["d"]), int(c["layers"]))
    pool = KVPool(config, int(c["T"]))
    return float(pool.k.size + pool.v.size)


# ---------------------------------------------------------------------------- n-gram engine
@lru_cache(maxsize=32)
def _ngram_model(corpus: tuple[str, ...], order: int, smoothing: str, k: float) -> NGramModel:
    from arlm_tui.lm.ngram import NGramModel
    from arlm_tui.text.tokenizers import WordTokenizer

    tokenizer = WordTokenizer.train(list(corpus))
    sentences = [tokenizer.encode(sentence) for sentence in corpus]
    return NGramModel.fit(sentences, tokenizer, order=order, smoothing=smoothing, k=k)


def _model_of(c: Mapping[str, Any]) -> NGramModel:
    corpus = c["corpus"]
    if corpus == "toy":
        from arlm_tui.text.corpora import TOY_CORPUS

        corpus = TOY_CORPUS
    return _ngram_model(tuple(corpus), int(c["order"]), str(c["smoothing"]), float(c.get("k", 1)))


def _token_id(model: NGramModel, token: str) -> int:
    special = {EOS: model.eos_id, UNK: model.unk_id, BOS: model.bos_id}
    if token in special:
        return special[token]
    ids = model.tokenizer.encode(token)
    if len(ids) != 1:
        raise ValueError(f"token must be one token of the vocabulary, not {token!r}")
    return ids[0]


def _context_ids(model: NGramModel, context: str) -> list[int]:
    """Ids of the text since the sentence start; written ``<s>`` padding is dropped because the
    model pads the context itself."""
    words = str(context).split()
    while words and words[0] == BOS:
        words.pop(0)
    if BOS in words:
        raise ValueError(f"context may start with {BOS} padding only: {context!r}")
    return model.tokenizer.encode(" ".join(words)) if words else []


def _ngram_prob(c: Mapping[str, Any]) -> float:
    """p(token | context) = exp(next_logprobs(context)[token])."""
    model = _model_of(c)
    logprobs = model.next_logprobs(_context_ids(model, c["context"]))
    return float(np.exp(logprobs[_token_id(model, str(c["token"]))]))


def _sentence_logprob(c: Mapping[str, Any]) -> float:
    """ln p(w₁ … w_T </s>) = Σ_t ln p(w_t | w_<t) + ln p(</s> | w_≤T)."""
    model = _model_of(c)
    ids = model.tokenizer.encode(str(c["sentence"])) + [model.eos_id]
    return float(sum(model.next_logprobs(ids[:t])[ids[t]] for t in range(len(ids))))


def _length_normalized(c: Mapping[str, Any]) -> float:
    """ln p / L^α with ln p = Σ ln conditionals, via ``decoding.beam.length_normalized``."""
    from arlm_tui.decoding.beam import length_normalized

    probs = _numbers(c["conditionals"], "conditionals")
    return float(length_normalized(float(np.sum(np.log(probs))), int(probs.size),
                                   float(cast(float, as_number(c["alpha"])))))


def _continuation_prob(c: Mapping[str, Any]) -> float:
    """p_cont(w) = |{v : c(v, w) > 0}| / |{(v, w') : c(v, w') > 0}|, read off the bigram
    model's count table (one row per distinct bigram)."""
    model = _model_of({"corpus": c["corpus"], "order": 2, "smoothing": "mle"})
    rows = model.count_table()
    return sum(row.next_token == str(c["token"]) for row in rows) / len(rows)


def _sentence_prob(c: Mapping[str, Any]) -> float:
    return math.exp(_sentence_logprob(c))


def _sentence_nll(c: Mapping[str, Any]) -> float:
    return -_sentence_logprob(c)


_COMPUTERS: dict[str, Callable[[Mapping[str, Any]], float]] = {
    "ngram_prob": _ngram_prob,
    "sentence_prob": _sentence_prob,
    "sentence_nll": _sentence_nll,
    "chain_product": _chain_product,
    "nll": _nll,
    "perplexity": _perplexity,
    "entropy": _entropy,
    "kl": _kl,
    "cross_entropy": _cross_entropy,
    "softmax_temperature": _softmax_temperature,
    "top_p_kept": _top_p_kept,
    "power_temperature": _power_temperature,
    "repetition_penalty": _repetition_penalty,
    "sampler": _sampler,
    "contrastive_score": _contrastive_score,
    "recurrent_param_count": _recurrent_param_count,
    "transformer_param_count": _transformer_param_count,
    "continuation_prob": _continuation_prob,
    "length_normalized": _length_normalized,
    "kv_step_macs": _kv_step_macs,
    "kv_cache_floats": _kv_cache_floats,
    "ngram_param_count": _ngram_param_count,
    "ffn_param_count": _ffn_param_count,
}
