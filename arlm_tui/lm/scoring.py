"""The chain rule over a text: log p(w_k | w_<k) for each token (``arlm_tui.api`` re-exports).

log p(w_1 … w_n </s>) = Σ_k log p(w_k | w_1 … w_{k-1}): ``score_ids`` gives the terms, from the
model's ``sequence_logprobs`` (one pass where the backend has one, else one ``extend`` per token).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from arlm_tui.lm.base import LanguageModel, chain_rule_logprobs


def score_ids(model: LanguageModel, ids: Sequence[int], *, add_eos: bool = True) -> np.ndarray:
    """log p(w_k | w_<k) for each token id (then ``</s>`` if ``add_eos``): the chain rule's terms.

    log p(w_1 … w_n </s>) = Σ_k log p(w_k | w_1 … w_{k-1}).
    """
    targets = list(ids) + ([model.eos_id] if add_eos else [])
    return np.asarray(model.sequence_logprobs(targets), dtype=np.float64)


def score_ids_from(model: LanguageModel, prefix: Sequence[int], ids: Sequence[int]) -> np.ndarray:
    """log p(ids[k] | prefix, ids[:k]) for each k (no closing ``</s>`` added)."""
    return chain_rule_logprobs(model, prefix, ids)
