"""The chain rule over a text: log p(w_k | w_<k) for each token (``arlm_tui.api`` re-exports).

log p(w_1 … w_n </s>) = Σ_k log p(w_k | w_1 … w_{k-1}): ``score_ids`` gives the terms, from a
backend's own ``sequence_logprobs`` when it has one (one pass), else one ``extend`` per token.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from arlm_tui.lm.base import LanguageModel


def score_ids(model: LanguageModel, ids: Sequence[int], *, add_eos: bool = True) -> np.ndarray:
    """log p(w_k | w_<k) for each token id (then ``</s>`` if ``add_eos``): the chain rule's terms.

    log p(w_1 … w_n </s>) = Σ_k log p(w_k | w_1 … w_{k-1}).
    """
    targets = list(ids) + ([model.eos_id] if add_eos else [])
    fast = getattr(model, "sequence_logprobs", None)
    if callable(fast):
        return np.asarray(fast(targets), dtype=np.float64)
    return score_ids_from(model, [], targets)


def score_ids_from(model: LanguageModel, prefix: Sequence[int], ids: Sequence[int]) -> np.ndarray:
    """log p(ids[k] | prefix, ids[:k]) for each k (no closing ``</s>`` added)."""
    out = np.empty(len(ids))
    logprobs, state = model.start([list(prefix)])
    for k, token in enumerate(ids):
        out[k] = logprobs[0, token]
        if k + 1 < len(ids):
            logprobs, state = model.extend(state, [token])
    return out
