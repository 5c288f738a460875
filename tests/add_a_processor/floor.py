"""A processor written the way a contributor adds one: ``tests/test_add_a_processor.py`` pastes
the class below into a copy of ``arlm_tui/decoding/processors.py`` and lists it in
``PROCESSORS`` (after ``TopK``), and nothing else, then checks that it shows up everywhere.

The imports above the marker are only here so that this file lints on its own;
``processors.py`` has them already.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from arlm_tui.decoding.knobs import SAMPLE, Knob
from arlm_tui.decoding.processors import Processor, _fmt, _logits_and_probs, _remove

# --- the class, as it would be written in processors.py ---


class Floor(Processor):
    """A probability floor: drop every token whose probability (after the processors before it,
    renormalised) is below ``floor_p``. If none would be left, the most probable one stays."""

    name = "floor"
    warper = True
    removes_only = True  # kept tokens keep their logits
    uses_probs = True
    knobs = (Knob("floor_p", float, 0.0, 1.0, 0.01, 0.05, 0.0,
                  "drop tokens whose probability is below floor_p (0 = off)",
                  max_open=True, strategies=SAMPLE, switchable=True, short=("floor",),
                  playground=(0.01, 0.0, 0.5)),)

    def __init__(self, floor_p: float):
        self.floor_p = float(self.knobs[0].check(floor_p))
        self.label = f"floor-p = {_fmt(self.floor_p)}"

    def __call__(
        self, context_ids: Sequence[int], logits: np.ndarray, probs: np.ndarray | None = None
    ) -> np.ndarray:
        z, probs = _logits_and_probs(logits, probs)
        return _remove(z, probs < self.floor_p)
