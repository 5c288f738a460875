"""The ``arlm`` command line.

    arlm                      the full-screen app (home screen)
    arlm play ...             the play screen directly, with a model, prompt and knobs
    arlm demo                 a step-through generation printed in the terminal
    arlm generate ...         generate text with a decoding strategy; --json for machines
    arlm score ...            per-token log-probs, NLL, perplexity of a text
    arlm train ngram ...      fit an n-gram model (train rnn|gru|lstm|ffn|transformer: neural)
    arlm export-arpa ...      write an n-gram model in the ARPA format
    arlm models list / show   the bundled and user-trained models; one model's card
    arlm export-session ...   a saved play session as one HTML page (arlm serve: in a browser)
    arlm lessons / cards / games   lessons, flashcards (FSRS) and games

A user's mistake (bad flag value, missing file, unknown model) prints one line and exits with
status 2; nothing here prints a traceback for it. Heavy modules are imported inside the commands
so ``arlm --help`` is quick (numpy and the decoding knobs only) and torch is loaded only by commands that use a neural model.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from arlm_tui import flags
from arlm_tui.errors import ArlmError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


@functools.cache
def _knob_table() -> tuple[tuple[tuple[str, Any, str], ...], tuple[str, ...], dict[str, Any],
                           tuple[str, ...]]:
    """The knob flags, their names and ``arlm generate``'s defaults, built on first use: the
    knobs come from the processors (``decoding``, which imports numpy), and plain ``arlm``
    must open the app without them."""
    from arlm_tui.decoding.config import KNOBS

    knob_flags = tuple(
        (knob.flag, flags.seed if name == "seed" else knob.type, knob.help)
        for name, knob in KNOBS.items() if name != "strategy"
    )
    names = tuple(flag[2:].replace("-", "_") for flag, _, _ in knob_flags)
    # a knob not given: its off value, but 30 tokens
    defaults = {name: KNOBS[name].off for name in names} | {"max_tokens": 30}
    return knob_flags, names, defaults, KNOBS["strategy"].choices


def strategy_choices() -> tuple[str, ...]:
    """The strategies ``--strategy`` takes (``decoding.STRATEGIES``)."""
    return _knob_table()[3]


def __getattr__(name: str) -> Any:
    """``KNOB_FLAGS``: (flag, type, help) of the decoding knobs that ``arlm generate``,
    ``demo`` and ``play`` take (every knob of ``decoding.KNOBS`` but the strategy, whose flag
    has its own choices); ``KNOB_NAMES``: their knob names (``--top-k`` -> ``top_k``)."""
    if name == "KNOB_FLAGS":
        return _knob_table()[0]
    if name == "KNOB_NAMES":
        return _knob_table()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: What ``arlm demo`` uses for a knob that is not given, by strategy.
_DEMO_DEFAULTS: dict[str, dict[str, Any]] = {
    "greedy": {"max_tokens": 12},
    "sample": {"max_tokens": 12, "temperature": 0.8, "top_p": 0.9},
}


def add_knob_flags(group: Any, defaults: dict[str, Any] | None = None) -> None:
    """Add ``KNOB_FLAGS`` to an argparse parser or group; ``defaults`` by knob name (None:
    every knob defaults to None, "not given")."""
    knob_flags, names, _, _ = _knob_table()
    for (flag, kind, text), name in zip(knob_flags, names):
        default = None if defaults is None else defaults[name]
        if kind is bool:  # --flag / --no-flag
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=default,
                               help=text)
        else:
            group.add_argument(flag, type=kind, default=default, help=text)


def _knob_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("decoding knobs (0 or 1.0 mean off, as in Hugging Face)")
    add_knob_flags(g, _knob_table()[2])


def _knobs(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in _knob_table()[1]}


def _config(strategy: str, knobs: dict[str, Any]):
    from arlm_tui.decoding import DecodingConfig

    try:
        config = DecodingConfig(strategy=strategy, **knobs)
        config.validate()
    except ValueError as exc:
        raise ArlmError(str(exc)) from None
    return config


def _print_json(obj: Any) -> None:
    def default(o: Any) -> Any:
        if hasattr(o, "tolist"):
            return o.tolist()
        return str(o)

    json.dump(_finite(obj), sys.stdout, ensure_ascii=False, indent=2, default=default)
    sys.stdout.write("\n")


def _finite(obj: Any) -> Any:
    """JSON has no infinity: write ±inf and NaN as strings so every parser can read the output."""
    if isinstance(obj, float):
        from arlm_tui.decoding.trace import json_float

        return json_float(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- commands
def cmd_generate(args: argparse.Namespace) -> int:
    from arlm_tui.api import generate
    from arlm_tui.lm.registry import load_model

    config = _config(args.strategy, _knobs(args))
    model = load_model(args.model)
    knobs = config.to_dict()
    for key in ("strategy", "max_tokens", "seed"):
        knobs.pop(key, None)
    result = generate(
        model,
        args.prompt,
        strategy=config.strategy,
        max_tokens=config.max_tokens,
        seed=config.seed,
        **knobs,
    )
    if args.json:
        _print_json(result)
    else:
        print(result["text"])
        end = "ended with </s>" if result["finished"] else "stopped at --max-tokens"
        print(
            f"[{result['model']} · {result['strategy']} · {result['num_tokens']} tokens · "
            f"log-prob {result['logprob']:.3f} · {end}]",
            file=sys.stderr,
        )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from arlm_tui.api import score
    from arlm_tui.lm.registry import load_model

    if args.file is not None and args.text is not None:
        raise ArlmError("give either TEXT or --file, not both")
    if args.file is not None:
        from arlm_tui.text.corpora import read_text_file

        text = read_text_file(args.file)
    elif args.text is not None:
        text = args.text
    else:
        raise ArlmError("nothing to score: give TEXT or --file F")
    model = load_model(args.model)
    result = score(model, text)
    if args.json:
        _print_json(result)
        return 0
    rows = list(zip(result["tokens"], result["logprobs"]))
    width = max([len(t) for t, _ in rows] + [5])
    print(f"{'token':<{width}}  {'p':>10}  {'log p':>9}  {'cum NLL':>9}")
    cum = 0.0
    for token, lp in rows:
        cum -= lp
        p = math.exp(lp) if lp > -745 else 0.0
        print(f"{token:<{width}}  {p:>10.4g}  {lp:>9.3f}  {cum:>9.3f}")
    print(f"tokens: {result['num_tokens']} (the text's, then </s>)")
    print(f"NLL: {result['nll']:.4f} nats")
    if result["normalized"]:
        print(f"perplexity: {result['perplexity']:.4f}")
        print(f"bits per token: {result['bits_per_token']:.4f}")
    else:
        print("perplexity: not defined (this model's scores are not normalized probabilities)")
    return 0


def cmd_train_ngram(args: argparse.Namespace) -> int:
    from arlm_tui.corpus_spec import check_corpus_spec
    from arlm_tui.train.ngram import train_ngram

    check_corpus_spec(args.corpus)  # a missing input is reported before a bad --out
    out = _output_dir(args, "ngram")
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


def _output_dir(args: argparse.Namespace, kind: str) -> Path:
    from arlm_tui.outputs import model_destination

    return model_destination(args.out, args.name, kind)


def cmd_export_arpa(args: argparse.Namespace) -> int:
    from arlm_tui.lm.arpa import write_arpa
    from arlm_tui.lm.registry import load_model
    from arlm_tui.outputs import check_output_file

    model = load_model(args.model)
    if getattr(model, "backend", "") != "ngram":
        raise ArlmError(f"{model.name} is a {model.backend} model; ARPA export needs an n-gram")
    check_output_file(args.out, example="model.arpa")
    write_arpa(model, args.out)
    print(f"wrote {args.out}")
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from arlm_tui.lm.registry import list_models

    entries = list_models()
    if args.json:
        rows = []
        for e in entries:
            row = e.summary()
            row["config"] = e.config.get("architecture", {}) | {
                k: e.config[k]
                for k in ("order", "smoothing", "vocab_size", "context", "tokenizer")
                if k in e.config
            }
            rows.append(row)
        _print_json(rows)
        return 0
    if not entries:
        print("no models found")
        return 0
    print(f"{'name':<22} {'backend':<11} {'origin':<8} {'parameters':>11} {'held-out ppl':>12}  corpus")
    for e in entries:
        s = e.summary()
        params = "" if s["parameters"] is None else f"{s['parameters']:,}"
        ppl = "" if s["heldout_perplexity"] is None else f"{s['heldout_perplexity']:.2f}"
        print(
            f"{s['name']:<22} {s['backend']:<11} {s['origin']:<8} {params:>11} {ppl:>12}  "
            f"{s['corpus'] or ''}"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Step through a short generation, printing each step's distribution and the choice."""
    from arlm_tui.decoding import Session
    from arlm_tui.decoding.explain import explain
    from arlm_tui.lm.registry import load_model

    given = {name: value for name, value in _knobs(args).items() if value is not None}
    defaults = dict(_DEMO_DEFAULTS[args.strategy])
    config = _config(args.strategy, {**defaults, **given})
    config.check_knobs_apply()  # e.g. --temperature with --strategy greedy: refused
    model = load_model(args.model)
    session = Session(model, args.prompt, config)
    print(f"model {model.name} ({model.backend}) · strategy {config.strategy} · seed {config.seed}")
    print(f"prompt: {args.prompt!r}\n")
    while not session.done:
        trace = session.step()
        if trace is None:
            break
        print(f"step {trace.step + 1}: context …{model.tokenizer.decode(trace.context_ids[-6:])!r}")
        for row in trace.top(5):
            mark = "→" if row["id"] == trace.chosen_id else " "
            bar = "█" * round(row["raw_prob"] * 30)
            reason = f"  removed by {row['removed_by']}" if row.get("removed_by") else ""
            print(
                f"  {mark} {row['text']!r:<16} p={row['raw_prob']:.3f} "
                f"final={row['final_prob']:.3f} {bar}{reason}"
            )
        print(f"  {explain(trace, model.tokenizer.token_text)}")
        print(
            f"  entropy {trace.entropy:.2f} nats (≈{math.exp(trace.entropy):.1f} effective choices) · "
            f"running log-prob {trace.cum_logprob:.2f} · perplexity {trace.perplexity:.2f}\n"
        )
    print("text:", session.text)
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from arlm_tui import __version__

    parser = _Parser(
        prog="arlm",
        description="arlm: learn how language models generate text, one token at a time.",
    )
    parser.add_argument("--version", action="version", version=f"arlm {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    def model_arg(p: argparse.ArgumentParser) -> None:
        from arlm_tui.lm.registry import DEFAULT_MODEL

        p.add_argument(
            "--model", default=DEFAULT_MODEL, help=f"model name or path (default {DEFAULT_MODEL})"
        )

    demo = sub.add_parser("demo", help="step through a generation, printing every step")
    model_arg(demo)
    demo.add_argument("--prompt", default="")
    demo.add_argument("--strategy", choices=("greedy", "sample"), default="sample")
    knobs = demo.add_argument_group(
        "decoding knobs (not given: 12 tokens; sampling at T = 0.8 with top-p 0.9)")
    add_knob_flags(knobs)
    demo.set_defaults(func=cmd_demo)

    gen = sub.add_parser("generate", help="generate a continuation of a prompt")
    model_arg(gen)
    gen.add_argument("--prompt", default="")
    gen.add_argument("--strategy", choices=strategy_choices(), default="greedy")
    _knob_arguments(gen)
    gen.add_argument("--json", action="store_true", help="print a JSON object")
    gen.set_defaults(func=cmd_generate)

    sc = sub.add_parser("score", help="per-token log-probs, NLL and perplexity of a text")
    model_arg(sc)
    sc.add_argument("text", nargs="?", help="the text to score")
    sc.add_argument("--file", help="score the contents of a UTF-8 text file")
    sc.add_argument("--json", action="store_true")
    sc.set_defaults(func=cmd_score)

    train = sub.add_parser("train", help="train a model on a corpus")
    tsub = train.add_subparsers(dest="kind", parser_class=_Parser, required=True)
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
    from arlm_tui.train import cli_neural

    cli_neural.register(tsub)

    ex = sub.add_parser("export-arpa", help="write an n-gram model as an ARPA file")
    model_arg(ex)
    ex.add_argument("--out", required=True, help="the .arpa file to write")
    ex.set_defaults(func=cmd_export_arpa)

    models = sub.add_parser("models", help="list models")
    msub = models.add_subparsers(dest="models_command", parser_class=_Parser)
    ml = msub.add_parser("list", help="the bundled and user-trained models")
    ml.add_argument("--json", action="store_true")
    ml.set_defaults(func=cmd_models_list)
    from arlm_tui import cli_share

    ms = msub.add_parser("show", help="a model's card and training curve")
    ms.add_argument("name", help="model name or path")
    ms.set_defaults(func=cli_share.cmd_models_show)
    models.set_defaults(func=cmd_models_list, json=False)

    from arlm_tui.learn import cli_learn

    cli_learn.register(sub)

    from arlm_tui.games import cli_games

    cli_games.register(sub)

    from arlm_tui.tui.cli_play import register_play_command

    register_play_command(sub)
    cli_share.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # plain ``arlm`` opens the app at once: building the parser imports every subcommand's
    # module (the games' import numpy), which the home screen does not need
    args = build_parser().parse_args(arguments) if arguments else None
    try:
        if args is None or args.command is None:
            from arlm_tui.tui.app import run_app

            return run_app()
        return int(args.func(args) or 0)
    except ArlmError as exc:
        print(f"arlm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("arlm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
