"""Benchmark: arlm's n-gram backend against NLTK's ``nltk.lm`` on the same corpus and order.

    python benchmarks/bench_ngram.py [--order 3] [--min-count N] [--corpus FILE]

Default corpus: the Python language reference shipped with Python (``pydoc_data.topics``), cut
into sentences, 90% for training and 10% held out, word-level. ``--min-count`` defaults to the
largest count threshold that still leaves about 5,000 words in the vocabulary (all words when the
corpus has fewer). NLTK is given exactly our tokens (rare words already ``<unk>``), so both
models see the same vocabulary.

Measured: training time; the latency of one full next-token distribution (ours:
``next_logprobs``; NLTK: ``[lm.score(w, context) for w in vocab]``); scoring speed on the held-out
text (ours: ``sequence_logprobs``; NLTK: ``lm.logscore`` per token). NLTK's Kneser-Ney is
extremely slow (every ``score`` call rescans counts), so it is timed on a few words and contexts
and extrapolated to the whole vocabulary; the output says so. NLTK pads with n-1 ``</s>`` where we
pad with one, a difference too small to matter for timing. NLTK is only a benchmark dependency
(``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arlm_tui.lm.ngram import SMOOTHINGS, NGramModel
from arlm_tui.text.corpora import pyref_sentences, read_corpus, train_valid_split
from arlm_tui.text.tokenizers import WordTokenizer

TARGET_VOCAB = 5000


def seconds(fn: Callable[[], object], repeat: int = 1) -> float:
    """Mean wall-clock seconds of ``fn()`` over ``repeat`` calls."""
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def choose_min_count(texts: Sequence[str], target: int = TARGET_VOCAB) -> int:
    """The largest min_count whose vocabulary still has >= ``target`` words (else 1)."""
    counts = Counter(t for text in texts for t in WordTokenizer.from_vocab([]).tokenize(text))
    best = 1
    for min_count in range(1, 50):
        if sum(1 for c in counts.values() if c >= min_count) + 3 >= target:
            best = min_count
    return best


def format_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--min-count", type=int, default=None)
    parser.add_argument("--corpus", type=Path, default=None, help="a UTF-8 text file")
    parser.add_argument("--contexts", type=int, default=200, help="contexts timed for ours")
    parser.add_argument("--nltk-contexts", type=int, default=5, help="for NLTK Laplace")
    parser.add_argument("--kn-words", type=int, default=100, help="NLTK KN: words per context")
    parser.add_argument("--kn-contexts", type=int, default=5, help="NLTK KN: contexts timed")
    parser.add_argument("--kn-tokens", type=int, default=300, help="NLTK KN: tokens scored")
    args = parser.parse_args(argv)
    try:
        from nltk.lm import KneserNeyInterpolated, Laplace
        from nltk.lm.preprocessing import padded_everygram_pipeline
    except ImportError:
        sys.exit("this benchmark needs NLTK: pip install -e '.[bench]'")

    order = args.order
    sentences = read_corpus(args.corpus) if args.corpus else pyref_sentences()
    train_texts, valid_texts = train_valid_split(sentences, 0.1, seed=0)
    min_count = args.min_count or choose_min_count(train_texts)
    tok = WordTokenizer.train(train_texts, min_count=min_count)
    train_ids = [tok.encode(s) for s in train_texts]
    valid_ids = [tok.encode(s) for s in valid_texts]
    train_words = [[tok.vocab[i] for i in s] for s in train_ids]
    valid_words = [[tok.vocab[i] for i in s] for s in valid_ids]
    num_train = sum(len(s) + 1 for s in train_ids)
    num_valid = sum(len(s) + 1 for s in valid_ids)
    corpus_name = args.corpus or "pydoc_data.topics (Python language reference)"
    print(f"# n-gram benchmark: order {order}, word level, corpus {corpus_name}")
    print(
        f"{len(train_ids)} training sentences ({num_train} tokens), {len(valid_ids)} held out "
        f"({num_valid} tokens), min_count {min_count} -> vocabulary {len(tok.vocab)}\n"
    )

    rng = np.random.default_rng(0)
    picks = rng.choice(len(valid_ids), size=min(args.contexts, len(valid_ids)), replace=False)
    contexts = []
    for i in picks:
        s = valid_ids[int(i)]
        contexts.append(s[: int(rng.integers(0, len(s) + 1))])

    # ------------------------------------------------------------------ ours, every smoothing
    ours: dict[str, dict[str, float]] = {}
    for smoothing in SMOOTHINGS:
        fit_s = seconds(
            lambda sm=smoothing: NGramModel.fit(train_ids, tok, order=order, smoothing=sm)
        )
        model = NGramModel.fit(train_ids, tok, order=order, smoothing=smoothing)
        model.next_logprobs(contexts[0])
        latency = seconds(lambda m=model: [m.next_logprobs(c) for c in contexts]) / len(contexts)
        start = time.perf_counter()
        total = sum(float(model.sequence_logprobs([*s, tok.eos_id]).sum()) for s in valid_ids)
        score_s = time.perf_counter() - start
        ours[smoothing] = {
            "fit": fit_s,
            "latency": latency,
            "tokens_per_s": num_valid / score_s,
            "perplexity": math.exp(-total / num_valid) if model.normalized else math.nan,
        }

    # ------------------------------------------------------------------ NLTK
    def nltk_fit(cls: type) -> tuple[object, float]:
        start = time.perf_counter()
        data, vocab_text = padded_everygram_pipeline(order, train_words)
        lm = cls(order)
        lm.fit(data, vocab_text)
        return lm, time.perf_counter() - start

    def nltk_context(context_ids: Sequence[int]) -> list[str]:
        words = ["<s>"] * (order - 1) + [tok.vocab[i] for i in context_ids]
        return words[len(words) - (order - 1) :] if order > 1 else []

    laplace, laplace_fit = nltk_fit(Laplace)
    kn, kn_fit = nltk_fit(KneserNeyInterpolated)
    vocab_words = sorted(laplace.vocab)
    few = [nltk_context(c) for c in contexts[: args.nltk_contexts]]
    laplace_latency = seconds(lambda: [[laplace.score(w, c) for w in vocab_words] for c in few])
    laplace_latency /= len(few)
    kn_words = list(
        rng.choice(vocab_words, size=min(args.kn_words, len(vocab_words)), replace=False)
    )
    kn_few = [nltk_context(c) for c in contexts[: args.kn_contexts]]
    per_word = seconds(lambda: [[kn.score(w, c) for w in kn_words] for c in kn_few])
    per_word /= len(kn_words) * len(kn_few)
    kn_latency = per_word * len(vocab_words)

    heldout = []  # (word, context) for each held-out token, NLTK-style padding
    for words in valid_words:
        padded = ["<s>"] * (order - 1) + words + ["</s>"]
        heldout += [(padded[t], padded[t - order + 1 : t]) for t in range(order - 1, len(padded))]
    laplace_score_s = seconds(lambda: [laplace.logscore(w, c) for w, c in heldout])
    laplace_tps = len(heldout) / laplace_score_s
    sample = heldout[: args.kn_tokens]
    kn_tps = len(sample) / seconds(lambda: [kn.logscore(w, c) for w, c in sample])

    # ------------------------------------------------------------------ report
    def row(what: str, mine: float, theirs: float, unit: str, note: str = "") -> str:
        if unit == "tokens/s":
            cells = f"{mine:,.0f} tokens/s | {theirs:,.0f} tokens/s | {mine / theirs:,.0f}x"
        else:
            cells = f"{format_time(mine)} | {format_time(theirs)} | {theirs / mine:,.0f}x"
        return f"| {what} | {cells} | {note} |"

    print("| measure | arlm | NLTK nltk.lm | arlm faster by | note |")
    print("|---|---|---|---|---|")
    print(row("training, add-1 (Laplace)", ours["addk"]["fit"], laplace_fit, "s"))
    print(row("training, Kneser-Ney", ours["kn"]["fit"], kn_fit, "s", "NLTK only counts here"))
    print(
        row(
            "full distribution, Laplace",
            ours["addk"]["latency"],
            laplace_latency,
            "s",
            f"NLTK: mean of {len(few)} contexts",
        )
    )
    print(
        row(
            "full distribution, Kneser-Ney",
            ours["kn"]["latency"],
            kn_latency,
            "s",
            f"NLTK extrapolated from {len(kn_words)} words x {len(kn_few)} contexts",
        )
    )
    print(
        row("scoring held-out text, Laplace", ours["addk"]["tokens_per_s"], laplace_tps, "tokens/s")
    )
    print(
        row(
            "scoring held-out text, Kneser-Ney",
            ours["kn"]["tokens_per_s"],
            kn_tps,
            "tokens/s",
            f"NLTK timed on {len(sample)} tokens",
        )
    )
    print(f"\n## arlm, every smoothing (order {order}, vocabulary {len(tok.vocab)})\n")
    print("| smoothing | training | full distribution | scoring | held-out perplexity |")
    print("|---|---|---|---|---|")
    for smoothing, m in ours.items():
        ppl = "n/a (not normalized)" if math.isnan(m["perplexity"]) else f"{m['perplexity']:.1f}"
        if math.isinf(m["perplexity"]):
            ppl = "inf (unseen n-grams get 0)"
        print(
            f"| {smoothing} | {format_time(m['fit'])} | {format_time(m['latency'])} | "
            f"{m['tokens_per_s']:,.0f} tokens/s | {ppl} |"
        )


if __name__ == "__main__":
    main()
