"""Lab views: one live, interactive widget per lab kind, drawing what ``arlm_tui.learn.labs``
computes.

One module per lab kind, named after it (as the engine's modules are); each view registers
itself by naming its kind in ``KIND`` (``base.LabView``). Every module of this package is
imported here, so a new view module is found without being listed. ``make_lab_view(lab)`` picks
the view for a ``Lab``; ``LAB_VIEWS`` maps every lab kind to its view class.
"""

from __future__ import annotations

import importlib
import pkgutil

from arlm_tui.numbers import fmt_number as num
from arlm_tui.tui.widgets.labs.base import LAB_VIEWS, LabView, make_lab_view
from arlm_tui.tui.widgets.labs.decoding_playground import PLAYGROUND_KNOBS

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["LAB_VIEWS", "PLAYGROUND_KNOBS", "LabView", "make_lab_view", "num"]
