"""Decoding: from next-token log-probs to a chosen token, with a Trace explaining every step.

    knobs       - ``Knob``: one knob's name, type, range, off value, steps, help and title
    processors  - temperature, top-k, top-p, ..., repetition penalty, no-repeat-n-gram, min
                  length; each class declares its knobs, ``PROCESSORS`` lists them in order;
                  ``warp`` gives the final sampling distribution
    config      - ``DecodingConfig`` (every knob, validated) and ``KNOBS`` (all knobs, derived)
    trace       - ``Trace``, ``Stage`` and the beam records
    strategies  - ``decode_step`` (one step), ``generate_ids``, ``greedy``, ``sample``
    beam        - ``BeamSearch``, ``beam_search``, ``exact_search``
    session     - ``Session``: step, undo, redo, force, configure, save and replay
    explain     - ``explain(trace)``: one line saying why a token was chosen
"""

from arlm_tui.decoding.beam import BeamSearch, beam_search, exact_search
from arlm_tui.decoding.config import KNOBS, STRATEGIES, DecodingConfig, Knob, KnobError
from arlm_tui.decoding.explain import explain
from arlm_tui.decoding.processors import (
    PROCESSOR_ORDER,
    PROCESSORS,
    XTC,
    Dry,
    Epsilon,
    Eta,
    FrequencyPenalty,
    MinLength,
    MinP,
    Mirostat,
    NoRepeatNGram,
    PresencePenalty,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopNSigma,
    TopP,
    TypicalP,
    make_processors,
    softmax,
    warp,
)
from arlm_tui.decoding.session import ReplayError, Session
from arlm_tui.decoding.strategies import (
    GenerationResult,
    decode_step,
    generate_ids,
    greedy,
    sample,
)
from arlm_tui.decoding.trace import BeamCandidate, BeamStep, Hypothesis, Stage, Trace

__all__ = [
    "KNOBS",
    "PROCESSORS",
    "PROCESSOR_ORDER",
    "STRATEGIES",
    "BeamCandidate",
    "BeamSearch",
    "BeamStep",
    "DecodingConfig",
    "Dry",
    "Epsilon",
    "Eta",
    "FrequencyPenalty",
    "GenerationResult",
    "Hypothesis",
    "Knob",
    "KnobError",
    "MinLength",
    "MinP",
    "Mirostat",
    "NoRepeatNGram",
    "PresencePenalty",
    "RepetitionPenalty",
    "ReplayError",
    "Session",
    "Stage",
    "Temperature",
    "TopK",
    "TopNSigma",
    "TopP",
    "Trace",
    "TypicalP",
    "XTC",
    "beam_search",
    "decode_step",
    "exact_search",
    "explain",
    "generate_ids",
    "greedy",
    "make_processors",
    "sample",
    "softmax",
    "warp",
]
