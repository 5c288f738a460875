"""What the four games share: the result of a round, the models they play with, held-out texts,
and the diversity numbers that tell decoding strategies apart.

Every game is deterministic for a seed: all its randomness comes from
``numpy.random.default_rng([seed, ...])``, so a test (or a learner replaying a round) sees the
same round again. ``fresh_seed()`` picks a seed when the learner does not give one.

Models. The games need a model that writes readable text and is instant to build: the *story
trigram* is a Kneser-Ney trigram fitted, the first time it is asked for, on 2,000 stories of the
oracle language (``arlm_tui.lm.oracle``; about 0.3 s, nothing is downloaded). A learner may pick
any installed model instead; a name that is not installed raises ``MissingModelError`` with one
line saying which game needed what.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from arlm_tui.errors import ArlmError, UnknownModelError
from arlm_tui.lm.base import LanguageModel

#: The name under which the games' own trigram is shown and chosen (``--model story-trigram``).
STORY_TRIGRAM = "story-trigram"
#: Stories the story trigram is fitted on, and the seed of that corpus.
STORY_TRAIN_STORIES = 2000
STORY_TRAIN_SEED = 0
#: Held-out oracle stories are drawn with seeds from here on, far from any training corpus seed.
HELDOUT_STORY_SEED = 1_000_003


class MissingModelError(ArlmError):
    """A game was asked to use a model that is not installed."""


def fresh_seed() -> int:
    """A random seed for a new round (what the learner gets when no ``--seed`` is given)."""
    return secrets.randbelow(2**31)


def check_seed(seed: int) -> int:
    """``seed`` as an int >= 0, or ValueError naming the parameter."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return seed


@dataclass(frozen=True)
class GameResult:
    """One finished round of a game, as the progress store keeps it.

    ``score`` is the game's own number (perplexity, strategies named, tries ...), read with the
    game's ``better`` direction; ``summary`` is one line for the scores screen; ``details`` is
    JSON-safe and lets achievements look at what happened (``details["beat_greedy"]`` ...).
    """

    game: str
    seed: int
    score: float | None
    xp: int
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The JSON object written to the store's event table."""
        return {"game": self.game, "seed": self.seed, "score": json_number(self.score),
                "summary": self.summary, **self.details}


def json_number(x: float | None) -> float | str | None:
    """JSON has no infinity or NaN: write them as strings."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else str(x)


# --------------------------------------------------------------------------- models
@lru_cache(maxsize=1)
def story_trigram() -> LanguageModel:
    """A Kneser-Ney trigram fitted on ``STORY_TRAIN_STORIES`` oracle stories (cached).

    It shares the oracle's tokenizer, so its probabilities line up token for token with the
    oracle's (the truth) in *Be the model*."""
    from arlm_tui.lm.ngram import NGramModel
    from arlm_tui.lm.oracle import OracleModel

    oracle = OracleModel()
    tokenizer = oracle.tokenizer
    stories = oracle.corpus(STORY_TRAIN_STORIES, seed=STORY_TRAIN_SEED)
    model = NGramModel.fit([tokenizer.encode(s) for s in stories], tokenizer, order=3,
                           smoothing="kn", name=STORY_TRIGRAM)
    model.name = STORY_TRIGRAM
    return model


def load_game_model(name: str | None, game: str) -> LanguageModel:
    """The model a decoding game plays with: the story trigram (``None`` or ``STORY_TRIGRAM``)
    or an installed model by name or path; ``MissingModelError`` (one line) if it is not
    installed, ArlmError for a model whose text no knob can spoil (stupid backoff, oracle)."""
    if name is None or name == STORY_TRIGRAM:
        return story_trigram()
    from arlm_tui.lm.registry import load_model

    try:
        model = load_model(name)
    except UnknownModelError:
        raise MissingModelError(
            f"{game} needs the model {name!r}, which is not installed; see `arlm models list` "
            f"for the installed ones, or play with the built-in {STORY_TRIGRAM}"
        ) from None
    if not model.normalized:
        raise ArlmError(f"{game}: model {model.name} gives scores that do not sum to one "
                        "(stupid backoff); pick a model with probabilities")
    if model.backend == "oracle":
        raise ArlmError(f"{game}: the oracle gives probability zero to every token its grammar "
                        "forbids, so no decoding setting makes its text worse; pick a trained "
                        "model")
    return model


def installed_model_names() -> list[str]:
    """Names the decoding games may be played with: the story trigram, then every installed
    trained model (not the oracle, see ``load_game_model``)."""
    from arlm_tui.lm.registry import list_models

    return [STORY_TRIGRAM] + [e.name for e in list_models()
                              if e.backend not in ("broken", "oracle")]


# --------------------------------------------------------------------------- held-out text
def heldout_story(seed: int) -> str:
    """One oracle story no model was trained on (its own seed, far from the training seeds)."""
    from arlm_tui.lm.oracle import OracleLanguage

    return OracleLanguage().corpus(1, seed=HELDOUT_STORY_SEED + check_seed(seed))[0]


@lru_cache(maxsize=1)
def pyref_heldout() -> tuple[str, ...]:
    """The held-out sentences of the Python reference: the 10% split (seed 0) that the bundled
    ``pyref-word-kn3`` left out of its counts."""
    from arlm_tui.text.corpora import pyref_sentences, train_valid_split

    _, valid = train_valid_split(pyref_sentences(), 0.1, seed=0)
    return tuple(valid)


def speaks_oracle(model: LanguageModel) -> bool:
    """True if the model's vocabulary is the oracle language's (trained on its stories)."""
    from arlm_tui.lm.oracle import OracleModel

    return list(model.vocab) == list(OracleModel().vocab)


def heldout_prompt(model: LanguageModel, seed: int, length: int, salt: int = 0) -> list[int]:
    """The first ``length`` tokens of a held-out text in the model's language, without
    ``<unk>``: an oracle story for a model of the oracle's vocabulary, else a held-out sentence
    of the Python reference. A model trained on other text may find none: then the empty prompt
    (the start of a text)."""
    tokenizer = model.tokenizer
    oracle_words = speaks_oracle(model)
    rng = np.random.default_rng([check_seed(seed), salt, 11])
    held = () if oracle_words else pyref_heldout()
    for k in range(50):
        if oracle_words:
            text = heldout_story(seed * 7919 + salt * 101 + k)
        else:
            text = held[int(rng.integers(len(held)))]
        ids = list(tokenizer.encode(text))[:length]
        if len(ids) == length and tokenizer.unk_id not in ids:
            return ids
    return []


# --------------------------------------------------------------------------- diversity numbers
def distinct_n(texts: Sequence[Sequence[int]], n: int) -> float:
    """distinct-n = |different n-grams| / |n-grams| over all texts (0 when there is none).

    1 means no n-gram occurs twice; a text that loops has a low distinct-2, and one text
    repeated N times (greedy decoding run N times) has 1/N of the distinct-n it has alone."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    grams = [tuple(t[i:i + n]) for t in texts for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition_rate(texts: Sequence[Sequence[int]]) -> float:
    """Share of tokens that repeat a token already seen in the same text (0 = none do)."""
    repeated = total = 0
    for text in texts:
        seen: set[int] = set()
        for token in text:
            total += 1
            repeated += token in seen
            seen.add(token)
    return repeated / total if total else 0.0


def repeated_ngram(ids: Sequence[int], n_max: int = 6, n_min: int = 2) -> tuple[int, ...] | None:
    """The longest n-gram (n_min <= n <= n_max) occurring twice in ``ids``, first found; None
    if no n-gram repeats. Used to quote a loop back to the learner."""
    for n in range(n_max, n_min - 1, -1):
        seen: set[tuple[int, ...]] = set()
        for i in range(len(ids) - n + 1):
            gram = tuple(ids[i:i + n])
            if gram in seen:
                return gram
            seen.add(gram)
    return None
