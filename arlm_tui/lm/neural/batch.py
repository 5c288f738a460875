"""Small pieces every neural backend shares: grouping contexts by length, masking ``<s>``,
log-probabilities from logits.

``start`` receives B contexts that may differ in length. Rather than padding (which would shift
a transformer's positions and feed a recurrent net padding tokens), each group of equal-length
contexts runs as one batch and the rows are put back in their original order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

#: Id of ``<s>``: fed to every net first, never predicted.
BOS_ID = 1


def rows_by_length(contexts: Sequence[Sequence[int]]) -> dict[int, list[int]]:
    """{length: [row indices with a context of that length]}, rows in their original order."""
    groups: dict[int, list[int]] = {}
    for row, context in enumerate(contexts):
        groups.setdefault(len(context), []).append(row)
    return groups


def log_probs(logits: torch.Tensor) -> np.ndarray:
    """log softmax(z) over the last axis, computed in float64, as numpy (each row's logsumexp
    is 0 to float64 precision)."""
    return torch.log_softmax(logits.double(), dim=-1).numpy()


def mask_start_token(logits: torch.Tensor) -> torch.Tensor:
    """Logits with ``<s>`` at −∞: a text never continues with its own start, so p(<s>) = 0."""
    return logits.index_fill(-1, torch.tensor([BOS_ID], device=logits.device), float("-inf"))
