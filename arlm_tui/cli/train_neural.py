"""``arlm train rnn|gru|lstm|ffn|transformer``: train a neural model from the command line.

    arlm train lstm --corpus pyref --out models/pyref-lstm --d-model 128 --epochs 5
    arlm train transformer --corpus oracle:5000 --name oracle-tf --context 128 --steps 2000

``register`` adds one subcommand per neural row of the table of backends (``lm.backends``: its
help, what ``--context`` means, its extra options) to ``arlm train``'s subparsers; ``run`` is
their handler. torch is imported only when a command runs, never when the parser is built.
Models trained on ``--corpus oracle`` use the oracle's own word tokenizer, so their token ids
match the oracle's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from arlm_tui import flags
from arlm_tui.errors import ArlmError
from arlm_tui.lm import backends


def register(train_subparsers: Any) -> None:
    """Add ``rnn``, ``gru``, ``lstm``, ``ffn``, ``transformer`` (every neural backend) to
    ``arlm train``."""
    for row in backends.neural_backends():
        help_text = row.training.help if row.training else f"train a {row.name} model (torch)"
        parser = train_subparsers.add_parser(row.name, help=help_text, description=help_text)
        _arguments(parser, row)
        parser.set_defaults(func=run, kind=row.name)


def _arguments(p: argparse.ArgumentParser, row: backends.Backend) -> None:
    data = p.add_argument_group("data")
    data.add_argument(
        "--corpus", required=True, help="a UTF-8 text file, or toy | pyref | oracle[:N]"
    )
    from arlm_tui.corpus_spec import add_sentence_flags

    add_sentence_flags(data)
    data.add_argument(
        "--tokenizer",
        choices=("word", "char", "bpe"),
        default=None,
        help="default word (the oracle corpus always uses its own)",
    )
    data.add_argument("--vocab-size", type=int, default=2000, help="BPE vocabulary size")
    data.add_argument("--min-count", type=int, default=1, help="rarer tokens become <unk>")
    data.add_argument("--lowercase", action="store_true")
    data.add_argument(
        "--valid-fraction",
        type=float,
        default=0.1,
        help="texts held out for perplexity and early stopping (0 = none)",
    )

    model = p.add_argument_group("model")
    model.add_argument("--layers", type=int, help="stacked layers (ffn: tanh hidden layers)")
    model.add_argument("--d-model", type=int, help="width: embedding and hidden size")
    groups = {"data": data, "model": model}
    for option in row.options:  # the row's own flags, in their sections (e.g. --heads)
        if option.group in groups:
            option.add_to(groups[option.group])
    context_help = row.training.context_help if row.training else "tokens the model reads"
    model.add_argument("--context", type=int, help=context_help)
    model.add_argument("--dropout", type=float, default=0.0, help="in [0, 1)")

    train = p.add_argument_group("training")
    train.add_argument("--epochs", type=int, help="passes over the corpus (default 10)")
    train.add_argument("--steps", type=int, help="parameter updates (stops first if both)")
    train.add_argument("--lr", type=float, help="AdamW learning rate (default per model)")
    train.add_argument(
        "--batch-size", type=int, help="texts per batch (ffn: windows; default 32, ffn 512)"
    )
    train.add_argument("--seed", type=flags.seed, default=0, help="same seed, same model")
    train.add_argument(
        "--patience",
        type=int,
        default=3,
        help="epochs without a better held-out perplexity before stopping (0 off)",
    )
    train.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="start afresh even if the output has a checkpoint",
    )

    where = p.add_argument_group("output")
    where.add_argument("--out", help="directory to save the model in")
    where.add_argument("--name", help="save under this name in arlm's user models directory")
    groups.update(training=train, output=where)
    for option in row.options:
        if option.group in ("training", "output"):
            option.add_to(groups[option.group])


def _as_flag_error(exc: ValueError) -> ArlmError:
    """'batch_size must be …' -> '--batch-size must be …'."""
    name, _, rest = str(exc).partition(" ")
    return ArlmError(f"--{name.replace('_', '-')} {rest}")


def run(args: argparse.Namespace) -> int:
    """Handler of ``arlm train <neural kind>``: load the corpus, train, save, report."""
    from arlm_tui.corpus_spec import load_corpus_spec
    from arlm_tui.lm.neural.config import ModelTooLargeError, make_config
    from arlm_tui.text.corpora import train_valid_split
    from arlm_tui.train.neural import check_hyperparameters

    kind = args.kind
    # the model's shape (make_config) and how it is trained (check_hyperparameters), checked
    # here so that a bad flag fails before the corpus is read, then passed to train_neural
    shape = dict(layers=args.layers, d_model=args.d_model, heads=getattr(args, "heads", None),
                 context=args.context, dropout=args.dropout)
    schedule = dict(epochs=args.epochs, steps=args.steps, lr=args.lr,
                    batch_size=args.batch_size, patience=args.patience)
    try:
        check_hyperparameters(kind, dropout=args.dropout, **schedule)
        make_config(kind, 3, **shape)
    except ModelTooLargeError as exc:
        raise ArlmError(str(exc)) from None
    except ValueError as exc:
        raise _as_flag_error(exc) from None
    if not 0.0 <= args.valid_fraction < 1.0:
        raise ArlmError(f"--valid-fraction {args.valid_fraction}: must be in [0, 1)")
    from arlm_tui.corpus_spec import check_corpus_spec
    from arlm_tui.outputs import model_destination

    check_corpus_spec(args.corpus)  # a missing input is reported before a bad --out
    out = model_destination(args.out, args.name, kind)

    unit = {None: "auto", "lines": "line", "punctuation": "sentence"}[args.sentences]
    source = load_corpus_spec(args.corpus, unit=unit, seed=args.seed)
    if source.reading is not None:
        print(f"corpus {args.corpus}: {source.reading.describe()}")
    if source.tokenizer is not None and args.tokenizer not in (None, "word"):
        raise ArlmError(
            f"--corpus {args.corpus} uses the oracle's own word tokenizer (so token ids match "
            f"the oracle's); drop --tokenizer {args.tokenizer}"
        )
    texts = source.texts
    if args.valid_fraction > 0 and len(texts) >= 2:
        train_texts, valid_texts = train_valid_split(texts, args.valid_fraction, seed=args.seed)
    else:
        train_texts, valid_texts = list(texts), []
    tokenizer = source.tokenizer
    if tokenizer is None:
        from arlm_tui.train.ngram import build_tokenizer

        tokenizer = build_tokenizer(
            args.tokenizer or "word",
            train_texts,
            min_count=args.min_count,
            lowercase=args.lowercase,
            vocab_size=args.vocab_size,
        )

    from arlm_tui.train.neural import TrainingBar, train_neural

    try:
        result = train_neural(
            kind,
            train_texts,
            valid_texts,
            tokenizer,
            out,
            **shape,
            **schedule,
            seed=args.seed,
            resume=args.resume,
            progress=TrainingBar(f"training {kind}"),
            corpus=source.description,
        )
    except KeyboardInterrupt:
        print(
            f"stopped; the last checkpoint in {out} resumes with the same command", file=sys.stderr
        )
        raise
    print(f"saved {result.out_dir}")
    print(
        f"parameters: {result.parameters:,} · steps: {result.steps} · "
        f"epochs: {result.epochs_completed} · {result.seconds:.1f}s"
        + (" · stopped early" if result.stopped_early else "")
    )
    if result.val_perplexity is not None:
        print(f"held-out perplexity: {result.val_perplexity:.3f}")
    if getattr(args, "bf16", False):
        from arlm_tui.lm.neural.io import store_bfloat16

        before, after = store_bfloat16(Path(result.out_dir), valid_texts)
        change = f": held-out perplexity {before} → {after}" if after is not None else ""
        print(f"weights rounded to bfloat16{change}")
    from arlm_tui.charts import show_training_chart

    show_training_chart(result)
    return 0
