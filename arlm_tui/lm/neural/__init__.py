"""Neural language models (torch): recurrent (rnn, gru, lstm), feed-forward, transformer.

Importing this package does not import torch; ``load_neural`` does, when a neural model is
actually loaded. The pieces:

    config.py       architecture dataclasses (no torch)
    rnn.py          RecurrentLM: Elman / GRU / LSTM
    ffn.py          FeedForwardLM: Bengio et al.'s fixed-window model
    transformer.py  TransformerLM: decoder-only, pre-LayerNorm, KV cache
    backend.py      NeuralLanguageModel: any of them behind the LanguageModel protocol
    io.py           model directories: config.json + model.safetensors + tokenizer.json
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from arlm_tui.lm.neural.config import NEURAL_BACKENDS, RECURRENT_CELLS

if TYPE_CHECKING:  # pragma: no cover
    from arlm_tui.lm.neural.backend import NeuralLanguageModel

__all__ = ["NEURAL_BACKENDS", "RECURRENT_CELLS", "load_neural"]


def load_neural(directory: str | Path) -> NeuralLanguageModel:
    """Load a neural model directory; a broken one raises ``ModelLoadError`` naming the file."""
    from arlm_tui.lm.neural.io import load_neural as load

    return load(directory)
