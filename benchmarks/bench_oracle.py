"""How long one step of the oracle model takes (a step extends its state by one token).

    python benchmarks/bench_oracle.py

Target: a step under 2 ms on average over stories of the oracle language (this used to be a
timed unit test; timings live here, not in the suite).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arlm_tui.lm.oracle import OracleLanguage, OracleModel  # noqa: E402


def main() -> int:
    model = OracleModel()
    texts = OracleLanguage().corpus(20, seed=99)
    texts.append("one day, anna went to the beach. then, she found a fox near the old mill. "
                 "the the banana then, she saw a crab.")
    contexts = [model.tokenizer.encode(t) for t in texts]
    model.next_logprobs(contexts[-1])  # build the states once
    steps, elapsed = 0, 0.0
    for ids in contexts:
        _, state = model.start([[]])
        for token_id in ids:
            start = time.perf_counter()
            _, state = model.extend(state, [token_id])
            elapsed += time.perf_counter() - start
            steps += 1
    per_step = elapsed / steps
    print(f"| oracle step | {steps} steps | {per_step * 1e3:.3f} ms per step | target < 2 ms |")
    return 0 if per_step < 2e-3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
