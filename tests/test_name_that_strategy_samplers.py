"""Name that strategy draws from the newer samplers too, and says what each strategy did in one
sentence made from the numbers it ran with."""

from __future__ import annotations

import re

from arlm_tui.decoding import DecodingConfig
from arlm_tui.decoding.config import KNOBS
from arlm_tui.games import name_that_strategy as nts
from arlm_tui.games.common import story_trigram

NEW_SAMPLERS = {"eta", "top_n_sigma", "xtc_probability", "dry_multiplier", "frequency_penalty",
                "presence_penalty", "min_p", "mirostat_tau", "diversity_penalty"}


def test_the_pool_holds_the_new_samplers_in_their_families():
    used = {name for s in nts.STRATEGIES for name in s.knobs if name != "strategy"}
    assert NEW_SAMPLERS <= used
    family = {s.id: s.family for s in nts.STRATEGIES}
    assert family["greedy-dry"] == family["greedy-freq-pres"] == "deterministic"
    assert family["eta-0.01"] == family["top-nsigma-1"] == family["min-p-0.1"] == "tempered"
    assert family["xtc-0.5"] == "hot"
    assert family["diverse-beam"] == "deterministic"
    for s in nts.STRATEGIES:  # every pool entry is a valid config that uses all its knobs
        assert s.config(0).ignored_knobs() == []


def test_each_description_is_made_from_the_numbers_it_runs_with():
    for s in nts.STRATEGIES:
        words = s.description
        assert ". " not in words and not re.search(r"[.!?]$", words), words  # one sentence
        for name, value in s.knobs.items():
            if name == "strategy" or isinstance(value, bool):
                continue
            shown = {f"{value:g}", f"{value * 100:.4g}%"}
            assert any(text in words for text in shown), (s.id, name, words)
    # another number gives another sentence, with that number in it
    assert "the 25 most probable tokens" in nts.describe(
        DecodingConfig(strategy="sample", top_k=25))
    assert "the 10 most probable tokens" not in nts.describe(
        DecodingConfig(strategy="sample", top_k=25))
    assert "at 30% of the steps removes every token at least 20% likely" in nts.describe(
        DecodingConfig(strategy="sample", xtc_probability=0.3, xtc_threshold=0.2))
    assert "bound μ (first 6 bits) that moves by 0.2·(surprise − 3)" in nts.describe(
        DecodingConfig(strategy="sample", mirostat_tau=3.0, mirostat_eta=0.2))
    assert "repeat of n ≥ 3 tokens by 1.5·2^(n − 3)" in nts.describe(
        DecodingConfig(strategy="greedy", dry_multiplier=1.5, dry_base=2.0,
                       dry_allowed_length=3))
    # the processors are named in the order they run
    words = nts.describe(DecodingConfig(strategy="sample", temperature=0.5, top_k=5, min_p=0.2))
    assert words.index("T = 0.5") < words.index("5 most probable") < words.index("20%")
    assert nts.describe(DecodingConfig(strategy="sample")) == (
        "draws every token at random from the model's own distribution")
    assert "5 most probable partial texts" in nts.describe(
        DecodingConfig(strategy="beam", beam_width=5))


def test_puzzles_draw_the_new_samplers_and_the_answer_describes_them():
    model = story_trigram()
    drawn = set()
    for seed in range(24):
        puzzle = nts.NameThatStrategyPuzzle(model, seed)
        for c in puzzle.continuations:
            drawn.add(c.strategy.id)
            words = puzzle.explain(c)
            assert f"{c.letter} was {c.strategy.label}, which {c.strategy.description}" in words
    new_ids = {s.id for s in nts.STRATEGIES
               if NEW_SAMPLERS & set(s.knobs)}
    assert len(drawn & new_ids) >= 4, drawn
    assert set(KNOBS) >= NEW_SAMPLERS


def test_diverse_beam_and_contrastive_are_described_from_their_numbers():
    diverse = DecodingConfig(strategy="beam", beam_width=4, num_beam_groups=2,
                             diversity_penalty=1.5)
    words = nts.describe(diverse)
    assert "keeps 4 partial texts in 2 groups" in words and "losing 1.5" in words
    contrastive = DecodingConfig(strategy="contrastive", penalty_alpha=0.6,
                                 contrastive_top_k=5)
    words = nts.describe(contrastive)
    assert "among the 5 most probable tokens" in words and "0.4·p − 0.6·" in words
    from arlm_tui.decoding.presets import chain

    assert chain(diverse)[-1] == "beam of 4 in 2 groups, diversity 1.5"
    assert chain(contrastive)[-1] == "contrastive search, α = 0.6, k = 5"
