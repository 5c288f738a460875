"""The engine side of every lesson lab: what each lab kind computes, as plain frozen data.

One module per lab kind, named after it, each registering itself once with ``register_lab``
(the preset keys it takes and the engine call a preset makes); ``LAB_KINDS`` and
``preset_result`` are read from that registry. The lab views in ``arlm_tui.tui.widgets.labs``
(one per kind, registered against the same names) only draw what these return and call them
again when the learner moves a control:

    trigram_table        count_table(corpus, order, smoothing, k, context, sentence)
    chain_rule           chain_rule(conditionals)
    bpe_steps            bpe_steps(words, merges, encode)
    decoding_playground  playground(logits, tokens, **knobs): temperature, top_k, top_p, ...
    greedy_vs_beam       greedy_vs_beam(model, width, max_tokens, length_penalty, prompt)
    gradient_norms       gradient_norms(cells, steps, hidden_size, recurrent_scale, ...)   torch
    causal_mask          attention_pattern(length, tokens, masked)
    kv_cache             kv_cache_demo(prompt, max_tokens, model)                          torch
    attention_heads      head_attention(prompt, model)                                     torch
    softmax_gradient     softmax_gradient(logits, target, tokens, learning_rate)
    entropy_kl           information_split(p, q, unit)
    sampling_histogram   next_token_distribution(model, context, ...) + sample_histogram(...)

Adding a kind: write its module here (and its view module under ``tui/widgets/labs/``); every
module of this package is imported below, so it registers itself. Everything goes through the
engine (``arlm_tui.lm``, ``arlm_tui.decoding``, ``arlm_tui.text``), so a lab shows what the code
really does. No Textual here; torch is imported only inside the labs that need it, which raise
``LabUnavailable`` when it is missing.
"""

from __future__ import annotations

# ruff: noqa: F401  (the names re-exported: ``labs.count_table``, ``labs.Playground``, ...)
import importlib
import pkgutil

from arlm_tui.learn.labs.attention_heads import HeadAttention, head_attention
from arlm_tui.learn.labs.base import (
    LAB_KINDS,
    LAB_REGISTRY,
    MODEL_KEYS,
    WARP_KEYS,
    LabKind,
    LabUnavailable,
    context_ids,
    corpus_sentences,
    lab_model,
    next_token_distribution,
    ngram_of,
    preset_result,
    register_lab,
    token_text,
)
from arlm_tui.learn.labs.bpe_steps import BpeRun, BpeStep, bpe_steps, pair_counts, segment
from arlm_tui.learn.labs.causal_mask import LEAK_BONUS, AttentionPattern, attention_pattern
from arlm_tui.learn.labs.chain_rule import ChainFactor, ChainRule, chain_rule
from arlm_tui.learn.labs.decoding_playground import Playground, PlaygroundRow, playground
from arlm_tui.learn.labs.entropy_kl import InformationSplit, information_split, move_mass
from arlm_tui.learn.labs.gradient_norms import (
    GRADIENT_INPUT_SCALE,
    GradientCurve,
    GradientNorms,
    gradient_norms,
)
from arlm_tui.learn.labs.greedy_vs_beam import BeamRow, Decoded, GreedyVsBeam, greedy_vs_beam
from arlm_tui.learn.labs.kv_cache import DEMO_WORDS, CacheStep, KVCacheRun, kv_cache_demo
from arlm_tui.learn.labs.sampling_histogram import (
    Histogram,
    sample_histogram,
    sampling_distribution,
)
from arlm_tui.learn.labs.softmax_gradient import GradientRow, SoftmaxGradient, softmax_gradient
from arlm_tui.learn.labs.trigram_table import (
    MAX_LAB_ORDER,
    SMOOTHING_CYCLE,
    ContextRow,
    CountTable,
    ScoredToken,
    count_table,
)

# every module of the package registers its kind when imported (the explicit imports below
# only make the names short: ``labs.count_table``)
for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")
