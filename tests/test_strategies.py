"""Table models, one decoding step (Trace contents), greedy and sampled generation, explain."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import CountingModel

from arlm_tui.decoding import DecodingConfig, decode_step, explain, greedy, sample
from arlm_tui.decoding.strategies import sample_index
from arlm_tui.lm.base import BOS, EOS
from arlm_tui.lm.table import TableModel, greedy_trap_model, random_model

# a bigram model over a small vocabulary with a clear ranking after "<s>"
VOCAB = ["the", "a", "cat", "dog", "sat"]
TABLE = {
    (BOS,): {"the": 0.4, "a": 0.3, "cat": 0.15, "dog": 0.1, EOS: 0.05},
    ("the",): {"cat": 0.6, "dog": 0.4},
    ("a",): {"dog": 0.7, "cat": 0.3},
    ("cat",): {"sat": 0.8, EOS: 0.2},
    ("dog",): {"sat": 0.5, EOS: 0.5},
    ("sat",): {EOS: 1.0},
}


@pytest.fixture
def model() -> TableModel:
    return TableModel(VOCAB, 2, TABLE, name="tiny")


class HalfScoresModel(TableModel):
    """Scores that do not sum to one (like stupid backoff): log(0.5 p)."""

    @property
    def normalized(self) -> bool:
        return False

    def next_logprobs(self, context_ids):
        return super().next_logprobs(context_ids) + math.log(0.5)


def step(model, config, context=(), step_index=0, **kw):
    lp = model.next_logprobs(list(context))
    return decode_step(model, list(context), lp, config, step_index, 0, **kw)


# ------------------------------------------------------------------------------ table models
def test_table_model_distributions(model):
    assert model.vocab[:3] == ["<unk>", "<s>", "</s>"] and model.backend == "table"
    lp = model.next_logprobs([])
    assert math.isclose(np.exp(lp).sum(), 1.0) and np.isneginf(lp[model.bos_id])
    assert math.isclose(np.exp(lp[model.tokenizer.token_to_id["the"]]), 0.4)
    unseen = model.next_logprobs([model.unk_id])  # no entry: uniform over V' = V minus <s>
    assert np.allclose(np.exp(unseen[[0, 2, 3, 4, 5, 6, 7]]), 1 / 7)
    # only the last order - 1 tokens matter
    ids = model.tokenizer.encode("a cat")
    assert np.array_equal(model.next_logprobs(ids), model.next_logprobs(ids[-1:]))


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({(BOS,): {"the": 0.5}}, "sum to 0.5"),
        ({(BOS,): {"zebra": 1.0}}, "'zebra'"),
        ({(BOS,): {BOS: 1.0}}, "never predicted"),
        ({("the", "a"): {"cat": 1.0}}, "order - 1"),
        ({(BOS,): {"the": -0.5, "a": 1.5}}, ">= 0"),
    ],
)
def test_table_model_rejects_bad_tables(table, needle):
    with pytest.raises(ValueError, match=needle):
        TableModel(VOCAB, 2, table)


def test_table_model_normalize_option():
    m = TableModel(VOCAB, 2, {(BOS,): {"the": 2, "a": 2}}, normalize=True)
    assert np.allclose(np.exp(m.next_logprobs([]))[[3, 4]], [0.5, 0.5])


def test_random_model_is_deterministic_and_normalized():
    a, b, c = random_model(6, order=3, seed=1), random_model(6, order=3, seed=1), random_model(
        6, order=3, seed=2)
    assert a.vocab == ["<unk>", "<s>", "</s>", "w3", "w4", "w5"] and a.vocab_size == 6
    for ctx in ([], [3], [4, 5], [2, 0, 3]):
        lp = a.next_logprobs(ctx)
        assert np.array_equal(lp, b.next_logprobs(ctx))
        assert math.isclose(np.exp(lp).sum(), 1.0) and np.isneginf(lp[1])
    assert not np.allclose(a.next_logprobs([3]), c.next_logprobs([3]))
    assert not np.allclose(a.next_logprobs([3]), a.next_logprobs([4]))
    with pytest.raises(ValueError, match="vocab_size"):
        random_model(3)


# ------------------------------------------------------------------------------ decode_step
def test_greedy_step_trace(model):
    trace = step(model, DecodingConfig(), cum_logprob=-1.0, num_tokens=2)
    the = model.tokenizer.token_to_id["the"]
    assert trace.chosen_id == the and trace.chosen_token == "the" and trace.chosen_rank == 1
    assert trace.final_probs[the] == 1.0 and trace.final_probs.sum() == 1.0
    assert math.isclose(trace.chosen_raw_prob, 0.4) and trace.chosen_prob == 1.0
    assert math.isclose(trace.logprob, math.log(0.4))
    assert math.isclose(trace.cum_logprob, -1.0 + math.log(0.4)) and trace.num_tokens == 3
    raw = np.array([0.4, 0.3, 0.15, 0.1, 0.05])
    assert math.isclose(trace.entropy, float(-(raw * np.log(raw)).sum()))
    assert trace.final_entropy == 0.0 and trace.draw is None and not trace.forced
    assert [s.name for s in trace.stages] == ["raw"]
    assert math.isclose(trace.perplexity, math.exp(-trace.cum_logprob / 3))
    assert math.isclose(trace.bits_per_token, -trace.cum_logprob / 3 / math.log(2))


def test_sampling_step_uses_seed_and_step_index(model):
    config = DecodingConfig(strategy="sample", seed=11)
    stream = np.random.default_rng(11).random(5)  # step i reads number i of the seed's stream
    for i in range(5):
        trace = step(model, config, step_index=i)
        u = stream[i]
        assert trace.draw == u
        assert trace.chosen_id == int(np.searchsorted(np.cumsum(trace.final_probs), u, "right"))
        assert trace.chosen_id == step(model, config, step_index=i).chosen_id


def test_sampling_frequencies_follow_final_probs(model):
    config = DecodingConfig(strategy="sample", temperature=0.7, top_k=3)
    counts = np.zeros(model.vocab_size)
    n = 3000
    for seed in range(n):
        counts[step(model, config.replace(seed=seed)).chosen_id] += 1
    final = step(model, config).final_probs
    assert (counts[final == 0] == 0).all()
    assert np.abs(counts / n - final).max() < 0.03  # about 3 standard errors


def test_sample_index_inverse_cdf_edges():
    probs = np.array([0.0, 0.5, 0.0, 0.5, 0.0])
    assert sample_index(probs, 0.0) == 1
    assert sample_index(probs, 0.4999) == 1
    assert sample_index(probs, 0.5) == 3
    assert sample_index(probs, 0.9999999999999999) == 3


def test_processor_stages_and_removed_tokens(model):
    config = DecodingConfig(strategy="sample", temperature=5.0, top_k=4, top_p=0.6)
    trace = step(model, config)
    assert [s.name for s in trace.stages] == ["raw", "temperature", "top_k", "top_p"]
    ids = model.tokenizer.token_to_id
    assert trace.stages[2].removed == [ids[EOS]]  # the 5th most probable
    assert set(trace.removed_by) == {ids[EOS]} | set(trace.stages[3].removed)
    for token_id, name in trace.removed_by.items():
        assert trace.final_probs[token_id] == 0 and name in ("top_k", "top_p")
    assert trace.top_p_cutoff == trace.kept == np.count_nonzero(trace.final_probs)
    for stage in trace.stages:
        assert math.isclose(stage.probs.sum(), 1.0)
    some = list(range(0, model.vocab_size, 2))
    assert trace.removed_by_of(some) == {i: n for i, n in trace.removed_by.items() if i in some}
    assert [row["removed_by"] for row in trace.top(model.vocab_size)] == [
        trace.removed_by.get(row["id"]) for row in trace.top(model.vocab_size)]
    # at T = 5 the probabilities flatten: the nucleus needs more tokens than at T = 1
    assert trace.top_p_cutoff > step(model, config.replace(temperature=1.0)).top_p_cutoff


def test_forced_token_is_taken_even_if_removed(model):
    config = DecodingConfig(strategy="sample", top_k=1)
    dog = model.tokenizer.token_to_id["dog"]
    trace = step(model, config, force=dog)
    assert trace.chosen_id == dog and trace.forced and trace.draw is None
    assert trace.chosen_prob == 0.0 and math.isclose(trace.chosen_raw_prob, 0.1)
    assert trace.chosen_rank == 4 and trace.removed_by[dog] == "top_k"
    with pytest.raises(ValueError, match="force"):
        step(model, config, force=99)


def test_unnormalized_scores_are_renormalized():
    m = HalfScoresModel(VOCAB, 2, TABLE)
    trace = step(m, DecodingConfig(strategy="sample"))
    assert math.isclose(np.exp(trace.raw_logprobs).sum(), 1.0)
    assert math.isclose(trace.chosen_raw_prob, np.exp(TableModel(VOCAB, 2, TABLE).next_logprobs(
        [])[trace.chosen_id]))


def test_top_rows_and_json_summary(model):
    trace = step(model, DecodingConfig(strategy="sample", top_k=2, seed=3))
    rows = trace.top(3)
    assert [r["token"] for r in rows] == ["the", "a", "cat"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert rows[2]["removed_by"] == "top_k" and rows[2]["final_prob"] == 0.0
    assert rows[0]["removed_by"] is None and math.isclose(rows[0]["final_prob"], 0.4 / 0.7)
    assert sum(r["chosen"] for r in rows) == 1
    assert len(trace.top(100)) == model.vocab_size
    data = trace.to_dict(top_n=4)
    text = json.dumps(data, allow_nan=False)  # JSON-safe: no NaN or infinities
    assert len(data["top"]) == 4 and data["chosen_token"] == trace.chosen_token
    assert data["stages"][1] == {"name": "top_k", "label": "top-k = 2", "removed": 3, "kept": 2}
    assert "raw_logprobs" not in text and "final_probs" not in text


def test_rank_ties_rank_lower_id_first():
    m = TableModel(["x", "y"], 1, {(): {"x": 0.4, "y": 0.4, EOS: 0.2}})
    y = m.tokenizer.token_to_id["y"]
    assert step(m, DecodingConfig(), force=y).chosen_rank == 2
    assert step(m, DecodingConfig()).chosen_token == "x"


# ------------------------------------------------------------------------------ generation
def test_greedy_generation_ends_with_eos(model):
    result = greedy(model, "")
    assert [model.vocab[i] for i in result.ids] == ["the", "cat", "sat", EOS]
    assert result.finished and len(result.traces) == 4
    assert math.isclose(result.logprob, math.log(0.4 * 0.6 * 0.8 * 1.0))
    assert math.isclose(result.traces[-1].cum_logprob, result.logprob)
    assert [t.step for t in result.traces] == [0, 1, 2, 3]


def test_generation_stops_at_max_tokens_and_min_tokens_delays_eos(model):
    result = greedy(model, "", max_tokens=2)
    assert len(result.ids) == 2 and not result.finished
    trap = greedy_trap_model()
    short = greedy(trap, "")
    assert [trap.vocab[i] for i in short.ids] == ["the", "dog", EOS]
    eager = TableModel(["x"], 1, {(): {EOS: 0.6, "x": 0.4}})
    assert [eager.vocab[i] for i in greedy(eager, "").ids] == [EOS]
    longer = greedy(eager, "", min_tokens=3, max_tokens=6)
    assert [eager.vocab[i] for i in longer.ids] == ["x", "x", "x", EOS]
    assert [s.name for s in longer.traces[0].stages] == ["raw", "min_length"]
    assert longer.traces[0].removed_by == {eager.eos_id: "min_length"}
    assert math.isclose(longer.logprob, 3 * math.log(0.4) + math.log(0.6))


def test_generation_is_incremental_and_matches_full_recomputation():
    m = CountingModel(VOCAB, 2, TABLE)
    result = sample(m, "the", seed=5, max_tokens=6, temperature=1.5)
    assert m.calls["start"] == 1 and m.calls["extend"] == len(result.ids) - 1
    prompt = m.tokenizer.encode("the")
    for trace in result.traces:
        assert trace.context_ids[: len(prompt)] == prompt
        assert np.allclose(trace.raw_logprobs, m.next_logprobs(trace.context_ids))


def test_sampling_is_deterministic_per_seed_and_varies_across_seeds():
    m = random_model(8, order=2, seed=4, concentration=1.0)
    runs = {seed: sample(m, [], seed=seed, max_tokens=8).ids for seed in range(12)}
    assert runs[3] == sample(m, [], seed=3, max_tokens=8).ids
    assert len({tuple(ids) for ids in runs.values()}) > 3
    first = sample(m, [], seed=3, max_tokens=8)
    assert [t.draw for t in first.traces] == np.random.default_rng(3).random(
        len(first.ids)).tolist()


def test_no_repeat_and_repetition_penalty_in_generation():
    m = random_model(10, order=1, seed=0, concentration=0.3)  # the same distribution every step
    plain = greedy(m, [], max_tokens=5)
    assert len(set(plain.ids)) == 1  # a unigram model repeats its favourite token
    no_repeat = greedy(m, [], max_tokens=5, no_repeat_ngram=1)
    assert len(set(no_repeat.ids)) == len(no_repeat.ids)
    penalised = greedy(m, [], max_tokens=5, repetition_penalty=50.0)
    assert len(set(penalised.ids)) > 1


def test_zero_temperature_sampling_is_greedy(model):
    assert sample(model, "", temperature=0, seed=7).ids == greedy(model, "").ids


# ------------------------------------------------------------------------------ explain
def test_explain_lines(model):
    greedy_line = explain(step(model, DecodingConfig()))
    assert greedy_line == "greedy took the most probable token 'the' (p = 0.400)"
    config = DecodingConfig(strategy="sample", temperature=0.8, top_p=0.7)
    lines, traces = {}, {}
    for seed in range(40):
        trace = step(model, config.replace(seed=seed))
        lines.setdefault(trace.chosen_rank, explain(trace))
        traces.setdefault(trace.chosen_rank, trace)
    # coverage is measured where top-p cut: on the distribution after temperature, so >= p
    tempered = traces[1].stages[1]
    assert tempered.name == "temperature"
    covering = float(tempered.probs[traces[1].final_probs > 0].sum())
    assert covering >= 0.7
    assert lines[1].startswith(f"top-p = 0.7 kept 2 tokens covering {covering:.3f}; sampled 'the'")
    assert "at T = 0.8" in lines[2] and "top token is not always chosen" in lines[2]
    forced = explain(step(model, config, force=model.tokenizer.token_to_id["dog"]))
    assert forced == "you forced 'dog' (p = 0.100, rank 4), which top-p had removed"
    eos_line = explain(step(model, DecodingConfig(), context=model.tokenizer.encode("sat")))
    assert eos_line.endswith("</s> ends the text")
    shown = explain(step(model, DecodingConfig()), lambda i: model.vocab[i].upper())
    assert "'THE'" in shown
    for line in [greedy_line, forced, eos_line, *lines.values()]:
        assert "\n" not in line
