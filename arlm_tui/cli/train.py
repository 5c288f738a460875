"""``arlm train ngram|rnn|gru|lstm|ffn|transformer``: train a model on a corpus.

``train ngram`` (numpy) is here; the neural kinds (torch, imported only when one runs) come
from ``train_neural``.
"""

from __future__ import annotations

import argparse
from typing import Any

from arlm_tui import flags
from arlm_tui.cli.base import Parser


def register(sub: Any) -> None:
    """Add ``train`` and its kinds to the ``arlm`` subcommands."""
    train = sub.add_parser("train", help="train a model on a corpus")
    tsub = train.add_subparsers(dest="kind", parser_class=Parser, required=True)
    ng = tsub.add_parser("ngram", help="fit an n-gram model (numpy)")
    ng.add_argument(
        "--corpus", required=True, help="a UTF-8 text file, or toy | pyref | oracle[:N]"
    )
    ng.add_argument("--order", type=int, default=3, help="n, from 1 to 5")
    ng.add_argument(
        "--smoothing", choices=("mle", "addk", "interp", "kn", "stupid"), default="kn"
    )
    ng.add_argument("--k", type=float, default=1.0, help="add-k's k (1 = Laplace)")
    ng.add_argument("--tokenizer", choices=("word", "char", "bpe"), default="word")
    ng.add_argument("--min-count", type=int, default=1, help="rarer words become <unk>")
    ng.add_argument("--lowercase", action="store_true")
    ng.add_argument("--vocab-size", type=int, default=2000, help="BPE vocabulary size")
    ng.add_argument(
        "--valid-fraction",
        type=float,
        default=None,
        help="share of sentences held out (default: 0.1 for interp, which fits its weights "
        "on them, 0 for the others)",
    )
    from arlm_tui.corpus_spec import add_sentence_flags

    add_sentence_flags(ng)
    ng.add_argument("--seed", type=flags.seed, default=0)
    ng.add_argument("--out", help="directory to save the model in")
    ng.add_argument("--name", help="save under this name in arlm's user models directory")
    ng.set_defaults(func=cmd_train_ngram)
    from arlm_tui.cli import train_neural

    train_neural.register(tsub)


def cmd_train_ngram(args: argparse.Namespace) -> int:
    from arlm_tui.corpus_spec import check_corpus_spec
    from arlm_tui.outputs import model_destination
    from arlm_tui.train.ngram import train_ngram

    check_corpus_spec(args.corpus)  # a missing input is reported before a bad --out
    out = model_destination(args.out, args.name, "ngram")
    result = train_ngram(
        corpus=args.corpus,
        out_dir=out,
        order=args.order,
        smoothing=args.smoothing,
        k=args.k,
        tokenizer_kind=args.tokenizer,
        min_count=args.min_count,
        lowercase=args.lowercase,
        bpe_vocab_size=args.vocab_size,
        valid_fraction=args.valid_fraction,
        sentences=args.sentences,
        seed=args.seed,
    )
    if result["sentences"] is not None:
        print(f"corpus {args.corpus}: {result['sentences'].describe()}")
    print(f"saved {result['path']}")
    ppl = result.get("heldout_perplexity")
    if ppl is not None:
        print(f"held-out perplexity: {ppl:.3f} on {result['heldout_tokens']} tokens")
    return 0
