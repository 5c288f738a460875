"""What the processor chain did over many generations: how many different tokens came out, how
many tokens each step kept, how often XTC fired, how often DRY and the OpenAI penalties acted,
how near mirostat steered the surprise to its target.

Read off the Traces alone (``Trace.stages``: each processor's stage, its label and note, and the
final distribution), so the numbers are what the engine did, not a recomputation. The sample-N
view shows them for the N continuations under the current knobs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from arlm_tui.decoding.trace import Trace

#: The OpenAI-style penalties, which lower a token for having been generated before.
_OPENAI_PENALTIES = frozenset({"frequency_penalty", "presence_penalty"})


@dataclass(frozen=True)
class ChainStats:
    """Counts over every step of a set of generations.

    ``steps``: steps taken (forced ones included); ``distinct_tokens``: different token ids
    chosen; ``mean_kept``: mean number of tokens with a final probability above 0 (the
    kept set the choice was made from). The others are None when their processor was not in
    the chain: ``xtc_fired`` steps whose draw made XTC fire, ``xtc_removed`` steps where it
    removed tokens (it needs two at or above the threshold); ``dry_steps`` steps where DRY
    lowered a token that would extend a repeat; ``penalized_picks`` chosen tokens that the
    frequency or presence penalty had lowered (they had been generated before);
    ``mirostat_surprise`` the mean surprise −log₂ p of the chosen tokens in the distribution
    mirostat drew from, in bits, next to its target ``mirostat_tau``: how near it steered;
    ``cuts`` (processor as shown, steps at which it removed tokens) for every processor that
    ever did, in chain order; ``stopped`` how many of the ``runs`` a stop string ended (None:
    no stop string was set)."""

    steps: int
    distinct_tokens: int
    mean_kept: float
    xtc_fired: int | None = None
    xtc_removed: int | None = None
    dry_steps: int | None = None
    penalized_picks: int | None = None
    mirostat_surprise: float | None = None
    mirostat_tau: float | None = None
    cuts: tuple[tuple[str, int], ...] = ()
    runs: int = 0
    stopped: int | None = None

    def summary(self) -> str:
        """One line: ``"12 distinct tokens · 3.4 kept a step · XTC fired 5/60 (removed on 3)"``."""
        parts = [f"{self.distinct_tokens} distinct tokens",
                 f"{self.mean_kept:.1f} kept a step"]
        if self.xtc_fired is not None:
            parts.append(f"XTC fired {self.xtc_fired}/{self.steps} "
                         f"(removed on {self.xtc_removed})")
        if self.dry_steps is not None:
            parts.append(f"DRY acted {self.dry_steps}/{self.steps}")
        if self.penalized_picks is not None:
            parts.append(f"penalized picks {self.penalized_picks}/{self.steps}")
        if self.mirostat_surprise is not None:
            parts.append(f"mirostat surprise {self.mirostat_surprise:.2f} bits "
                         f"(τ {self.mirostat_tau:g})")
        if self.cuts:
            parts.append("cut at: " + ", ".join(f"{name} {n}/{self.steps}"
                                                for name, n in self.cuts))
        if self.stopped is not None:
            parts.append(f"stop string ended {self.stopped}/{self.runs}")
        return " · ".join(parts)


def chain_stats(runs: Sequence[Sequence[Trace]]) -> ChainStats:
    """``ChainStats`` over ``runs``, the Traces of each generation (one list per text)."""
    steps = 0
    kept_total = 0
    chosen: set[int] = set()
    names: set[str] = set()
    xtc_fired = xtc_removed = dry_steps = penalized = 0
    surprises: list[float] = []
    tau: float | None = None
    cut: Counter[str] = Counter()
    stop_set = stopped = 0
    for traces in runs:
        if traces:
            stop_set += bool(traces[-1].config.get("stop"))
            stopped += traces[-1].stop is not None
        generated: set[int] = set()
        for trace in traces:
            steps += 1
            chosen.add(trace.chosen_id)
            kept_total += int(np.count_nonzero(trace.final_probs))
            for stage in trace.stages:
                names.add(stage.name)
                if stage.num_removed:
                    cut[stage.name] += 1
                if stage.name == "xtc" and "(fired" in stage.label:
                    xtc_fired += 1
                    xtc_removed += len(stage.removed) > 0
                elif stage.name == "dry" and stage.note is not None:
                    dry_steps += 1
            if names & _OPENAI_PENALTIES and trace.chosen_id in generated:
                penalized += 1
            generated.add(trace.chosen_id)
            mirostat = getattr(trace, "mirostat", None)
            if mirostat is not None:
                tau = mirostat.tau
                if mirostat.surprise is not None:
                    surprises.append(mirostat.surprise)
    return ChainStats(
        steps=steps,
        distinct_tokens=len(chosen),
        mean_kept=kept_total / steps if steps else 0.0,
        xtc_fired=xtc_fired if "xtc" in names else None,
        xtc_removed=xtc_removed if "xtc" in names else None,
        dry_steps=dry_steps if "dry" in names else None,
        penalized_picks=penalized if names & _OPENAI_PENALTIES else None,
        mirostat_surprise=sum(surprises) / len(surprises) if surprises else None,
        mirostat_tau=tau,
        cuts=tuple((title, cut[name]) for name, title in _titles().items() if cut[name]),
        runs=len(runs),
        stopped=stopped if stop_set or stopped else None,
    )


def _titles() -> dict[str, str]:
    """Each processor's name as the screens show it (``top-p``, ``XTC``, ``mirostat``), in
    chain order."""
    from arlm_tui.decoding.config import KNOBS
    from arlm_tui.decoding.processors import PROCESSORS

    return {cls.name: KNOBS[cls.knobs[0].name].title.replace("-probability", "")
            .replace("-multiplier", "").replace("-τ", "") for cls in PROCESSORS if cls.knobs}
