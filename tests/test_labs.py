"""The lab engines (``arlm_tui.learn.labs``): each kind against hand-computed numbers, the
engine's own results, and what the lessons' lab introductions promise the learner will see."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arlm_tui.errors import ArlmError
from arlm_tui.learn import labs, load_lessons
from arlm_tui.learn.facts import compute_fact

BEES = ["bees make honey", "bees make wax", "birds eat seeds", "bees eat nectar"]


@pytest.fixture(scope="module")
def shipped_labs():
    return {(lesson.id, lab.id): lab for lesson in load_lessons() for lab in lesson.labs}


# --------------------------------------------------------------------------- every shipped lab
def test_every_shipped_lab_preset_runs_on_the_engine(shipped_labs):
    assert len(shipped_labs) >= 10
    kinds = set()
    for lab in shipped_labs.values():
        result = labs.preset_result(lab.kind, lab.preset)
        assert result is not None
        kinds.add(lab.kind)
    assert {"trigram_table", "chain_rule", "bpe_steps", "greedy_vs_beam", "gradient_norms",
            "causal_mask", "kv_cache"} <= kinds


def test_unknown_kind_is_a_value_error():
    with pytest.raises(ValueError, match="kind"):
        labs.preset_result("no_such_lab", {})


# --------------------------------------------------------------------------- trigram_table
def test_toy_trigram_table_counts_and_the_zero_factor(shipped_labs):
    lab = shipped_labs[("05-ngrams", "lab1")]
    table = labs.preset_result(lab.kind, lab.preset)
    counts = {(row.context, row.next_token): (row.count, row.context_total) for row in table.rows}
    # i love cats / i love dogs / cats chase mice, padded with two <s>
    assert counts[(("<s>", "<s>"), "i")] == (2, 3)
    assert counts[(("<s>", "<s>"), "cats")] == (1, 3)
    assert counts[(("i", "love"), "cats")] == (1, 2)
    assert counts[(("chase", "mice"), "</s>")] == (1, 1)
    assert sum(c for c, _ in counts.values()) == 3 * 4  # a trigram per word and per </s>
    assert [f.token for f in table.factors] == ["i", "love", "mice", "</s>"]
    assert [f.prob for f in table.factors] == pytest.approx([2 / 3, 1.0, 0.0, 1.0])
    assert table.sentence_prob == 0 and table.sentence_nll == math.inf
    # the intro: switch to add-one or Kneser-Ney and the zero disappears
    for smoothing in ("addk", "kn"):
        smoothed = labs.count_table("toy", 3, smoothing, context="i love", sentence="i love mice")
        assert all(f.prob > 0 for f in smoothed.factors)
        assert smoothed.sentence_prob == pytest.approx(np.prod([f.prob for f in smoothed.factors]))
        assert smoothed.sentence_prob == pytest.approx(compute_fact(
            {"kind": "sentence_prob", "corpus": "toy", "order": 3, "smoothing": smoothing,
             "sentence": "i love mice"}))


def test_context_rows_are_the_whole_distribution_with_mle_next_to_it():
    table = labs.count_table(BEES, 2, "addk", 1.0, context="birds", sentence="birds make honey")
    assert table.context == ("birds",)
    probs = {row.token: row.prob for row in table.context_rows}
    assert "<s>" not in probs and sum(probs.values()) == pytest.approx(1.0)
    # c(birds, eat) = 1, c(birds) = 1, |V'| = 10: add-one gives 2/11, MLE gives 1
    eat = next(row for row in table.context_rows if row.token == "eat")
    assert (eat.count, eat.context_total, eat.mle) == (1, 1, 1.0)
    assert eat.prob == pytest.approx(2 / 11)
    assert [r.prob for r in table.context_rows] == sorted(probs.values(), reverse=True)
    unseen = next(row for row in table.context_rows if row.token == "wax")
    assert unseen.count == 0 and unseen.prob == pytest.approx(1 / 11)


def test_unigram_table_counts_every_predicted_token():
    table = labs.count_table("toy", 1, "mle", context="i love", sentence="i")
    assert table.context == ()
    counts = {row.token: (row.count, row.context_total) for row in table.context_rows}
    assert counts["</s>"] == (3, 12) and counts["love"] == (2, 12)
    assert table.factors[0].prob == pytest.approx(2 / 12)


def test_every_smoothing_of_the_cycle_works_on_the_toy_corpus():
    for smoothing in labs.SMOOTHING_CYCLE:
        for order in range(1, labs.MAX_LAB_ORDER + 1):
            table = labs.count_table("toy", order, smoothing, context="i", sentence="i love")
            assert table.smoothing == smoothing and table.order == order
            assert table.note
            assert len(table.factors) == 3


# --------------------------------------------------------------------------- chain_rule
def test_chain_rule_products_and_shares():
    rule = labs.chain_rule([{"token": "rain", "prob": 0.2}, {"token": "falls", "prob": 0.25},
                            {"token": "softly", "prob": 0.1}, {"token": "</s>", "prob": 0.5}])
    assert rule.joint == pytest.approx(0.0025)
    assert [f.joint for f in rule.factors] == pytest.approx([0.2, 0.05, 0.005, 0.0025])
    assert rule.nll == pytest.approx(-math.log(0.0025))
    assert rule.bits == pytest.approx(-math.log2(0.0025))
    assert rule.perplexity == pytest.approx(0.0025 ** (-1 / 4))
    assert sum(f.share for f in rule.factors) == pytest.approx(1.0)
    assert rule.factors[2].share == pytest.approx(math.log(10) / -math.log(0.0025))
    assert rule.joint == pytest.approx(compute_fact(
        {"kind": "chain_product", "conditionals": [0.2, 0.25, 0.1, 0.5]}))


def test_chain_rule_with_a_zero_and_bad_input():
    rule = labs.chain_rule([0.5, 0.0, 0.5])
    assert rule.joint == 0 and rule.nll == math.inf and rule.perplexity == math.inf
    assert [f.share for f in rule.factors] == [0.0, 1.0, 0.0]
    assert [f.token for f in rule.factors] == ["x1", "x2", "x3"]
    with pytest.raises(ValueError, match="conditionals"):
        labs.chain_rule([0.5, 1.5])


# --------------------------------------------------------------------------- bpe_steps
def test_bpe_steps_follow_learn_bpe_with_pair_counts(shipped_labs):
    from arlm_tui.text.tokenizers import learn_bpe

    lab = shipped_labs[("04-tokenization", "lab1")]
    words = lab.preset["words"]
    run = labs.bpe_steps(words, lab.preset["merges"], lab.preset["encode"])
    learned = learn_bpe(dict(words), lab.preset["merges"])
    assert [s.pair for s in run.steps] == [m.pair for m in learned]
    assert [s.corpus for s in run.steps] == [m.corpus for m in learned]
    # "ap" occurs once in every word: 6 + 4 + 3 + 5 + 2
    assert run.steps[0].pair == ("a", "p") and run.steps[0].count == 20
    for step in run.steps:
        assert step.pair_counts[0] == (step.pair, step.count)  # the most frequent pair merges
        assert step.merged in step.vocab
    before = run.initial_corpus
    total = sum(freq * (len(symbols) - 1) for symbols, freq in before)
    assert sum(count for _, count in run.initial_pair_counts) == total
    assert run.initial_segmentations[0] == ("caps", ("c", "a", "p", "s"))
    final = dict(run.steps[-1].segmentations)
    assert final["caps"] == labs.segment("caps", [m.pair for m in learned])
    assert "".join(final["capes"]) == "capes"


# --------------------------------------------------------------------------- playground
def test_playground_without_knobs_is_the_softmax():
    logits = [2.0, 1.0, 0.5, -1.0]
    pg = labs.playground(logits, ["hot", "cold", "salty", "purple"])
    probs = np.exp(logits) / np.exp(logits).sum()
    assert [r.prob for r in pg.rows] == pytest.approx(probs.tolist())
    assert [r.final for r in pg.rows] == pytest.approx(probs.tolist())
    assert pg.kept == 4 and pg.stages == () and all(r.removed_by is None for r in pg.rows)
    assert pg.entropy == pytest.approx(-(probs * np.log(probs)).sum())


def test_playground_knobs_match_warp_and_name_the_processor():
    from arlm_tui.decoding import warp

    logits = [2.0, 1.0, 0.5, -1.0]
    pg = labs.playground(logits, ["hot", "cold", "salty", "purple"], temperature=0.7,
                         top_p=0.8, min_p=0.05)
    expected = warp(np.array(logits), temperature=0.7, top_p=0.8, min_p=0.05)
    assert [r.final for r in pg.rows] == pytest.approx(expected.tolist())
    assert pg.kept == int((expected > 0).sum())
    assert pg.stages[0].startswith("T = 0.7")
    removed = {r.token: r.removed_by for r in pg.rows}
    assert removed["hot"] is None and removed["purple"] is not None
    greedy = labs.playground(logits, None, temperature=0)
    assert [r.final for r in greedy.rows] == [1.0, 0.0, 0.0, 0.0]
    assert greedy.rows[1].removed_by == "greedy (T = 0)" and greedy.rows[0].token == "t0"
    with pytest.raises(ValueError, match="tokens"):
        labs.playground(logits, ["a"])


def test_playground_from_a_model_context():
    model = labs.lab_model({"model": "toy", "corpus": "toy", "order": 2, "smoothing": "mle"})
    logprobs, names = labs.next_token_distribution(model, "i")
    pg = labs.playground(logprobs, names, top=3)
    assert pg.rows[0].token == "love" and pg.rows[0].prob == pytest.approx(1.0)
    assert len(pg.rows) == 3 and pg.size == 1


# --------------------------------------------------------------------------- greedy_vs_beam
def test_greedy_misses_and_a_wide_enough_beam_finds_the_best(shipped_labs):
    lab = shipped_labs[("06-decoding", "lab2")]
    # the lab opens at width 1 (beam search = greedy), so widening the beam has work to do
    assert lab.preset["width"] == 1
    narrow = labs.preset_result(lab.kind, lab.preset)
    assert narrow.beams[0].tokens == narrow.greedy.tokens and not narrow.beam_found_best
    result = labs.preset_result(lab.kind, {**lab.preset, "width": 2})
    assert result.greedy.tokens == ("the", "dog", "</s>")
    assert result.greedy.prob == pytest.approx(0.5 * 0.35)
    assert result.best.tokens == ("a", "dog", "</s>") and result.best.prob == pytest.approx(0.36)
    assert result.greedy_missed and result.beam_found_best
    steps = result.steps
    assert [h.tokens for h in steps[0].survivors] == [("the",), ("a",)]
    assert ("the cat", pytest.approx(math.log(0.5 * 0.3))) in steps[1].pruned


# --------------------------------------------------------------------------- gradient_norms
def test_gradient_norms_vanish_and_explode_with_the_recurrent_scale():
    small = labs.gradient_norms(["rnn"], 30, 8, recurrent_scale=0.5).curves[0]
    big = labs.gradient_norms(["rnn"], 30, 8, recurrent_scale=3.0).curves[0]
    assert small.hidden_norms[0] == pytest.approx(1.0)  # ∂L/∂h_T = u, a unit vector
    assert small.cell_norms is None and small.state_name == "h"
    assert small.hidden_norms[20] < 1e-5
    assert max(big.hidden_norms) > 10
    again = labs.gradient_norms(["rnn"], 30, 8, recurrent_scale=0.5).curves[0]
    assert again.hidden_norms == small.hidden_norms  # seeded


def test_lstm_keeps_the_gradient_alive_and_the_forget_bias_controls_it(shipped_labs):
    lab = shipped_labs[("09-lstm-gru", "lab1")]
    result = labs.preset_result(lab.kind, lab.preset)
    by_cell = {c.cell: c for c in result.curves}
    assert set(by_cell) == {"rnn", "lstm", "gru"}
    far = result.steps - 1
    assert by_cell["lstm"].state_name == "c"
    assert by_cell["lstm"].state_norms[far] > 100 * by_cell["rnn"].state_norms[far]
    open_gate = labs.gradient_norms(["lstm"], 40, 16, forget_bias=3.0).curves[0]
    closed_gate = labs.gradient_norms(["lstm"], 40, 16, forget_bias=-2.0).curves[0]
    assert open_gate.state_norms[30] > 1e6 * closed_gate.state_norms[30]


def test_clipping_rescales_every_gradient_by_one_factor():
    free = labs.gradient_norms(["rnn"], 20, 8, recurrent_scale=2.0).curves[0]
    clipped = labs.gradient_norms(["rnn"], 20, 8, recurrent_scale=2.0, clip=1.0).curves[0]
    assert free.clip_factor == 1.0 and free.gradient_norm > 1.0
    assert clipped.clip_factor == pytest.approx(1.0 / free.gradient_norm)
    ratio = np.array(clipped.hidden_norms) / np.array(free.hidden_norms)
    assert ratio == pytest.approx(np.full(20, clipped.clip_factor))
    with pytest.raises(ValueError, match="cells"):
        labs.gradient_norms(["transformer"], 5)
    with pytest.raises(ValueError, match="steps"):
        labs.gradient_norms(["rnn"], 0)


def test_labs_say_plainly_when_torch_is_missing(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    with pytest.raises(labs.LabUnavailable, match="needs PyTorch"):
        labs.gradient_norms(["rnn"], 5)
    with pytest.raises(labs.LabUnavailable, match="needs PyTorch"):
        labs.kv_cache_demo("the value of", 3)


# --------------------------------------------------------------------------- causal_mask
def test_causal_mask_hides_the_future_and_the_answer():
    masked = labs.attention_pattern(6, ["the", "cat", "sat", "on", "the", "mat"], masked=True)
    open_ = labs.attention_pattern(6, ["the", "cat", "sat", "on", "the", "mat"], masked=False)
    for a in (masked, open_):
        assert a.weights.sum(axis=1) == pytest.approx(np.ones(6))
    assert np.all(np.triu(masked.weights, k=1) == 0)
    assert masked.sees(2) == (0, 1, 2) and open_.sees(2) == tuple(range(6))
    assert masked.target_weights == (0.0,) * 6
    assert all(w > 0.3 for w in open_.target_weights[:-1])  # a leaky model copies the answer
    assert open_.targets == ("cat", "sat", "on", "the", "mat", None)
    z = open_.scores - open_.scores.max(axis=1, keepdims=True)
    assert open_.weights == pytest.approx(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))
    short = labs.attention_pattern(3, ["a"])
    assert short.tokens == ("a", "x2", "x3")


# --------------------------------------------------------------------------- kv_cache
def test_kv_cache_gives_the_same_tokens_for_much_less_work():
    run = labs.kv_cache_demo("the value of", 12)
    n = 1 + len(run.prompt_tokens)  # <s> + prompt
    steps = len(run.steps)
    assert run.identical and steps == 12
    assert [s.positions_without for s in run.steps] == [n + t for t in range(steps)]
    assert [s.positions_with for s in run.steps] == [n] + [1] * (steps - 1)
    assert run.positions_without == sum(n + t for t in range(steps))
    assert run.positions_with == n + steps - 1
    assert [s.scores_with for s in run.steps][1:] == [n + t for t in range(1, steps)]
    assert max(s.logprob_gap for s in run.steps) < 1e-3
    assert "<unk>" not in run.tokens_with
    with pytest.raises(ArlmError):
        labs.kv_cache_demo("the", 5, model="pyref-word-kn3")  # an n-gram, not a transformer


# --------------------------------------------------------------------------- entropy_kl
def test_information_split_adds_up():
    s = labs.information_split([0.6, 0.3, 0.1], [0.5, 0.25, 0.25], "nats",
                               ["sunny", "cloudy", "rainy"])
    assert s.cross_entropy == pytest.approx(s.entropy + s.kl)
    assert s.kl == pytest.approx(compute_fact({"kind": "kl", "p": [0.6, 0.3, 0.1],
                                               "q": [0.5, 0.25, 0.25]}))
    bits = labs.information_split([0.6, 0.3, 0.1], [0.5, 0.25, 0.25], "bits")
    assert bits.entropy == pytest.approx(s.entropy / math.log(2))
    same = labs.information_split([0.6, 0.3, 0.1], [0.6, 0.3, 0.1])
    assert same.kl == pytest.approx(0.0, abs=1e-12)
    zero = labs.information_split([0.6, 0.3, 0.1], [0.7, 0.3, 0.0])
    assert zero.kl == math.inf and zero.cross_entropy == math.inf


def test_move_mass_keeps_a_distribution():
    q = labs.move_mass([0.5, 0.25, 0.25], 0, 0.1)
    assert q == pytest.approx((0.6, 0.2, 0.2)) and sum(q) == pytest.approx(1.0)
    assert labs.move_mass([0.5, 0.25, 0.25], 2, -0.5) == pytest.approx((2 / 3, 1 / 3, 0.0))
    assert labs.move_mass([0.5, 0.5], 1, 0.9) == pytest.approx((0.0, 1.0))
    assert labs.move_mass([1.0, 0.0, 0.0], 0, -0.4) == pytest.approx((0.6, 0.2, 0.2))
    with pytest.raises(ValueError, match="index"):
        labs.move_mass([0.5, 0.5], 2, 0.1)


# --------------------------------------------------------------------------- sampling_histogram
def test_histogram_draws_settle_on_the_probabilities(shipped_labs):
    lab = shipped_labs[("01-generative-models", "lab1")]
    model = labs.lab_model(lab.preset)
    probs, names = labs.sampling_distribution(model, lab.preset["context"])
    few = labs.sample_histogram(probs, names, 20, 0)
    many = labs.sample_histogram(probs, names, 20000, 0)
    assert few.tokens == many.tokens == ("i", "cats")
    assert many.probs == pytest.approx((2 / 3, 1 / 3))
    assert sum(many.counts) == 20000
    assert many.tv_distance < 0.02
    # the first draws do not change when more are drawn
    more = labs.sample_histogram(probs, names, 40, 0)
    assert all(a <= b for a, b in zip(few.counts, more.counts))
    u = np.random.default_rng(0).random(20)
    # inverse CDF in id order: cats (id 3) takes u < 1/3, i (id 4) the rest
    assert few.counts[0] == int(np.sum(u >= 1 / 3))


def test_histogram_follows_the_temperature():
    model = labs.lab_model({"model": "toy", "corpus": "toy", "order": 3, "smoothing": "addk"})
    cold, names = labs.sampling_distribution(model, "i love", temperature=0.2)
    hot, _ = labs.sampling_distribution(model, "i love", temperature=3.0)
    h_cold = labs.sample_histogram(cold, names, 500, 0)
    h_hot = labs.sample_histogram(hot, names, 500, 0)
    # p ∝ p^(1/T): cats and dogs (0.2 each, the rest 0.1) get 2⁵/(2·2⁵ + 6) = 0.457 each
    assert h_cold.probs[:2] == pytest.approx((32 / 70, 32 / 70))
    assert h_cold.counts[0] + h_cold.counts[1] > 430
    assert max(h_hot.counts) < 150
    assert names.index("<s>") not in [names.index(t) for t in h_hot.tokens]


def test_lab_model_names():
    assert labs.lab_model({"model": "greedy_trap"}).name == "greedy-trap"
    assert labs.lab_model({"model": "pyref-word-kn3"}).backend == "ngram"
    with pytest.raises(ArlmError, match="unknown model"):
        labs.lab_model({"model": "no-such-model"})


def test_temperature_labs_show_a_collapse_and_a_tie(shipped_labs):
    """Lesson 06: lab3's context has one most probable word, so cold draws collapse onto it;
    lab4's has two tied words, so cold draws keep splitting between them."""
    coldest = 0.1  # the lowest temperature the sampling lab offers
    unique = shipped_labs[("06-decoding", "lab3")].preset
    model = labs.lab_model(unique)
    probs, names = labs.sampling_distribution(model, unique["context"], temperature=coldest)
    h = labs.sample_histogram(probs, names, 500, 0)
    assert h.tokens[0] == "love" and h.counts[0] >= 495
    tie = shipped_labs[("06-decoding", "lab4")].preset
    model = labs.lab_model(tie)
    probs, names = labs.sampling_distribution(model, tie["context"], temperature=coldest)
    h = labs.sample_histogram(probs, names, 500, 0)
    assert set(h.tokens[:2]) == {"cats", "dogs"}
    assert h.probs[0] == pytest.approx(h.probs[1])
    assert min(h.counts[:2]) > 200 and sum(h.counts[:2]) >= 495


def test_no_lab_prompt_turns_into_unknown_tokens(shipped_labs):
    """A lab's prompt or context is written in its model's vocabulary: no word becomes <unk>."""
    checked = 0
    for (lesson_id, lab_id), lab in shipped_labs.items():
        text = lab.preset.get("context")
        if lab.kind in ("kv_cache", "greedy_vs_beam", "attention_heads"):
            text = lab.preset.get("prompt")
        if not text:
            continue
        if lab.kind in ("kv_cache", "attention_heads"):
            from arlm_tui.lm.registry import list_models, load_model

            name = lab.preset.get("model") or next(
                e.name for e in list_models() if e.backend == "transformer")
            model = load_model(name)
        else:
            model = labs.lab_model(lab.preset)
        ids = labs.context_ids(model, text)
        assert model.unk_id not in ids, (lesson_id, lab_id, text)
        checked += 1
    assert checked >= 4


def test_softmax_gradient_is_p_minus_y_and_a_step_lowers_the_loss(shipped_labs):
    lab = shipped_labs[("07-feedforward-lm", "lab1")]
    g = labs.preset_result(lab.kind, lab.preset)
    z = np.asarray(lab.preset["logits"], dtype=np.float64)
    target = lab.preset["target"]

    def loss(logits):
        return -(logits[target] - np.log(np.sum(np.exp(logits))))

    # central finite differences of ℓ(z) = −ln softmax(z)_target agree with p − y
    for i, row in enumerate(g.rows):
        e = np.zeros_like(z)
        e[i] = 1e-6
        assert row.gradient == pytest.approx((loss(z + e) - loss(z - e)) / 2e-6, abs=1e-6)
    assert g.loss == pytest.approx(loss(z))
    assert g.rows[target].gradient < 0 and all(r.gradient > 0 for r in g.rows if not r.target)
    assert g.gradient_sum == pytest.approx(0.0, abs=1e-12)
    # the lab's story: the target is not the model's favourite, and one step helps
    assert max(g.rows, key=lambda r: r.prob).token != g.rows[target].token
    assert g.next_loss < g.loss
    with pytest.raises(ValueError, match="target"):
        labs.softmax_gradient([0.0, 1.0], 2)


def test_head_attention_of_the_bundled_transformer(shipped_labs):
    from arlm_tui.lm.registry import load_model

    lab = shipped_labs[("10-causal-transformers", "lab3")]
    h = labs.preset_result(lab.kind, lab.preset)
    model = load_model(h.model)
    config = model.net.config
    assert "4 layers of 4 heads" in lab.intro
    assert (h.layers, h.heads) == (config.layers, config.heads) == (4, 4)
    words = lab.preset["prompt"].split()
    assert h.keys == ("<s>", *words) and h.weights.shape[-1] == len(words) + 1
    assert np.allclose(h.weights.sum(axis=-1), 1.0) and (h.weights >= 0).all()
    assert not h.unknown
    # the heads of a layer do not all look at the same key: multi-head attention
    assert any(len({h.focus(layer, r)[0] for r in range(h.heads)}) > 1
               for layer in range(h.layers))
    assert 0 <= h.entropy(0, 0) <= math.log(len(h.keys)) + 1e-9
    # the predictions are the model's own next-token probabilities
    logprobs = model.next_logprobs(labs.context_ids(model, lab.preset["prompt"]))
    best = int(np.argmax(logprobs))
    assert h.predictions[0] == (model.tokenizer.token_text(best),
                                pytest.approx(float(np.exp(logprobs[best])), rel=1e-4))
    # a word outside the vocabulary is reported, not silently read as <unk>
    assert labs.head_attention("the zzyzx fisherman").unknown == ("zzyzx",)


def test_kv_cache_lab_counts_a_cached_step_as_the_lesson_does(shipped_labs):
    from arlm_tui.learn.lessons import load_lessons as reload

    lab = shipped_labs[("10-causal-transformers", "lab2")]
    run = labs.kv_cache_demo(lab.preset["prompt"], 5)
    assert (run.layers, run.d_model) == (4, 128) and run.identical
    lesson = reload().get("10-causal-transformers")
    assert run.cached_step_macs(100) == lesson.fact("f_step_macs").value
    # a later step's query meets every cached key plus its own
    later = run.steps[1]
    assert later.positions_with == 1 and later.scores_with == len(run.prompt_tokens) + 2
