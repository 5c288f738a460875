"""Presets: the knobs of llama.cpp, the OpenAI API and Hugging Face, the chain they set, and how
the CLI, the Python API and the play screen apply them (flags given beside a preset win)."""

from __future__ import annotations

import json

import pytest
from tui_helpers import make_play_app, start_play

from arlm_tui.api import generate
from arlm_tui.cli import main
from arlm_tui.decoding.config import DecodingConfig, KnobError
from arlm_tui.decoding.presets import (
    LLAMA_CPP_ORDER,
    PRESETS,
    apply_preset,
    chain,
    find_preset,
    merge_knobs,
    preset_knobs,
)
from arlm_tui.decoding.processors import PROCESSOR_KNOBS, PROCESSOR_ORDER
from arlm_tui.decoding.session import Session
from arlm_tui.tui.screens.dialogs import ChoiceDialog

BUNDLED = "pyref-word-kn3"


def changed(config: DecodingConfig) -> dict:
    """The processor knobs ``config`` sets away from off."""
    return {name: getattr(config, name) for name, knob in PROCESSOR_KNOBS.items()
            if getattr(config, name) != knob.off}


def test_llama_cpp_preset_is_its_common_params_sampling():
    config = apply_preset(None, "llama.cpp")
    assert config.strategy == "sample"
    assert changed(config) == {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05}
    # the knobs llama.cpp has but leaves off are off here too, with its secondary values
    assert (config.dry_base, config.dry_allowed_length, config.xtc_threshold) == (1.75, 2, 0.1)
    # its own chain puts temperature last; arlm's puts it before every truncation
    assert LLAMA_CPP_ORDER[-1] == "temperature"
    assert chain(config) == ["T = 0.8", "top-k = 40", "top-p = 0.95", "min-p = 0.05", "draw"]


def test_hf_presets_follow_the_installed_transformers_defaults():
    from transformers import GenerationConfig

    hf = GenerationConfig._get_default_generation_params()
    greedy = apply_preset(None, "hf")
    assert hf["do_sample"] is False and hf["num_beams"] == 1 and greedy.strategy == "greedy"
    assert changed(greedy) == {} and chain(greedy) == ["arg-max"]
    sampled = apply_preset(None, "hf-sample")
    assert sampled.strategy == "sample"
    assert sampled.top_k == hf["top_k"] == 50
    for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"),
                         ("typical_p", "typical_p"), ("epsilon", "epsilon_cutoff"),
                         ("eta", "eta_cutoff"), ("repetition_penalty", "repetition_penalty"),
                         ("no_repeat_ngram", "no_repeat_ngram_size")):
        assert getattr(sampled, ours) == hf[theirs], ours
    assert chain(sampled) == ["top-k = 50", "draw"]


def test_openai_preset_is_a_plain_draw():
    config = apply_preset(None, "openai")
    assert config.strategy == "sample" and changed(config) == {}
    assert chain(config) == ["draw"]


def test_a_preset_turns_every_other_processor_off_and_keeps_the_strategy_knobs():
    busy = DecodingConfig(strategy="sample", repetition_penalty=1.3, dry_multiplier=0.8,
                          xtc_probability=0.5, eta=0.01, max_tokens=7, seed=9)
    config = apply_preset(busy, "llama.cpp")
    assert changed(config) == {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05}
    assert (config.max_tokens, config.seed) == (7, 9)


def test_names_aliases_and_a_clear_error():
    assert find_preset("LLAMA").name == "llama.cpp"
    assert find_preset("huggingface").name == "hf"
    with pytest.raises(ValueError, match="unknown preset 'vllm'; presets are: llama.cpp"):
        find_preset("vllm")


def test_flags_given_win_and_another_strategy_drops_the_knobs_it_ignores():
    strategy, knobs = merge_knobs("llama.cpp", {"top_k": 5, "strategy": None},
                                  {"max_tokens": 30}, "greedy")
    assert strategy == "sample" and knobs["top_k"] == 5 and knobs["top_p"] == 0.95
    assert knobs["max_tokens"] == 30
    strategy, knobs = merge_knobs("llama.cpp", {"strategy": "greedy"}, {}, "sample")
    assert strategy == "greedy" and knobs["temperature"] == 1.0 and knobs["top_k"] == 0
    DecodingConfig(strategy=strategy, **knobs).check_knobs_apply()  # nothing ignored
    assert preset_knobs("hf-sample", "beam")["top_k"] == 0


def test_chain_follows_the_processor_order():
    config = DecodingConfig(strategy="sample", **{
        "xtc_probability": 0.5, "eta": 0.001, "top_k": 10, "temperature": 0.7,
        "repetition_penalty": 1.2, "dry_multiplier": 0.8, "min_p": 0.1, "top_n_sigma": 2.0,
        "frequency_penalty": 0.3})
    names = [p.name for p in config.processors(eos_id=0, prompt_length=0)]
    assert names == [n for n in PROCESSOR_ORDER if n in names]
    labels = chain(config)
    assert len(labels) == len(names) + 1 and labels[-1] == "draw"
    assert labels.index("T = 0.7") < labels.index("top-k = 10") < labels.index("min-p = 0.1")
    assert labels[0] == "repetition penalty = 1.2"


def test_cli_generate_with_a_preset_and_an_override(capsys):
    code = main(["generate", "--model", BUNDLED, "--prompt", "the", "--preset", "llama.cpp",
                 "--top-k", "5", "--max-tokens", "4", "--seed", "3", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["strategy"] == "sample"
    assert result["config"]["top_k"] == 5 and result["config"]["min_p"] == 0.05
    assert result["config"]["temperature"] == 0.8
    # the same run through the Python API gives the same tokens
    api = generate(BUNDLED, "the", preset="llama.cpp", top_k=5, max_tokens=4, seed=3)
    assert api["tokens"] == result["tokens"] and api["config"] == result["config"]


def test_cli_generate_without_a_preset_keeps_its_defaults(capsys):
    assert main(["generate", "--model", BUNDLED, "--prompt", "the", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["strategy"] == "greedy" and result["num_tokens"] <= 30
    assert result["config"]["max_tokens"] == 30
    with pytest.raises(KnobError):  # a knob greedy would ignore is still refused
        generate(BUNDLED, "the", temperature=0.5)


def test_cli_unknown_preset_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--preset", "vllm"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "unknown preset 'vllm'" in err and "Traceback" not in err


async def test_play_screen_preset_picker_sets_the_chain_and_a_save_keeps_it():
    app = make_play_app(strategy="greedy", knobs={"seed": 4, "repetition_penalty": 1.3})
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await start_play(pilot)
        views = screen.query_one("#views")
        assert "repetition penalty = 1.3 → arg-max" in str(views.border_subtitle)
        await pilot.press("P")
        picker = app.screen
        assert isinstance(picker, ChoiceDialog)
        listed = [str(picker.query_one("#choice-list").get_option_at_index(i).prompt)
                  for i in range(len(PRESETS))]
        assert listed[0] == ("llama.cpp defaults: T = 0.8 → top-k = 40 → top-p = 0.95 → "
                             "min-p = 0.05 → draw")
        await pilot.press("enter")
        await pilot.pause()
        config = screen.session.config
        assert app.screen is screen and config.strategy == "sample"
        assert changed(config) == {"temperature": 0.8, "top_k": 40, "top_p": 0.95,
                                   "min_p": 0.05}
        assert config.seed == 4
        assert str(views.border_subtitle) == (
            "chain: T = 0.8 → top-k = 40 → top-p = 0.95 → min-p = 0.05 → draw")
        assert any("llama.cpp defaults" in n.message for n in app._notifications)
        await pilot.press("space", "space")
        saved = Session.from_json(screen.session.to_json(), model=screen.session.model)
        assert saved.config == config  # a saved session keeps the preset's knobs
        await pilot.press("P", "down", "down", "enter")  # HF defaults: greedy, chain empty
        await pilot.pause()
        assert screen.session.config.strategy == "greedy"
        assert changed(screen.session.config) == {}
        assert str(views.border_subtitle) == ""


# --------------------------------------------------------------------------- the README section
def readme_section() -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = text.index("## Presets and the processor order")
    return text[start:text.index("\n## ", start + 1)]


def test_readme_lists_the_processors_in_the_order_they_run():
    import re

    listed = [m.group(1).replace("-", "_") for m in
              re.finditer(r"^\d+\. ([a-z-]+)$", readme_section(), flags=re.MULTILINE)]
    assert len(listed) >= 15
    # every name is a processor, in the order PROCESSORS runs them (a processor added later
    # and not listed yet leaves the rest in order)
    assert all(name in PROCESSOR_ORDER for name in listed), listed
    assert listed == sorted(listed, key=PROCESSOR_ORDER.index)


def test_readme_preset_table_shows_the_chain_each_preset_sets():
    from arlm_tui.decoding.presets import chain_text

    section = readme_section()
    for name in PRESETS:
        row = next(line for line in section.splitlines() if line.startswith(f"| `{name}` "))
        assert f"| {chain_text(apply_preset(None, name))} |" in row, row


def test_demo_and_json_name_the_chain(capsys):
    assert main(["demo", "--model", BUNDLED, "--preset", "llama.cpp", "--max-tokens", "1"]) == 0
    out = capsys.readouterr().out
    assert ("chain (in the order it runs): T = 0.8 → top-k = 40 → top-p = 0.95 → min-p = 0.05 → "
            "draw") in out
    result = generate(BUNDLED, "the", strategy="sample", repetition_penalty=1.2, top_k=3,
                      max_tokens=2)
    assert result["chain"] == ["repetition penalty = 1.2", "top-k = 3", "draw"]
