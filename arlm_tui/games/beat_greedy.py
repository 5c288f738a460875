"""Beat greedy: build, token by token, a sentence more probable than the one greedy decoding
writes, on a tiny model where greedy provably misses the best sentence.

A puzzle is a bigram model over ``WORDS`` words (drawn from a small pool) whose every sentence
has exactly ``HORIZON`` words: p(w | previous word) is a Dirichlet(``CONCENTRATION``) draw over
the words, and ``</s>`` has probability zero, so lengths never differ and the probability of a
sentence is just the chain-rule product

    p(w_1 … w_T) = Π_t p(w_t | w_{t−1}),    log p = Σ_t log p(w_t | w_{t−1}).

Greedy takes the most probable word at each step; that is not the most probable sentence when
a less likely first word leads to much likelier continuations. Each puzzle is *checked*: exact
search (``arlm_tui.decoding.exact_search``) enumerates all ``WORDS ** HORIZON`` sentences, and a
draw is kept only if the best is at least ``MIN_RATIO`` times as probable as greedy's; otherwise
the next draw (same seed, next attempt) is tried. After the learner's sentence, greedy's, beam
search's (widths 2 and 3) and exact search's are shown with their probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from arlm_tui import game_catalog
from arlm_tui.decoding import DecodingConfig, beam_search, exact_search, generate_ids
from arlm_tui.errors import ArlmError
from arlm_tui.games.common import GameResult, check_seed
from arlm_tui.lm.base import BOS, EOS, UNK
from arlm_tui.lm.table import TableModel

GAME_ID = game_catalog.BEAT_GREEDY
TITLE = game_catalog.title(GAME_ID)
TAGLINE = "build a sentence more probable than greedy decoding's"
TEACHES = (
    "Greedy decoding takes the most probable word at every step, but the most probable "
    "sentence can start with a less probable word that opens better continuations. Build a "
    "sentence word by word to beat greedy's total probability (the product of the word "
    "probabilities). The model is tiny, so exact search can check every sentence: each puzzle "
    "is made so that greedy is not optimal. Then see what beam search and exact search find."
)

#: Words of a puzzle, drawn from ``WORD_POOL``; sentences have exactly ``HORIZON`` words.
WORDS = 5
HORIZON = 4
#: Dirichlet concentration of each p(· | previous word): below 1, distributions are peaked.
CONCENTRATION = 0.6
#: The best sentence must be at least this many times as probable as greedy's.
MIN_RATIO = 1.1
#: Beam widths shown after the round.
BEAM_WIDTHS = (2, 3)
WORD_POOL = (
    "red", "blue", "fox", "cat", "owl", "sun", "moon", "sea", "sky", "old", "new", "big",
    "runs", "sings", "sleeps", "jumps", "home", "far", "now", "here",
)


@dataclass(frozen=True)
class Path:
    """A sentence with its log-probability (and where it came from)."""

    label: str
    ids: tuple[int, ...]
    text: str
    logprob: float

    @property
    def probability(self) -> float:
        return math.exp(self.logprob)


def puzzle_model(seed: int, attempt: int = 0) -> TableModel:
    """The bigram model of draw ``attempt`` for ``seed`` (no ``</s>``: fixed-length sentences)."""
    rng = np.random.default_rng([seed, attempt, 17])
    pool = np.array(WORD_POOL)
    words = [str(w) for w in pool[rng.choice(len(pool), WORDS, replace=False)]]
    table: dict[tuple[str, ...], dict[str, float]] = {}
    for context in (BOS, *words):
        draw = rng.dirichlet(np.full(WORDS, CONCENTRATION))
        draw = np.maximum(draw, 1e-6)  # no exact zeros: every sentence stays possible
        table[(context,)] = dict(zip(words, (draw / draw.sum()).tolist()))
    for special in (EOS, UNK):  # never reached (probability 0), but every context needs a row
        table[(special,)] = {w: 1.0 / WORDS for w in words}
    return TableModel(words, 2, table, normalize=True, name=f"puzzle-{seed}")


class BeatGreedyPuzzle:
    """A checked puzzle: ``greedy``, ``beams`` and ``best`` (exact search) are Paths."""

    def __init__(self, seed: int = 0, *, max_attempts: int = 200):
        self.seed = check_seed(seed)
        for attempt in range(max_attempts):
            model = puzzle_model(self.seed, attempt)
            greedy = generate_ids(model, [], DecodingConfig(strategy="greedy",
                                                            max_tokens=HORIZON))
            greedy_path = self._path(model, "greedy", greedy.ids)
            ranked = exact_search(model, [], max_tokens=HORIZON, length_penalty=0.0)
            best_path = self._path(model, "exact search", ranked[0][0])
            if best_path.logprob >= greedy_path.logprob + math.log(MIN_RATIO):
                self.model = model
                self.attempt = attempt
                self.greedy = greedy_path
                self.best = best_path
                self.ranked = ranked  # every sentence, most probable first
                self.beams = [self._path(model, f"beam search, width {w}",
                                         beam_search(model, [], w, HORIZON, 0.0)[0][0])
                              for w in BEAM_WIDTHS]
                return
        raise ArlmError(f"{TITLE}: no puzzle found for seed {seed} in {max_attempts} draws")

    @staticmethod
    def _path(model: TableModel, label: str, ids: list[int]) -> Path:
        context: list[int] = []
        logprob = 0.0
        for token in ids:
            logprob += float(model.next_logprobs(context)[token])
            context.append(token)
        return Path(label, tuple(int(i) for i in ids), model.tokenizer.decode(ids), logprob)

    @property
    def words(self) -> list[str]:
        return [w for w in self.model.vocab if w not in (BOS, EOS, UNK)]

    def rank_of(self, ids: tuple[int, ...]) -> int:
        """1-based rank of a full sentence among all sentences by probability."""
        for rank, (other, _) in enumerate(self.ranked, start=1):
            if tuple(other) == tuple(ids):
                return rank
        raise ValueError(f"ids: {list(ids)} is not a complete sentence of this puzzle")


class BeatGreedyGame:
    """The learner's sentence being built: ``choices()``, ``choose(id)``, ``undo()``."""

    def __init__(self, puzzle: BeatGreedyPuzzle):
        self.puzzle = puzzle
        self.ids: list[int] = []
        self.logprob = 0.0
        self._history: list[float] = []

    @property
    def done(self) -> bool:
        return len(self.ids) >= HORIZON

    @property
    def text(self) -> str:
        return self.puzzle.model.tokenizer.decode(self.ids)

    def choices(self) -> list[tuple[int, str, float]]:
        """(token id, word, p(word | sentence so far)) for every word, most probable first."""
        model = self.puzzle.model
        probs = np.exp(model.next_logprobs(self.ids))
        rows = [(i, model.vocab[i], float(probs[i])) for i in range(model.vocab_size)
                if model.vocab[i] not in (BOS, EOS, UNK)]
        return sorted(rows, key=lambda r: (-r[2], r[0]))

    def choose(self, token_id: int) -> float:
        """Append a word; returns its probability. ValueError when done or not a word."""
        if self.done:
            raise ValueError(f"choose: the sentence already has {HORIZON} words")
        allowed = {row[0] for row in self.choices()}
        if int(token_id) not in allowed:
            raise ValueError(f"token_id must be one of the puzzle's words {sorted(allowed)}, "
                             f"got {token_id!r}")
        logprob = float(self.puzzle.model.next_logprobs(self.ids)[int(token_id)])
        self.ids.append(int(token_id))
        self._history.append(self.logprob)
        self.logprob += logprob
        return math.exp(logprob)

    def undo(self) -> bool:
        """Take back the last word; False if there is none."""
        if not self.ids:
            return False
        self.ids.pop()
        self.logprob = self._history.pop()
        return True

    def score(self) -> int:
        """3 = the best sentence, 2 = beat greedy, 1 = tied with greedy, 0 = below greedy."""
        if not self.done:
            raise ValueError("score: the sentence is not finished")
        if tuple(self.ids) == self.puzzle.best.ids:
            return 3
        difference = self.logprob - self.puzzle.greedy.logprob
        if difference > 1e-12:
            return 2
        return 1 if abs(difference) <= 1e-12 else 0

    def result(self) -> GameResult:
        """score 0-3 (see ``score``); xp = 5 + 5 × score."""
        score = self.score()
        puzzle = self.puzzle
        ratio = math.exp(self.logprob - puzzle.greedy.logprob)
        details = {
            "sentence": self.text,
            "logprob": round(self.logprob, 6),
            "greedy_logprob": round(puzzle.greedy.logprob, 6),
            "best_logprob": round(puzzle.best.logprob, 6),
            "rank": puzzle.rank_of(tuple(self.ids)),
            "beat_greedy": score >= 2,
            "optimal": score == 3,
        }
        verdict = ("found the best sentence" if score == 3 else
                   "beat greedy" if score == 2 else "tied greedy" if score == 1 else
                   "below greedy")
        summary = f"{verdict} ({ratio:.2f}× greedy's probability)"
        return GameResult(GAME_ID, self.seed, float(score), 5 + 5 * score, summary, details)

    @property
    def seed(self) -> int:
        return self.puzzle.seed
