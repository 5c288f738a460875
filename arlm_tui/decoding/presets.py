"""Presets: the knobs that well-known tools start with, so a learner sees the chain they set.

A preset is a strategy and a value for some processor knobs; applying one sets every other
processor knob to its off value, so the chain on screen is exactly the preset's. The strategy's
own knobs (``max_tokens``, ``seed``, ``beam_width``, ...) are left as they were. Flags given
beside a preset (``--preset llama.cpp --top-k 10``) win over it.

Where the numbers come from (checked on 2026-12-07):

- ``llama.cpp``: ``common_params_sampling`` in ggml-org/llama.cpp ``common/common.h``
  (commit 001d906a): ``temp = 0.80``, ``top_k = 40``, ``top_p = 0.95``, ``min_p = 0.05``,
  ``typ_p = 1.00`` (off), ``penalty_repeat = 1.00``, ``penalty_freq = 0.00``,
  ``penalty_present = 0.00``, ``dry_multiplier = 0.0`` (DRY off, base 1.75, allowed length
  2), ``xtc_probability = 0.00`` (threshold 0.10), ``top_n_sigma = -1`` (off),
  ``mirostat = 0`` (off; τ 5.0, η 0.1). Its chain runs penalties, DRY, top-nσ, top-k,
  typical-p, top-p, min-p, XTC and temperature LAST; arlm scales by temperature first, as
  Hugging Face does (see ``LLAMA_CPP_ORDER`` and the README's "Processor order").
- ``openai``: the OpenAI chat completions API reference (platform.openai.com/docs/api-reference/chat):
  ``temperature`` defaults to 1, ``top_p`` to 1, ``frequency_penalty`` and
  ``presence_penalty`` to 0: a plain draw from the model's distribution.
- ``hf``: transformers ``GenerationConfig._get_default_generation_params()`` (transformers
  5.25, ``generation/configuration_utils.py``): ``do_sample = False`` and ``num_beams = 1``,
  that is greedy search; ``repetition_penalty = 1.0``, ``no_repeat_ngram_size = 0``.
- ``hf-sample``: the same defaults with ``do_sample = True``: ``temperature = 1.0``,
  ``top_k = 50``, ``top_p = 1.0``, ``typical_p = 1.0``, ``epsilon_cutoff = eta_cutoff = 0``,
  so top-k 50 is the only warper that acts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.processors import PROCESSOR_KNOBS


@dataclass(frozen=True)
class Preset:
    """One preset: ``knobs`` are the processor knobs it sets away from off."""

    name: str
    title: str
    strategy: str
    knobs: Mapping[str, Any]
    source: str
    note: str = ""
    aliases: tuple[str, ...] = field(default=())


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("llama.cpp", "llama.cpp defaults", "sample",
           {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05},
           "llama.cpp common/common.h, common_params_sampling",
           "llama.cpp truncates first and divides by the temperature last; arlm divides "
           "first, so its top-p and min-p see the T = 0.8 distribution",
           aliases=("llama", "llamacpp", "llama-cpp")),
    Preset("openai", "OpenAI-style", "sample",
           {"temperature": 1.0, "top_p": 1.0, "frequency_penalty": 0.0,
            "presence_penalty": 0.0},
           "OpenAI chat completions API reference",
           "every default is off: a draw from the model's own distribution",
           aliases=("openai-style", "oai")),
    Preset("hf", "HF defaults", "greedy", {},
           "transformers GenerationConfig defaults (do_sample=False, num_beams=1)",
           "do_sample=False: greedy; top_k=50 only acts with do_sample=True (hf-sample)",
           aliases=("huggingface", "transformers", "hf-defaults")),
    Preset("hf-sample", "HF defaults, do_sample=True", "sample", {"temperature": 1.0, "top_k": 50},
           "transformers GenerationConfig defaults with do_sample=True",
           "temperature 1.0 and top_p 1.0 are off, so top-k 50 is the whole chain",
           aliases=("hf-do-sample",)),
)}

#: llama.cpp's default sampler chain (``common_params_sampling::samplers``), in its order,
#: named with arlm's processor names where arlm has the sampler.
LLAMA_CPP_ORDER: tuple[str, ...] = (
    "penalties (repetition, frequency, presence)", "dry", "top_n_sigma", "top_k", "typical_p",
    "top_p", "min_p", "xtc", "temperature",
)


def find_preset(name: str) -> Preset:
    """The preset called ``name`` (or one of its aliases, any case), else ValueError listing
    the presets."""
    key = str(name).strip().lower()
    for preset in PRESETS.values():
        if key == preset.name or key in preset.aliases:
            return preset
    raise ValueError(f"unknown preset {name!r}; presets are: {', '.join(PRESETS)}")


def preset_knobs(name: str, strategy: str | None = None) -> dict[str, Any]:
    """``strategy`` and every processor knob as the preset sets them (off unless it sets
    them). With another ``strategy`` than the preset's, the knobs that strategy ignores are
    left off (a preset's sampling knobs do not make greedy refuse to run)."""
    preset = find_preset(name)
    strategy = strategy or preset.strategy
    knobs: dict[str, Any] = {"strategy": strategy}
    for knob_name, knob in PROCESSOR_KNOBS.items():
        value = preset.knobs.get(knob_name, knob.off)
        knobs[knob_name] = value if strategy in knob.strategies else knob.off
    return knobs


def apply_preset(config: DecodingConfig | None, name: str, **overrides: Any) -> DecodingConfig:
    """``config`` (default: a fresh one) with the preset's strategy and processor knobs, then
    ``overrides`` (knobs given beside the preset win); validated."""
    strategy = overrides.get("strategy")
    knobs = {**preset_knobs(name, strategy), **overrides}
    base = config if config is not None else DecodingConfig()
    return base.replace(**knobs)


def merge_knobs(preset: str | None, given: Mapping[str, Any], defaults: Mapping[str, Any],
                default_strategy: str | None) -> tuple[str | None, dict[str, Any]]:
    """(strategy, knobs) for a command: its ``defaults``, then the preset's knobs (if any),
    then the knobs ``given`` (None = not given; ``given["strategy"]`` too)."""
    given = {k: v for k, v in given.items() if v is not None}
    strategy = given.pop("strategy", None)
    knobs = dict(defaults)
    if preset:
        knobs.update(preset_knobs(preset, strategy))
        strategy = knobs.pop("strategy")
    knobs.update(given)
    return strategy or default_strategy, knobs


def chain_processors(config: DecodingConfig) -> list[Any]:
    """The processors ``config`` switches on, in order, built to be named or described rather
    than run: without a model (a logit bias's tokens get any distinct ids)."""
    ids: dict[str, int] = {}
    return config.processors(eos_id=0, prompt_length=0,
                             token_id=lambda token: ids.setdefault(token, len(ids)))


def chain(config: DecodingConfig) -> list[str]:
    """The processors ``config`` runs, in the order they run (their labels), then how the
    token is chosen: ``["top-k = 40", "T = 0.8", ..., "draw"]``."""
    labels = [getattr(p, "label", p.name) for p in chain_processors(config)]
    groups = getattr(config, "num_beam_groups", 1)
    if config.strategy == "beam" and groups > 1:
        labels.append(f"beam of {config.beam_width} in {groups} groups, diversity "
                      f"{config.diversity_penalty:g}")
    elif config.strategy == "beam":
        labels.append(f"beam of {config.beam_width}")
    elif config.strategy == "contrastive":
        labels.append(f"contrastive search, α = {config.penalty_alpha:g}, "
                      f"k = {config.contrastive_top_k}")
    elif config.sampling:
        labels.append("draw")
    else:
        labels.append("arg-max")
    return labels


def chain_text(config: DecodingConfig, arrow: str = " → ") -> str:
    """``chain(config)`` as one line, ``top-k = 40 → top-p = 0.95 → draw``."""
    return arrow.join(chain(config))


def describe(name: str) -> str:
    """One line on a preset: its title, the chain it sets and where the numbers come from."""
    preset = find_preset(name)
    config = apply_preset(None, preset.name)
    note = f"; {preset.note}" if preset.note else ""
    return f"{preset.title}: {chain_text(config)} ({preset.source}{note})"


__all__ = ["LLAMA_CPP_ORDER", "PRESETS", "Preset", "apply_preset", "chain", "chain_processors",
           "chain_text", "describe", "find_preset", "merge_knobs", "preset_knobs"]
