"""The numbers behind the play screen's analysis views, computed with the engine (no Textual).

- ``compare_models``: one context under several models side by side, and KL(oracle ‖ model)
  when the oracle is among them;
- ``sample_study``: N continuations under the current knobs, the empirical histogram of the
  first token against the model's distribution, and diversity numbers per strategy;
- ``attention_at``: a transformer's attention weights for the last token;
- ``speculative_demo``: a few rounds of speculative decoding from the current text, with a
  draft among ``draft_candidates`` (the installed models with the target's vocabulary).

Diversity numbers (``distinct_n``, ``repetition_rate``, shared with the games in
``arlm_tui.games.common``) are plain counts over token ids; every probability comes from the
engine (``decode_step``/``generate_ids``, ``lm.information``).

The views compute from an ``AnalysisInput``: the session as it was when a view asked, taken on
the interface's thread, so the computation can run in a worker while the session moves on.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.games.common import distinct_n, repetition_rate

if TYPE_CHECKING:
    from arlm_tui.decoding.session import Session
    from arlm_tui.decoding.trace import Trace


# --------------------------------------------------------------------------- the input
@dataclass(frozen=True)
class AnalysisInput:
    """What the analysis views compute from: the session at the moment a view asked, and the
    things the views share (the models loaded for them, the lock on the model in use, and how
    many rows the views have)."""

    model: Any
    prompt_ids: tuple[int, ...]
    context_ids: tuple[int, ...]
    config: DecodingConfig
    done: bool
    #: the step just taken (None before the first)
    last_trace: Trace | None
    #: models loaded for the compare and speculative views, by name (shared: filled as they
    #: load, so a model is loaded once for every view)
    models: dict[str, Any]
    #: held while a model's call and what it keeps from that call (attention) are read
    model_lock: AbstractContextManager[Any]
    #: the height of the views' area, in rows
    rows: int = 0


def analysis_input(session: Session, models: dict[str, Any],
                   model_lock: AbstractContextManager[Any], rows: int = 0) -> AnalysisInput:
    """An ``AnalysisInput`` of ``session`` as it is now."""
    return AnalysisInput(session.model, tuple(session.prompt_ids), tuple(session.context_ids),
                         session.config, session.done, session.last_trace, models, model_lock,
                         rows)


# --------------------------------------------------------------------------- compare
@dataclass
class CompareColumn:
    model: str
    backend: str
    top: list[tuple[str, float]]  # (token text, p) best first
    entropy: float
    kl_from_oracle: float | None = None  # KL(oracle ‖ model), nats
    cross_entropy: float | None = None
    note: str = ""
    #: p(the chosen token) under this model at the step that chose it (None: not comparable)
    chosen_prob: float | None = None


@dataclass
class CompareResult:
    context: str
    columns: list[CompareColumn]
    oracle: str | None  # the oracle model's name, when it was compared
    oracle_entropy: float | None = None
    oracle_possible: bool = True
    missing: list[str] = field(default_factory=list)  # models that failed to load, with reason
    chosen: str | None = None  # the token whose probability ``chosen_prob`` gives, as shown


def _top_tokens(model: Any, logprobs: np.ndarray, n: int) -> list[tuple[str, float]]:
    probs = np.exp(logprobs - np.max(logprobs))
    probs = probs / probs.sum()
    order = [i for i in np.argsort(-probs, kind="stable")[:n] if probs[i] > 0]
    text_of = getattr(model.tokenizer, "token_text", None)
    return [((text_of(int(i)) if text_of else model.vocab[int(i)]), float(probs[i]))
            for i in order]


@dataclass
class ChosenToken:
    """A step already taken: the text before it, the text after it, and how the token reads.
    ``ended`` when the token was ``</s>`` (the text did not grow)."""

    before: str
    after: str
    shown: str
    ended: bool = False


#: The most tokens a model may need for one chosen token (a character model spelling a word).
MAX_CONTINUATION_TOKENS = 64


def chosen_probability(model: Any, chosen: ChosenToken) -> float | None:
    """p(chosen | before) under ``model``: the product of its next-token probabilities over the
    tokens its own tokenizer makes of the chosen text (one for the model that chose it, several
    for a character model). None when its tokenizer does not split ``after`` at ``before``."""
    from arlm_tui.lm.base import log_softmax

    before = list(model.tokenizer.encode(chosen.before))
    if chosen.ended:
        continuation = [model.eos_id]
    else:
        after = list(model.tokenizer.encode(chosen.after))
        if after[: len(before)] != before or len(after) == len(before):
            return None
        continuation = after[len(before):]
    if len(continuation) > MAX_CONTINUATION_TOKENS:
        return None
    logprob, context = 0.0, before
    for token in continuation:
        logprobs = np.asarray(model.next_logprobs(context), dtype=np.float64)
        if not model.normalized:
            logprobs = log_softmax(logprobs)
        logprob += float(logprobs[token])
        context = context + [token]
    return math.exp(logprob)


def compare_models(context: str, models: Sequence[Any], *, top_n: int = 8,
                   chosen: ChosenToken | None = None) -> CompareResult:
    """The next-token distribution after ``context`` (text, encoded by each model's own
    tokenizer) under each model; the oracle (backend "oracle"), if given, also yields
    H(oracle), and for every other model H(oracle, model) and KL(oracle ‖ model). With
    ``chosen`` (the step just taken), each column also gets p(chosen token) under its model."""
    from arlm_tui.lm.base import log_softmax
    from arlm_tui.lm.information import compare_at, entropy

    oracle = next((m for m in models if m.backend == "oracle"), None)
    info = {}
    if oracle is not None:
        others = [m for m in models if m is not oracle]
        for model, row in zip(others, compare_at(context, oracle, others)):
            info[id(model)] = row
    columns = []
    oracle_entropy = None
    possible = True
    for model in models:
        ids = list(model.tokenizer.encode(context))
        logprobs = np.asarray(model.next_logprobs(ids), dtype=np.float64)
        if not model.normalized:
            logprobs = log_softmax(logprobs)
        column = CompareColumn(model.name, model.backend, _top_tokens(model, logprobs, top_n),
                               entropy(np.exp(logprobs)))
        row = info.get(id(model))
        if row is not None:
            column.kl_from_oracle = row.kl
            column.cross_entropy = row.cross_entropy
            oracle_entropy = row.entropy
            possible = row.possible
        if model is oracle:
            oracle_entropy = column.entropy
            column.note = "true distribution"
        if chosen is not None:
            column.chosen_prob = chosen_probability(model, chosen)
        unk = model.unk_id
        if ids and unk in ids:
            column.note = (column.note + "; " if column.note else "") + "context has <unk>"
        columns.append(column)
    return CompareResult(context, columns, oracle.name if oracle is not None else None,
                         oracle_entropy, possible,
                         chosen=chosen.shown if chosen is not None else None)


# --------------------------------------------------------------------------- sample N
@dataclass
class StrategyRow:
    label: str
    distinct_1: float
    distinct_2: float
    repetition: float
    mean_nll: float  # per token, nats, under the model
    examples: list[str]


@dataclass
class SampleStudy:
    n: int
    max_tokens: int
    continuations: list[str]  # under the current knobs
    histogram: list[tuple[str, int, float]]  # (first token, times drawn, p after processors)
    rows: list[StrategyRow]
    total_variation: float  # ½ Σ |empirical − p| over first tokens
    chain: Any = None  # decoding.chain_stats.ChainStats of the current knobs' continuations


def _continue(model: Any, prompt_ids: list[int], config: DecodingConfig, seeds: Sequence[int],
              runs: list[Any] | None = None) -> tuple[list[list[int]], list[float], list[Any]]:
    from arlm_tui.decoding.strategies import generate_ids

    texts, nlls, first = [], [], []
    for seed in seeds:
        result = generate_ids(model, prompt_ids, config.replace(seed=seed))
        if runs is not None:  # every step's Trace, for chain_stats
            runs.append(result.traces)
        texts.append([i for i in result.ids if i != model.eos_id])
        tokens = max(len(result.traces), 1)
        nlls.append(-result.logprob / tokens)
        if result.traces:
            first.append(result.traces[0])
    return texts, nlls, first


def _row(label: str, model: Any, texts: list[list[int]], nlls: list[float]) -> StrategyRow:
    finite = [x for x in nlls if math.isfinite(x)]
    return StrategyRow(
        label=label,
        distinct_1=distinct_n(texts, 1),
        distinct_2=distinct_n(texts, 2),
        repetition=repetition_rate(texts),
        mean_nll=float(np.mean(finite)) if finite else math.inf,
        examples=[model.tokenizer.decode(t) for t in texts[:2]],
    )


def sample_study(model: Any, context_ids: Sequence[int], config: DecodingConfig, *,
                 n: int = 20, max_tokens: int = 12) -> SampleStudy:
    """N continuations of ``context_ids`` under ``config`` (seeds seed … seed+N−1), and the same
    numbers for greedy decoding and for pure sampling (T = 1, no truncation)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    context = list(context_ids)
    current = config.replace(max_tokens=max_tokens)
    if current.strategy == "beam":
        current = current.replace(strategy="sample")
    seeds = [config.seed + i for i in range(n)]
    from arlm_tui.decoding.chain_stats import chain_stats

    runs: list[Any] = []
    if current.strategy == "contrastive":  # no randomness: one run stands for all N
        texts, nlls, first = _continue(model, context, current, seeds[:1], runs)
        texts, nlls, first, runs = texts * n, nlls * n, first * n, runs * n
    else:
        texts, nlls, first = _continue(model, context, current, seeds, runs)
    label = "current knobs" if config.strategy != "beam" else "current knobs, sampled"
    rows = [_row(label, model, texts, nlls)]
    greedy = config.replace(strategy="greedy", max_tokens=max_tokens)
    g_texts, g_nlls, _ = _continue(model, context, greedy, seeds[:1])
    rows.append(_row("greedy", model, g_texts * n, g_nlls * n))
    pure = DecodingConfig(strategy="sample", max_tokens=max_tokens, seed=config.seed)
    p_texts, p_nlls, _ = _continue(model, context, pure, seeds)
    rows.append(_row("pure sampling (T = 1)", model, p_texts, p_nlls))

    counts = Counter(t.chosen_id for t in first)
    final = first[0].final_probs if first else np.zeros(model.vocab_size)
    ids = sorted(set(counts) | set(np.argsort(-final)[:8].tolist()),
                 key=lambda i: (-counts.get(i, 0), -final[i]))
    text_of = getattr(model.tokenizer, "token_text", None)
    histogram = [((text_of(int(i)) if text_of else model.vocab[int(i)]), counts.get(i, 0),
                  float(final[i])) for i in ids]
    empirical = np.zeros(model.vocab_size)
    for i, c in counts.items():
        empirical[i] = c / max(len(first), 1)
    tv = 0.5 * float(np.abs(empirical - final).sum()) if first else 0.0
    return SampleStudy(n, max_tokens, [model.tokenizer.decode(t) for t in texts], histogram,
                       rows, tv, chain=chain_stats(runs))


# --------------------------------------------------------------------------- attention
@dataclass
class AttentionMap:
    weights: np.ndarray | None  # (layers, heads, keys)
    keys: list[str]
    message: str = ""


def attention_at(model: Any, context_ids: Sequence[int]) -> AttentionMap:
    """The attention of the last position over the context, for each layer and head (the
    model protocol's ``attention``: None for a backend without attention weights)."""
    seen = model.attention(list(context_ids))
    if seen is None:
        return AttentionMap(None, [], f"{model.name} is a {model.backend} model: it has no "
                            "attention weights (only a transformer has them). Switch (m) to a "
                            "transformer to see where it looks.")
    weights = seen.weights
    key_ids = seen.key_ids or ([model.bos_id, *context_ids])[-weights.shape[-1]:]
    text_of = getattr(model.tokenizer, "token_text", None)
    keys = [(text_of(int(i)) if text_of else model.vocab[int(i)]) for i in key_ids]
    return AttentionMap(np.asarray(weights, dtype=np.float64), keys)


# --------------------------------------------------------------------------- speculative
@dataclass
class SpeculativeDemo:
    target: str
    draft: str
    draft_note: str
    k: int
    result: Any  # speculative.SpeculativeResult
    token_text: Any
    prompt_text: str
    #: the installed models that could draft instead (same vocabulary), smallest first
    drafts: list[str] = field(default_factory=list)
    #: the installed model that drafted (one of ``drafts``), None for the flattened target
    draft_model: str | None = None


def _entry_size(entry: Any) -> float:
    parameters = entry.summary().get("parameters")
    return float(parameters) if isinstance(parameters, (int, float)) else math.inf


def draft_candidates(target: Any, entries: Sequence[Any], cache: dict[str, Any]) -> list[str]:
    """Names of the models among ``entries`` that can draft for ``target`` (the same vocabulary:
    the same id for every token), smallest first.

    Vocabularies are compared from each model's ``tokenizer.json`` without loading weights; a
    model without one is loaded (into ``cache``) to compare."""
    from arlm_tui.decoding.speculative import same_vocabulary
    from arlm_tui.lm.registry import load_model
    from arlm_tui.text.tokenizers import load_tokenizer

    target_vocab = list(target.vocab)
    names = []
    for entry in sorted(entries, key=_entry_size):
        if entry.name == target.name:
            continue
        try:
            tokenizer_file = entry.path / "tokenizer.json"
            if entry.name in cache:
                same = same_vocabulary(cache[entry.name], target)
            elif tokenizer_file.is_file():
                same = list(load_tokenizer(tokenizer_file).vocab) == target_vocab
            else:
                cache[entry.name] = load_model(entry.name)
                same = same_vocabulary(cache[entry.name], target)
        except Exception:  # noqa: BLE001, S112 - a model that does not load is no draft
            continue
        if same:
            names.append(entry.name)
    return names


def load_draft(target: Any, name: str, cache: dict[str, Any]) -> Any | None:
    """The installed model ``name`` (kept in ``cache``) if it loads and shares the vocabulary
    of ``target``; else None."""
    from arlm_tui.decoding.speculative import same_vocabulary
    from arlm_tui.lm.registry import load_model

    try:
        if name not in cache:
            cache[name] = load_model(name)
    except Exception:  # noqa: BLE001 - a model that does not load is no draft
        return None
    return cache[name] if same_vocabulary(cache[name], target) else None


def find_draft(target: Any, entries: Sequence[Any], cache: dict[str, Any]) -> Any | None:
    """A model to draft for ``target``: one with the same vocabulary, smallest first."""
    for name in draft_candidates(target, entries, cache):
        draft = load_draft(target, name, cache)
        if draft is not None:
            return draft
    return None


def warp_knobs(config: DecodingConfig) -> dict[str, Any]:
    """The sampling knobs of ``config`` as ``warp`` takes them (greedy and beam: none)."""
    return config.warp_knobs()


def speculative_demo(target: Any, draft: Any | None, context_ids: Sequence[int],
                     config: DecodingConfig, *, k: int = 4, max_tokens: int = 16,
                     drafts: Sequence[str] = ()) -> SpeculativeDemo:
    """Speculative rounds from ``context_ids``: target = the model under the current sampling
    knobs; draft = ``draft`` (same vocabulary) or, without one, the target itself with the same
    knobs at 1.5 times the temperature (a stand-in so the mechanism can be seen); ``drafts``
    names the models the learner may pick as draft instead (kept in the result)."""
    from arlm_tui.decoding.speculative import model_distribution, speculative_generate

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    knobs = warp_knobs(config)
    target_dist = model_distribution(target, **knobs)
    if draft is not None:
        draft_dist = model_distribution(draft)
        draft_name, note = draft.name, "another installed model with the same vocabulary"
    else:
        temperature = 1.5 * knobs.get("temperature", 1.0)
        draft_dist = model_distribution(target, **{**knobs, "temperature": temperature})
        draft_name = f"{target.name} at T = {temperature:g}"
        note = ("no other installed model shares this vocabulary: the draft is the target "
                "made flatter")
    result = speculative_generate(target_dist, draft_dist, list(context_ids), k=k,
                                  max_tokens=max_tokens, seed=config.seed, eos_id=target.eos_id)
    text_of = getattr(target.tokenizer, "token_text", None)
    return SpeculativeDemo(
        target=target.name + (" (with the sampling knobs)" if knobs else ""),
        draft=draft_name, draft_note=note, k=k, result=result,
        token_text=text_of or (lambda i: target.vocab[i]),
        prompt_text=target.tokenizer.decode(list(context_ids)),
        drafts=list(drafts),
    )
