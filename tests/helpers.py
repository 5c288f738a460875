"""Helpers shared by the decoding tests (beam, session, strategies): a model that counts calls."""

from __future__ import annotations

from collections import Counter

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
