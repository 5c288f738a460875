"""The ground-truth language: short stories whose exact next-token distribution is known.

Real text has an unknown distribution p_data, so we can measure how far a model q is from it only
through held-out perplexity. The *oracle language* is a small stochastic grammar of simple English
stories written for arlm: because we wrote the probabilities, we can compute the true
p(w_t | w_<t) for any prefix, and so the entropy H(p), the cross-entropy H(p, q) and the gap
KL(p ‖ q) of any model trained on its stories (see ``arlm_tui.lm.information``).

A story is 2 to 4 sentences, lower case, words and the punctuation ``.`` ``,`` as tokens::

    one day, a young sailor went to the harbor. then, she found a shiny shell near the beach.

Hidden variables are drawn *before* the first word and constrain words much later:

* the **setting** (sea, forest, city, bakery, farm, mountain) decides which places, things,
  animals and activities may appear in every sentence;
* the **character** introduced in sentence 1 decides the pronouns of every later sentence
  (she/he/they, her/him/them, her/his/their, was/were) and the name by which it is referred to.

So "then , she found a ..." continues with "shell" by the sea and "mushroom" in the forest: the
last two (or five) tokens are identical, and only a model that remembers the first sentence can
tell. An n-gram cannot; an RNN, LSTM or transformer can.

Exact probabilities by a forward pass. The grammar is compiled lazily into a probabilistic
automaton whose *state* is (setting, character, sentence number, symbols still to write); every
transition writes one token. Reading a prefix keeps a *belief*: the probability of each state
given the prefix, b_t(s) ∝ Σ_{s'} b_{t-1}(s') · P(s' → s writing w_t). Then

    p(w | w_<t) = Σ_s b_t(s) · P(s writes w),

which sums over every hidden setting/character/derivation consistent with the prefix.

Impossible prefixes. ``OracleLanguage.next_distribution`` raises ``ImpossiblePrefixError`` for a
prefix the language cannot produce. ``OracleModel`` must never fail (a learner may force any
token), so it uses the *smoothed* reading of ``OracleLanguage.read``/``advance``:

* while the prefix is possible as the beginning of a story: the exact distribution;
* after a complete story (``</s>``): the distribution of a new story's first token;
* otherwise the oracle reads the text as a stretch of the endless stream of stories (stories
  joined by ``</s>``) entered at a random position (states weighted by how often a story visits
  them), and conditions on the *longest suffix* it can explain there. When it first loses track,
  and whenever the suffix it follows becomes impossible, it re-reads at most the last
  ``RESYNC_WINDOW`` tokens, longest candidate first (a new suffix always starts after the start
  of the old one); if even the last token is impossible everywhere (``<unk>``), it uses the
  empty suffix: the stream's token marginal. So after an odd token the oracle behaves like a
  short-context model, and it sharpens again as its suffix grows. The first fallback compiles
  the whole automaton once (about 0.2 s); later steps take well under a millisecond.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from arlm_tui.errors import ArlmError, ModelLoadError
from arlm_tui.lm.base import BOS, EOS, UNK, LanguageModel

# ---------------------------------------------------------------------------------------------
# The grammar as explicit probability tables. Weights are relative (normalised per table).
# Phrases are space-separated tokens; UPPER-CASE symbols are non-terminals (see _productions).

#: How each pronoun set agrees: subject, object, possessive, and the past tense of "to be".
PRONOUNS: dict[str, dict[str, str]] = {
    "she": {"subject": "she", "object": "her", "possessive": "her", "be": "was"},
    "he": {"subject": "he", "object": "him", "possessive": "his", "be": "was"},
    "they": {"subject": "they", "object": "them", "possessive": "their", "be": "were"},
}


@dataclass(frozen=True)
class Character:
    """Who the story is about: how sentence 1 introduces it, how later sentences refer to it."""

    key: str
    pronoun: str  # "she" | "he" | "they"
    intro: tuple[tuple[str, float], ...]
    refs: tuple[tuple[str, float], ...]  # later mentions, the pronoun included


def _named(name: str, pronoun: str, noun: str) -> Character:
    intro = ((name, 3.0), (f"a {noun} called {name}", 2.0))
    return Character(name, pronoun, intro, ((pronoun, 6.0), (name, 4.0)))


def _role(key: str, pronoun: str, intro: str, *refs: tuple[str, float]) -> Character:
    return Character(key, pronoun, ((intro, 1.0),), ((pronoun, 6.0), *refs))


CHARACTERS: tuple[Character, ...] = (
    _named("anna", "she", "girl"),
    _named("tom", "he", "boy"),
    _named("mia", "she", "girl"),
    _named("ben", "he", "boy"),
    _role("friends", "they", "two friends", ("the friends", 4.0)),
    _role("twins", "they", "the twins", ("the twins", 4.0)),
    _role("fisherman", "he", "an old fisherman", ("the fisherman", 3.0),
          ("the old fisherman", 1.0)),
    _role("sailor", "she", "a young sailor", ("the sailor", 3.0), ("the young sailor", 1.0)),
    _role("woodcutter", "he", "a woodcutter", ("the woodcutter", 4.0)),
    _role("girl", "she", "a little girl", ("the girl", 3.0), ("the little girl", 1.0)),
    _role("driver", "she", "a taxi driver", ("the driver", 4.0)),
    _role("old man", "he", "an old man", ("the old man", 4.0)),
    _role("baker", "he", "a baker", ("the baker", 4.0)),
    _role("old woman", "she", "an old woman", ("the old woman", 4.0)),
    _role("farmer", "she", "a farmer", ("the farmer", 4.0)),
    _role("boy", "he", "a little boy", ("the boy", 3.0), ("the little boy", 1.0)),
    _role("climber", "she", "a climber", ("the climber", 4.0)),
    _role("shepherd", "he", "a shepherd", ("the shepherd", 4.0)),
)
_CHARACTER_INDEX = {c.key: i for i, c in enumerate(CHARACTERS)}

#: Characters every setting can have, with their weight (the setting's own two get 0.2 each).
SHARED_CHARACTERS: tuple[tuple[str, float], ...] = (
    ("anna", 0.1), ("tom", 0.1), ("mia", 0.1), ("ben", 0.1), ("friends", 0.1), ("twins", 0.1),
)


@dataclass(frozen=True)
class Setting:
    """Where the story happens: the words that may appear in any of its sentences."""

    name: str
    weight: float
    characters: tuple[str, str]  # the setting's own characters (0.2 each)
    places: tuple[str, ...]  # "the beach": after "lived near", "went to", "near"
    things: tuple[str, ...]  # nouns found, lost
    animals: tuple[str, ...]  # nouns seen, following the character home
    activities: tuple[str, ...]  # verb phrases
    dream: str  # "at night , she dreamed of <dream> ."


SETTINGS: tuple[Setting, ...] = (
    Setting("sea", 0.20, ("fisherman", "sailor"),
            ("the beach", "the harbor", "the old lighthouse", "the sea"),
            ("shell", "boat", "net", "bottle", "starfish", "pearl"),
            ("gull", "crab", "dolphin", "seal", "whale"),
            ("swam in the cold water", "built a sand castle", "watched the waves",
             "sailed a little boat"),
            "the sea"),
    Setting("forest", 0.20, ("woodcutter", "girl"),
            ("the forest", "the woods", "the river", "the old mill"),
            ("mushroom", "feather", "stick", "nest", "acorn", "pine cone"),
            ("fox", "owl", "deer", "rabbit", "squirrel"),
            ("climbed a tall tree", "followed a narrow path", "picked some berries",
             "crossed the river"),
            "the forest"),
    Setting("city", 0.15, ("driver", "old man"),
            ("the city", "the market", "the station", "the park"),
            ("ticket", "coin", "umbrella", "map", "newspaper", "bicycle"),
            ("pigeon", "dog", "cat", "mouse"),
            ("took the bus", "crossed a busy street", "bought some flowers", "visited a museum"),
            "the city lights"),
    Setting("bakery", 0.15, ("baker", "old woman"),
            ("the bakery", "the kitchen", "the little shop"),
            ("cake", "pie", "cookie", "spoon", "bowl", "loaf of bread"),
            ("cat", "mouse", "sparrow"),
            ("baked fresh bread", "made a big cake", "washed the dishes", "tasted the soup"),
            "warm bread"),
    Setting("farm", 0.15, ("farmer", "boy"),
            ("the farm", "the barn", "the field", "the old mill"),
            ("egg", "bucket", "basket", "rope", "carrot", "tractor"),
            ("cow", "pig", "goat", "horse", "hen", "dog"),
            ("fed the animals", "milked the cow", "planted some seeds", "fixed the fence"),
            "the green fields"),
    Setting("mountain", 0.15, ("climber", "shepherd"),
            ("the mountain", "the lake", "the cabin", "the snowy hills"),
            ("rock", "sled", "lantern", "rope", "flag", "blanket"),
            ("goat", "eagle", "bear", "wolf", "marmot"),
            ("climbed to the top", "made a small fire", "skied down the hill",
             "watched the stars"),
            "the snowy peaks"),
)

OPENERS = (("once upon a time", 3.0), ("one day", 3.0), ("one morning", 2.0), ("long ago", 2.0))
INTRO_VERBS = (("lived near", 4.0), ("went to", 3.0), ("walked to", 3.0))
CONNECTIVES = (("then ,", 25.0), ("later ,", 20.0), ("after that ,", 15.0), ("soon ,", 10.0),
               ("", 30.0))
FIND_VERBS = (("found", 7.0), ("picked up", 3.0))
FEELINGS = (("happy", 3.0), ("tired", 2.0), ("hungry", 1.0), ("cold", 1.0), ("scared", 1.0),
            ("proud", 1.0), ("very happy", 1.0))
THING_ADJECTIVES = ("shiny", "small", "old", "strange", "beautiful")
ANIMAL_ADJECTIVES = ("little", "big", "hungry", "friendly", "sleepy", "old")
P_THING_ADJECTIVE = 0.3
P_ANIMAL_ADJECTIVE = 0.4
P_LOCATION = 0.4  # "... found a shell [near the beach] ."

#: Sentence 1 introduces the character and the setting.
INTRO_SENTENCE = ("OPENER", ",", "CHAR_INTRO", "INTRO_VERB", "PLACE", ".")
#: Sentences 2..4, drawn independently with these weights.
EVENT_SENTENCES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("find", ("CONN", "REF", "FIND_VERB", "THING_NP", "LOCATION", "."), 2.0),
    ("see", ("CONN", "REF", "saw", "ANIMAL_NP", "LOCATION", "."), 2.0),
    ("feel", ("CONN", "REF", "BE", "FEELING", "."), 1.2),
    ("lose", ("CONN", "REF", "lost", "POSSESSIVE", "THING", "."), 1.0),
    ("act", ("CONN", "REF", "ACTIVITY", "."), 2.0),
    ("follow", ("CONN", "the", "ANIMAL", "followed", "OBJECT", "home", "."), 0.8),
    ("dream", ("at", "night", ",", "REF", "dreamed", "of", "DREAM", "."), 1.0),
)
#: P(the story ends | it has n sentences): 2 to 4 sentences.
STOP_AFTER: dict[int, float] = {1: 0.0, 2: 0.3, 3: 0.5, 4: 1.0}

#: How many of the last tokens the smoothed reading re-reads when it loses track.
RESYNC_WINDOW = 6

_TOKEN_PATTERN = re.compile(r"[a-z]+|[.,]")


class ImpossiblePrefixError(ArlmError):
    """A prefix that the oracle language cannot produce (probability zero)."""


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _table(pairs: Iterable[tuple[tuple[str, ...], float]]) -> tuple[tuple[tuple[str, ...], float], ...]:
    """Normalise a production table and merge duplicate right-hand sides."""
    merged: dict[tuple[str, ...], float] = {}
    for rhs, weight in pairs:
        merged[rhs] = merged.get(rhs, 0.0) + weight
    total = sum(merged.values())
    return tuple((rhs, weight / total) for rhs, weight in merged.items() if weight > 0)


def _phrases(pairs: Iterable[tuple[str, float]]) -> tuple[tuple[tuple[str, ...], float], ...]:
    return _table((tuple(text.split()), weight) for text, weight in pairs)


def _uniform(texts: Iterable[str]) -> tuple[tuple[tuple[str, ...], float], ...]:
    return _phrases((text, 1.0) for text in texts)


def _noun_phrase(nouns: Sequence[str], adjectives: Sequence[str], p_adjective: float,
                 noun_symbol: str) -> tuple[tuple[tuple[str, ...], float], ...]:
    """ "a"/"an" agreeing with the next word: "an owl", "a big owl", "an old fox"."""
    rows = [((_article(n), *n.split()), (1 - p_adjective) / len(nouns)) for n in nouns]
    rows += [((_article(a), a, noun_symbol), p_adjective / len(adjectives)) for a in adjectives]
    return _table(rows)


def _productions(symbol: str, setting: Setting,
                 character: Character) -> tuple[tuple[tuple[str, ...], float], ...]:
    """Right-hand sides of a non-terminal with their probabilities, for one setting/character."""
    words = PRONOUNS[character.pronoun]
    if symbol == "OPENER":
        return _phrases(OPENERS)
    if symbol == "CHAR_INTRO":
        return _phrases(character.intro)
    if symbol == "INTRO_VERB":
        return _phrases(INTRO_VERBS)
    if symbol == "PLACE":
        return _uniform(setting.places)
    if symbol == "CONN":
        return _phrases(CONNECTIVES)
    if symbol == "REF":
        return _phrases(character.refs)
    if symbol == "FIND_VERB":
        return _phrases(FIND_VERBS)
    if symbol == "THING_NP":
        return _noun_phrase(setting.things, THING_ADJECTIVES, P_THING_ADJECTIVE, "THING")
    if symbol == "THING":
        return _uniform(setting.things)
    if symbol == "LOCATION":
        return _table([((), 1 - P_LOCATION), (("near", "PLACE"), P_LOCATION)])
    if symbol == "ANIMAL_NP":
        return _noun_phrase(setting.animals, ANIMAL_ADJECTIVES, P_ANIMAL_ADJECTIVE, "ANIMAL")
    if symbol == "ANIMAL":
        return _uniform(setting.animals)
    if symbol == "BE":
        return _uniform([words["be"]])
    if symbol == "FEELING":
        return _phrases(FEELINGS)
    if symbol == "POSSESSIVE":
        return _uniform([words["possessive"]])
    if symbol == "OBJECT":
        return _uniform([words["object"]])
    if symbol == "ACTIVITY":
        return _uniform(setting.activities)
    if symbol == "DREAM":
        return _uniform([setting.dream])
    raise KeyError(f"unknown non-terminal {symbol!r}")


def _is_nonterminal(symbol: str) -> bool:
    return symbol[:1].isupper()


def _character_weights(setting: Setting) -> list[tuple[int, float]]:
    own = [(_CHARACTER_INDEX[key], 0.2) for key in setting.characters]
    shared = [(_CHARACTER_INDEX[key], weight) for key, weight in SHARED_CHARACTERS]
    return own + shared


def detokenize(tokens: Sequence[str]) -> str:
    """Tokens -> text: single spaces, none before ``.`` and ``,`` ("one day, anna ...")."""
    return " ".join(tokens).replace(" .", ".").replace(" ,", ",")


def tokenize(text: str) -> list[str]:
    """Text -> oracle tokens: lower-case words and the punctuation ``.`` ``,``."""
    return _TOKEN_PATTERN.findall(text.lower())


# ---------------------------------------------------------------------------------------------
# The compiled automaton.

_START = 0  # before the first token: the setting and the character are not drawn yet
_END = 1  # after </s>


@dataclass(frozen=True)
class _Emissions:
    """What one automaton state can write next."""

    token_ids: np.ndarray  # distinct tokens, int64
    probs: np.ndarray  # P(token | state), summed over next states
    by_token: dict[int, tuple[tuple[int, float], ...]]  # token -> ((next state, prob), ...)


_NO_EMISSIONS = _Emissions(np.zeros(0, dtype=np.int64), np.zeros(0), {})


class _StreamTables:
    """The automaton as arrays, for reading the endless stream of stories (``</s>`` leads back
    to the start) from a random position. A belief is a dense vector over the N states."""

    #: Beliefs on fewer states than this sum their states' emissions one by one.
    SPARSE_STATES = 512

    def __init__(self, pi: np.ndarray, token: np.ndarray, src: np.ndarray, dst: np.ndarray,
                 prob: np.ndarray, vocab_size: int,
                 emissions: Callable[[int], _Emissions]) -> None:
        self.pi, self.token, self.src, self.dst, self.prob = pi, token, src, dst, prob
        self.emissions = emissions
        self.n_states = len(pi)
        # transitions are sorted by token: those writing w are offsets[w]:offsets[w + 1]
        self.offsets = np.searchsorted(token, np.arange(vocab_size + 1))
        self.vocab_size = vocab_size
        marginal = np.bincount(token, pi[src] * prob, vocab_size)
        self.marginal = marginal / marginal.sum()

    def one_hot(self, state: int) -> np.ndarray:
        belief = np.zeros(self.n_states)
        belief[state] = 1.0
        return belief

    def first(self, token_id: int) -> np.ndarray | None:
        """Belief after reading only ``token_id``: b(s') ∝ Σ_s π(s) P(s → s' writing w)."""
        return self.step(self.pi, token_id)

    def step(self, belief: np.ndarray, token_id: int) -> np.ndarray | None:
        """Belief after one more token, or None if the token is impossible."""
        if not 0 <= token_id < self.vocab_size:
            return None
        lo, hi = self.offsets[token_id], self.offsets[token_id + 1]
        weights = belief[self.src[lo:hi]] * self.prob[lo:hi]
        total = weights.sum()
        if total <= 0:
            return None
        return np.bincount(self.dst[lo:hi], weights / total, self.n_states)

    def next_probs(self, belief: np.ndarray) -> np.ndarray:
        """p(w) = Σ_s b(s) P(s writes w)."""
        states = np.flatnonzero(belief)
        if len(states) < self.SPARSE_STATES:
            parts = [self.emissions(s) for s in states.tolist()]
            ids = np.concatenate([e.token_ids for e in parts])
            weights = np.concatenate([b * e.probs for b, e in zip(belief[states], parts)])
            probs = np.bincount(ids, weights, self.vocab_size)
        else:
            probs = np.bincount(self.token, belief[self.src] * self.prob, self.vocab_size)
        return probs / probs.sum()


@dataclass(frozen=True, eq=False)
class Reading:
    """The oracle's reading of a prefix (immutable: ``advance`` returns a new one).

    ``story`` is the belief {state: probability} while the prefix is possible as the start of a
    story; afterwards it is None and ``stream`` is the belief (a dense vector over the states)
    given the last ``suffix_len`` tokens read as a stretch of the stream of stories (None with
    ``suffix_len == 0``: the stationary distribution). ``recent`` holds the last tokens for
    re-synchronising, ``logprob`` is log P(prefix) (-inf once impossible), and ``probs`` is the
    next-token distribution over the vocabulary (sums to 1)."""

    story: dict[int, float] | None
    stream: np.ndarray | None
    suffix_len: int
    recent: tuple[int, ...]
    logprob: float
    probs: np.ndarray

    @property
    def possible(self) -> bool:
        """True while the whole prefix has non-zero probability as the start of a story."""
        return self.story is not None


class OracleLanguage:
    """The ground-truth story language: sampling, exact next-token distributions, log-probs."""

    def __init__(self) -> None:
        terminals: set[str] = set()
        for setting in SETTINGS:
            for char_i, _ in _character_weights(setting):
                character = CHARACTERS[char_i]
                todo = list(INTRO_SENTENCE) + [s for _, rhs, _ in EVENT_SENTENCES for s in rhs]
                seen: set[str] = set()
                while todo:
                    symbol = todo.pop()
                    if not _is_nonterminal(symbol):
                        terminals.add(symbol)
                    elif symbol not in seen:
                        seen.add(symbol)
                        for rhs, _ in _productions(symbol, setting, character):
                            todo.extend(rhs)
        #: Token strings, index = id: the three specials, then the words in sorted order.
        self.vocab: list[str] = [UNK, BOS, EOS] + sorted(terminals)
        self.token_to_id: dict[str, int] = {t: i for i, t in enumerate(self.vocab)}
        self.eos_id = self.token_to_id[EOS]
        self._state_key: list[tuple[Any, ...]] = [("start",), ("end",)]
        self._state_id: dict[tuple[Any, ...], int] = {k: i for i, k in enumerate(self._state_key)}
        self._emissions: list[_Emissions | None] = [None, _NO_EMISSIONS]
        self._productions_cache: dict[tuple[str, int, int], Any] = {}
        self._stream: _StreamTables | None = None
        self._start_reading: Reading | None = None
        # States are compiled lazily; the TUI reads from worker threads.
        self._compile_lock = threading.RLock()

    # ------------------------------------------------------------------ sampling
    def sample(self, rng: np.random.Generator) -> list[str]:
        """One story as tokens (without ``</s>``), drawn top-down from the grammar tables:
        setting, then character, then sentences until the story stops."""
        setting_i = _choose(rng, [s.weight for s in SETTINGS])
        characters = _character_weights(SETTINGS[setting_i])
        char_i = characters[_choose(rng, [w for _, w in characters])][0]
        tokens: list[str] = []
        self._sample_symbols(INTRO_SENTENCE, setting_i, char_i, rng, tokens)
        sentences = 1
        while rng.random() >= STOP_AFTER[sentences]:
            event = _choose(rng, [w for _, _, w in EVENT_SENTENCES])
            self._sample_symbols(EVENT_SENTENCES[event][1], setting_i, char_i, rng, tokens)
            sentences += 1
        return tokens

    def _sample_symbols(self, symbols: Sequence[str], setting_i: int, char_i: int,
                        rng: np.random.Generator, out: list[str]) -> None:
        for symbol in symbols:
            if not _is_nonterminal(symbol):
                out.append(symbol)
                continue
            table = self._rules(symbol, setting_i, char_i)
            rhs = table[_choose(rng, [p for _, p in table])][0]
            self._sample_symbols(rhs, setting_i, char_i, rng, out)

    def corpus(self, n_stories: int, seed: int = 0) -> list[str]:
        """``n_stories`` stories as text, one per item (no newlines inside), deterministic for
        a seed: ``numpy.random.default_rng(seed)`` drives ``sample``."""
        if isinstance(n_stories, bool) or not isinstance(n_stories, int) or n_stories < 0:
            raise ValueError(f"n_stories must be an integer >= 0, got {n_stories!r}")
        rng = np.random.default_rng(seed)
        return [detokenize(self.sample(rng)) for _ in range(n_stories)]

    # ------------------------------------------------------------------ exact probabilities
    def ids(self, tokens: Sequence[str]) -> list[int]:
        """Token strings -> ids (unknown strings -> ``<unk>``, which the language never writes)."""
        return [self.token_to_id.get(t, 0) for t in tokens]

    def is_possible(self, prefix_tokens: Sequence[str]) -> bool:
        """True iff P(prefix) > 0 as the beginning of a story (a final ``</s>`` allowed)."""
        return self.read(self.ids(prefix_tokens)).possible

    def next_distribution(self, prefix_tokens: Sequence[str]) -> dict[str, float]:
        """Exact p(w | prefix) for every token w with non-zero probability (sums to 1).

        Raises ImpossiblePrefixError if the prefix has probability zero or is a complete story
        (ends with ``</s>``): the language does not continue it. See ``smoothed_distribution``."""
        reading = self.start()
        for t, token in enumerate(prefix_tokens):
            reading = self.advance(reading, self.token_to_id.get(token, 0))
            if not reading.possible:
                before = " ".join(prefix_tokens[max(0, t - 4):t])
                raise ImpossiblePrefixError(
                    f"the oracle language cannot write {token!r} (token {t + 1}) after "
                    f"'... {before}'")
        if reading.story == {_END: 1.0}:
            raise ImpossiblePrefixError("the story is complete: nothing follows </s>")
        return self._as_dict(reading.probs)

    def smoothed_distribution(self, prefix_tokens: Sequence[str]) -> dict[str, float]:
        """p(w | prefix) that never fails: exact for possible prefixes, otherwise the fallback
        described in the module docstring (longest explainable suffix of the story stream)."""
        return self._as_dict(self.read(self.ids(prefix_tokens)).probs)

    def sequence_logprob(self, tokens: Sequence[str], *, include_end: bool = True) -> float:
        """log P(w_1..w_T) = Σ_t log p(w_t | w_<t) (chain rule), natural log; with
        ``include_end`` the story is complete: + log p(</s> | w_1..w_T). -inf if impossible."""
        ids = self.ids(tokens)
        if include_end and (not ids or ids[-1] != self.eos_id):
            ids.append(self.eos_id)
        return self.read(ids).logprob

    def _as_dict(self, probs: np.ndarray) -> dict[str, float]:
        return {self.vocab[i]: float(probs[i]) for i in np.flatnonzero(probs)}

    # ------------------------------------------------------------------ incremental reading
    def start(self) -> Reading:
        """The reading of the empty prefix (the distribution of a story's first token)."""
        if self._start_reading is None:
            belief = {_START: 1.0}
            self._start_reading = Reading(belief, None, 0, (), 0.0, self._next_probs(belief))
        return self._start_reading

    def read(self, token_ids: Iterable[int]) -> Reading:
        """The reading after the given token ids (``advance`` from ``start``)."""
        reading = self.start()
        for token_id in token_ids:
            reading = self.advance(reading, int(token_id))
        return reading

    def advance(self, reading: Reading, token_id: int) -> Reading:
        """Read one more token: b_t(s) ∝ Σ_{s'} b_{t-1}(s') P(s' → s writing w_t)."""
        recent = (reading.recent + (token_id,))[-RESYNC_WINDOW:]
        p_token = float(reading.probs[token_id]) if 0 <= token_id < len(self.vocab) else 0.0
        possible = reading.possible and p_token > 0
        logprob = reading.logprob + math.log(p_token) if possible else -math.inf
        if reading.story is not None and reading.story != {_END: 1.0}:
            belief = self._step(reading.story, token_id)
            if belief:
                probs = self._next_probs(belief)
                if belief == {_END: 1.0}:
                    probs = self.start().probs  # what the stream does after </s>
                return Reading(belief, None, reading.suffix_len + 1, recent, logprob, probs)
            return self._resync(recent, min(RESYNC_WINDOW, reading.suffix_len + 1))
        tables = self._stream_tables()
        if reading.story is not None:  # a complete story: the stream reads on into the next one
            stream = tables.step(tables.one_hot(_START), token_id)
        elif reading.stream is None:  # the empty suffix: the stationary distribution
            stream = tables.first(token_id)
        else:
            stream = tables.step(reading.stream, token_id)
        if stream is not None:
            return Reading(None, stream, reading.suffix_len + 1, recent, -math.inf,
                           tables.next_probs(stream))
        return self._resync(recent, min(RESYNC_WINDOW, reading.suffix_len))

    def _resync(self, recent: tuple[int, ...], max_len: int) -> Reading:
        """Longest suffix of ``recent`` (at most ``max_len`` tokens) that the stream explains."""
        tables = self._stream_tables()
        for length in range(min(max_len, len(recent)), 0, -1):
            suffix = recent[-length:]
            belief = tables.first(suffix[0])
            for token_id in suffix[1:]:
                if belief is None:
                    break
                belief = tables.step(belief, token_id)
            if belief is not None:
                return Reading(None, belief, length, recent, -math.inf, tables.next_probs(belief))
        return Reading(None, None, 0, recent, -math.inf, tables.marginal)

    def _step(self, belief: dict[int, float], token_id: int) -> dict[int, float]:
        new: dict[int, float] = {}
        for state, weight in belief.items():
            for nxt, p in self._emit(state).by_token.get(token_id, ()):
                new[nxt] = new.get(nxt, 0.0) + weight * p
        return _normalised(new)

    def _next_probs(self, belief: dict[int, float]) -> np.ndarray:
        """p(w) = Σ_s b(s) P(s writes w), a dense vector over the vocabulary."""
        ids, weights = [], []
        for state, weight in belief.items():
            emissions = self._emit(state)
            ids.append(emissions.token_ids)
            weights.append(weight * emissions.probs)
        probs = np.bincount(np.concatenate(ids), np.concatenate(weights), len(self.vocab))
        total = probs.sum()
        return probs / total if total > 0 else probs

    # ------------------------------------------------------------------ automaton states
    def _rules(self, symbol: str, setting_i: int, char_i: int) -> Any:
        key = (symbol, setting_i, char_i)
        rules = self._productions_cache.get(key)
        if rules is None:
            rules = _productions(symbol, SETTINGS[setting_i], CHARACTERS[char_i])
            self._productions_cache[key] = rules
        return rules

    def _intern(self, key: tuple[Any, ...]) -> int:
        state = self._state_id.get(key)
        if state is None:
            state = len(self._state_key)
            self._state_id[key] = state
            self._state_key.append(key)
            self._emissions.append(None)
        return state

    def _emit(self, state: int) -> _Emissions:
        """The tokens a state writes next (computed once: expand non-terminals left-first)."""
        emissions = self._emissions[state]
        if emissions is not None:
            return emissions
        with self._compile_lock:
            emissions = self._emissions[state]
            if emissions is None:
                emissions = self._compile(state)
                self._emissions[state] = emissions
        return emissions

    def _compile(self, state: int) -> _Emissions:
        out: dict[tuple[int, int], float] = {}
        if state == _START:
            for setting_i, setting in enumerate(SETTINGS):
                for char_i, weight in _character_weights(setting):
                    self._expand(setting_i, char_i, 0, (), setting.weight * weight, out)
        else:
            setting_i, char_i, sentence, rest = self._state_key[state]
            self._expand(setting_i, char_i, sentence, rest, 1.0, out)
        by_token: dict[int, list[tuple[int, float]]] = {}
        for (token_id, nxt), p in out.items():
            by_token.setdefault(token_id, []).append((nxt, p))
        token_ids = np.array(sorted(by_token), dtype=np.int64)
        probs = np.array([sum(p for _, p in by_token[t]) for t in token_ids.tolist()])
        return _Emissions(token_ids, probs, {t: tuple(v) for t, v in by_token.items()})

    def _expand(self, setting_i: int, char_i: int, sentence: int, rest: tuple[str, ...],
                weight: float, out: dict[tuple[int, int], float]) -> None:
        if not rest:  # between sentences: stop with </s>, or draw the next sentence
            if sentence == 0:
                self._expand(setting_i, char_i, 1, INTRO_SENTENCE, weight, out)
                return
            p_stop = STOP_AFTER[sentence]
            if p_stop > 0:
                key = (self.eos_id, _END)
                out[key] = out.get(key, 0.0) + weight * p_stop
            if p_stop < 1:
                total = sum(w for _, _, w in EVENT_SENTENCES)
                for _, rhs, w in EVENT_SENTENCES:
                    self._expand(setting_i, char_i, sentence + 1, rhs,
                                 weight * (1 - p_stop) * w / total, out)
            return
        head = rest[0]
        if _is_nonterminal(head):
            for rhs, p in self._rules(head, setting_i, char_i):
                self._expand(setting_i, char_i, sentence, rhs + rest[1:], weight * p, out)
            return
        key = (self.token_to_id[head], self._intern((setting_i, char_i, sentence, rest[1:])))
        out[key] = out.get(key, 0.0) + weight

    def _stream_tables(self) -> _StreamTables:
        """Every transition of the automaton, and how often the stream of stories visits each
        state: π(s) = E[visits of s per story] / E[tokens per story, </s> included]."""
        with self._compile_lock:
            if self._stream is None:
                self._stream = self._compile_stream()
        return self._stream

    def _compile_stream(self) -> _StreamTables:
        visits: dict[int, float] = {}
        layer = {_START: 1.0}
        while layer:  # stories are finite: every path reaches </s>
            following: dict[int, float] = {}
            for state, mass in layer.items():
                visits[state] = visits.get(state, 0.0) + mass
                for moves in self._emit(state).by_token.values():
                    for nxt, p in moves:
                        if nxt != _END:
                            following[nxt] = following.get(nxt, 0.0) + mass * p
            layer = following
        pi = np.zeros(len(self._state_key))
        pi[list(visits)] = list(visits.values())
        rows = sorted((token_id, state, _START if nxt == _END else nxt, p)
                      for state in visits
                      for token_id, moves in self._emit(state).by_token.items()
                      for nxt, p in moves)
        token, src, dst, prob = (np.array(column) for column in zip(*rows))
        return _StreamTables(pi / pi.sum(), token.astype(np.int64), src.astype(np.int64),
                             dst.astype(np.int64), prob.astype(np.float64), len(self.vocab),
                             self._emit)

    def describe(self) -> dict[str, Any]:
        """Facts about the language for a model card or the model picker."""
        return {
            "settings": [s.name for s in SETTINGS],
            "characters": len(CHARACTERS),
            "sentences": "2-4",
            "vocab_size": len(self.vocab),
        }


def _normalised(belief: dict[int, float]) -> dict[int, float]:
    total = sum(belief.values())
    if total <= 0:
        return {}
    return {state: weight / total for state, weight in belief.items() if weight > 0}


def _choose(rng: np.random.Generator, weights: Sequence[float]) -> int:
    """Index i with probability weights[i] / Σ weights, from one uniform draw."""
    cumulative = np.cumsum(weights)
    index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return min(index, len(weights) - 1)


# ---------------------------------------------------------------------------------------------
# The language as a LanguageModel backend.

_DEFAULT_LANGUAGE: OracleLanguage | None = None


def oracle_language() -> OracleLanguage:
    """The shared OracleLanguage instance (its compiled states and caches are reused)."""
    global _DEFAULT_LANGUAGE
    if _DEFAULT_LANGUAGE is None:
        _DEFAULT_LANGUAGE = OracleLanguage()
    return _DEFAULT_LANGUAGE


@dataclass(frozen=True)
class OracleState:
    """Batched state of ``OracleModel``: one immutable ``Reading`` per sequence."""

    readings: tuple[Reading, ...]

    def __len__(self) -> int:
        return len(self.readings)


class OracleModel(LanguageModel):
    """The oracle language behind the LanguageModel protocol (backend "oracle").

    ``next_logprobs`` is log p(w | context) from the smoothed reading (exact for every context
    the language can produce; see the module docstring for the others). ``<s>`` and ``<unk>``
    always get -inf. A leading ``<s>`` in a context is ignored. Its tokenizer is
    ``WordTokenizer.from_vocab(language vocabulary)``: models trained on oracle stories must use it
    so that their token ids align with the oracle's."""

    backend = "oracle"
    #: How many recent contexts ``next_logprobs`` remembers (their readings are immutable).
    READING_CACHE = 4096

    def __init__(self, *, seed: int = 0, name: str = "oracle",
                 language: OracleLanguage | None = None) -> None:
        from arlm_tui.text.tokenizers import WordTokenizer

        self.language = language if language is not None else oracle_language()
        #: Seed of the standard oracle corpus (``corpus(n)`` uses it by default).
        self.seed = int(seed)
        self.name = name
        self.tokenizer = WordTokenizer.from_vocab(self.language.vocab[3:])
        if list(self.tokenizer.vocab) != self.language.vocab:
            raise RuntimeError("WordTokenizer.from_vocab did not keep the oracle's token order")
        self._recent_readings: dict[tuple[int, ...], Reading] = {}

    def corpus(self, n_stories: int, seed: int | None = None) -> list[str]:
        """Stories of the language as text (``seed`` defaults to the model's seed)."""
        return self.language.corpus(n_stories, self.seed if seed is None else seed)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.language.describe(), "seed": self.seed,
                "exact": True}

    def _reading(self, context_ids: Sequence[int]) -> Reading:
        ids = [int(i) for i in context_ids]
        skip = 0
        while skip < len(ids) and ids[skip] == self.bos_id:
            skip += 1
        key = tuple(ids[skip:])
        reading = self._recent_readings.get(key)
        if reading is None:
            # callers often ask for a context one token longer than the last one
            before = self._recent_readings.get(key[:-1]) if key else None
            if before is not None:
                reading = self.language.advance(before, key[-1])
            else:
                reading = self.language.read(key)
            if len(self._recent_readings) >= self.READING_CACHE:
                self._recent_readings.clear()
            self._recent_readings[key] = reading
        return reading

    def is_possible(self, context_ids: Sequence[int]) -> bool:
        """True iff the context has non-zero probability as the beginning of a story."""
        return self._reading(context_ids).possible

    def next_logprobs(self, context_ids: Sequence[int]) -> np.ndarray:
        return _log(self._reading(context_ids).probs)

    def start(self, contexts: Sequence[Sequence[int]]) -> tuple[np.ndarray, OracleState]:
        state = OracleState(tuple(self._reading(c) for c in contexts))
        return self._logprobs_of(state), state

    def extend(self, state: OracleState, token_ids: Sequence[int]) -> tuple[np.ndarray,
                                                                            OracleState]:
        if len(token_ids) != len(state):
            raise ValueError(f"extend got {len(token_ids)} tokens for {len(state)} sequences")
        new = OracleState(tuple(self.language.advance(r, int(t))
                                for r, t in zip(state.readings, token_ids)))
        return self._logprobs_of(new), new

    def select(self, state: OracleState, indices: Sequence[int]) -> OracleState:
        return OracleState(tuple(state.readings[int(i)] for i in indices))

    def _logprobs_of(self, state: Any) -> np.ndarray:
        if not state.readings:
            return np.zeros((0, self.vocab_size))
        return _log(np.stack([r.probs for r in state.readings]))


def _log(probs: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(probs)


# ---------------------------------------------------------------------------------------------
# Model directories: models/oracle/config.json = {"backend": "oracle", "seed": 0}

CONFIG_FORMAT = 1


def save_oracle(directory: str | Path, *, seed: int = 0, name: str = "oracle") -> Path:
    """Write a model directory that ``load_oracle`` reads: ``config.json`` and, for tools that
    read a model's tokenizer, ``tokenizer.json``. The oracle has no weights."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = OracleModel(seed=seed, name=name)
    config = {"backend": "oracle", "format": CONFIG_FORMAT, "seed": model.seed, "name": name}
    from arlm_tui.outputs import write_text

    write_text(directory / "config.json", json.dumps(config, indent=2) + "\n")
    model.tokenizer.save(directory / "tokenizer.json")
    return directory


def load_oracle(directory: str | Path) -> OracleModel:
    """Build the OracleModel a model directory describes; ModelLoadError naming the file if
    ``config.json`` is missing or wrong, or if a ``tokenizer.json`` there does not match."""
    directory = Path(directory)
    path = directory / "config.json"
    from arlm_tui import inputs

    if not path.exists() and not path.is_symlink():
        raise ModelLoadError("missing config.json of the oracle model", path=path)
    with inputs.reported_as(ModelLoadError):  # a regular file, size and depth bounded
        config = inputs.load_json(path, limit=inputs.LIMITS["config"], what="config")
    if not isinstance(config, dict) or config.get("backend") != "oracle":
        backend = config.get("backend") if isinstance(config, dict) else None
        raise ModelLoadError(f"backend is {backend!r}, expected 'oracle'", path=path)
    if config.get("format", CONFIG_FORMAT) != CONFIG_FORMAT:
        raise ModelLoadError(f"unsupported format {config.get('format')!r}", path=path)
    seed = config.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ModelLoadError(f"seed must be an integer, got {seed!r}", path=path)
    name = config.get("name", directory.name or "oracle")
    if not isinstance(name, str):
        raise ModelLoadError(f"name must be a string, got {name!r}", path=path)
    model = OracleModel(seed=seed, name=name)
    tokenizer_path = directory / "tokenizer.json"
    if tokenizer_path.exists():
        from arlm_tui.text.tokenizers import load_tokenizer

        if list(load_tokenizer(tokenizer_path).vocab) != model.language.vocab:
            raise ModelLoadError("tokenizer.json does not match the oracle vocabulary",
                                 path=tokenizer_path)
    return model
