"""``arlm demo``, ``arlm generate`` and ``arlm score``: a model's text and its probabilities,
printed in the terminal (``--json`` for machines)."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from arlm_tui.cli.base import (
    add_knob_flags,
    add_later,
    decoding_config,
    knobs_with_preset,
    model_arg,
    print_json,
    strategy_choices,
)
from arlm_tui.errors import ArlmError

#: What ``arlm demo`` uses for a knob that is not given, by strategy.
_DEMO_DEFAULTS: dict[str, dict[str, Any]] = {
    "greedy": {"max_tokens": 12},
    "sample": {"max_tokens": 12, "temperature": 0.8, "top_p": 0.9},
}


def register(sub: Any) -> None:
    """Add ``demo``, ``generate`` and ``score`` to the ``arlm`` subcommands (their flags when
    one of them is used: the knob flags import the engine)."""
    demo = sub.add_parser("demo", help="step through a generation, printing every step")
    add_later(demo, lambda: _demo_flags(demo))
    demo.set_defaults(func=cmd_demo)
    gen = sub.add_parser("generate", help="generate a continuation of a prompt")
    add_later(gen, lambda: _generate_flags(gen))
    gen.set_defaults(func=cmd_generate)
    sc = sub.add_parser("score", help="per-token log-probs, NLL and perplexity of a text")
    add_later(sc, lambda: _score_flags(sc))
    sc.set_defaults(func=cmd_score)


def _demo_flags(demo: Any) -> None:
    model_arg(demo)
    demo.add_argument("--prompt", default="")
    demo.add_argument("--strategy", choices=("greedy", "sample"), default=None,
                      help="default: sample (or the --preset's)")
    knobs = demo.add_argument_group(
        "decoding knobs (not given: 12 tokens; sampling at T = 0.8 with top-p 0.9)")
    add_knob_flags(knobs)


def _generate_flags(gen: Any) -> None:
    model_arg(gen)
    gen.add_argument("--prompt", default="")
    gen.add_argument("--strategy", choices=strategy_choices(), default=None,
                     help="default: greedy (or the --preset's)")
    g = gen.add_argument_group("decoding knobs (0 or 1.0 mean off, as in Hugging Face)")
    add_knob_flags(g)  # None = not given: knobs_with_preset fills in the defaults and --preset
    gen.add_argument("--json", action="store_true", help="print a JSON object")


def _score_flags(sc: Any) -> None:
    model_arg(sc)
    sc.add_argument("text", nargs="?", help="the text to score")
    sc.add_argument("--file", help="score the contents of a UTF-8 text file")
    sc.add_argument("--json", action="store_true")


def cmd_generate(args: argparse.Namespace) -> int:
    from arlm_tui.api import generate
    from arlm_tui.lm.registry import load_model

    config = decoding_config(*knobs_with_preset(args))
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
        print_json(result)
    else:
        print(result["text"])
        if result["finished"]:
            end = "ended with </s>"
        elif result["stop"] is not None:
            end = f"stopped at the stop string {result['stop']!r}"
        else:
            end = "stopped at --max-tokens"
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
        print_json(result)
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


def cmd_demo(args: argparse.Namespace) -> int:
    """Step through a short generation, printing each step's distribution and the choice."""
    from arlm_tui.decoding import Session
    from arlm_tui.decoding.explain import explain
    from arlm_tui.lm.registry import load_model

    strategy, given = knobs_with_preset(args, {}, "sample")
    defaults = {"max_tokens": 12} if args.preset else _DEMO_DEFAULTS[strategy]
    config = decoding_config(strategy, {**defaults, **given})
    config.check_knobs_apply()  # e.g. --temperature with --strategy greedy: refused
    model = load_model(args.model)
    session = Session(model, args.prompt, config)
    print(f"model {model.name} ({model.backend}) · strategy {config.strategy} · seed {config.seed}")
    from arlm_tui.decoding.presets import chain_text

    print(f"chain (in the order it runs): {chain_text(config)}")
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
            f"  entropy {trace.entropy:.2f} nats (≈{trace.effective_choices:.1f} effective choices) · "
            f"running log-prob {trace.cum_logprob:.2f} · perplexity {trace.perplexity:.2f}\n"
        )
    print("text:", session.text)
    return 0
