"""The BPE lab: learning byte-pair-encoding merges one step at a time (``bpe_steps``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arlm_tui.learn.labs.base import register_lab


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


@register_lab(
    "bpe_steps",
    ("words", "merges"),
    ("encode",),
    description="`words`: {word: count}; learn `merges` BPE merges step by step, then "
    "segment the words in `encode` with them",
)
def from_preset(p: dict[str, Any]) -> BpeRun:
    return bpe_steps(p["words"], p["merges"], p.get("encode", ()))
