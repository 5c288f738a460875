"""Helpers shared by the decoding tests (beam, session, strategies): a model that counts calls,
and knob values that switch every processor on."""

from __future__ import annotations

from collections import Counter
from typing import Any

from arlm_tui.decoding.knobs import Knob
from arlm_tui.decoding.processors import PROCESSORS
from arlm_tui.lm.table import TableModel


class CountingModel(TableModel):
    """Counts the incremental calls so tests can check what a step costs.

    ``calls`` is a Counter keyed by "start", "extend" and "select": a method never called has
    no key (and reads as 0).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: Counter[str] = Counter()

    def start(self, contexts):
        self.calls["start"] += 1
        return super().start(contexts)

    def extend(self, state, token_ids):
        self.calls["extend"] += 1
        return super().extend(state, token_ids)

    def select(self, state, indices):
        self.calls["select"] += 1
        return super().select(state, indices)


def away_from_off(knob: Knob) -> Any:
    """A value of ``knob`` one coarse step away from its off value, inside its range: a value for
    a knob no test chose one for (a new processor's), so that it is tested without editing the
    test."""
    if knob.type is bool:
        return not knob.off
    up = knob.off + knob.coarse_step
    value = up if up < knob.max or (up == knob.max and not knob.max_open) else (
        knob.off - knob.coarse_step)
    return knob.type(value)


def every_processor_on(**chosen: Any) -> dict[str, Any]:
    """``chosen``, plus a value away from off (``away_from_off``) for the knob that switches on
    each processor of ``PROCESSORS`` that ``chosen`` leaves off."""
    return chosen | {cls.knobs[0].name: away_from_off(cls.knobs[0]) for cls in PROCESSORS
                     if cls.knobs[0].name not in chosen}
