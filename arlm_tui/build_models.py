"""Rebuild the models we ship in ``models/``: ``python -m arlm_tui.build_models [NAME ...]``.

Every bundled model is made here from data every Python installation has (the language reference
in ``pydoc_data.topics``) or that arlm generates itself (the oracle language), so anyone can
reproduce ``models/`` byte for byte from a checkout. Neural models are added by the
neural-backends build (``BUNDLED`` grows as they land).
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path

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


#: name -> builder(out_dir) -> summary
BUNDLED: dict[str, Callable[[Path], dict]] = {
    "oracle": _oracle,
    "oracle-kn3": _oracle_kn3,
    "pyref-word-kn3": _pyref_word_kn3,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arlm_tui.build_models", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"models to build (default all: {', '.join(BUNDLED)})")
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
