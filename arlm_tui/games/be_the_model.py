"""Be the model: the learner predicts the next word of a held-out text as a probability
distribution, and is scored exactly as a language model is, by log-loss.

A round shows the beginning of a text the models never trained on (a story of the oracle
language, or a held-out sentence of the Python reference) and asks for ``ROUND_LENGTH`` next
words in a row. For each one the learner *bets*: up to ``MAX_WORDS`` words sharing ``POINTS``
points (``shell:6 boat:3 net:1``), or one word with a confidence (``shell 70%``). The bet is a
probability distribution q over the N words that can come next (every vocabulary word but the
specials ``<unk>``, ``<s>``, ``</s>``):

    q(w) = (1 − ε) · m(w) + (1 − (1 − ε) · M) / N,     M = Σ_w m(w) <= 1,

where m(w) is the mass bet on w (points / 10, or the confidence) and ε = ``FLOOR_MASS``. The
floor keeps a miss finite: a word nobody bet on still gets at least ε / N, so a confident miss
costs about −log(ε / N) ≈ 8.4 nats on the oracle's 216 words, not infinity. Unspent points and
the rest of a confidence go to the same uniform share. q sums to one, so log-loss is a proper
score: the learner does best, on average, by betting what they really believe.

The true word is then revealed, with the loss −log q(truth), and what the models gave it. After
the round the learner's cross-entropy and perplexity over those words,

    H = −(1/T) Σ_t log q(w_t | w_<t),     PP = exp(H),

stand next to every model's on the same tokens. On the oracle language the truth p is known, so
the *entropy floor* is shown too: the mean entropy (1/T) Σ_t H(p̃_t), the perplexity that even
the true distribution gets on average (``arlm_tui.lm.information``).

The floor holds in expectation, not on one story: a realised loss −log q(w_t) can fall below
H(p̃_t) by chance whenever the word that came was a likely one. So on the oracle language the
table ranks everyone by what does respect the floor on that very story, the *expected* loss

    (1/T) Σ_t H(p̃_t, q_t) = (1/T) Σ_t [H(p̃_t) + KL(p̃_t ‖ q_t)]  ≥  (1/T) Σ_t H(p̃_t),

and shows the realised loss beside it. p̃_t is the oracle's next-token distribution given that
a word comes next (its mass on ``</s>`` and the specials removed and the rest renormalized):
the round only ever asks for words, so that is the distribution the asked word was drawn from.

Models compared: on the oracle language the oracle itself, the story trigram, and every installed
model that uses the oracle's tokenizer; on the Python reference the bundled ``pyref-word-kn3``
(required: its tokenizer defines the words) and any installed model with the same vocabulary.
A model with another tokenizer predicts other tokens, so it is left out rather than compared on
different units.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from arlm_tui import game_catalog
from arlm_tui.errors import ArlmError
from arlm_tui.games.common import (
    STORY_TRAIN_STORIES,
    STORY_TRIGRAM,
    GameResult,
    MissingModelError,
    check_seed,
    heldout_story,
    pyref_heldout,
    story_trigram,
)
from arlm_tui.lm.base import LanguageModel
from arlm_tui.lm.information import cross_entropy_nats, entropy_nats, perplexity

GAME_ID = game_catalog.BE_THE_MODEL
TITLE = game_catalog.title(GAME_ID)
TAGLINE = "predict the next word as a distribution, scored by log-loss"
TEACHES = (
    "A language model is scored by log-loss: −log of the probability it gave the word that "
    "really came next. Here you are the model. Spread 10 points over up to 5 words "
    "(shell:6 boat:3 net:1) or type one word with a confidence (shell 70%). A confident hit "
    "costs almost nothing, a confident miss costs a lot, and hedging costs a little every time: "
    "perplexity = exp(mean loss) rewards honest probabilities. After the round your perplexity "
    "stands next to the models' on the same words, and on the oracle language next to the "
    "entropy floor that even the true distribution cannot beat on average."
)

#: Where the held-out text comes from.
SOURCES: dict[str, str] = {
    "oracle": "a story of the oracle language",
    "pyref": "a held-out sentence of the Python language reference",
}
#: Words to predict in one round.
ROUND_LENGTH = 8
#: Points a bet spreads, and the most words it may name.
POINTS = 10
MAX_WORDS = 5
#: ε: the share of probability always spread evenly over every word, so a miss is finite.
FLOOR_MASS = 0.05
#: Words of context shown before the first guess.
MIN_CONTEXT = 3
#: The bundled model whose tokenizer defines the words of the Python-reference texts.
PYREF_MODEL = "pyref-word-kn3"


class BetError(ArlmError):
    """A bet that cannot be read (one line saying what is wrong)."""


# --------------------------------------------------------------------------- bets
@dataclass(frozen=True)
class Bet:
    """The learner's distribution over the next word: ``masses[token_id]`` (sum <= 1) plus the
    uniform floor (see the module docstring). ``text`` is what they typed."""

    masses: dict[int, float]
    text: str = ""

    @property
    def total(self) -> float:
        """M = Σ m(w)."""
        return float(sum(self.masses.values()))

    def probability(self, token_id: int, outcomes: int) -> float:
        """q(w) = (1 − ε) m(w) + (1 − (1 − ε) M) / N over N = ``outcomes`` possible words."""
        if outcomes < 1:
            raise ValueError(f"outcomes must be >= 1, got {outcomes!r}")
        rest = 1.0 - (1.0 - FLOOR_MASS) * self.total
        return (1.0 - FLOOR_MASS) * self.masses.get(int(token_id), 0.0) + rest / outcomes


_CONFIDENCE_RE = re.compile(r"^(\d+(?:\.\d+)?)%$")
_POINTS_RE = re.compile(r"^(.+?)[:=](\d+)$")
#: a word with a value that is not whole points: "shell:-3", "shell:2.5"
_ANY_POINTS_RE = re.compile(r"^(.+?)[:=]([-−]?\d*[.,]?\d+)$")


def _word_id(word: str, tokenizer: Any, eligible: set[int]) -> int:
    ids = tokenizer.encode(word)
    if len(ids) != 1 or ids[0] not in eligible:
        ids = tokenizer.encode(word.lower())  # "Shell" for a lower-case vocabulary
    if len(ids) != 1 or ids[0] not in eligible:
        raise BetError(f"{word!r} is not a word this text can continue with (unknown to the "
                       "vocabulary, or more than one word)")
    return int(ids[0])


def parse_bet(text: str, tokenizer: Any, eligible: set[int]) -> Bet:
    """Read a bet typed by the learner.

    ``shell:6 boat:3 net:1`` (or ``shell=6``): up to ``MAX_WORDS`` words with whole points
    adding up to at most ``POINTS``; ``shell 70%`` (or ``shell:70%``): one word with a
    confidence in (0, 100]; a single bare word ``shell``: all points on it. Items are separated
    by spaces, so punctuation tokens can be bet on too (``.:5 ,:5``). ``eligible`` holds the ids
    that can be the next word. Raises BetError with a one-line reason."""
    items = text.split()
    if not items:
        raise BetError(f"type up to {MAX_WORDS} words with points, e.g. shell:6 boat:3 net:1, "
                       "or one word with a confidence, e.g. shell 70%")
    # one word with a confidence: "shell 70%" or "shell:70%"
    if len(items) == 2 and _CONFIDENCE_RE.match(items[1]):
        items = [f"{items[0]}:{items[1]}"]
    if len(items) == 1:
        word, _, value = items[0].rpartition(":") if "%" in items[0] else ("", "", "")
        if word and (match := _CONFIDENCE_RE.match(value)):
            confidence = float(match.group(1)) / 100.0
            if not 0.0 < confidence <= 1.0:
                raise BetError(f"a confidence must be above 0% and at most 100%, got {value}")
            return Bet({_word_id(word, tokenizer, eligible): confidence}, text.strip())
        if not _POINTS_RE.match(items[0]) and not _ANY_POINTS_RE.match(items[0]):
            try:
                return Bet({_word_id(items[0], tokenizer, eligible): 1.0}, text.strip())
            except BetError:
                if ":" not in items[0][1:] and "=" not in items[0][1:]:
                    raise
    if len(items) > MAX_WORDS:
        raise BetError(f"at most {MAX_WORDS} words, got {len(items)}")
    points: dict[int, int] = {}
    for item in items:
        match = _POINTS_RE.match(item)
        if match is None:
            odd = _ANY_POINTS_RE.match(item)
            if odd is not None:
                word, value_text = odd.group(1), odd.group(2)
                if value_text.startswith(("-", "−")):
                    raise BetError(f"{item!r}: points cannot be negative; to bet nothing on "
                                   f"{word!r}, leave it out ({POINTS} points in all)")
                raise BetError(f"{item!r}: points are whole numbers, like {word}:3 "
                               f"({POINTS} points in all)")
            word = item.split(":")[0].split("=")[0] or "word"
            raise BetError(f"{item!r}: give each word its points, like {word}:3 "
                           f"({POINTS} points in all)")
        word, amount = match.group(1), int(match.group(2))
        token = _word_id(word, tokenizer, eligible)
        if token in points:
            raise BetError(f"{word!r} appears twice")
        points[token] = amount
    spent = sum(points.values())
    if spent > POINTS:
        raise BetError(f"the points add up to {spent}; you have {POINTS}")
    if spent == 0:
        raise BetError("put at least one point on a word")
    return Bet({t: p / POINTS for t, p in points.items() if p > 0}, text.strip())


# --------------------------------------------------------------------------- the round
@dataclass(frozen=True)
class Contender:
    """A model the learner is compared with. ``role``: "oracle" (the true distribution) or
    "model"."""

    model: LanguageModel
    role: str = "model"

    @property
    def name(self) -> str:
        return self.model.name


@dataclass(frozen=True)
class Reveal:
    """What the screen shows after a guess: the true word, the learner's q and loss, each
    contender's probability of it, and (on the oracle language) the truth's entropy there."""

    position: int
    truth_id: int
    truth: str
    probability: float  # q(truth)
    loss: float  # −log q(truth), nats
    model_probabilities: list[tuple[str, float]]  # (contender name, p(truth))
    entropy: float | None  # H(p(· | context)) of the oracle, nats
    best_bets: list[tuple[str, float]]  # the oracle's (else the first model's) top words


@dataclass(frozen=True)
class ScoreRow:
    """One line of the end-of-round table: the realised cross-entropy H (nats per word) on the
    story's words and PP = exp(H); on the oracle language also the expected loss
    (1/T) Σ_t H(p̃_t, q_t) (for the floor row, both are the mean entropy)."""

    name: str
    kind: str  # "you" | "model" | "oracle" | "floor"
    cross_entropy: float
    note: str = ""
    expected: float | None = None

    @property
    def perplexity(self) -> float:
        return perplexity(self.cross_entropy)

    @property
    def expected_perplexity(self) -> float | None:
        if self.expected is None:
            return None
        return perplexity(self.expected)


@dataclass
class _Position:
    context: list[int]
    target: int
    logprobs: dict[str, np.ndarray] = field(default_factory=dict)  # contender -> log p(· | ctx)


def _describe(model: LanguageModel) -> str:
    """A few words on a model for the score table: backend and, if known, its corpus size."""
    if model.name == STORY_TRIGRAM:
        return f"ngram, {STORY_TRAIN_STORIES:,} stories"
    return model.backend


def default_contenders(source: str) -> list[Contender]:
    """The oracle and the story trigram (oracle language), or ``pyref-word-kn3`` (Python
    reference); MissingModelError if that bundled model is not installed."""
    if source == "oracle":
        from arlm_tui.lm.oracle import OracleModel

        return [Contender(OracleModel(), "oracle"), Contender(story_trigram())]
    if source == "pyref":
        from arlm_tui.errors import UnknownModelError
        from arlm_tui.lm.registry import load_model

        try:
            return [Contender(load_model(PYREF_MODEL))]
        except UnknownModelError:
            raise MissingModelError(
                f"{TITLE} on the Python reference needs the bundled model {PYREF_MODEL}, which "
                "is not installed (rebuild it: python -m arlm_tui.build_models); the oracle "
                "language needs no model"
            ) from None
    raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")


def installed_contenders(source: str, exclude: Sequence[str] = ()) -> list[Contender]:
    """Every installed model that predicts the same tokens as the source's reference tokenizer
    (same vocabulary), except the names in ``exclude`` and oracle directories (the oracle is
    always there). Reads each model's ``tokenizer.json`` before loading any weights."""
    from arlm_tui.lm.registry import list_models, load_model
    from arlm_tui.text.tokenizers import load_tokenizer

    reference = _reference_vocab(source)
    found = []
    for entry in list_models():
        if entry.name in exclude or entry.backend in ("oracle", "broken"):
            continue
        try:
            if list(load_tokenizer(entry.path / "tokenizer.json").vocab) != reference:
                continue
            model = load_model(entry.name)
        except (ArlmError, OSError):
            continue
        if model.normalized:
            found.append(Contender(model))
    return found


def _reference_vocab(source: str) -> list[str]:
    if source == "oracle":
        from arlm_tui.lm.oracle import OracleModel

        return list(OracleModel().vocab)
    return list(default_contenders(source)[0].model.vocab)


class BeTheModelRound:
    """One round: ``length`` consecutive words of one held-out text, chosen by ``seed``.

    ``contenders`` default to ``default_contenders(source)``; they must share the reference
    tokenizer (the first contender's). Use ``context_text`` / ``guess(bet)`` until ``done``,
    then ``scores()`` and ``result()``."""

    def __init__(self, source: str = "oracle", seed: int = 0, *, length: int = ROUND_LENGTH,
                 contenders: Sequence[Contender] | None = None):
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 30:
            raise ValueError(f"length must be an integer from 1 to 30, got {length!r}")
        self.source = source
        self.seed = check_seed(seed)
        self.length = length
        self.contenders = list(contenders) if contenders else default_contenders(source)
        self.tokenizer = self.contenders[0].model.tokenizer
        vocab = list(self.tokenizer.vocab)
        for c in self.contenders[1:]:
            if list(c.model.vocab) != vocab:
                raise ValueError(f"contenders: {c.name} does not share the reference vocabulary")
        specials = {self.tokenizer.unk_id, self.tokenizer.bos_id, self.tokenizer.eos_id}
        #: ids that can be the next word (what a bet may name, what q is spread over)
        self.eligible = set(range(len(vocab))) - specials
        self.tokens, start = self._choose_window()
        self.start = start
        self.positions = [_Position(self.tokens[:t], self.tokens[t])
                          for t in range(start, start + length)]
        self.bets: list[Bet] = []
        self.reveals: list[Reveal] = []

    # ------------------------------------------------------------------ the text
    def _choose_window(self) -> tuple[list[int], int]:
        """(token ids of the text, index of the first word to guess), from the seed."""
        rng = np.random.default_rng([self.seed, 6])
        unk = self.tokenizer.unk_id
        if self.source == "oracle":
            candidates = (heldout_story(self.seed * 7919 + k) for k in range(100))
        else:
            held = pyref_heldout()
            candidates = (held[int(i)] for i in rng.permutation(len(held)))
        for text in candidates:
            ids = list(self.tokenizer.encode(text))
            starts = [s for s in range(MIN_CONTEXT, len(ids) - self.length + 1)
                      if unk not in ids[s:s + self.length]]
            if starts:
                return ids, int(starts[int(rng.integers(len(starts)))])
        raise ArlmError(f"{TITLE}: no held-out text is long enough for {self.length} guesses")

    @property
    def index(self) -> int:
        """How many words have been guessed."""
        return len(self.reveals)

    @property
    def done(self) -> bool:
        return self.index >= self.length

    @property
    def outcomes(self) -> int:
        """N: how many different words can come next."""
        return len(self.eligible)

    @property
    def context_text(self) -> str:
        """The text so far: the shown beginning plus the words already revealed."""
        return self.tokenizer.decode(self.tokens[:self.start + self.index])

    def parse(self, text: str) -> Bet:
        """``parse_bet`` with this round's words."""
        return parse_bet(text, self.tokenizer, self.eligible)

    # ------------------------------------------------------------------ playing
    def _logprobs(self, position: _Position) -> dict[str, np.ndarray]:
        if not position.logprobs:
            for c in self.contenders:
                position.logprobs[c.name] = np.asarray(c.model.next_logprobs(position.context),
                                                       dtype=np.float64)
        return position.logprobs

    def guess(self, bet: Bet | str) -> Reveal:
        """Score a bet on the current word and reveal it."""
        if self.done:
            raise ValueError("guess: the round is over")
        if isinstance(bet, str):
            bet = self.parse(bet)
        position = self.positions[self.index]
        truth = position.target
        q = bet.probability(truth, self.outcomes)
        logprobs = self._logprobs(position)
        entropy = None
        best_from = self.contenders[0]
        for c in self.contenders:
            if c.role == "oracle":
                entropy = entropy_nats(np.exp(logprobs[c.name]))
                best_from = c
                break
        lp_best = logprobs[best_from.name]
        order = np.argsort(-lp_best, kind="stable")[:5]
        reveal = Reveal(
            position=self.index,
            truth_id=truth,
            truth=self.tokenizer.token_text(truth),
            probability=q,
            loss=-math.log(q),
            model_probabilities=[(c.name, float(np.exp(logprobs[c.name][truth])))
                                 for c in self.contenders],
            entropy=entropy,
            best_bets=[(self.tokenizer.token_text(int(i)), float(np.exp(lp_best[i])))
                       for i in order if np.isfinite(lp_best[i])],
        )
        self.bets.append(bet)
        self.reveals.append(reveal)
        return reveal

    # ------------------------------------------------------------------ scoring
    @property
    def cross_entropy(self) -> float:
        """The learner's H = mean loss over the words guessed so far (nan before any)."""
        if not self.reveals:
            return math.nan
        return sum(r.loss for r in self.reveals) / len(self.reveals)

    @property
    def perplexity(self) -> float:
        return perplexity(self.cross_entropy)

    def word_distribution(self, position: int) -> np.ndarray | None:
        """p̃_t: the oracle's next-token distribution at ``position`` given that a word comes
        next (specials removed, renormalized); None without an oracle."""
        oracle = next((c for c in self.contenders if c.role == "oracle"), None)
        if oracle is None:
            return None
        p = np.exp(self._logprobs(self.positions[position])[oracle.name])
        mask = np.zeros_like(p)
        mask[list(self.eligible)] = 1.0
        p = p * mask
        return p / p.sum()

    def bet_distribution(self, bet: Bet) -> np.ndarray:
        """q over the vocabulary for a bet (0 on the specials, which a bet cannot name)."""
        q = np.zeros(len(self.tokenizer.vocab))
        for token in self.eligible:
            q[token] = bet.probability(token, self.outcomes)
        return q

    @staticmethod
    def _cross_entropy(p: np.ndarray, q: np.ndarray) -> float:
        """H(p, q) = −Σ p log q (∞ if q misses part of p's support)."""
        return cross_entropy_nats(p, q)

    def scores(self) -> list[ScoreRow]:
        """You, every contender and (oracle language) the entropy floor, on the words guessed
        so far. With an oracle: you first, then the floor and the models by expected loss,
        lowest first (the floor heads them: nobody is below it in expectation); without one,
        everyone by realised loss."""
        n = len(self.reveals)
        if n == 0:
            return []
        maybe_truths = [self.word_distribution(t) for t in range(n)]
        truths = [p for p in maybe_truths if p is not None]
        known = len(truths) == len(maybe_truths)

        def expected(q_of: Any) -> float | None:
            if not known:
                return None
            return sum(self._cross_entropy(p, q_of(t)) for t, p in enumerate(truths)) / n

        you = ScoreRow("you", "you", self.cross_entropy,
                       expected=expected(lambda t: self.bet_distribution(self.bets[t])))
        rows = []
        for c in self.contenders:
            nll = -sum(float(self._logprobs(p)[c.name][p.target]) for p in self.positions[:n])
            note = "the true distribution" if c.role == "oracle" else _describe(c.model)
            rows.append(ScoreRow(
                c.name, c.role, nll / n, note,
                expected=expected(lambda t, c=c: np.exp(self._logprobs(self.positions[t])[c.name]))))
        if known:
            floor = sum(self._cross_entropy(p, p) for p in truths) / n
            rows.append(ScoreRow("entropy floor", "floor", floor,
                                 "nobody beats it on average",
                                 expected=floor))
            return [you, *sorted(rows, key=lambda r: (r.expected, r.kind != "floor"))]
        return sorted([you, *rows], key=lambda r: r.cross_entropy)

    def result(self) -> GameResult:
        """The finished round: score = your perplexity; xp = 10 + 5 per model you beat."""
        if not self.done:
            raise ValueError("result: the round is not over")
        rows = self.scores()
        mine = self.perplexity
        models = [r for r in rows if r.kind == "model"]
        beaten = [r.name for r in models if mine < r.perplexity]
        backends = {c.name: c.model.backend for c in self.contenders}
        floor = next((r.perplexity for r in rows if r.kind == "floor"), None)
        details: dict[str, Any] = {
            "source": self.source,
            "perplexity": round(mine, 4),
            "cross_entropy": round(self.cross_entropy, 4),
            "models": {r.name: round(r.perplexity, 4) for r in rows if r.kind != "you"},
            "beat": beaten,
            "beat_ngram": any(backends.get(name) == "ngram" for name in beaten),
            "beat_all": bool(models) and len(beaten) == len(models),
            "floor": None if floor is None else round(floor, 4),
            # expected loss H(p̃, q) per word (oracle language only): what respects the floor
            "expected": {r.name: round(r.expected, 4) for r in rows if r.expected is not None
                         and math.isfinite(r.expected)},
            "bets": [b.text for b in self.bets],
        }
        summary = f"perplexity {mine:.1f} on {self.length} words ({self.source})"
        if beaten:
            summary += f" · beat {', '.join(beaten)}"
        return GameResult(GAME_ID, self.seed, mine, 10 + 5 * len(beaten), summary, details)
