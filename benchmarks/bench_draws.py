"""Benchmark: the cost of sampling's uniform draws per step (``arlm_tui.decoding.draws``).

    python benchmarks/bench_draws.py [--code DIR ...] [--seeds 300] [--steps 512]

Each ``--code`` directory (a checkout holding ``arlm_tui/``, default: this one) runs in a fresh
child process: ``--seeds`` generations of ``--steps`` steps each read ``step_draw(seed, i)`` for
i = 0, 1, ... (the pattern of a generation: every block of 256 steps is computed once), then the
same steps again (a replay or undo/redo: the blocks are cached). The table gives microseconds
per step, the best of 5 runs. The peer is numpy itself: ``default_rng([seed, i]).random()`` per
step, a generator per step (version 1 of the draws, which the draws of today replace).
To compare with an older version: ``git archive <commit> arlm_tui | tar -x -C /tmp/old`` and
pass ``--code /tmp/old --code .``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
import numpy as np
from arlm_tui.decoding import draws
seeds, steps = int(sys.argv[1]), int(sys.argv[2])

def run(offset, fn):
    t = time.perf_counter()
    for seed in range(offset, offset + seeds):
        for i in range(steps):
            fn(seed, i)
    return (time.perf_counter() - t) / (seeds * steps) * 1e6

cold, warm = [], []
for rep in range(5):
    draws._cache.clear()
    cold.append(run(rep * seeds, draws.step_draw))
    # the last blocks are still cached: read the newest seeds again
    keep = max(1, min(seeds, 64 // max(1, -(-steps // draws.BLOCK))))
    t = time.perf_counter()
    for seed in range(rep * seeds + seeds - keep, rep * seeds + seeds):
        for i in range(steps):
            draws.step_draw(seed, i)
    warm.append((time.perf_counter() - t) / (keep * steps) * 1e6)
peer = min(run(0, lambda s, i: np.random.default_rng([s, i]).random()) for _ in range(3))
print(json.dumps({"cold": min(cold), "warm": min(warm), "peer": peer}))
"""


def measure(code: Path, seeds: int, steps: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(seeds), str(steps)], cwd=code,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, action="append")
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--steps", type=int, default=512)
    args = parser.parse_args()
    codes = args.code or [ROOT]
    print(f"{'code':<32} {'µs/step new gen':>16} {'µs/step cached':>15} "
          f"{'numpy default_rng([s,i])':>25}")
    for code in codes:
        r = measure(code, args.seeds, args.steps)
        print(f"{str(code):<32} {r['cold']:>16.3f} {r['warm']:>15.3f} {r['peer']:>25.2f}")


if __name__ == "__main__":
    main()
