"""A text is stored once: the memory a step keeps does not grow with the length of the text.

Timings are not tested here (see benchmarks/bench_memory.py); these tests count bytes with
tracemalloc: the bytes kept by steps 200–400 must equal those kept by steps 400–600 (within a
margin), which fails when each step keeps its own copy of the text (that grows linearly)."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

from arlm_tui.decoding import DecodingConfig, Session
from arlm_tui.decoding.tokens import CHUNK, TokenSeq
from arlm_tui.lm.table import random_model

STEPS = 200


def _kept_per_block(config: DecodingConfig, blocks: int = 3) -> list[float]:
    """Bytes kept per step for consecutive blocks of STEPS steps (after a first block)."""
    model = random_model(30, order=2, seed=1, concentration=0.5)
    session = Session(model, [5, 6], config)
    out = []
    for _ in range(STEPS):
        session.step()
    tracemalloc.start()
    try:
        for _ in range(blocks):
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(STEPS):
                assert session.step() is not None
            gc.collect()
            out.append((tracemalloc.get_traced_memory()[0] - before) / STEPS)
    finally:
        tracemalloc.stop()
    assert session.num_generated == (blocks + 1) * STEPS or config.strategy == "beam"
    # the texts are still all there: nothing was dropped to save memory
    if config.strategy != "beam":
        assert len(session.traces) == session.num_generated
        assert session.traces[-1].context_ids == session.context_ids[:-1]
    return out


@pytest.mark.parametrize("knobs", [
    {"strategy": "sample", "top_p": 0.9},
    {"strategy": "greedy", "repetition_penalty": 1.2},
    {"strategy": "beam", "beam_width": 4},
])
def test_the_bytes_kept_per_step_do_not_grow_with_the_text(knobs):
    n = 4 * STEPS
    config = DecodingConfig(max_tokens=n, min_tokens=n, seed=2, **knobs)
    first, second, third = _kept_per_block(config)
    # a copy of the text per step would add 8 bytes x 200 more tokens per step per block,
    # i.e. at least 1,600 bytes (much more for beams); shared storage adds nothing
    assert third - first < 400, (first, second, third)
    assert first < (20_000 if knobs["strategy"] == "beam" else 4_000)


def test_token_seq_shares_prefixes_and_reads_like_a_list():
    base = TokenSeq.of(range(1000))
    a, b = base.append(7), base.append(8)
    assert a.parent is base and b.parent is base  # one shared prefix
    assert a == list(range(1000)) + [7] and a != b and len(a) == 1001
    assert a[-1] == 7 and a[-3:] == [998, 999, 7] and a[10] == 10 and a[5:8] == [5, 6, 7]
    assert a.tail(2) == [999, 7] and a.last == 7 and list(reversed(a))[:2] == [7, 999]
    np.testing.assert_array_equal(np.asarray(a), np.array(list(range(1000)) + [7]))
    long = TokenSeq.of(range(3 * CHUNK + 5))
    assert long.tolist() == list(range(3 * CHUNK + 5))
    assert long.tolist() == list(range(3 * CHUNK + 5))  # again, from the remembered chunks
    assert TokenSeq.of([]) == [] and not TokenSeq.of([])
    with pytest.raises(IndexError):
        _ = TokenSeq.of([]).last


def test_a_beam_hypothesis_stores_its_text_as_one_node_more_than_its_parent():
    model = random_model(20, order=2, seed=4)
    session = Session(model, [3], strategy="beam", beam_width=4, max_tokens=30, min_tokens=30)
    for _ in range(3):
        session.step()
    before = session.traces[-1].beam.survivors
    session.step()
    for h in session.traces[-1].beam.survivors:
        assert h.seq.parent is before[h.parent].seq


def test_an_ngram_session_reads_only_the_last_tokens_of_a_long_text(monkeypatch):
    from arlm_tui.lm.registry import load_model

    model = load_model("oracle-kn3")
    ids = model.tokenizer.encode("the dog ran to the old mill .") * 500
    session = Session(model, ids, strategy="sample", seed=3, max_tokens=5, min_tokens=5)
    expected = model.next_logprobs(ids)

    def whole_read(self):
        raise AssertionError("the whole text was read")

    monkeypatch.setattr(TokenSeq, "tolist", whole_read)
    # the model state is built from the TokenSeq: the n-gram cuts its last n-1 tokens from
    # the tail; then each step extends it by one token
    first = session.step()
    second = session.step()
    monkeypatch.undo()
    np.testing.assert_allclose(first.raw_logprobs, expected)
    np.testing.assert_allclose(second.raw_logprobs,
                               model.next_logprobs(ids + [first.chosen_id]))
    assert session.generated_ids == [first.chosen_id, second.chosen_id]
