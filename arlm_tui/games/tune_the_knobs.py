"""Tune the knobs: reach a target for diversity and quality of sampled text by setting
temperature, top-k and top-p; the fewer tries, the better.

A run draws ``SAMPLES`` continuations of one prompt (sample i uses seed ``seed + i``, so a
setting always gives the same texts) and measures, over all of them:

    distinct-n   = |different n-grams| / |n-grams|             (diversity; 1 = nothing repeats)
    mean NLL     = −(1/N) Σ log p(w_t | w_<t), under the model  (quality; lower = more probable)

over the N generated tokens (``</s>`` included). Raising the temperature or loosening top-k /
top-p makes text more diverse *and* less probable, so a target asks for both at once, e.g.
"distinct-2 ≥ 0.55 with mean NLL ≤ 1.9 nats over 20 samples".

Targets are generated so that they can be reached and are not reached by doing nothing: a
hidden *reference* setting is drawn from a grid, measured, and the thresholds are set just
around its numbers (``MARGINS``); a target that the default setting (T = 1, no top-k, no top-p)
already meets is thrown away and the next attempt drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from arlm_tui import game_catalog
from arlm_tui.decoding import DecodingConfig, generate_ids
from arlm_tui.errors import ArlmError
from arlm_tui.games.common import (
    GameResult,
    check_seed,
    distinct_n,
    heldout_prompt,
)
from arlm_tui.lm.base import LanguageModel

GAME_ID = game_catalog.TUNE_THE_KNOBS
TITLE = game_catalog.title(GAME_ID)
TAGLINE = "set temperature, top-k and top-p to hit a diversity and quality target"
TEACHES = (
    "Temperature, top-k and top-p trade diversity for quality. Hotter or looser settings give "
    "more varied text (higher distinct-n) that the model itself finds less probable (higher "
    "mean NLL); colder or tighter ones give safe, repetitive text. Set the three knobs so that "
    "20 samples meet the target: the score is how few tries you need."
)

SAMPLES = 20
MAX_TOKENS = 20
PROMPT_TOKENS = 4
#: The knobs the learner sets, with their off values.
KNOB_NAMES = ("temperature", "top_k", "top_p")
DEFAULT_SETTING: dict[str, Any] = {"temperature": 1.0, "top_k": 0, "top_p": 1.0}
#: Where hidden reference settings are drawn from.
REFERENCE_GRID: dict[str, tuple[Any, ...]] = {
    "temperature": (0.6, 0.8, 1.2, 1.4, 1.7),
    "top_k": (0, 0, 10, 40),
    "top_p": (1.0, 0.9, 0.8, 0.7),
}
#: How far a threshold sits beyond the reference's value (in the direction that makes it
#: reachable), and the grid it is rounded to.
MARGINS = {"distinct_1": (0.02, 0.01), "distinct_2": (0.02, 0.01), "mean_nll": (0.1, 0.1)}
METRIC_NAMES = {"distinct_1": "distinct-1", "distinct_2": "distinct-2", "mean_nll": "mean NLL"}
#: The kinds of target: conditions (metric, "≥" or "≤").
TARGET_KINDS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("distinct_2", "≥"), ("mean_nll", "≤")),
    (("distinct_1", "≥"), ("mean_nll", "≤")),
    (("mean_nll", "≥"), ("mean_nll", "≤")),
)


@dataclass(frozen=True)
class Setting:
    """The learner's knobs, validated like every decoding knob (ValueError naming it)."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        config = DecodingConfig(strategy="sample", temperature=self.temperature,
                                top_k=self.top_k, top_p=self.top_p)
        if config.temperature <= 0:
            raise ValueError("temperature must be > 0 here (0 is greedy: every sample the same)")
        object.__setattr__(self, "temperature", config.temperature)
        object.__setattr__(self, "top_k", config.top_k)
        object.__setattr__(self, "top_p", config.top_p)

    @property
    def label(self) -> str:
        return f"T={self.temperature:g} top-k={self.top_k or 'off'} top-p={self.top_p:g}"


@dataclass(frozen=True)
class Measurement:
    """The numbers of one run of ``SAMPLES`` samples."""

    distinct_1: float
    distinct_2: float
    mean_nll: float
    tokens: int
    texts: tuple[str, ...]

    def value(self, metric: str) -> float:
        return float(getattr(self, metric))


def run_samples(model: LanguageModel, prompt_ids: Sequence[int], setting: Setting, *,
                seed: int = 0, samples: int = SAMPLES,
                max_tokens: int = MAX_TOKENS) -> Measurement:
    """Draw ``samples`` continuations (sample i with seed ``seed + i``) and measure them."""
    bodies: list[list[int]] = []
    nll, count = 0.0, 0
    for i in range(samples):
        config = DecodingConfig(strategy="sample", temperature=setting.temperature,
                                top_k=setting.top_k, top_p=setting.top_p,
                                max_tokens=max_tokens, seed=seed + i)
        result = generate_ids(model, list(prompt_ids), config)
        nll -= result.logprob
        count += len(result.ids)
        bodies.append([t for t in result.ids if t != model.eos_id])
    return Measurement(
        distinct_1=distinct_n(bodies, 1),
        distinct_2=distinct_n(bodies, 2),
        mean_nll=nll / count if count else math.inf,
        tokens=count,
        texts=tuple(model.tokenizer.decode(b) for b in bodies),
    )


@dataclass(frozen=True)
class Condition:
    """metric op threshold, e.g. distinct_2 ≥ 0.55."""

    metric: str
    op: str  # "≥" | "≤"
    threshold: float

    def holds(self, measurement: Measurement) -> bool:
        value = measurement.value(self.metric)
        return value >= self.threshold if self.op == "≥" else value <= self.threshold

    @property
    def text(self) -> str:
        unit = " nats" if self.metric == "mean_nll" else ""
        digits = 1 if self.metric == "mean_nll" else 2
        return f"{METRIC_NAMES[self.metric]} {self.op} {self.threshold:.{digits}f}{unit}"


@dataclass(frozen=True)
class Target:
    conditions: tuple[Condition, ...]

    def met(self, measurement: Measurement) -> bool:
        return all(c.holds(measurement) for c in self.conditions)

    @property
    def text(self) -> str:
        first, *rest = self.conditions
        if len(rest) == 1 and rest[0].metric == first.metric == "mean_nll":
            return (f"mean NLL between {first.threshold:.1f} and {rest[0].threshold:.1f} nats "
                    f"over {SAMPLES} samples")
        return (first.text + "".join(f" with {c.text}" for c in rest)
                + f" over {SAMPLES} samples")


def _threshold(metric: str, op: str, value: float) -> float:
    margin, grid = MARGINS[metric]
    if op == "≥":
        return math.floor((value - margin) / grid + 1e-9) * grid
    return math.ceil((value + margin) / grid - 1e-9) * grid


@dataclass(frozen=True)
class Attempt:
    """One try: the setting, its numbers, and whether each condition held."""

    setting: Setting
    measurement: Measurement
    held: tuple[bool, ...]

    @property
    def met(self) -> bool:
        return all(self.held)


class TuneTheKnobsChallenge:
    """A target for one model and prompt, from ``seed``; ``run(setting)`` until ``solved``."""

    def __init__(self, model: LanguageModel, seed: int = 0, *, max_attempts: int = 30):
        self.model = model
        self.seed = check_seed(seed)
        self.prompt_ids = heldout_prompt(model, self.seed, PROMPT_TOKENS, salt=29)
        default = run_samples(model, self.prompt_ids, Setting(**DEFAULT_SETTING),
                              seed=self.sample_seed)
        self.attempts: list[Attempt] = []
        self.gave_up = False
        for attempt in range(max_attempts):
            rng = np.random.default_rng([self.seed, attempt, 23])
            reference = Setting(**{name: values[int(rng.integers(len(values)))]
                                   for name, values in REFERENCE_GRID.items()})
            kind = TARGET_KINDS[int(rng.integers(len(TARGET_KINDS)))]
            if self._try_target(attempt, reference, kind, default):
                return
        # Near a model's own distribution every window may hold the default too (the oracle
        # at T = 1 is as good as it gets): fall back to an NLL band that excludes it.
        band = TARGET_KINDS[-1]
        rng = np.random.default_rng([self.seed, 31])
        grid = [Setting(t, k, p) for t in REFERENCE_GRID["temperature"]
                for k in sorted(set(REFERENCE_GRID["top_k"])) for p in REFERENCE_GRID["top_p"]]
        for i, index in enumerate(rng.permutation(len(grid))):
            if self._try_target(max_attempts + i, grid[int(index)], band, default):
                return
        raise ArlmError(f"{TITLE}: no target found for {model.name} with seed {seed}")

    def _try_target(self, attempt: int, reference: Setting,
                    kind: tuple[tuple[str, str], ...], default: Measurement) -> bool:
        """Keep the target of ``kind`` around ``reference`` if it holds there and not for the
        default setting."""
        measured = run_samples(self.model, self.prompt_ids, reference, seed=self.sample_seed)
        conditions = []
        for metric, op in kind:
            value = measured.value(metric)
            if metric == "mean_nll" and kind[0][0] == kind[1][0]:  # a band around it
                value += -0.2 if op == "≥" else 0.2
            conditions.append(Condition(metric, op, _threshold(metric, op, value)))
        target = Target(tuple(conditions))
        if not target.met(measured) or target.met(default):
            return False
        self.reference = reference
        self.target = target
        self.attempt = attempt
        return True

    @property
    def sample_seed(self) -> int:
        """Sample i of every run uses seed ``sample_seed + i``."""
        return self.seed * 1000

    @property
    def prompt_text(self) -> str:
        return self.model.tokenizer.decode(self.prompt_ids)

    @property
    def tries(self) -> int:
        return len(self.attempts)

    @property
    def solved(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].met

    @property
    def over(self) -> bool:
        return self.solved or self.gave_up

    def run(self, setting: Setting) -> Attempt:
        """One try with the learner's setting."""
        if self.over:
            raise ValueError("run: the challenge is over")
        measurement = run_samples(self.model, self.prompt_ids, setting, seed=self.sample_seed)
        attempt = Attempt(setting, measurement,
                          tuple(c.holds(measurement) for c in self.target.conditions))
        self.attempts.append(attempt)
        return attempt

    def give_up(self) -> None:
        """End the challenge unsolved (the reference setting can then be shown)."""
        self.gave_up = True

    def result(self) -> GameResult:
        """score = tries (fewer is better; None if given up); xp = max(5, 30 − 5 (tries − 1))
        when solved, 2 when given up."""
        if not self.over:
            raise ValueError("result: the challenge is not over")
        details = {
            "model": self.model.name,
            "target": self.target.text,
            "tries": self.tries,
            "solved": self.solved,
            "first_try": self.solved and self.tries == 1,
            "settings": [a.setting.label for a in self.attempts],
            "reference": self.reference.label,
        }
        if self.solved:
            xp = max(5, 30 - 5 * (self.tries - 1))
            plural = "y" if self.tries == 1 else "ies"
            summary = f"target met in {self.tries} tr{plural} ({self.model.name})"
            return GameResult(GAME_ID, self.seed, float(self.tries), xp, summary, details)
        tries = f"{self.tries} tr{'y' if self.tries == 1 else 'ies'}"
        summary = f"gave up after {tries} ({self.model.name})"
        return GameResult(GAME_ID, self.seed, None, 2, summary, details)
