"""What every lab kind shares: the registry of kinds, the models a preset names, and errors.

A lab kind is one module of this package. It computes what its lab shows as plain frozen data
and registers itself once, with the preset keys it takes and the engine call a preset makes::

    @register_lab("chain_rule", ("conditionals",), ("sentence",), description="...")
    def from_preset(p: dict[str, Any]) -> ChainRule:
        return chain_rule(p["conditionals"])

``LAB_KINDS`` (the keys a lesson's preset may hold, checked when a lesson loads) and
``preset_result`` (what a lab shows when it opens) are read from that registry; the screen side
(``arlm_tui.tui.widgets.labs``) registers one view per kind against the same names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from arlm_tui.decoding.config import PLAYGROUND_KNOBS
from arlm_tui.errors import ArlmError
from arlm_tui.learn.lessons.validation import KindSpec
from arlm_tui.lm.base import BOS, EOS, UNK, LanguageModel

if TYPE_CHECKING:
    from arlm_tui.lm.ngram import NGramModel


class LabUnavailable(ArlmError):
    """A lab needs something that is not installed (torch) or a model that is not there."""


# ---------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class LabKind:
    """One kind of lab: the keys its preset takes and the engine call a preset makes."""

    name: str
    spec: KindSpec
    from_preset: Callable[[dict[str, Any]], Any]
    module: str


#: Every lab kind, by name, in the order the modules registered them.
LAB_REGISTRY: dict[str, LabKind] = {}


class _KindSpecs(Mapping[str, KindSpec]):
    """``LAB_KINDS``: each registered kind's ``KindSpec``, always in step with the registry."""

    def __getitem__(self, name: str) -> KindSpec:
        return LAB_REGISTRY[name].spec

    def __iter__(self) -> Iterator[str]:
        return iter(LAB_REGISTRY)

    def __len__(self) -> int:
        return len(LAB_REGISTRY)

    def __repr__(self) -> str:
        return f"LAB_KINDS({', '.join(LAB_REGISTRY)})"


#: The keys a lab preset of each kind must / may have (read by the lesson loader).
LAB_KINDS: Mapping[str, KindSpec] = _KindSpecs()


def register_lab(
    name: str,
    required: Sequence[str] = (),
    optional: Sequence[str] = (),
    *,
    one_of: Sequence[Sequence[str]] = (),
    description: str = "",
    checks: Mapping[str, Callable[[Any], str | None]] | None = None,
) -> Callable[[Callable[[dict[str, Any]], Any]], Callable[[dict[str, Any]], Any]]:
    """Register the lab kind ``name``: the decorated function computes what the lab shows from
    a preset (a dict that has passed ``LAB_KINDS[name]``). ``checks``: value rules of the
    kind's own preset keys (what is wrong, or None; the shared rules cover the others). A name
    is registered once."""

    def decorator(from_preset: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
        if name in LAB_REGISTRY:
            raise ValueError(f"lab kind {name!r} is registered twice: in "
                             f"{LAB_REGISTRY[name].module} and in {from_preset.__module__}")
        spec = KindSpec(tuple(required), tuple(optional), tuple(tuple(g) for g in one_of),
                        description, dict(checks or {}))
        LAB_REGISTRY[name] = LabKind(name, spec, from_preset, from_preset.__module__)
        return from_preset

    return decorator


def preset_result(kind: str, preset: Mapping[str, Any]) -> Any:
    """What a lab of ``kind`` shows when it opens with ``preset`` (the same engine calls as its
    view makes before the learner touches a control)."""
    try:
        lab_kind = LAB_REGISTRY[kind]
    except KeyError:
        raise ValueError(f"kind must be a lab kind of LAB_KINDS ({', '.join(LAB_REGISTRY)}), "
                         f"got {kind!r}") from None
    return lab_kind.from_preset(dict(preset))


# A `model` in a preset is a model name as ``arlm_tui.load_model`` accepts it (a bundled model),
# "greedy_trap" (``arlm_tui.lm.table.greedy_trap_model``), or "toy": the n-gram model of
# ``corpus`` (default "toy" = TOY_CORPUS) with the preset's ``order`` and ``smoothing``.
MODEL_KEYS = ("corpus", "order", "smoothing", "k")
#: The playground's knobs (``decoding.config.PLAYGROUND_KNOBS``) and the seed of the draws.
WARP_KEYS = (*PLAYGROUND_KNOBS, "seed")


def warp_knobs(preset: Mapping[str, Any]) -> dict[str, Any]:
    """The sampling knobs a preset sets (the playground's knobs, by name)."""
    return {k: preset[k] for k in PLAYGROUND_KNOBS if k in preset}


# ---------------------------------------------------------------------------- models
def corpus_sentences(corpus: str | Sequence[str]) -> tuple[str, ...]:
    """The sentences of ``corpus``: "toy" (``TOY_CORPUS``) or a list of sentences."""
    if corpus == "toy":
        from arlm_tui.text.corpora import TOY_CORPUS

        return tuple(TOY_CORPUS)
    if isinstance(corpus, str) or not corpus or not all(isinstance(s, str) for s in corpus):
        raise ValueError(f"corpus must be 'toy' or a list of sentences, got {corpus!r}")
    return tuple(corpus)


@lru_cache(maxsize=32)
def _fit_ngram(corpus: tuple[str, ...], order: int, smoothing: str, k: float) -> NGramModel:
    from arlm_tui.lm.ngram import NGramModel
    from arlm_tui.text.tokenizers import WordTokenizer

    tokenizer = WordTokenizer.train(list(corpus))
    sentences = [tokenizer.encode(sentence) for sentence in corpus]
    return NGramModel.fit(
        sentences, tokenizer, order=order, smoothing=smoothing, k=k, name="toy"
    )


def ngram_of(
    corpus: str | Sequence[str] = "toy", order: int = 3, smoothing: str = "mle", k: float = 1.0
) -> NGramModel:
    """The ``NGramModel`` of ``corpus`` ("toy" = ``TOY_CORPUS``) with a word tokenizer."""
    return _fit_ngram(corpus_sentences(corpus), int(order), str(smoothing), float(k))


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


def token_text(model: LanguageModel, token_id: int) -> str:
    """How a token reads on screen (the tokenizer's ``token_text`` when it has one)."""
    text = getattr(model.tokenizer, "token_text", None)
    return text(token_id) if callable(text) else model.vocab[token_id]


def next_token_distribution(model: LanguageModel, context: str) -> tuple[np.ndarray, list[str]]:
    """log p(· | context) of ``model`` and the token names (``<s>`` has −inf)."""
    logprobs = np.asarray(model.next_logprobs(context_ids(model, context)), dtype=np.float64)
    names = [token_text(model, i) for i in range(model.vocab_size)]
    return logprobs, names


def import_torch() -> Any:
    """torch, or ``LabUnavailable`` with the command that installs it."""
    try:
        import torch
    except ImportError:
        raise LabUnavailable(
            "this lab needs PyTorch, which is not installed (pip install torch==2.13.0)"
        ) from None
    return torch
