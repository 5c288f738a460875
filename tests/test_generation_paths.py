"""One generation path: the API, ``arlm generate --json`` and a stepped Session agree on every
knob and strategy, and a knob a strategy cannot use is refused, never dropped."""

from __future__ import annotations

import json

import pytest
from helpers import away_from_off

import arlm_tui
from arlm_tui.cli import main
from arlm_tui.decoding import (
    KNOBS,
    PROCESSORS,
    STRATEGIES,
    DecodingConfig,
    KnobError,
    Session,
    beam_search,
)
from arlm_tui.lm.registry import load_model

MODEL = "oracle-kn3"
#: contrastive search needs hidden states: a neural model
NEURAL = "oracle-ffn"
PROMPT = "the"
MAX_TOKENS = 8
#: A value away from "off" for the knobs (strategy aside), chosen by hand; a knob not here (a new
#: processor's) gets one from ``helpers.away_from_off``.
CHOSEN: dict[str, object] = {
    "temperature": 0.7,
    "top_n_sigma": 1.5,
    "top_k": 5,
    "top_p": 0.8,
    "min_p": 0.1,
    "typical_p": 0.9,
    "epsilon": 0.01,
    "eta": 0.02,
    "xtc_probability": 0.7,
    "xtc_threshold": 0.05,
    "mirostat_tau": 3.0,
    "mirostat_eta": 0.3,
    "logit_bias": {"old": -5.0, ".": "-inf"},
    "stop": ["cake", "light", "tired"],  # "tired": where oracle-ffn stops (contrastive)
    "repetition_penalty": 1.8,
    "frequency_penalty": 1.5,
    "presence_penalty": 0.8,
    "dry_multiplier": 0.8,
    "dry_base": 2.0,
    "dry_allowed_length": 1,
    "no_repeat_ngram": 1,
    "min_tokens": 6,
    "max_tokens": 5,
    "beam_width": 2,
    "length_penalty": 0.3,
    "early_stopping": False,
    "num_beam_groups": 2,
    "diversity_penalty": 0.5,
    "penalty_alpha": 0.6,
    "contrastive_top_k": 3,
    "seed": 3,
}


#: A value away from "off" for every knob (strategy aside).
SET: dict[str, object] = {
    **CHOSEN,
    **{name: away_from_off(knob) for name, knob in KNOBS.items()
       if name != "strategy" and name not in CHOSEN},
}
#: The processor each knob switches on (its class's first knob).
PROCESSOR_OF: dict[str, str] = {cls.knobs[0].name: cls.name for cls in PROCESSORS}


def test_every_knob_has_a_value_here():
    assert set(CHOSEN) <= set(KNOBS)
    assert set(SET) == set(KNOBS) - {"strategy"}
    for name, value in SET.items():
        assert value != KNOBS[name].off
        checked = KNOBS[name].check(value)  # "-inf" in a logit bias reads as -inf
        assert KNOBS[name].check(checked) == checked


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL)


@pytest.fixture(scope="module")
def neural():
    return load_model(NEURAL)


def _flag(name: str, value: object) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, dict):  # a repeated TOKEN=VALUE flag
        return [part for token, bias in value.items() for part in (flag, f"{token}={bias}")]
    if isinstance(value, list):  # a repeated flag
        return [part for item in value for part in (flag, item)]
    if isinstance(value, bool):
        return [flag if value else "--no-" + flag[2:]]
    return [flag, str(value)]


def _cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


CASES = [(knob, strategy) for knob in SET for strategy in STRATEGIES]


@pytest.mark.parametrize(("knob", "strategy"), CASES)
def test_api_cli_and_session_agree_or_refuse(capsys, model, neural, knob, strategy):
    model_name = NEURAL if strategy == "contrastive" else MODEL
    model = neural if strategy == "contrastive" else model
    needs = KNOBS[knob].needs  # a knob that needs another one on (xtc_threshold): both set
    knobs = {"max_tokens": MAX_TOKENS, **({needs: SET[needs]} if needs else {}), knob: SET[knob]}
    config = DecodingConfig(strategy=strategy, **knobs)
    argv = ["generate", "--model", model_name, "--prompt", PROMPT, "--strategy", strategy, "--json"]
    for name, value in knobs.items():
        argv += _flag(name, value)
    code, out, err = _cli(capsys, argv)
    api_knobs = dict(knobs)
    max_tokens = api_knobs.pop("max_tokens")
    if strategy not in KNOBS[knob].strategies:
        with pytest.raises(KnobError, match=knob):
            arlm_tui.generate(model, PROMPT, strategy=strategy, max_tokens=max_tokens, **api_knobs)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and out == "" and len(lines) == 1 and KNOBS[knob].flag in lines[0], err
        assert "Traceback" not in err
        return
    api = arlm_tui.generate(model, PROMPT, strategy=strategy, max_tokens=max_tokens, **api_knobs)
    assert code == 0, err
    cli = json.loads(out)
    session = Session(model, PROMPT, config)
    while session.step() is not None:
        pass
    assert api["token_ids"] == cli["token_ids"] == session.generated_ids
    assert cli["config"][knob] == SET[knob] and api["config"] == cli["config"]
    assert len(cli["steps"]) == len(session.traces)
    assert api["text"] == cli["text"] == session.text
    # the knob acts where it should: its processor ran, or the search used it
    processor = PROCESSOR_OF.get(knob)
    if processor is not None:
        assert any(stage.name == processor for t in session.traces for stage in t.stages)
    if knob == "beam_width":
        assert max(len(t.beam.survivors) for t in session.traces) == SET[knob]
    if strategy == "beam":
        assert all(t.config[knob] == SET[knob] for t in session.traces)
    ids = model.tokenizer.encode(PROMPT) + api["token_ids"]
    if knob == "no_repeat_ngram":
        assert len(ids) == len(set(ids))
    if knob == "min_tokens":
        assert model.eos_id not in api["token_ids"][: SET["min_tokens"]]
    if knob == "logit_bias":  # "." is banned, and "old" pushed down
        assert model.tokenizer.encode(".")[0] not in api["token_ids"]
    if knob == "stop":  # the text stops at a stop string, and says which
        assert api["stop"] == cli["stop"] == session.stopped_by in SET["stop"]
        # it ends the text, or ends inside the last token ("light" in "lighthouse")
        assert api["stop"] in api["completion"][-len(api["stop"]) - len(api["tokens"][-1]):]
        assert [t["stop"] for t in cli["steps"]] == [None] * (len(cli["steps"]) - 1) + [
            api["stop"]]
    if strategy == "beam" and knob != "logit_bias":  # the one-call beam search agrees
        beam_knobs = {k: v for k, v in config.to_dict().items()
                      if k in ("length_penalty", "early_stopping", "min_tokens",
                               "repetition_penalty", "no_repeat_ngram",
                               "num_beam_groups", "diversity_penalty")}
        best = beam_search(model, model.tokenizer.encode(PROMPT), config.beam_width,
                           config.max_tokens, **beam_knobs)[0][0]
        assert best == api["token_ids"]


def test_the_reported_beam_case_honours_no_repeat_ngram(model):
    plain = arlm_tui.generate(model, "the", strategy="beam", max_tokens=14)
    ids = model.tokenizer.encode("the") + plain["token_ids"]
    assert len(ids) > len(set(ids))  # without the knob a token repeats ...
    result = arlm_tui.generate(model, "the", strategy="beam", max_tokens=14, no_repeat_ngram=1)
    ids = model.tokenizer.encode("the") + result["token_ids"]
    assert len(ids) == len(set(ids))  # ... with it, none does
    assert result["config"]["no_repeat_ngram"] == 1


def test_sampling_knobs_at_temperature_zero_are_refused(model, capsys):
    with pytest.raises(KnobError, match="top_k"):
        arlm_tui.generate(model, "the", strategy="sample", temperature=0, top_k=3)
    code, out, err = _cli(capsys, ["generate", "--model", MODEL, "--strategy", "sample",
                                   "--temperature", "0", "--seed", "4"])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "seed" in err
    # temperature 0 alone is greedy
    greedy = arlm_tui.generate(model, "the", strategy="greedy", max_tokens=6)
    cold = arlm_tui.generate(model, "the", strategy="sample", temperature=0, max_tokens=6)
    assert greedy["token_ids"] == cold["token_ids"]


def test_a_session_keeps_knobs_of_other_strategies(model):
    # the play screen switches strategy back and forth: a Session does not refuse them
    session = Session(model, "the", strategy="greedy", temperature=0.5, beam_width=2,
                      max_tokens=4)
    assert session.step() is not None
    session.configure(strategy="sample")
    assert session.step() is not None


def test_demo_refuses_a_knob_its_strategy_ignores_and_keeps_its_sampling_defaults(capsys):
    code, out, err = _cli(capsys, ["demo", "--model", MODEL, "--strategy", "greedy",
                                   "--temperature", "0.5"])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "temperature" in err
    code, out, err = _cli(capsys, ["demo", "--model", MODEL, "--strategy", "greedy",
                                   "--max-tokens", "2"])
    assert code == 0 and "strategy greedy" in out
    code, out, err = _cli(capsys, ["demo", "--model", MODEL, "--max-tokens", "1", "--seed", "2"])
    assert code == 0 and "strategy sample" in out and "top_p" not in err


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_step_summaries_do_not_repeat_the_text(model, neural, strategy):
    model = neural if strategy == "contrastive" else model
    knobs = {"beam_width": 3} if strategy == "beam" else {}
    result = arlm_tui.generate(model, PROMPT, strategy=strategy, max_tokens=120,
                               min_tokens=120, **knobs)
    steps = result["steps"]
    assert len(steps) == 120 and "context_ids" not in steps[0]
    assert [s["context_length"] for s in steps[:3]] == [1, 2, 3] or strategy == "beam"
    sizes = [len(json.dumps(s)) for s in steps]
    assert max(sizes[-20:]) < 1.5 * max(sizes[:20]) + 200  # not growing with the text
    if strategy == "beam":
        best = steps[-1]["beam"]["finished"][0]
        assert best["length"] == 120 and best["last_id"] == result["token_ids"][-1]
