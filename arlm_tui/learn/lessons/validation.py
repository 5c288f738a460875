"""What a lesson file may say: the question kinds, the keys each fact kind's ``compute`` takes
(``FACT_KINDS``; the lab kinds' keys are registered with the labs, ``arlm_tui.learn.labs``) and
the rule each value must follow (``check_value``), as data. The loader (``loader.py``) reads the
YAML and applies these rules with the line of each problem."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from arlm_tui.decoding.config import PLAYGROUND_KNOBS, Knob
from arlm_tui.learn.grading import is_number_text, parse_number

QUESTION_KINDS = ("choice", "numeric", "text")
SMOOTHINGS = ("mle", "addk", "interp", "stupid", "kn")
CELLS = ("rnn", "lstm", "gru")
UNITS = ("nats", "bits")


# ---------------------------------------------------------------------------- the registries
@dataclass(frozen=True)
class KindSpec:
    """The keys a lab preset or a fact's ``compute`` mapping must / may have.

    ``one_of`` lists alternative key groups: the mapping must hold every key of at least one.
    ``checks``: value rules of the kind's own keys (each returns what is wrong, or None), tried
    before the shared rules of ``VALUE_CHECKS``.
    """

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    description: str = ""
    checks: Mapping[str, Callable[[Any], str | None]] = field(default_factory=dict)

    @property
    def allowed(self) -> tuple[str, ...]:
        group_keys = tuple(k for group in self.one_of for k in group)
        return self.required + group_keys + self.optional


_NGRAM_KEYS = ("corpus", "order", "smoothing")
FACT_KINDS: dict[str, KindSpec] = {
    "ngram_prob": KindSpec(
        _NGRAM_KEYS + ("context", "token"),
        ("k",),
        description="p(token | context) under the n-gram model of `corpus`",
    ),
    "sentence_prob": KindSpec(
        _NGRAM_KEYS + ("sentence",),
        ("k",),
        description="probability of `sentence` followed by </s> under the n-gram model",
    ),
    "sentence_nll": KindSpec(
        _NGRAM_KEYS + ("sentence",),
        ("k",),
        description="−ln of sentence_prob",
    ),
    "chain_product": KindSpec(("conditionals",), description="∏ conditionals"),
    "nll": KindSpec(
        ("conditionals",),
        ("unit", "per_token"),
        description="−Σ ln conditionals (bits with unit: bits; divided by N with per_token)",
    ),
    "perplexity": KindSpec(("conditionals",), description="exp(−(1/N) Σ ln conditionals)"),
    "entropy": KindSpec(("probs",), ("unit",), description="H(p) = −Σ p ln p"),
    "kl": KindSpec(("p", "q"), ("unit",), description="KL(p ‖ q) = Σ p ln(p / q)"),
    "cross_entropy": KindSpec(("p", "q"), ("unit",), description="H(p, q) = −Σ p ln q"),
    "softmax_temperature": KindSpec(
        ("logits", "temperature", "index"),
        description="softmax(logits / temperature)[index]",
    ),
    "top_p_kept": KindSpec(("probs", "p"), description="how many tokens top-p keeps"),
    "power_temperature": KindSpec(
        ("probs", "temperature", "index"),
        description="p_index^(1/T) / Σ_j p_j^(1/T): temperature applied to probabilities",
    ),
    "repetition_penalty": KindSpec(
        ("logits", "seen", "penalty", "index"),
        description="softmax after the CTRL repetition penalty on the `seen` token indices",
    ),
    "sampler": KindSpec(
        ("knobs", "measure"),
        ("history", "index"),
        one_of=(("probs",), ("logits",)),
        description="the engine's processors with `knobs` (sampling, in their fixed order) on "
        "`logits` or ln `probs`, `history` the text so far: measure kept | prob | logit | "
        "logit_drop | surprise | mu_after (of token `index`) | cutoff | spread (eta's η, "
        "top-nσ's max − n·σ)",
    ),
    "contrastive_score": KindSpec(
        ("candidates", "similarities", "alpha", "index"),
        description="contrastive search's score (1 − α)·p − α·s of candidate `index`, with p "
        "from `candidates` and s its largest cosine similarity from `similarities` "
        "(decoding.contrastive.contrastive_scores)",
    ),
    "length_normalized": KindSpec(
        ("conditionals", "alpha"),
        description="beam score ln p / L^α of a finished hypothesis whose L tokens have the "
        "probabilities `conditionals` (decoding.beam.length_normalized)",
    ),
    "continuation_prob": KindSpec(
        ("corpus", "token"),
        description="Kneser–Ney's p_cont(token) = |{v : c(v, token) > 0}| / distinct bigrams, "
        "from the count table of the bigram model of `corpus`",
    ),
    "transformer_param_count": KindSpec(
        ("V", "d", "layers", "positions"),
        ("part",),
        description="parameters of the engine's transformer (lm.neural.transformer), counted on "
        "a freshly built net: part 'total' (default, tied output), 'blocks' or 'block'",
    ),
    "kv_step_macs": KindSpec(
        ("layers", "d", "t"),
        description="multiply-adds of one cached decoding step at position t: "
        "layers · (12d² + 2td)",
    ),
    "kv_cache_floats": KindSpec(
        ("layers", "d", "T"),
        description="numbers the KV cache holds for T positions, measured on the engine's "
        "KVPool: 2 · layers · T · d",
    ),
    "recurrent_param_count": KindSpec(
        ("cell", "d", "m"),
        ("biases",),
        description="parameters of one rnn/gru/lstm layer, input size d, m units; biases: "
        "'one' per block (the lecture's count) or 'torch' (two per block, as nn.RNN/GRU/LSTM)",
    ),
    "ngram_param_count": KindSpec(("V", "n"), description="V^(n−1) · (V − 1)"),
    "ffn_param_count": KindSpec(
        ("V", "d", "n", "h"),
        description="V·d + h·(n−1)·d + h + V·h + V (embeddings, hidden layer, output layer)",
    ),
}


# ---------------------------------------------------------------------------- numbers
def as_number(value: Any) -> float | None:
    """A YAML value as a number: int, float, or a whole string like "2/3" (None otherwise)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and is_number_text(value):
        return parse_number(value)
    return None



# ---------------------------------------------------------------------------- value rules
def _positive_int(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return None if ok else f"must be a whole number ≥ 1, not {value!r}"


def _non_negative_int(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else f"must be a whole number ≥ 0, not {value!r}"


def _positive_number(value: Any) -> str | None:
    number = as_number(value)
    return None if number is not None and number > 0 else f"must be a number > 0, not {value!r}"


def _unit_interval(value: Any) -> str | None:
    number = as_number(value)
    ok = number is not None and 0 <= number <= 1
    return None if ok else f"must be a number from 0 to 1, not {value!r}"


def _numbers(value: Any) -> str | None:
    ok = isinstance(value, list) and value and all(as_number(v) is not None for v in value)
    return None if ok else f"must be a non-empty list of numbers, not {value!r}"


def _probabilities(value: Any) -> str | None:
    if _numbers(value):
        return _numbers(value)
    numbers = [cast(float, as_number(v)) for v in value]  # _numbers checked each one
    if any(p < 0 or p > 1 for p in numbers):
        return "must hold probabilities between 0 and 1"
    return None


def _distribution(value: Any) -> str | None:
    problem = _probabilities(value)
    if problem:
        return problem
    total = sum(cast(float, as_number(v)) for v in value)  # _probabilities checked each one
    return None if abs(total - 1) <= 1e-6 else f"must sum to 1 (it sums to {total:.6g})"


def _one_of(options: Sequence[str]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}, not {value!r}"

    return check


def _corpus(value: Any) -> str | None:
    if value == "toy":
        return None
    ok = isinstance(value, list) and value and all(isinstance(s, str) and s for s in value)
    return None if ok else "must be 'toy' or a list of sentences"


def _cells(value: Any) -> str | None:
    ok = isinstance(value, list) and value and all(c in CELLS for c in value)
    return None if ok else f"must be a list of cell types from {', '.join(CELLS)}"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be text, not {value!r}"


def _conditionals(value: Any) -> str | None:
    """A list of probabilities, or (for the chain_rule lab) of {token, prob} mappings."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for item in value:
            if set(item) - {"token", "prob", "context"} or "prob" not in item:
                return "items must be {token, prob} mappings"
            if _probabilities([item["prob"]]):
                return "must hold probabilities between 0 and 1"
        return None
    return _probabilities(value)


def _words(value: Any) -> str | None:
    ok = (
        isinstance(value, dict)
        and value
        and all(
            isinstance(w, str) and isinstance(c, int) and not isinstance(c, bool) and c >= 1
            for w, c in value.items()
        )
    )
    return None if ok else "must map words to counts ≥ 1"


def _text_list(value: Any) -> str | None:
    # YAML reads bare yes/no/on/off as booleans and 1 as a number: a token must be quoted then.
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    bad = next((v for v in value if not isinstance(v, str)), None) if isinstance(value, list) else value
    return None if ok else f"must be a list of texts; quote {bad!r} (YAML read it as {type(bad).__name__})"


def _processor_knobs(value: Any) -> str | None:
    """A mapping of decoding processor knobs, each in its own range."""
    from arlm_tui.decoding.processors import PROCESSOR_KNOBS

    if not isinstance(value, Mapping) or not value:
        return f"must be a mapping of processor knobs, not {value!r}"
    for name, knob_value in value.items():
        if name not in PROCESSOR_KNOBS:
            return f"names an unknown processor knob {name!r}"
        try:
            PROCESSOR_KNOBS[name].check(knob_value)
        except ValueError as exc:
            return f"is wrong: {exc}"
    return None


VALUE_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "tokens": _text_list,
    "order": _positive_int,
    "width": _positive_int,
    "steps": _positive_int,
    "length": _positive_int,
    "n": _positive_int,
    "merges": _non_negative_int,
    "max_tokens": _positive_int,
    "hidden_size": _positive_int,
    "index": _non_negative_int,
    "target": _non_negative_int,
    "learning_rate": _positive_number,
    "V": _positive_int,
    "d": _positive_int,
    "h": _positive_int,
    "m": _positive_int,
    "layers": _positive_int,
    "alpha": lambda v: None if as_number(v) is not None else f"must be a number, not {v!r}",
    "t": _positive_int,
    "T": _positive_int,
    "positions": _positive_int,
    "part": _one_of(("total", "blocks", "block")),
    "cell": _one_of(CELLS),
    "biases": _one_of(("one", "torch")),
    "penalty": _positive_number,
    "seen": lambda v: None
    if isinstance(v, list) and all(_non_negative_int(x) is None for x in v)
    else f"must be a list of token indices, not {v!r}",
    "temperature": _positive_number,
    "k": _positive_number,
    "p": lambda v: _unit_interval(v) if not isinstance(v, list) else _distribution(v),
    "q": _distribution,
    "probs": _distribution,
    "logits": _numbers,
    "conditionals": _conditionals,
    "smoothing": _one_of(SMOOTHINGS),
    "unit": _one_of(UNITS),
    "cells": _cells,
    "corpus": _corpus,
    "context": _string,
    "token": _string,
    "sentence": _string,
    "prompt": _string,
    "words": _words,
    "knobs": _processor_knobs,
    "candidates": _probabilities,
    "similarities": lambda v: _numbers(v) or (
        None if all((n := as_number(x)) is not None and -1 <= n <= 1 for x in v)
        else "must hold cosine similarities between −1 and 1"),
    "history": lambda v: None
    if isinstance(v, list) and all(_non_negative_int(x) is None for x in v)
    else f"must be a list of token indices, not {v!r}",
    "measure": _one_of(("kept", "prob", "logit", "logit_drop", "cutoff", "spread", "surprise",
                        "mu_after")),
}


def _knob_check(knob: Knob) -> Callable[[Any], str | None]:
    """A value rule from a decoding knob's own range (``Knob.check``)."""

    def check(value: Any) -> str | None:
        try:
            knob.check(value)
        except ValueError as exc:
            return str(exc).removeprefix(f"{knob.name} ")
        return None

    return check


# the playground's knobs are checked by their own range (temperature keeps its rule: the facts
# divide by it, so 0 is refused there)
for _name, _knob in PLAYGROUND_KNOBS.items():
    VALUE_CHECKS.setdefault(_name, _knob_check(_knob))



def check_value(key: str, value: Any, spec: KindSpec | None = None) -> str | None:
    """What is wrong with ``value`` for the preset / compute key ``key`` ("must be ...": the
    kind's own rule in ``spec.checks``, else the key's rule in ``VALUE_CHECKS``), or None when it
    is fine or the key has no rule."""
    check = (spec.checks.get(key) if spec is not None else None) or VALUE_CHECKS.get(key)
    return None if check is None else check(value)
