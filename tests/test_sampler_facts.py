"""The ``sampler`` fact kind: lesson 06's numbers on the newer samplers come from the engine's
processors; here they are checked against the formulas worked by hand, and a lesson that
misuses the kind is refused with one line naming its file and line."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lesson_helpers import GOOD_YAML, lessons_root, swap, write_lesson

from arlm_tui import paths
from arlm_tui.learn import load_lessons
from arlm_tui.learn.facts import compute_fact

P5 = [0.45, 0.25, 0.15, 0.10, 0.05]
SOUP = [2.0, 1.0, 0.5, -1.0]


def sampler(measure: str, **spec) -> float:
    return compute_fact({"kind": "sampler", "measure": measure, **spec})


def test_eta_cut_is_the_papers_formula():
    p = np.array(P5)
    entropy = -float(np.sum(p * np.log(p)))
    eta = min(0.1, math.sqrt(0.1) * math.exp(-entropy))
    assert sampler("cutoff", probs=P5, knobs={"eta": 0.1}) == pytest.approx(eta)
    assert sampler("kept", probs=P5, knobs={"eta": 0.1}) == int(np.sum(p >= eta))


def test_top_n_sigma_spread_and_kept_set_at_any_temperature():
    sigma = float(np.std(SOUP))
    assert sampler("spread", logits=SOUP, knobs={"top_n_sigma": 1.0}) == pytest.approx(sigma)
    assert sampler("cutoff", logits=SOUP, knobs={"top_n_sigma": 1.0}) == pytest.approx(
        2.0 - sigma)
    for t in (0.25, 0.5, 1.0, 2.0, 4.0):
        knobs = {"top_n_sigma": 1.0, "temperature": t}
        assert sampler("kept", logits=SOUP, knobs=knobs) == 2
        assert sampler("spread", logits=SOUP, knobs=knobs) == pytest.approx(sigma / t)


def test_penalties_worked_by_hand():
    cat = {"logits": [2.0, 1.5, 0.0], "index": 1}
    for uses in (1, 2, 5):
        history = [1] * uses
        assert sampler("logit", history=history, knobs={"frequency_penalty": 0.3},
                       **cat) == pytest.approx(1.5 - 0.3 * uses)
        assert sampler("logit", history=history, knobs={"presence_penalty": 0.3},
                       **cat) == pytest.approx(1.2)
        assert sampler("logit", history=history, knobs={"repetition_penalty": 1.5},
                       **cat) == pytest.approx(1.0)
    dry = {"dry_multiplier": 0.8, "dry_base": 1.75, "dry_allowed_length": 2}
    for n in (2, 3, 4, 5):  # a text 0 1 ... n, then 0 1 ... n−1 again: token n extends it
        history = [*range(n + 1), *range(n)]
        drop = sampler("logit_drop", logits=[0.0] * 8, history=history, knobs=dry, index=n)
        assert drop == pytest.approx(0.8 * 1.75 ** (n - 2))


def test_xtc_when_it_fires():
    knobs = {"xtc_probability": 1.0, "xtc_threshold": 0.12}
    assert sampler("kept", probs=P5, knobs=knobs) == 3
    assert sampler("prob", probs=P5, knobs=knobs, index=2) == pytest.approx(0.15 / 0.30)
    assert sampler("prob", probs=P5, knobs=knobs, index=0) == 0.0


def test_a_measure_without_a_cut_is_refused():
    with pytest.raises(ValueError, match="needs a processor with a cut"):
        sampler("cutoff", probs=P5, knobs={"top_k": 2})
    with pytest.raises(ValueError, match="history must hold token indices"):
        sampler("kept", probs=P5, knobs={"top_k": 2}, history=[9])


def sampler_lesson(knobs: str, measure: str) -> str:
    """The tests' valid lesson with its fact (and the question stating it) on the sampler kind."""
    text = swap(GOOD_YAML.format(folder="50-test"),
                "compute: {kind: chain_product, conditionals: [0.4, 0.5, 0.15]}",
                f"compute: {{kind: sampler, probs: {P5}, knobs: {knobs}, measure: {measure}}}")
    return swap(swap(text, "value: 0.03", "value: 4"), "answer: 0.03", "answer: 4")


@pytest.mark.parametrize(("knobs", "measure", "message"), [
    ("{eta: 0.1}", "kept", None),
    ("{eta: 2}", "kept", "is wrong: eta must be a number in [0, 1), got 2"),
    ("{etta: 0.1}", "kept", "unknown processor knob 'etta'"),
    ("{eta: 0.1}", "size", "must be one of kept"),
])
def test_a_lesson_using_the_kind_is_checked_when_loaded(tmp_path, knobs, measure, message):
    root = lessons_root(tmp_path)
    text = sampler_lesson(knobs, measure)
    write_lesson(root, "50-test", text)
    result = load_lessons(root)
    if message is None:
        assert result.broken == []
        assert compute_fact(result.get("50-test").fact("f1")) == 4
        return
    assert len(result.broken) == 1
    error = result.broken[0]
    assert message in error.message and "\n" not in str(error)
    assert error.line == len(text.splitlines())  # the line of the fact's compute


def test_mirostat_first_step_cut_and_update_by_hand():
    knobs = {"mirostat_tau": 1.0, "mirostat_eta": 0.1}
    p = np.array(P5)
    kept = p[-np.log2(p) <= 2.0]  # μ = 2τ = 2 bits at the first step
    assert sampler("kept", probs=P5, knobs=knobs) == kept.size == 2
    for index in (0, 1):
        share = P5[index] / kept.sum()
        surprise = -math.log2(share)
        assert sampler("surprise", probs=P5, knobs=knobs, index=index) == pytest.approx(surprise)
        assert sampler("mu_after", probs=P5, knobs=knobs, index=index) == pytest.approx(
            2.0 - 0.1 * (surprise - 1.0))
    with pytest.raises(ValueError, match="needs mirostat_tau"):
        sampler("mu_after", probs=P5, knobs={"top_k": 2})


def test_lesson_06_names_the_cuts_in_the_order_arlm_runs_them():
    import re

    from arlm_tui.decoding.processors import TRUNCATOR_NAMES

    text = (paths.lessons_dir() / "06-decoding" / "lesson.md").read_text(encoding="utf-8")
    listed = re.search(r"then the cuts \(([^)]*)\)", " ".join(text.split())).group(1)
    names = {"top-nσ": "top_n_sigma", "typical": "typical_p", "XTC": "xtc"}
    order = [names.get(n.strip(), n.strip().replace("-", "_")) for n in listed.split(",")]
    assert tuple(order) == TRUNCATOR_NAMES


def test_contrastive_score_by_hand_and_alpha_zero_is_the_probability():
    spec = {"kind": "contrastive_score", "candidates": [0.5, 0.3], "similarities": [0.9, 0.2]}
    for alpha in (0.0, 0.3, 0.6, 1.0):
        for index, (p, s) in enumerate([(0.5, 0.9), (0.3, 0.2)]):
            got = compute_fact({**spec, "alpha": alpha, "index": index})
            assert got == pytest.approx((1 - alpha) * p - alpha * s)
    assert compute_fact({**spec, "alpha": 0, "index": 0}) == 0.5
    with pytest.raises(ValueError, match="same length"):
        compute_fact({**spec, "similarities": [0.9], "alpha": 0.5, "index": 0})
