"""The engine side of every lesson lab: what each lab kind computes, as plain frozen data.

One function per kind of ``lessons.LAB_KINDS``; the lab views in ``arlm_tui.tui.widgets.lab_views``
only draw what these return and call them again when the learner moves a control:

    trigram_table        count_table(corpus, order, smoothing, k, context, sentence)
    chain_rule           chain_rule(conditionals)
    bpe_steps            bpe_steps(words, merges, encode)
    decoding_playground  playground(logits, tokens, **knobs): temperature, top_k, top_p, ...
    greedy_vs_beam       greedy_vs_beam(model, width, max_tokens, length_penalty, prompt)
    gradient_norms       gradient_norms(cells, steps, hidden_size, recurrent_scale, ...)   torch
    causal_mask          attention_pattern(length, tokens, masked)
    kv_cache             kv_cache_demo(prompt, max_tokens, model)                          torch
    attention_heads      head_attention(prompt, model)                                     torch
    softmax_gradient     softmax_gradient(logits, target, tokens, learning_rate)
    entropy_kl           information_split(p, q, unit)
    sampling_histogram   next_token_distribution(model, context, ...) + sample_histogram(...)

Everything goes through the engine (``arlm_tui.lm``, ``arlm_tui.decoding``, ``arlm_tui.text``),
so a lab shows what the code really does. No Textual here; torch is imported only inside
``gradient_norms`` and ``kv_cache_demo``, which raise ``LabUnavailable`` when it is missing.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from arlm_tui.errors import ArlmError
from arlm_tui.lm.base import BOS, EOS, UNK, LanguageModel

#: Smoothings the trigram lab cycles through (``interp`` holds sentences out: see its note).
SMOOTHING_CYCLE: tuple[str, ...] = ("mle", "addk", "kn", "stupid", "interp")
#: Largest order the trigram lab offers.
MAX_LAB_ORDER = 4


class LabUnavailable(ArlmError):
    """A lab needs something that is not installed (torch) or a model that is not there."""


# ---------------------------------------------------------------------------- models
def _corpus(corpus: str | Sequence[str]) -> tuple[str, ...]:
    if corpus == "toy":
        from arlm_tui.text.corpora import TOY_CORPUS

        return tuple(TOY_CORPUS)
    if isinstance(corpus, str) or not corpus or not all(isinstance(s, str) for s in corpus):
        raise ValueError(f"corpus must be 'toy' or a list of sentences, got {corpus!r}")
    return tuple(corpus)


@lru_cache(maxsize=32)
def _fit_ngram(corpus: tuple[str, ...], order: int, smoothing: str, k: float) -> Any:
    from arlm_tui.lm.ngram import NGramModel
    from arlm_tui.text.tokenizers import WordTokenizer

    tokenizer = WordTokenizer.train(list(corpus))
    sentences = [tokenizer.encode(sentence) for sentence in corpus]
    return NGramModel.fit(
        sentences, tokenizer, order=order, smoothing=smoothing, k=k, name="toy"
    )


def ngram_of(
    corpus: str | Sequence[str] = "toy", order: int = 3, smoothing: str = "mle", k: float = 1.0
) -> Any:
    """The ``NGramModel`` of ``corpus`` ("toy" = ``TOY_CORPUS``) with a word tokenizer."""
    return _fit_ngram(_corpus(corpus), int(order), str(smoothing), float(k))


def lab_model(preset: Mapping[str, Any]) -> LanguageModel:
    """The model a preset names: "toy" (the n-gram of ``corpus`` with ``order``/``smoothing``/
    ``k``), "greedy_trap" (``lm.table.greedy_trap_model``) or any name ``load_model`` knows."""
    name = preset.get("model", "toy")
    if name == "toy":
        return ngram_of(
            preset.get("corpus", "toy"),
            preset.get("order", 2),
            preset.get("smoothing", "mle"),
            preset.get("k", 1.0),
        )
    if name == "greedy_trap":
        from arlm_tui.lm.table import greedy_trap_model

        return greedy_trap_model()
    from arlm_tui.lm.registry import load_model

    return load_model(str(name))


def context_ids(model: LanguageModel, context: str) -> list[int]:
    """Token ids of a context written as text; leading ``<s>`` padding is dropped (the model
    pads the context itself) and ``</s>``/``<unk>`` written as such are kept."""
    words = str(context).split()
    while words and words[0] == BOS:
        words.pop(0)
    special = {EOS: model.eos_id, UNK: model.unk_id}
    ids: list[int] = []
    for word in words:
        if word == BOS:
            raise ValueError(f"context may start with {BOS} padding only: {context!r}")
        ids.extend([special[word]] if word in special else model.tokenizer.encode(word))
    return ids


def _token_text(model: LanguageModel, token_id: int) -> str:
    text = getattr(model.tokenizer, "token_text", None)
    return text(token_id) if callable(text) else model.vocab[token_id]


# ---------------------------------------------------------------------------- trigram_table
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
        corpus=_corpus(corpus),
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


# ---------------------------------------------------------------------------- chain_rule
@dataclass(frozen=True)
class ChainFactor:
    """Factor t: p(x_t | x_<t), the joint ∏_{s≤t} so far, the NLL −Σ_{s≤t} ln p so far, and
    this factor's share of the total surprise −ln p(x_t | x_<t) / NLL."""

    token: str
    prob: float
    joint: float
    nll: float
    share: float | None


@dataclass(frozen=True)
class ChainRule:
    """p(x₁ … x_T) = ∏_t p(x_t | x_<t); NLL = −Σ_t ln p(x_t | x_<t); perplexity exp(NLL / T)."""

    factors: tuple[ChainFactor, ...]

    @property
    def joint(self) -> float:
        return self.factors[-1].joint if self.factors else 1.0

    @property
    def nll(self) -> float:
        return self.factors[-1].nll if self.factors else 0.0

    @property
    def bits(self) -> float:
        return self.nll / math.log(2)

    @property
    def perplexity(self) -> float:
        if not self.factors:
            return 1.0
        return math.inf if math.isinf(self.nll) else math.exp(self.nll / len(self.factors))


def _surprisal(p: float) -> float:
    return math.inf if p <= 0 else -math.log(p)


def chain_rule(conditionals: Sequence[Mapping[str, Any] | float]) -> ChainRule:
    """Multiply the conditionals left to right. Items are ``{token, prob}`` mappings or bare
    probabilities (then named x₁, x₂, …)."""
    from arlm_tui.learn.lessons import as_number

    tokens, probs = [], []
    for t, item in enumerate(conditionals, start=1):
        value = item.get("prob") if isinstance(item, Mapping) else item
        p = as_number(value)
        if p is None or not 0 <= p <= 1:
            raise ValueError(f"conditionals[{t - 1}] must be a probability in [0, 1], got {value!r}")
        token = str(item.get("token", f"x{t}")) if isinstance(item, Mapping) else f"x{t}"
        tokens.append(token)
        probs.append(p)
    total = sum(_surprisal(p) for p in probs)
    factors, joint, nll = [], 1.0, 0.0
    for token, p in zip(tokens, probs):
        joint *= p
        nll += _surprisal(p)
        if math.isinf(total):
            share = 1.0 if p <= 0 else 0.0
        else:
            share = _surprisal(p) / total if total > 0 else None
        factors.append(ChainFactor(token, p, joint, nll, share))
    return ChainRule(tuple(factors))


# ---------------------------------------------------------------------------- bpe_steps
@dataclass(frozen=True)
class BpeStep:
    """Merge number ``number`` (1-based): the pair counts before it (most frequent first), the
    pair merged, the vocabulary and the corpus after it, and the ``encode`` words cut with the
    merges learned so far."""

    number: int
    pair_counts: tuple[tuple[tuple[str, str], int], ...]
    pair: tuple[str, str]
    count: int
    vocab: tuple[str, ...]
    corpus: tuple[tuple[tuple[str, ...], int], ...]
    segmentations: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def merged(self) -> str:
        return self.pair[0] + self.pair[1]


@dataclass(frozen=True)
class BpeRun:
    """Every step of learning ``merges`` BPE merges (``text.tokenizers.learn_bpe``)."""

    words: tuple[tuple[str, int], ...]
    initial_vocab: tuple[str, ...]
    initial_corpus: tuple[tuple[tuple[str, ...], int], ...]
    initial_pair_counts: tuple[tuple[tuple[str, str], int], ...]
    initial_segmentations: tuple[tuple[str, tuple[str, ...]], ...]
    steps: tuple[BpeStep, ...]


def pair_counts(
    corpus: Sequence[tuple[Sequence[str], int]],
) -> tuple[tuple[tuple[str, str], int], ...]:
    """count(a, b) = Σ_words freq(word) · #positions where a is followed by b, most frequent
    first (ties in order of first appearance)."""
    counts: Counter[tuple[str, str]] = Counter()
    for symbols, freq in corpus:
        for pair in zip(symbols, symbols[1:]):
            counts[(pair[0], pair[1])] += freq
    return tuple(counts.most_common())


def segment(word: str, merges: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The symbols of ``word`` after replaying ``merges`` (earliest-learned pair first)."""
    from arlm_tui.text.tokenizers import bpe_merge_steps

    return bpe_merge_steps(word, list(merges), byte_level=False)[-1].symbols


def bpe_steps(words: Mapping[str, int], merges: int, encode: Sequence[str] = ()) -> BpeRun:
    """Learn up to ``merges`` merges from the word counts ``words`` and record each step."""
    from arlm_tui.text.tokenizers import learn_bpe

    learned = learn_bpe(dict(words), int(merges))
    corpus = tuple((tuple(word), int(freq)) for word, freq in words.items())
    vocab = tuple(sorted({ch for word in words for ch in word}))
    steps = []
    before = corpus
    for number, step in enumerate(learned, start=1):
        pairs = [m.pair for m in learned[:number]]
        steps.append(
            BpeStep(
                number=number,
                pair_counts=pair_counts(before),
                pair=step.pair,
                count=step.count,
                vocab=step.vocab,
                corpus=step.corpus,
                segmentations=tuple((w, segment(w, pairs)) for w in encode),
            )
        )
        before = step.corpus
    return BpeRun(
        words=tuple((w, int(c)) for w, c in words.items()),
        initial_vocab=vocab,
        initial_corpus=corpus,
        initial_pair_counts=pair_counts(corpus),
        initial_segmentations=tuple((w, tuple(w)) for w in encode),
        steps=tuple(steps),
    )


# ---------------------------------------------------------------------------- playground
@dataclass(frozen=True)
class PlaygroundRow:
    """One token: its logit z, p = softmax(z), the final sampling probability p', and the
    processor that removed it (None if it survived)."""

    token: str
    logit: float
    prob: float
    final: float
    removed_by: str | None


@dataclass(frozen=True)
class Playground:
    """A distribution before and after the sampling warpers, in ``PROCESSOR_ORDER``."""

    prompt: str
    rows: tuple[PlaygroundRow, ...]  # most probable first
    stages: tuple[str, ...]  # labels of the active processors, in order
    entropy: float  # H(p) in nats
    final_entropy: float  # H(p') in nats
    kept: int
    size: int  # tokens with p > 0 before the warpers


def _entropy(p: np.ndarray) -> float:
    nz = p[p > 0]
    return float(-np.sum(nz * np.log(nz)))


def playground(
    logits: Sequence[float] | np.ndarray,
    tokens: Sequence[str] | None = None,
    *,
    prompt: str = "",
    top: int | None = None,
    **knobs: Any,
) -> Playground:
    """Apply the sampling knobs ``knobs`` (temperature, top_k, top_p, min_p, typical_p, ...:
    ``decoding.processors.WARPER_KNOBS``, off when left out) with ``decoding.make_processors``
    to ``logits`` one processor at a time; p' = softmax(processed z). temperature 0 = greedy:
    all the mass on the arg-max. ``top`` keeps only the most probable rows for display."""
    from arlm_tui.decoding.processors import WARPER_KNOBS, check_knobs, make_processors, softmax

    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 1 or z.size == 0:
        raise ValueError(f"logits must be a non-empty list of numbers, got shape {z.shape}")
    names = list(tokens) if tokens is not None else [f"t{i}" for i in range(z.size)]
    if len(names) != z.size:
        raise ValueError(f"tokens must name every logit: {len(names)} names, {z.size} logits")
    processors = make_processors(**check_knobs(knobs, WARPER_KNOBS))
    temperature = knobs.get("temperature", 1.0)
    probs = softmax(z)
    removed_by: list[str | None] = [None] * z.size
    current = z
    if temperature == 0:
        final = np.zeros_like(probs)
        best = int(np.argmax(z))
        final[best] = 1.0
        for i in range(z.size):
            if i != best and np.isfinite(z[i]):
                removed_by[i] = "greedy (T = 0)"
        labels = ("greedy (T = 0)",)
    else:
        for processor in processors:
            new = processor((), current)
            for i in np.flatnonzero(np.isneginf(new) & ~np.isneginf(current)):
                removed_by[int(i)] = processor.label
            current = new
        final = softmax(current)
        labels = tuple(p.label for p in processors)
    order = np.argsort(-probs, kind="stable")
    if top is not None:
        order = order[: max(1, int(top))]
    rows = tuple(
        PlaygroundRow(names[i], float(z[i]), float(probs[i]), float(final[i]), removed_by[i])
        for i in order.tolist()
    )
    return Playground(
        prompt=prompt,
        rows=rows,
        stages=labels,
        entropy=_entropy(probs),
        final_entropy=_entropy(final),
        kept=int(np.count_nonzero(final > 0)),
        size=int(np.count_nonzero(probs > 0)),
    )


def next_token_distribution(model: LanguageModel, context: str) -> tuple[np.ndarray, list[str]]:
    """log p(· | context) of ``model`` and the token names (``<s>`` has −inf)."""
    logprobs = np.asarray(model.next_logprobs(context_ids(model, context)), dtype=np.float64)
    names = [_token_text(model, i) for i in range(model.vocab_size)]
    return logprobs, names


# ---------------------------------------------------------------------------- greedy_vs_beam
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
    tokens = tuple(_token_text(model, int(i)) for i in ids)
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
    rows = []
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


# ---------------------------------------------------------------------------- gradient_norms
#: Standard deviation of the random inputs x_t of the gradient lab: small enough that the
#: units work near the linear part of tanh, large enough that they are driven.
GRADIENT_INPUT_SCALE = 0.3


@dataclass(frozen=True)
class GradientCurve:
    """‖∂L/∂h_{T−k}‖ for k = 0 … T−1 steps back (``state_norms``; for the LSTM the cell state
    ‖∂L/∂c_{T−k}‖ too), already multiplied by the clipping factor ``clip_factor``."""

    cell: str
    hidden_norms: tuple[float, ...]
    cell_norms: tuple[float, ...] | None
    gradient_norm: float  # ‖∂L/∂θ‖ over the cell's parameters, before clipping
    clip_factor: float  # min(1, c / ‖∂L/∂θ‖), 1 without clipping

    @property
    def state_norms(self) -> tuple[float, ...]:
        """The curve the lab plots: the cell state for the LSTM, the hidden state otherwise."""
        return self.cell_norms if self.cell_norms is not None else self.hidden_norms

    @property
    def state_name(self) -> str:
        return "c" if self.cell_norms is not None else "h"


@dataclass(frozen=True)
class GradientNorms:
    steps: int
    hidden_size: int
    recurrent_scale: float
    forget_bias: float
    clip: float | None
    seed: int
    curves: tuple[GradientCurve, ...]


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise LabUnavailable(
            "this lab needs PyTorch, which is not installed (pip install torch==2.13.0)"
        ) from None
    return torch


def gradient_norms(
    cells: Sequence[str],
    steps: int,
    hidden_size: int = 16,
    recurrent_scale: float = 1.0,
    forget_bias: float = 1.0,
    clip: float | None = None,
    seed: int = 0,
) -> GradientNorms:
    """Unroll each cell for ``steps`` steps on random inputs and backpropagate L = u · h_T.

    Setup, per cell (torch ``RNNCell``/``LSTMCell``/``GRUCell``, m = ``hidden_size``): inputs
    x_t ~ N(0, 0.3²), input weights ~ N(0, 1/m), each recurrent block (per gate) =
    recurrent_scale · a random orthogonal matrix, biases 0 except the LSTM forget gate's
    b_f = forget_bias and the GRU update gate's b_z = forget_bias (z_t near 1 keeps h_{t−1}),
    h_0 = c_0 = 0, u a random unit vector. Autograd gives ∂L/∂h_t for every t (and ∂L/∂c_t for
    the LSTM). ``clip``: gradient clipping by the norm c of the full parameter gradient g,
    g ← g · min(1, c / ‖g‖), which scales every backpropagated vector by the same factor.
    """
    torch = _import_torch()
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
        raise ValueError(f"hidden_size must be a whole number >= 1, got {hidden_size!r}")
    if not (math.isfinite(recurrent_scale) and recurrent_scale >= 0):
        raise ValueError(f"recurrent_scale must be a number >= 0, got {recurrent_scale!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be a number > 0 or None, got {clip!r}")
    kinds = {"rnn": (torch.nn.RNNCell, 1), "lstm": (torch.nn.LSTMCell, 4),
             "gru": (torch.nn.GRUCell, 3)}
    m = hidden_size
    curves = []
    for cell_name in cells:
        if cell_name not in kinds:
            raise ValueError(f"cells must hold rnn, lstm or gru, got {cell_name!r}")
        cls, blocks = kinds[cell_name]
        generator = torch.Generator().manual_seed(int(seed))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            cell = cls(m, m)
        with torch.no_grad():
            for b in range(blocks):
                q, _ = torch.linalg.qr(torch.randn(m, m, generator=generator))
                cell.weight_hh[b * m : (b + 1) * m] = recurrent_scale * q
                cell.weight_ih[b * m : (b + 1) * m] = torch.randn(m, m, generator=generator) / m**0.5
            cell.bias_ih.zero_()
            cell.bias_hh.zero_()
            if cell_name in ("lstm", "gru"):  # torch's gate order: i, f, g, o and r, z, n
                cell.bias_ih[m : 2 * m] = forget_bias
        x = torch.randn(steps, 1, m, generator=generator) * GRADIENT_INPUT_SCALE
        u = torch.randn(m, generator=generator)
        u = u / u.norm()
        h = torch.zeros(1, m)
        c = torch.zeros(1, m)
        hs, cs = [], []
        for t in range(steps):
            if cell_name == "lstm":
                h, c = cell(x[t], (h, c))
                c.retain_grad()
                cs.append(c)
            else:
                h = cell(x[t], h)
            h.retain_grad()
            hs.append(h)
        loss = (hs[-1][0] * u).sum()
        loss.backward()
        grad_norm = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in cell.parameters()))
        factor = 1.0 if clip is None or grad_norm <= clip else clip / grad_norm
        hidden = tuple(float(v.grad.norm()) * factor for v in reversed(hs))
        cell_norms = tuple(float(v.grad.norm()) * factor for v in reversed(cs)) if cs else None
        curves.append(GradientCurve(cell_name, hidden, cell_norms, grad_norm, factor))
    return GradientNorms(
        steps=steps,
        hidden_size=m,
        recurrent_scale=float(recurrent_scale),
        forget_bias=float(forget_bias),
        clip=None if clip is None else float(clip),
        seed=int(seed),
        curves=tuple(curves),
    )


# ---------------------------------------------------------------------------- causal_mask
#: Score added to query i's key i + 1 in the "trained with a leak" pattern: such a model learns
#: to look at the very token it must predict.
LEAK_BONUS = 3.0


@dataclass(frozen=True)
class AttentionPattern:
    """α = softmax(S + M) row by row, S_ij = q_i · k_j / √d_k (+ LEAK_BONUS on j = i + 1 when
    ``leak``), M_ij = −∞ for j > i under the causal mask, 0 otherwise."""

    tokens: tuple[str, ...]
    masked: bool
    leak: bool
    scores: np.ndarray  # (T, T) before the mask
    weights: np.ndarray  # (T, T), rows sum to 1

    @property
    def targets(self) -> tuple[str | None, ...]:
        """The token each position must predict (the next one; None for the last)."""
        return tuple(self.tokens[1:]) + (None,)

    @property
    def target_weights(self) -> tuple[float, ...]:
        """α_{i,i+1}: how much position i looks at the answer it must predict."""
        t = len(self.tokens)
        return tuple(float(self.weights[i, i + 1]) if i + 1 < t else 0.0 for i in range(t))

    def sees(self, query: int) -> tuple[int, ...]:
        """The positions whose tokens can change the output at ``query`` (α > 0)."""
        return tuple(int(j) for j in np.flatnonzero(self.weights[query] > 0))


def attention_pattern(
    length: int,
    tokens: Sequence[Any] | None = None,
    *,
    masked: bool = True,
    leak: bool = True,
    d_k: int = 8,
    seed: int = 0,
) -> AttentionPattern:
    """One attention head over ``length`` positions with random queries and keys (seeded)."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a whole number >= 1, got {length!r}")
    names = [str(t) for t in (tokens or [])][:length]
    names += [f"x{i + 1}" for i in range(len(names), length)]
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((length, d_k))
    k = rng.standard_normal((length, d_k))
    scores = q @ k.T / math.sqrt(d_k)
    if leak:
        for i in range(length - 1):
            scores[i, i + 1] += LEAK_BONUS
    z = scores.copy()
    if masked:
        z[np.triu_indices(length, k=1)] = -np.inf
    z = z - z.max(axis=1, keepdims=True)
    weights = np.exp(z)
    weights /= weights.sum(axis=1, keepdims=True)
    return AttentionPattern(tuple(names), masked, leak, scores, weights)


# ---------------------------------------------------------------------------- kv_cache
@dataclass(frozen=True)
class CacheStep:
    """Generation step ``step``: positions run through the net and query·key products per
    head and layer, without a cache (the whole prefix again) and with one (the new token)."""

    step: int
    token: str
    positions_without: int
    positions_with: int
    scores_without: int
    scores_with: int
    seconds_without: float
    seconds_with: float
    logprob_gap: float  # max |log p_without − log p_with| at this step


@dataclass(frozen=True)
class KVCacheRun:
    model: str
    note: str
    prompt_tokens: tuple[str, ...]
    steps: tuple[CacheStep, ...]
    tokens_without: tuple[str, ...]
    tokens_with: tuple[str, ...]
    layers: int = 0
    d_model: int = 0

    @property
    def identical(self) -> bool:
        return self.tokens_without == self.tokens_with

    @property
    def positions_without(self) -> int:
        return sum(s.positions_without for s in self.steps)

    @property
    def positions_with(self) -> int:
        return sum(s.positions_with for s in self.steps)

    def cached_step_macs(self, keys: int) -> int:
        """Multiply-adds in the blocks of one cached step whose query meets ``keys`` cached
        keys: L · (12d² + 2·keys·d) (projections and feed-forward, then attention)."""
        d = self.d_model
        return self.layers * (12 * d * d + 2 * keys * d)


#: Words of the untrained demonstration transformer's vocabulary (besides the prompt's).
DEMO_WORDS: tuple[str, ...] = (
    "the", "a", "of", "value", "model", "cache", "key", "token", "is", "and", "to", "in",
    "it", "each", "step", "new", "old", "query", "every", "same", "attention", "next", "word",
)


def _demo_transformer(prompt: str, seed: int) -> tuple[Any, Any, str]:
    """An untrained 2-layer transformer over the prompt's words and ``DEMO_WORDS``; weights
    drawn with a larger spread than training would start from, so that its next-token choices
    are clear-cut (no near-ties that rounding could flip)."""
    torch = _import_torch()
    from arlm_tui.lm.neural.config import TransformerConfig
    from arlm_tui.lm.neural.transformer import TransformerLM
    from arlm_tui.text.tokenizers import WordTokenizer

    tokenizer = WordTokenizer.from_vocab(list(dict.fromkeys([*prompt.split(), *DEMO_WORDS])))
    config = TransformerConfig(vocab_size=len(tokenizer.vocab), context=64, layers=2, heads=2,
                               d_model=32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = TransformerLM(config)
        with torch.no_grad():
            for parameter in net.parameters():
                if parameter.dim() > 1:
                    parameter.normal_(0.0, 0.5)
            net.wte.weight[tokenizer.unk_id] = 0.0  # logit 0: <unk> is (almost) never chosen
    note = ("an untrained transformer with random weights (2 layers, 2 heads, d = 32): its "
            "words are nonsense, but the work and the equality of the outputs are real")
    return net.eval(), tokenizer, note


def _transformer_for(model: str | None, prompt: str, seed: int) -> tuple[Any, Any, str, str]:
    from arlm_tui.lm.registry import list_models, load_model

    name = model
    if name is None:
        bundled = [e for e in list_models() if e.backend == "transformer"]
        name = bundled[0].name if bundled else None
    if name is None:
        net, tokenizer, note = _demo_transformer(prompt, seed)
        return net, tokenizer, "untrained demo transformer", note
    _import_torch()
    loaded = load_model(name)
    if getattr(loaded, "backend", "") != "transformer":
        raise LabUnavailable(f"model {name!r} is a {loaded.backend} model, not a transformer")
    return loaded.net, loaded.tokenizer, loaded.name, f"the trained model {loaded.name}"


def kv_cache_demo(
    prompt: str, max_tokens: int = 20, model: str | None = None, seed: int = 0
) -> KVCacheRun:
    """Greedy generation twice: without a cache, step t runs all n + t positions of the
    prefix through the net (n = prompt length with ``<s>``) and computes (n + t)(n + t + 1)/2
    query·key products per head; with the KV cache, the first step reads the n prompt
    positions and every later step one new position whose query meets n + t cached keys.
    The model: ``model`` (a transformer by name), else the first bundled transformer, else an
    untrained demonstration transformer."""
    torch = _import_torch()
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a whole number >= 1, got {max_tokens!r}")
    net, tokenizer, name, note = _transformer_for(model, prompt, seed)
    from arlm_tui.lm.neural.backend import set_inference_threads

    set_inference_threads()  # as for every neural model: one thread is fastest at this size
    bos, eos = tokenizer.bos_id, tokenizer.eos_id
    prompt_ids = list(tokenizer.encode(prompt))
    start = [bos, *prompt_ids]
    limit = net.config.context
    max_tokens = min(max_tokens, limit - len(start))
    if max_tokens < 1:
        raise LabUnavailable(f"the prompt fills the model's {limit} positions")

    def text(i: int) -> str:
        return tokenizer.token_text(int(i)) if hasattr(tokenizer, "token_text") else str(i)

    without: list[int] = []
    with_cache: list[int] = []
    steps: list[CacheStep] = []
    with torch.inference_mode():
        net(torch.tensor([start], dtype=torch.long))  # warm up, so step 1's timing is fair
        state = None
        for t in range(max_tokens):
            ids = start + without
            began = time.perf_counter()
            z_full = net(torch.tensor([ids], dtype=torch.long))[0, -1]
            seconds_without = time.perf_counter() - began
            began = time.perf_counter()
            if state is None:
                z_cached, state = net.start([start])
                positions_with = len(start)
                scores_with = len(start) * (len(start) + 1) // 2
            else:
                z_cached, state = net.extend(state, torch.tensor([with_cache[-1]]))
                positions_with = 1
                scores_with = len(start) + t
            seconds_with = time.perf_counter() - began
            # compared as log-probabilities (the cached step returns them normalised)
            lp_full = torch.log_softmax(z_full.double(), dim=-1)
            lp_cached = torch.as_tensor(z_cached[0], dtype=torch.float64)
            without.append(int(torch.argmax(lp_full)))
            with_cache.append(int(torch.argmax(lp_cached)))
            finite = torch.isfinite(lp_full) & torch.isfinite(lp_cached)
            gap = float((lp_full[finite] - lp_cached[finite]).abs().max())
            n = len(ids)
            steps.append(CacheStep(t, text(without[-1]), n, positions_with, n * (n + 1) // 2,
                                   scores_with, seconds_without, seconds_with, gap))
            if without[-1] == eos and with_cache[-1] == eos:
                break
            if without[-1] != with_cache[-1]:
                break
    return KVCacheRun(
        model=name,
        note=note,
        prompt_tokens=tuple(text(i) for i in prompt_ids),
        steps=tuple(steps),
        tokens_without=tuple(text(i) for i in without),
        tokens_with=tuple(text(i) for i in with_cache),
        layers=int(net.config.layers),
        d_model=int(net.config.d_model),
    )


# ---------------------------------------------------------------------------- attention_heads
@dataclass(frozen=True)
class HeadAttention:
    """Where the last position of a prompt looks, in every head of every layer of a trained
    transformer: weights[layer, head, key] = softmax_j(q · k_j / √d_head) over the keys
    (``<s>`` and the prompt's tokens), and what the model predicts next."""

    model: str
    keys: tuple[str, ...]
    weights: np.ndarray  # (layers, heads, keys), each row sums to 1
    predictions: tuple[tuple[str, float], ...]  # the most probable next tokens
    unknown: tuple[str, ...]  # prompt words the model's vocabulary does not have

    @property
    def layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def heads(self) -> int:
        return int(self.weights.shape[1])

    def focus(self, layer: int, head: int) -> tuple[str, float]:
        """The key a head gives the most weight to, and that weight."""
        row = self.weights[layer, head]
        best = int(np.argmax(row))
        return self.keys[best], float(row[best])

    def entropy(self, layer: int, head: int) -> float:
        """H(α) in nats: 0 when a head looks at one key, ln(keys) when it spreads evenly."""
        return _entropy(np.asarray(self.weights[layer, head], dtype=np.float64))


def head_attention(prompt: str, model: str | None = None, top: int = 5) -> HeadAttention:
    """Read ``prompt`` with a bundled transformer (``model``, else the first one installed)
    and return every head's attention from the last position (``last_attention``)."""
    _import_torch()
    from arlm_tui.lm.registry import list_models, load_model

    name = model
    if name is None:
        bundled = [e for e in list_models() if e.backend == "transformer"]
        if not bundled:
            raise LabUnavailable("this lab needs a trained transformer, and none is installed "
                                 "(python -m arlm_tui.build_models oracle-transformer)")
        name = bundled[0].name
    loaded = load_model(str(name))
    if getattr(loaded, "backend", "") != "transformer":
        raise LabUnavailable(f"model {name!r} is a {loaded.backend} model, not a transformer")
    ids = context_ids(loaded, prompt)
    unknown = tuple(w for w in str(prompt).split()
                    if context_ids(loaded, w) == [loaded.unk_id])
    logprobs, _ = loaded.start([ids])
    weights = np.asarray(loaded.last_attention, dtype=np.float64)
    key_ids = loaded.attention_keys or [loaded.bos_id, *ids][-weights.shape[-1]:]
    keys = tuple(_token_text(loaded, int(i)) for i in key_ids)
    row = np.asarray(logprobs[0], dtype=np.float64)
    order = np.argsort(-row, kind="stable")[:top]
    predictions = tuple((_token_text(loaded, int(i)), float(np.exp(row[i]))) for i in order)
    return HeadAttention(loaded.name, keys, weights, predictions, unknown)


# ---------------------------------------------------------------------------- softmax_gradient
@dataclass(frozen=True)
class GradientRow:
    """One vocabulary entry: logit z, p = softmax(z), one-hot y, ∂ℓ/∂z = p − y, and the logit
    after one gradient step z − η (p − y)."""

    token: str
    logit: float
    prob: float
    target: int
    gradient: float
    next_logit: float


@dataclass(frozen=True)
class SoftmaxGradient:
    """ℓ = −ln p_target with p = softmax(z); ∇_z ℓ = p − y; one step of size η lowers ℓ."""

    prompt: str
    rows: tuple[GradientRow, ...]  # in vocabulary order
    target: int
    learning_rate: float
    loss: float  # −ln p_target, nats
    next_loss: float  # the loss after one step

    @property
    def gradient_sum(self) -> float:
        """Σ_i (p_i − y_i) = 1 − 1 = 0: a step moves logits against each other."""
        return float(sum(row.gradient for row in self.rows))


def softmax_gradient(
    logits: Sequence[float],
    target: int,
    tokens: Sequence[str] | None = None,
    learning_rate: float = 1.0,
    prompt: str = "",
) -> SoftmaxGradient:
    """The gradient of the cross-entropy loss with respect to the logits, p − y, and the effect
    of one gradient-descent step z ← z − η (p − y) on the probabilities and the loss."""
    from arlm_tui.decoding.processors import softmax

    z = np.asarray([float(x) for x in logits], dtype=np.float64)
    if z.ndim != 1 or z.size < 2 or not np.isfinite(z).all():
        raise ValueError("logits must be a list of at least two finite numbers")
    if isinstance(target, bool) or not 0 <= int(target) < z.size:
        raise ValueError(f"target must be in 0..{z.size - 1}, got {target!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    names = list(tokens) if tokens is not None else [f"t{i}" for i in range(z.size)]
    if len(names) != z.size:
        raise ValueError(f"tokens must name every logit: {len(names)} names, {z.size} logits")
    target = int(target)
    p = softmax(z)
    y = np.zeros_like(p)
    y[target] = 1.0
    gradient = p - y
    z_next = z - float(learning_rate) * gradient
    rows = tuple(
        GradientRow(str(names[i]), float(z[i]), float(p[i]), int(y[i]), float(gradient[i]),
                    float(z_next[i]))
        for i in range(z.size)
    )
    return SoftmaxGradient(
        prompt=prompt,
        rows=rows,
        target=target,
        learning_rate=float(learning_rate),
        loss=float(-np.log(p[target])),
        next_loss=float(-np.log(softmax(z_next)[target])),
    )


# ---------------------------------------------------------------------------- entropy_kl
@dataclass(frozen=True)
class InformationSplit:
    """H(p, q) = H(p) + KL(p ‖ q) for two distributions over the same outcomes."""

    p: tuple[float, ...]
    q: tuple[float, ...]
    labels: tuple[str, ...]
    unit: str
    entropy: float  # H(p) = −Σ p ln p
    cross_entropy: float  # H(p, q) = −Σ p ln q
    kl: float  # KL(p ‖ q) = Σ p ln(p / q)


def information_split(
    p: Sequence[float], q: Sequence[float], unit: str = "nats", labels: Sequence[str] | None = None
) -> InformationSplit:
    """H(p), H(p, q) and KL(p ‖ q) by ``lm.information``, in nats or bits."""
    from arlm_tui.lm.information import cross_entropy, entropy, kl_divergence

    if unit not in ("nats", "bits"):
        raise ValueError(f"unit must be 'nats' or 'bits', got {unit!r}")
    base = 2.0 if unit == "bits" else math.e
    p_arr = np.asarray([float(x) for x in p])
    q_arr = np.asarray([float(x) for x in q])
    names = list(labels) if labels else [f"x{i + 1}" for i in range(p_arr.size)]
    if len(names) != p_arr.size:
        raise ValueError(f"labels must name every outcome: {len(names)} for {p_arr.size}")
    return InformationSplit(
        p=tuple(p_arr.tolist()),
        q=tuple(q_arr.tolist()),
        labels=tuple(str(n) for n in names),
        unit=unit,
        entropy=entropy(p_arr, base=base),
        cross_entropy=cross_entropy(p_arr, q_arr, base=base),
        kl=kl_divergence(p_arr, q_arr, base=base),
    )


def move_mass(q: Sequence[float], index: int, delta: float) -> tuple[float, ...]:
    """q with q[index] changed by ``delta`` (kept in [0, 1]) and the other entries rescaled in
    proportion so that the total stays 1 (shared equally if they were all 0)."""
    values = np.asarray([float(x) for x in q], dtype=np.float64)
    if not 0 <= index < values.size:
        raise ValueError(f"index must be in 0..{values.size - 1}, got {index}")
    target = float(np.clip(values[index] + delta, 0.0, 1.0))
    rest = np.delete(values, index)
    if rest.size == 0:
        return (1.0,)
    remaining = 1.0 - target
    rest = rest * (remaining / rest.sum()) if rest.sum() > 0 else np.full(rest.size,
                                                                         remaining / rest.size)
    out = np.insert(rest, index, target)
    return tuple(float(round(x, 12)) for x in out)


# ---------------------------------------------------------------------------- sampling_histogram
@dataclass(frozen=True)
class Histogram:
    """n draws from p: counts per token against p (tokens with p > 0 or drawn, p descending).

    tv = ½ Σ_w |count(w)/n − p(w)|, the total-variation distance, shrinks like 1/√n."""

    tokens: tuple[str, ...]
    probs: tuple[float, ...]
    counts: tuple[int, ...]
    n: int
    seed: int

    @property
    def frequencies(self) -> tuple[float, ...]:
        return tuple(c / self.n if self.n else 0.0 for c in self.counts)

    @property
    def tv_distance(self) -> float:
        if not self.n:
            return 0.0
        return 0.5 * sum(abs(f - p) for f, p in zip(self.frequencies, self.probs))


def sampling_distribution(
    model: LanguageModel, context: str, **warp_knobs: Any
) -> tuple[np.ndarray, list[str]]:
    """p' = ``decoding.warp``(log p(· | context), temperature, top-k, top-p, min-p, ...)."""
    from arlm_tui.decoding import warp

    logprobs, names = next_token_distribution(model, context)
    knobs = {k: v for k, v in warp_knobs.items() if k != "seed"}
    return warp(logprobs, **knobs), names


def sample_histogram(
    probs: Sequence[float] | np.ndarray, tokens: Sequence[str], n: int, seed: int = 0
) -> Histogram:
    """Draw ``n`` tokens by inverse CDF, w = first id with Σ_{j≤w} p_j > u, u ~ U[0, 1) from
    ``np.random.default_rng(seed)``; the first n draws are the same whatever n, so drawing
    more only adds to the histogram."""
    p = np.asarray(probs, dtype=np.float64)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a whole number >= 0, got {n!r}")
    if len(tokens) != p.size:
        raise ValueError(f"tokens must name every probability: {len(tokens)} for {p.size}")
    u = np.random.default_rng(int(seed)).random(n)
    cdf = np.cumsum(p)
    picks = np.minimum(np.searchsorted(cdf, u, side="right"), int(np.flatnonzero(p)[-1]))
    counts = np.bincount(picks, minlength=p.size)
    shown = [i for i in np.argsort(-p, kind="stable").tolist() if p[i] > 0 or counts[i] > 0]
    return Histogram(
        tokens=tuple(str(tokens[i]) for i in shown),
        probs=tuple(float(p[i]) for i in shown),
        counts=tuple(int(counts[i]) for i in shown),
        n=n,
        seed=int(seed),
    )


# ---------------------------------------------------------------------------- a lab's preset
def preset_result(kind: str, preset: Mapping[str, Any]) -> Any:
    """What a lab of ``kind`` shows when it opens with ``preset`` (the same engine calls as its
    view makes before the learner touches a control)."""
    p = dict(preset)
    from arlm_tui.decoding.config import PLAYGROUND_KNOBS

    warp_keys = tuple(PLAYGROUND_KNOBS)
    if kind == "trigram_table":
        return count_table(p["corpus"], p["order"], p["smoothing"], p.get("k", 1.0),
                           p.get("context"), p.get("sentence"))
    if kind == "chain_rule":
        return chain_rule(p["conditionals"])
    if kind == "bpe_steps":
        return bpe_steps(p["words"], p["merges"], p.get("encode", ()))
    if kind == "decoding_playground":
        knobs = {k: p[k] for k in warp_keys if k in p}
        if "logits" in p:
            return playground(p["logits"], p.get("tokens"), prompt=p.get("prompt", ""), **knobs)
        logprobs, names = next_token_distribution(lab_model(p), p["context"])
        return playground(logprobs, names, prompt=p.get("prompt", p["context"]), **knobs)
    if kind == "greedy_vs_beam":
        return greedy_vs_beam(lab_model(p), p["width"], p.get("max_tokens", 10),
                              p.get("length_penalty", 0.0), p.get("prompt", ""))
    if kind == "gradient_norms":
        return gradient_norms(p["cells"], p["steps"], p.get("hidden_size", 16),
                              p.get("recurrent_scale", 1.0), p.get("forget_bias", 1.0),
                              p.get("clip"), p.get("seed", 0))
    if kind == "causal_mask":
        return attention_pattern(p["length"], p.get("tokens"), leak=p.get("show_leak", True))
    if kind == "kv_cache":
        return kv_cache_demo(p["prompt"], p.get("max_tokens", 20), p.get("model"))
    if kind == "attention_heads":
        return head_attention(p["prompt"], p.get("model"))
    if kind == "softmax_gradient":
        return softmax_gradient(p["logits"], p["target"], p.get("tokens"),
                                p.get("learning_rate", 1.0), p.get("prompt", ""))
    if kind == "entropy_kl":
        return information_split(p["p"], p["q"], p.get("unit", "nats"), p.get("labels"))
    if kind == "sampling_histogram":
        knobs = {k: p[k] for k in warp_keys if k in p}
        probs, names = sampling_distribution(lab_model(p), p["context"], **knobs)
        return sample_histogram(probs, names, p["n"], p.get("seed", 0))
    raise ValueError(f"kind must be a lab kind of lessons.LAB_KINDS, got {kind!r}")
