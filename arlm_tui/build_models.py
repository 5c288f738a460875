"""Rebuild the models we ship in ``models/``: ``python -m arlm_tui.build_models [NAME ...]``.

Every bundled model is made here from data every Python installation has (the language reference
in ``pydoc_data.topics``) or that arlm generates itself (the oracle language), so anyone can
reproduce ``models/`` from a checkout (the n-grams byte for byte; the neural nets with the same
seeds and data order, equal up to floating-point summation order on another machine).

The neural models are trained with ``arlm_tui.train.neural.train_neural``, each sized to train
in a few minutes on two CPU cores (``NEURAL_RECIPES``): the ``oracle-*`` ones on the same split
of the same stories as ``oracle-kn3``, with the oracle's own tokenizer (so every oracle model
shares token ids), ``pyref-char-lstm`` on the language reference's sentences, character by
character.

The transformer's weights are then rounded to bfloat16 (``store_bfloat16``): its compiled
decode step reads them in half the bytes, which keeps them in a core's L2 cache between steps
(see ``arlm_tui/lm/neural/kernels.py``); the card records the held-out perplexity before and
after.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from arlm_tui import paths


def _pyref_word_kn3(out: Path) -> dict:
    from arlm_tui.train.ngram import train_ngram

    return train_ngram(
        corpus="pyref",
        out_dir=out,
        order=3,
        smoothing="kn",
        tokenizer_kind="word",
        min_count=2,
        lowercase=True,
        valid_fraction=0.1,
        seed=0,
        name=out.name,
    )


#: Stories of the oracle language the oracle-trained models learn from (seed 0).
ORACLE_TRAIN_STORIES = 20_000


def _oracle(out: Path) -> dict:
    from arlm_tui.evaluate import HELDOUT_SEED, HELDOUT_STORIES
    from arlm_tui.lm.information import oracle_floor
    from arlm_tui.lm.oracle import OracleLanguage, load_oracle, save_oracle
    from arlm_tui.lm.registry import write_summary

    save_oracle(out, seed=0, name=out.name)
    floor = oracle_floor(load_oracle(out), OracleLanguage().corpus(HELDOUT_STORIES, HELDOUT_SEED))
    summary = {
        "corpus": "the oracle language itself (exact next-token distribution)",
        "parameters": 0,
        "heldout_perplexity": floor,
    }
    write_summary(out, summary)
    return summary


def _oracle_kn3(out: Path) -> dict:
    from arlm_tui.train.ngram import train_ngram

    return train_ngram(
        corpus=f"oracle:{ORACLE_TRAIN_STORIES}",
        out_dir=out,
        order=3,
        smoothing="kn",
        valid_fraction=0.1,
        seed=0,
        name=out.name,
    )


#: Share of the texts held out for early stopping and the held-out perplexity of the card.
VALID_FRACTION = 0.1

#: Bundled neural models: corpus ("oracle" or "pyref-char") and ``train_neural`` arguments.
#: Sizes and epochs are chosen so that each trains in at most ~7 minutes on two busy cores
#: (measured times are in each card). One thread each: on a shared two-core machine a second
#: thread mostly waits for the busy core (we measured a 2-layer LSTM 3.5× slower with two).
#: ``patience`` (default 3) stops after 3 epochs without a better held-out perplexity; the
#: weights kept are always the best epoch's.
NEURAL_RECIPES: dict[str, dict[str, Any]] = {
    # h_t carries the hidden setting and character from sentence 1 to the end of the story.
    "oracle-lstm": {
        "corpus": "oracle", "kind": "lstm", "d_model": 128, "layers": 1, "epochs": 12,
        "threads": 1,
    },
    "oracle-gru": {
        "corpus": "oracle", "kind": "gru", "d_model": 128, "layers": 1, "epochs": 20,
        "threads": 1,
    },
    # n−1 = 5 previous tokens: sees more than the trigram, but not the first sentence.
    "oracle-ffn": {
        "corpus": "oracle", "kind": "ffn", "context": 5, "d_model": 64, "epochs": 8,
        "threads": 1,
    },
    # GPT-2's shape at the size benchmarks/bench_neural.py compares with Hugging Face: 4 layers,
    # d_model 128, 4 heads, 1024 positions. Stories are under 50 tokens, so only the first
    # positions are trained; generation normally stops at </s> well before the others.
    "oracle-transformer": {
        "corpus": "oracle", "kind": "transformer", "layers": 4, "d_model": 128, "heads": 4,
        "context": 1024, "epochs": 6, "threads": 1, "bfloat16": True,
    },
    # Characters of real English (and Python syntax), one sentence per text; dropout 0.1
    # because 350k training characters are few for a million parameters.
    "pyref-char-lstm": {
        "corpus": "pyref-char", "kind": "lstm", "d_model": 256, "layers": 2, "context": 128,
        "dropout": 0.1, "epochs": 10, "threads": 1,
    },
}  # fmt: skip


def _oracle_corpus() -> tuple[list[str], list[str], Any, str]:
    """(train, valid, tokenizer, description): ``--corpus oracle:20000`` split as oracle-kn3's."""
    from arlm_tui.corpus_spec import load_corpus_spec
    from arlm_tui.text.corpora import train_valid_split

    source = load_corpus_spec(f"oracle:{ORACLE_TRAIN_STORIES}", seed=0)
    train, valid = train_valid_split(source.texts, VALID_FRACTION, seed=0)
    return train, valid, source.tokenizer, source.description


def _pyref_char_corpus() -> tuple[list[str], list[str], Any, str]:
    """The language reference's sentences, with a character tokenizer fit on the training part
    (characters seen fewer than twice become ``<unk>``)."""
    from arlm_tui.text.corpora import pyref_sentences, train_valid_split
    from arlm_tui.text.tokenizers import make_tokenizer

    train, valid = train_valid_split(pyref_sentences(), VALID_FRACTION, seed=0)
    tokenizer = make_tokenizer("char", train, min_count=2)
    description = "the Python language reference (pydoc_data.topics), sentences, characters"
    return train, valid, tokenizer, description


NEURAL_CORPORA: dict[str, Callable[[], tuple[list[str], list[str], Any, str]]] = {
    "oracle": _oracle_corpus,
    "pyref-char": _pyref_char_corpus,
}


def _neural(
    out: Path, *, corpus: str, kind: str, bfloat16: bool = False, **hyperparameters: Any
) -> dict:
    """Train one recipe of ``NEURAL_RECIPES`` into ``out``; the summary ``models list`` shows."""
    from arlm_tui.train.neural import TrainingBar, train_neural

    train, valid, tokenizer, description = NEURAL_CORPORA[corpus]()
    train_neural(
        kind,
        train,
        valid,
        tokenizer,
        out,
        seed=0,
        resume=False,
        corpus=description,
        progress=TrainingBar(out.name),
        **hyperparameters,
    )
    if bfloat16:
        from arlm_tui.lm.neural.io import store_bfloat16

        store_bfloat16(out, valid)
    _note_rebuild(out)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    return config["summary"]


def _note_rebuild(out: Path) -> None:
    """Append to the training card how this bundled model is remade."""
    from arlm_tui.outputs import write_text

    card = out / "card.md"
    write_text(
        card,
        card.read_text(encoding="utf-8")
        + f"\nBundled with arlm: `python -m arlm_tui.build_models {out.name}` retrains it "
        "(recipe in `arlm_tui/build_models.py`, seed 0; training time depends on the machine).\n",
    )


#: name -> builder(out_dir) -> summary
BUNDLED: dict[str, Callable[[Path], dict]] = {
    "oracle": _oracle,
    "oracle-kn3": _oracle_kn3,
    "pyref-word-kn3": _pyref_word_kn3,
    **{name: partial(_neural, **recipe) for name, recipe in NEURAL_RECIPES.items()},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arlm_tui.build_models", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"models to build (default all: {', '.join(BUNDLED)})"
    )
    parser.add_argument("--dest", default=str(paths.models_dir()), help="output directory")
    args = parser.parse_args(argv)
    names = args.names or list(BUNDLED)
    for name in names:
        if name not in BUNDLED:
            parser.error(f"unknown bundled model {name!r}")
        out = Path(args.dest) / name
        if out.exists():
            shutil.rmtree(out)
        summary = BUNDLED[name](out)
        ppl = summary.get("heldout_perplexity")
        print(f"{name}: held-out perplexity {ppl}, saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
