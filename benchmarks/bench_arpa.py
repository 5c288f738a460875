"""Benchmark: peak memory and time of reading a large ARPA file (``arlm_tui.lm.arpa.read_arpa``).

    python benchmarks/bench_arpa.py [--ngrams 3000000] [--vocab 100000] [--order 3]
                                    [--code DIR ...] [--file PATH]

Generates (once, cached in the system temp directory) a synthetic trigram ARPA file of about
``--ngrams`` n-grams: ``--vocab`` unigrams, then bigrams and trigrams drawn at random so that every
n-gram's context is listed, with random log10 probabilities and back-off weights. Each ``--code``
directory (a checkout holding ``arlm_tui/``, default: this one) then reads it in a fresh child
process run from that directory; the table gives the child's peak resident memory
(``ru_maxrss``), the reading time (wall clock and CPU: on a shared machine the CPU time is the
steadier figure), and the mean time of one full next-token distribution afterwards. To compare with an older version:
``git archive <commit> arlm_tui | tar -x -C /tmp/old`` and pass ``--code /tmp/old --code .``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
import numpy as np
t0, c0 = time.perf_counter(), time.process_time()
from arlm_tui.lm.arpa import read_arpa
model = read_arpa(sys.argv[1])
read_seconds, read_cpu = time.perf_counter() - t0, time.process_time() - c0
rng = np.random.default_rng(0)
contexts = rng.integers(3, model.vocab_size, size=(200, model.order - 1)).tolist()
t1 = time.perf_counter()
for c in contexts:
    model.next_logprobs(c)
query = (time.perf_counter() - t1) / len(contexts)
print(json.dumps({"read_seconds": read_seconds, "read_cpu": read_cpu, "query_seconds": query,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def generate(path: Path, ngrams: int, vocab: int, seed: int = 0) -> None:
    """A trigram ARPA file: ``vocab`` unigrams, the rest split 40/60 into bigrams and trigrams."""
    rng = np.random.default_rng(seed)
    words = ["<unk>", "<s>", "</s>"] + [f"w{i}" for i in range(vocab - 3)]
    n2 = int((ngrams - vocab) * 0.4)
    n3 = ngrams - vocab - n2
    # distinct bigrams as integer keys a * vocab + b (b never <s>, a never </s>)
    keys = np.unique(rng.integers(0, vocab * vocab, size=int(n2 * 1.2)))
    a, b = keys // vocab, keys % vocab
    keep = (b != 1) & (a != 2)
    bigrams = np.stack([a[keep], b[keep]], axis=1)[:n2]
    # trigrams extend random bigrams that do not end in </s>
    open_bigrams = bigrams[bigrams[:, 1] != 2]
    picks = open_bigrams[rng.integers(0, len(open_bigrams), size=int(n3 * 1.2))]
    third = rng.integers(2, vocab, size=len(picks))
    tri = np.unique(np.concatenate([picks, third[:, None]], axis=1), axis=0)
    trigrams = tri[rng.permutation(len(tri))[:n3]]
    sections = [np.arange(vocab)[:, None], bigrams, trigrams]
    with path.open("w", encoding="utf-8") as out:
        out.write("\\data\\\n")
        for j, grams in enumerate(sections, start=1):
            out.write(f"ngram {j}={len(grams)}\n")
        for j, grams in enumerate(sections, start=1):
            out.write(f"\n\\{j}-grams:\n")
            probs = rng.uniform(-7.0, -0.1, size=len(grams))
            bows = rng.uniform(-1.5, 0.0, size=len(grams))
            if j == 1:
                probs[1] = -99.0
            for r, gram in enumerate(grams.tolist()):
                text = " ".join(words[i] for i in gram)
                if j < len(sections):
                    out.write(f"{probs[r]:.6f}\t{text}\t{bows[r]:.6f}\n")
                else:
                    out.write(f"{probs[r]:.6f}\t{text}\n")
        out.write("\n\\end\\\n")


def measure(code: Path, path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1], "wall_seconds": wall}
    return json.loads(done.stdout.strip().splitlines()[-1]) | {"wall_seconds": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ngrams", type=int, default=3_000_000)
    parser.add_argument("--vocab", type=int, default=100_000)
    parser.add_argument("--code", type=Path, action="append", help="a checkout to measure")
    parser.add_argument("--file", type=Path, help="an existing ARPA file instead")
    args = parser.parse_args(argv)
    path = args.file
    if path is None:
        path = Path(tempfile.gettempdir()) / f"arlm-bench-{args.ngrams}-{args.vocab}.arpa"
        if not path.is_file():
            start = time.perf_counter()
            generate(path, args.ngrams, args.vocab)
            print(f"generated {path} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    size = path.stat().st_size
    print(f"file: {path} ({size / 2**20:.0f} MiB)")
    print(f"{'code':<40} {'peak RSS':>10} {'read':>9} {'read CPU':>9} {'one distribution':>17}")
    for code in args.code or [ROOT]:
        row = measure(code.resolve(), path)
        if "error" in row:
            print(f"{str(code):<40} failed after {row['wall_seconds']:.1f} s: {row['error']}")
            continue
        print(
            f"{str(code):<40} {row['peak_rss_kib'] / 1024:>6.0f} MiB {row['read_seconds']:>7.1f} s"
            f" {row['read_cpu']:>7.1f} s {row['query_seconds'] * 1e3:>14.2f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
