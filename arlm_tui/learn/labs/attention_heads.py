"""The attention-heads lab: where the last position of a prompt looks, in every head of a
trained transformer (``head_attention``; needs torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from arlm_tui.learn.labs.base import (
    LabUnavailable,
    context_ids,
    import_torch,
    register_lab,
    token_text,
)
from arlm_tui.lm.information import entropy_nats


@dataclass(frozen=True)
class HeadAttention:
    """Where the last position of a prompt looks, in every head of every layer of a trained
    transformer: weights[layer, head, key] = softmax_j(q · k_j / √d_head) over the keys
    (``<s>`` and the prompt's tokens), and what the model predicts next."""

    model: str
    keys: tuple[str, ...]
    weights: np.ndarray  # (layers, heads, keys), each row sums to 1
    predictions: tuple[tuple[str, float], ...]  # the most probable next tokens
    unknown: tuple[str, ...]  # prompt words the model's vocabulary does not have

    @property
    def layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def heads(self) -> int:
        return int(self.weights.shape[1])

    def focus(self, layer: int, head: int) -> tuple[str, float]:
        """The key a head gives the most weight to, and that weight."""
        row = self.weights[layer, head]
        best = int(np.argmax(row))
        return self.keys[best], float(row[best])

    def entropy(self, layer: int, head: int) -> float:
        """H(α) in nats: 0 when a head looks at one key, ln(keys) when it spreads evenly."""
        return entropy_nats(np.asarray(self.weights[layer, head], dtype=np.float64))


def head_attention(prompt: str, model: str | None = None, top: int = 5) -> HeadAttention:
    """Read ``prompt`` with a bundled transformer (``model``, else the first one installed)
    and return every head's attention from the last position (``last_attention``)."""
    import_torch()
    from arlm_tui.lm.registry import list_models, load_model

    name = model
    if name is None:
        bundled = [e for e in list_models() if e.backend == "transformer"]
        if not bundled:
            raise LabUnavailable("this lab needs a trained transformer, and none is installed "
                                 "(python -m arlm_tui.build_models oracle-transformer)")
        name = bundled[0].name
    loaded = load_model(str(name))
    if getattr(loaded, "backend", "") != "transformer":
        raise LabUnavailable(f"model {name!r} is a {loaded.backend} model, not a transformer")
    ids = context_ids(loaded, prompt)
    unknown = tuple(w for w in str(prompt).split()
                    if context_ids(loaded, w) == [loaded.unk_id])
    logprobs, _ = loaded.start([ids])
    weights = np.asarray(loaded.last_attention, dtype=np.float64)
    key_ids = loaded.attention_keys or [loaded.bos_id, *ids][-weights.shape[-1]:]
    keys = tuple(token_text(loaded, int(i)) for i in key_ids)
    row = np.asarray(logprobs[0], dtype=np.float64)
    order = np.argsort(-row, kind="stable")[:top]
    predictions = tuple((token_text(loaded, int(i)), float(np.exp(row[i]))) for i in order)
    return HeadAttention(loaded.name, keys, weights, predictions, unknown)


@register_lab(
    "attention_heads",
    ("prompt",),
    ("model",),
    description="the attention weights of the last position of `prompt` in every head of "
    "every layer of a bundled transformer (default: the first one installed)",
)
def from_preset(p: dict[str, Any]) -> HeadAttention:
    return head_attention(p["prompt"], p.get("model"))
