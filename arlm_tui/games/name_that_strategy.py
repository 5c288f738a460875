"""Name that strategy: three continuations of one prompt, each written by a hidden decoding
strategy; the learner matches them, and the answer points at the tell-tale signs.

Each puzzle draws one strategy from each of three families, so the three texts differ in kind:

* deterministic (greedy, beam search, diverse beam search, greedy with DRY or with frequency
  and presence penalties): the most probable tokens. Low NLL per token (bland); greedy tends
  to loop, beam search favours short, generic texts, the penalties push the loop away.
* tempered sampling (T = 0.7, top-p = 0.9, top-k = 10, min-p, eta, top-nσ, mirostat): random
  but with the unreliable tail cut or shrunk; fluent and varied.
* hot sampling (T = 1.5, plain sampling T = 1, XTC): every token keeps a chance, or the top
  choices are taken away, so improbable ones slip in: high NLL per token, the text drifts.

Each strategy is described in one sentence made from the numbers it runs with
(``describe``), so the answer never says more about a strategy than its settings do.

The answer measures each text: mean NLL per token under the model (−(1/T) Σ log p(w_t | w_<t):
low = bland, high = incoherent), distinct-1 and distinct-2 (share of different words and word
pairs: low = repetitive), the repetition rate (share of tokens already used) and the longest
repeated phrase. A puzzle whose three texts are not all different is regenerated with the next
attempt's seed, so every puzzle can be solved by looking.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from arlm_tui import game_catalog
from arlm_tui.decoding import DecodingConfig, generate_ids
from arlm_tui.decoding.presets import chain_processors
from arlm_tui.errors import ArlmError
from arlm_tui.games.common import (
    GameResult,
    check_seed,
    distinct_n,
    heldout_prompt,
    repeated_ngram,
    repetition_rate,
)
from arlm_tui.lm.base import LanguageModel

GAME_ID = game_catalog.NAME_THAT_STRATEGY
TITLE = game_catalog.title(GAME_ID)
TAGLINE = "match three texts to the decoding strategies that wrote them"
TEACHES = (
    "The same model writes very different text depending on how the next token is chosen. "
    "Three continuations of one prompt were made by three hidden strategies: match each text "
    "to its strategy. Look for the tell-tale signs: greedy and beam search pick the most "
    "probable tokens (bland, and greedy often loops unless DRY or a frequency penalty pushes "
    "it away), a low temperature, top-p, min-p, eta, top-nσ or mirostat cut the unreliable tail "
    "(fluent, varied), and a high temperature or XTC lets improbable tokens in (the text "
    "drifts). The answer says what each strategy did, with its numbers, and the measured "
    "numbers behind each sign."
)

LETTERS = ("A", "B", "C")
#: Tokens each continuation may have.
MAX_TOKENS = 30
#: Prompt length in tokens (the first words of a held-out text).
PROMPT_TOKENS = 5
#: A phrase of at least this many tokens said twice counts as a loop.
LOOP_TOKENS = 3


def _num(x: float) -> str:
    return f"{x:g}"


def _share(x: float) -> str:
    """0.9 -> "90%", 0.05 -> "5%", 0.0009 -> "0.09%"."""
    return f"{x * 100:.4g}%"


def _repetition(config: DecodingConfig) -> str:
    verb = "lowers" if config.repetition_penalty > 1 else "raises"
    return (f"{verb} every token already in the text by the factor "
            f"{_num(config.repetition_penalty)} on its logit")


def _dry(config: DecodingConfig) -> str:
    a = config.dry_allowed_length
    return (f"lowers a token that would extend a repeat of n ≥ {a} tokens by "
            f"{_num(config.dry_multiplier)}·{_num(config.dry_base)}^(n − {a}) (DRY)")


def _temperature(config: DecodingConfig) -> str:
    t = config.temperature
    how = "sharpening the distribution" if t < 1 else "flattening the distribution"
    return f"divides the logits by T = {_num(t)}, {how}"


def _top_n_sigma(config: DecodingConfig) -> str:
    n = config.top_n_sigma
    return (f"keeps the tokens whose logit is within {_num(n)} standard "
            f"deviation{'s' if n != 1 else ''} of the top one")


def _eta(config: DecodingConfig) -> str:
    e = config.eta
    return (f"drops every token below η = min({_num(e)}, √{_num(e)}·e^−H), a cut "
            "that rises as the model grows sure")


#: What an active processor does, in words, by processor name. A processor without a phrase
#: here is said from its knob's own help (``_in_words``), so a new processor is never left out.
_PHRASES: dict[str, Callable[[DecodingConfig], str]] = {
    "repetition_penalty": _repetition,
    "frequency_penalty": lambda c: (f"subtracts {_num(c.frequency_penalty)} from a token's "
                                    "logit for every time it was already generated"),
    "presence_penalty": lambda c: (f"subtracts {_num(c.presence_penalty)} once from every "
                                   "token generated at least once"),
    "dry": _dry,
    "no_repeat_ngram": lambda c: f"forbids any {c.no_repeat_ngram}-gram to come back",
    "temperature": _temperature,
    "top_n_sigma": _top_n_sigma,
    "top_k": lambda c: f"keeps only the {c.top_k} most probable tokens",
    "top_p": lambda c: (f"keeps the most probable tokens until they cover {_share(c.top_p)} "
                        "of the probability"),
    "min_p": lambda c: (f"drops every token below {_share(c.min_p)} of the top token's "
                        "probability"),
    "typical_p": lambda c: ("keeps the tokens whose surprise is closest to the entropy, "
                            f"{_share(c.typical_p)} of the mass"),
    "epsilon": lambda c: f"drops every token below probability {_num(c.epsilon)}",
    "eta": _eta,
    "xtc": lambda c: (f"at {_share(c.xtc_probability)} of the steps removes every token at "
                      f"least {_share(c.xtc_threshold)} likely except the least likely of "
                      "them (XTC)"),
    "mirostat": lambda c: (f"drops every token more surprising than a bound μ (first "
                           f"{_num(2 * c.mirostat_tau)} bits) that moves by "
                           f"{_num(c.mirostat_eta)}·(surprise − {_num(c.mirostat_tau)}) after "
                           "each draw (mirostat)"),
}


def _in_words(processor: Any) -> str:
    """A processor with no phrase of its own: its label and its first knob's help,
    ``"applies floor-p = 0.05 (drop tokens whose probability is below floor_p)"``."""
    what = re.sub(r"\s*\([^()]*= off[^()]*\)$", "", type(processor).knobs[0].help)
    return f"applies {processor.label} ({what})"


def _clauses(config: DecodingConfig, *, warpers: bool) -> list[str]:
    """What the active processors do, with their numbers, in the order they run: the ones
    that apply to every strategy (``warpers=False``) or the warpers."""
    return [
        phrase(config) if (phrase := _PHRASES.get(p.name)) is not None else _in_words(p)
        for p in chain_processors(config)
        if getattr(type(p), "warper", False) == warpers  # every Processor says; False if not
    ]


def _penalty_clauses(config: DecodingConfig) -> list[str]:
    """What the processors that apply to every strategy do, with their numbers."""
    return _clauses(config, warpers=False)


def _sampling_clauses(config: DecodingConfig) -> list[str]:
    """What the warpers do, with their numbers, in the order they run."""
    return _clauses(config, warpers=True)


def describe(config: DecodingConfig) -> str:
    """One sentence on what a decoding config does, made from its numbers alone:
    ``"top-k = 10 keeps only the 10 most probable tokens, then draws one at random"``."""
    penalties = _penalty_clauses(config)
    groups = getattr(config, "num_beam_groups", 1)
    if config.strategy == "beam" and groups > 1:
        base = (f"keeps {config.beam_width} partial texts in {groups} groups that extend in "
                f"turn, a token losing {_num(config.diversity_penalty)} for each earlier group "
                "that chose it at this step, and returns the best whole one")
    elif config.strategy == "beam":
        base = (f"keeps the {config.beam_width} most probable partial texts at every step and "
                "returns the best whole one")
    elif config.strategy == "contrastive":
        alpha = config.penalty_alpha
        base = (f"takes, among the {config.contrastive_top_k} most probable tokens, the one "
                f"with the best {_num(1 - alpha)}·p − {_num(alpha)}·(largest cosine similarity "
                "of its hidden state to the earlier ones)")
    elif config.strategy == "greedy" or not config.sampling:
        base = "takes the most probable token at every step"
    else:
        warpers = _sampling_clauses(config)
        base = ", then ".join([*warpers, "draws one token at random"]) if warpers else (
            "draws every token at random from the model's own distribution")
    if penalties:
        return " and ".join(penalties) + ", then " + base
    return base


@dataclass(frozen=True)
class Strategy:
    """A hidden strategy: an id, how it is named to the learner, its family and its
    decoding settings; ``description`` says what it does, made from those numbers."""

    id: str
    label: str
    family: str  # "deterministic" | "tempered" | "hot"
    knobs: dict[str, Any]

    def config(self, seed: int) -> DecodingConfig:
        return DecodingConfig(max_tokens=MAX_TOKENS, seed=seed, **self.knobs)

    @property
    def description(self) -> str:
        return describe(self.config(0))


#: What each family tends to give (said as a tendency, next to the measured numbers).
FAMILY_TENDENCY = {
    "deterministic": "aiming at the most predictable tokens, which tends to read bland",
    "tempered": "random, with the unreliable tail cut or shrunk, which tends to stay fluent "
                "and varied",
    "hot": "letting improbable tokens in, which tends to make the text drift",
}

STRATEGIES: tuple[Strategy, ...] = (
    Strategy("greedy", "greedy", "deterministic", {"strategy": "greedy"}),
    Strategy("beam-5", "beam search, width 5", "deterministic",
             {"strategy": "beam", "beam_width": 5}),
    Strategy("diverse-beam", "diverse beam, 2 groups of 2", "deterministic",
             {"strategy": "beam", "beam_width": 4, "num_beam_groups": 2,
              "diversity_penalty": 1.0}),
    Strategy("greedy-dry", "greedy + DRY ×0.8", "deterministic",
             {"strategy": "greedy", "dry_multiplier": 0.8}),
    Strategy("greedy-freq-pres", "greedy + freq/presence 0.5", "deterministic",
             {"strategy": "greedy", "frequency_penalty": 0.5, "presence_penalty": 0.5}),
    Strategy("t-0.7", "sampling, T = 0.7", "tempered",
             {"strategy": "sample", "temperature": 0.7}),
    Strategy("top-p-0.9", "top-p = 0.9", "tempered", {"strategy": "sample", "top_p": 0.9}),
    Strategy("top-k-10", "top-k = 10", "tempered", {"strategy": "sample", "top_k": 10}),
    Strategy("min-p-0.1", "min-p = 0.1", "tempered", {"strategy": "sample", "min_p": 0.1}),
    Strategy("eta-0.01", "eta = 0.01", "tempered", {"strategy": "sample", "eta": 0.01}),
    Strategy("top-nsigma-1", "top-nσ = 1", "tempered", {"strategy": "sample", "top_n_sigma": 1.0}),
    Strategy("mirostat-2", "mirostat τ = 2 bits", "tempered",
             {"strategy": "sample", "mirostat_tau": 2.0}),
    Strategy("t-1.5", "sampling, T = 1.5", "hot", {"strategy": "sample", "temperature": 1.5}),
    Strategy("t-1.0", "plain sampling, T = 1", "hot", {"strategy": "sample"}),
    Strategy("xtc-0.5", "XTC p = 0.5, threshold 0.1", "hot",
             {"strategy": "sample", "xtc_probability": 0.5, "xtc_threshold": 0.1}),
)
STRATEGY_BY_ID = {s.id: s for s in STRATEGIES}
FAMILIES = ("deterministic", "tempered", "hot")


#: Where each family's mean NLL usually ranks among the three texts of a puzzle.
EXPECTED_RANK = {"deterministic": "lowest", "tempered": "middle", "hot": "highest"}
#: What a rank says about the tokens of a text.
RANK_MEANING = {
    "lowest": "the most predictable tokens of the three",
    "middle": "tokens less predictable than one text and more than the other",
    "highest": "the least probable tokens of the three",
}


def nll_rank(c: Continuation, texts: list[Continuation]) -> str:
    """"lowest", "middle" or "highest" mean NLL among ``texts`` (by the values shown, to two
    decimals), or "tied" when another text shows the same value."""
    shown = round(c.mean_nll, 2)
    others = [round(o.mean_nll, 2) for o in texts if o is not c]
    if shown in others:
        return "tied"
    below = sum(value < shown for value in others)
    return ("lowest", "middle", "highest")[below] if len(others) == 2 else (
        "lowest" if below == 0 else "highest" if below == len(others) else "middle")


@dataclass(frozen=True)
class Continuation:
    """One text of the puzzle with its measured signs."""

    letter: str
    strategy: Strategy
    ids: list[int]
    text: str
    mean_nll: float  # nats per token under the model
    distinct_1: float
    distinct_2: float
    repetition: float
    repeated: str | None  # the longest phrase of >= LOOP_TOKENS tokens said twice, if any
    ended: bool  # True if the model ended the text (</s>)


@dataclass(frozen=True)
class Verdict:
    """The graded answer: which letters were right, and an explanation per letter."""

    answer: dict[str, str]
    correct: dict[str, bool]
    explanations: dict[str, str]

    @property
    def score(self) -> int:
        return sum(self.correct.values())


def measure(model: LanguageModel, prompt: list[int], strategy: Strategy, seed: int,
            letter: str = "?") -> Continuation:
    """Generate with ``strategy`` and measure the signs of the text."""
    result = generate_ids(model, prompt, strategy.config(seed))
    ids = list(result.ids)
    body = [i for i in ids if i != model.eos_id]
    nll = generated_nll(model, prompt, ids)
    grams = repeated_ngram(body, n_min=LOOP_TOKENS)
    return Continuation(
        letter=letter,
        strategy=strategy,
        ids=ids,
        text=model.tokenizer.decode(body),
        mean_nll=nll / max(len(ids), 1),
        distinct_1=distinct_n([body], 1),
        distinct_2=distinct_n([body], 2),
        repetition=repetition_rate([body]),
        repeated=model.tokenizer.decode(list(grams)) if grams else None,
        ended=bool(ids) and ids[-1] == model.eos_id,
    )


def generated_nll(model: LanguageModel, prompt: list[int], ids: list[int]) -> float:
    """−Σ_t log p(w_t | prompt, w_<t) over the generated ids, under the model itself (not the
    processed distribution the strategy drew from): one incremental pass."""
    if not ids:
        return 0.0
    logprobs, state = model.start([prompt])
    nll = 0.0
    for t, token in enumerate(ids):
        nll -= float(logprobs[0, token])
        if t + 1 < len(ids):
            logprobs, state = model.extend(state, [token])
    return nll


class NameThatStrategyPuzzle:
    """Three continuations (A, B, C) of one prompt by one strategy of each family, shuffled.

    Deterministic in ``seed``; ``max_attempts`` regenerations at most (ArlmError after)."""

    def __init__(self, model: LanguageModel, seed: int = 0, *, max_attempts: int = 20):
        self.model = model
        self.seed = check_seed(seed)
        for attempt in range(max_attempts):
            rng = np.random.default_rng([self.seed, attempt, 3])
            chosen = [self._pick(rng, family) for family in FAMILIES]
            order = rng.permutation(3)
            prompt = heldout_prompt(model, self.seed, PROMPT_TOKENS, salt=attempt)
            texts = []
            for slot, index in enumerate(order):
                strategy = chosen[int(index)]
                sample_seed = int(rng.integers(2**31))
                texts.append(measure(model, prompt, strategy, sample_seed, LETTERS[slot]))
            if len({tuple(c.ids) for c in texts}) == 3 and all(c.ids for c in texts):
                self.prompt_ids = prompt
                self.attempt = attempt
                self.continuations = texts
                return
        raise ArlmError(f"{TITLE}: {model.name} wrote the same text with different strategies "
                        f"{max_attempts} times; try another model")

    @staticmethod
    def _pick(rng: np.random.Generator, family: str) -> Strategy:
        members = [s for s in STRATEGIES if s.family == family]
        return members[int(rng.integers(len(members)))]

    @property
    def prompt_text(self) -> str:
        """The prompt as text ("" when the texts start from nothing)."""
        return self.model.tokenizer.decode(self.prompt_ids)

    @property
    def options(self) -> list[Strategy]:
        """The three strategies in a fixed order for the learner to pick from (by family)."""
        return sorted((c.strategy for c in self.continuations),
                      key=lambda s: FAMILIES.index(s.family))

    @property
    def solution(self) -> dict[str, str]:
        """letter -> strategy id."""
        return {c.letter: c.strategy.id for c in self.continuations}

    def grade(self, answer: dict[str, str]) -> Verdict:
        """Compare the learner's ``answer`` (letter -> strategy id, a matching of the three)
        with the solution, and explain each text by its measured signs."""
        if sorted(answer) != list(LETTERS):
            raise ValueError(f"answer must name a strategy for each of {', '.join(LETTERS)}")
        solution = self.solution
        correct = {letter: answer[letter] == solution[letter] for letter in LETTERS}
        return Verdict(dict(answer), correct, {c.letter: self.explain(c) for c in
                                               self.continuations})

    def explain(self, c: Continuation) -> str:
        """Why text ``c`` reads the way it does, said from its measured numbers only.

        What a strategy does is said from its numbers (``describe``), what its family usually
        gives (``FAMILY_TENDENCY``) as a tendency; what this
        text did is read off its own numbers next to the other two's (``nll_rank``), and when
        the two disagree the answer says so instead of describing the tendency as a fact."""
        others = [o for o in self.continuations if o is not c]
        rank = nll_rank(c, self.continuations)
        values = " and ".join(f"{o.mean_nll:.2f}" for o in others)
        measured = f"mean NLL {c.mean_nll:.2f} nats/token, "
        if rank == "tied":
            measured += f"level with another text (the others: {values})"
        else:
            measured += f"the {rank} of the three (the others: {values})"
        expected = EXPECTED_RANK[c.strategy.family]
        if rank == expected:
            measured += f": {RANK_MEANING[rank]}, as this kind of strategy usually gives"
        else:
            measured += (f": this kind of strategy usually gives the {expected}, but one short "
                         "sample can go either way")
        signs = [measured]
        if c.repeated is not None:
            signs.append(f"it loops: \"{c.repeated}\" comes back (distinct-2 "
                         f"{c.distinct_2:.2f}; {c.repetition:.0%} of its tokens repeat earlier "
                         "ones)")
        elif c.distinct_2 >= 0.99:
            signs.append(f"no word pair repeats (distinct-2 {c.distinct_2:.2f})")
        if c.ended and len(c.ids) < min(len(o.ids) for o in others):
            signs.append(f"the shortest: the text ended after {len(c.ids)} tokens")
        return (f"{c.letter} was {c.strategy.label}, which {c.strategy.description}: "
                f"{FAMILY_TENDENCY[c.strategy.family]}. This text: " + "; ".join(signs) + ".")

    def result(self, verdict: Verdict) -> GameResult:
        """score = strategies named right (0-3); xp = 5 per right one, +5 for all three."""
        score = verdict.score
        xp = 5 * score + (5 if score == len(LETTERS) else 0)
        details = {
            "model": self.model.name,
            "correct": score,
            "solution": self.solution,
            "answer": verdict.answer,
            "all_correct": score == len(LETTERS),
            "measures": {c.letter: {"mean_nll": round(c.mean_nll, 4),
                                    "distinct_2": round(c.distinct_2, 4),
                                    "repetition": round(c.repetition, 4)}
                         for c in self.continuations},
        }
        summary = f"{score}/3 strategies named ({self.model.name})"
        return GameResult(GAME_ID, self.seed, float(score), xp, summary, details)

