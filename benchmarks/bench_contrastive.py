"""Speed of one contrastive-search step: the shortcut against the loop it replaced.

    python benchmarks/bench_contrastive.py [--models oracle-transformer,...] [--lengths 20,200]
                                           [--top-k 4,10] [--repeats 3]

A step of contrastive search (``decoding.contrastive.contrastive_step``) needs the last hidden
state at every position of the text and after each of the k candidate tokens. "before" is the
base class's ``LanguageModel.candidate_hidden_states``: a pass of the net over the text, then
one more pass over the text + each candidate (k + 1 passes). "after" is the backend's own: one
pass over the text keeping the net's state there (the transformer's keys and values, a
recurrent state), then the k candidates as one batch of one-token steps. Both give the same
numbers (tests/test_contrastive_incremental.py); the table gives steps per second of
``contrastive_step`` alone (the next-token distribution computed beforehand), on a text of the
model's own sampling (seed 0) at each length, and after/before.

Target: after ≥ 3× before at 200 tokens with k = 4 on ``oracle-transformer`` (the passes over
the text dominate, and before makes k + 1 of them). Times are the best of ``--repeats`` runs
(the machine is shared).
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from arlm_tui.decoding.contrastive import contrastive_step  # noqa: E402
from arlm_tui.lm.base import LanguageModel  # noqa: E402
from arlm_tui.lm.registry import load_model  # noqa: E402

PROMPT = "one day, a young sailor went to the harbor. then,"
ALPHA = 0.6


def sampled_text(model: LanguageModel, length: int, seed: int = 0) -> list[int]:
    """``length`` token ids: the prompt, then the model's own samples (never the end token)."""
    rng = np.random.default_rng(seed)
    ids = model.tokenizer.encode(PROMPT)[:length]
    logprobs, state = model.start([ids])
    while len(ids) < length:
        p = np.exp(logprobs[0])
        p[model.eos_id] = 0.0
        token = int(rng.choice(len(p), p=p / p.sum()))
        ids.append(token)
        logprobs, state = model.extend(state, [token])
    return ids


def the_loop(model: LanguageModel) -> LanguageModel:
    """``model`` with the base class's k + 1 passes (this instance only)."""
    setattr(model, "candidate_hidden_states",  # noqa: B010 - an instance attribute, on purpose
            types.MethodType(LanguageModel.candidate_hidden_states, model))
    return model


def steps_per_second(model: LanguageModel, ids: list[int], k: int, repeats: int) -> float:
    probs = np.exp(model.next_logprobs(ids))
    contrastive_step(model, ids, probs, ALPHA, k)  # warm up
    best = float("inf")
    for _ in range(repeats):
        steps, t0 = 0, time.perf_counter()
        while steps < 3 or time.perf_counter() - t0 < 0.5:
            contrastive_step(model, ids, probs, ALPHA, k)
            steps += 1
        best = min(best, (time.perf_counter() - t0) / steps)
    return 1.0 / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="oracle-transformer",
                        help="comma-separated bundled names or folders with hidden states")
    parser.add_argument("--lengths", default="20,200", help="text lengths in tokens")
    parser.add_argument("--top-k", default="4,10", help="candidates per step")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    lengths = [int(n) for n in args.lengths.split(",")]
    ks = [int(k) for k in args.top_k.split(",")]
    print(f"{'model':<20} {'tokens':>6} {'k':>3} {'before/s':>9} {'after/s':>9} {'after/before':>13}")
    for name in args.models.split(","):
        after = load_model(name)
        before = the_loop(load_model(name))
        if not after.has_hidden_states:
            raise SystemExit(f"{name}: contrastive search needs a model with hidden states")
        for length in lengths:
            ids = sampled_text(after, length)
            for k in ks:
                slow = steps_per_second(before, ids, k, args.repeats)
                fast = steps_per_second(after, ids, k, args.repeats)
                print(f"{name:<20} {length:>6} {k:>3} {slow:>9.1f} {fast:>9.1f} "
                      f"{fast / slow:>12.1f}×", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
