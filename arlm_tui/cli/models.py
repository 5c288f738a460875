"""``arlm models list``, ``arlm models show NAME`` and ``arlm export-arpa``: the bundled and
user-trained models, one model's card and training curve, an n-gram as an ARPA file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from arlm_tui.cli.base import Parser, model_arg, print_json
from arlm_tui.errors import ArlmError

#: A card or chart larger than this is not printed (a model page is a few kilobytes).
_MAX_PAGE_BYTES = 1 << 20


def register(sub: Any) -> None:
    """Add ``export-arpa`` and ``models [list | show]`` to the ``arlm`` subcommands."""
    ex = sub.add_parser("export-arpa", help="write an n-gram model as an ARPA file")
    model_arg(ex)
    ex.add_argument("--out", required=True, help="the .arpa file to write")
    ex.set_defaults(func=cmd_export_arpa)

    models = sub.add_parser("models", help="list models")
    msub = models.add_subparsers(dest="models_command", parser_class=Parser)
    ml = msub.add_parser("list", help="the bundled and user-trained models")
    ml.add_argument("--json", action="store_true")
    ml.set_defaults(func=cmd_models_list)
    ms = msub.add_parser("show", help="a model's card and training curve")
    ms.add_argument("name", help="model name or path")
    ms.set_defaults(func=cmd_models_show)
    models.set_defaults(func=cmd_models_list, json=False)


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
        print_json(rows)
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


def _read_small(path: Path) -> str | None:
    if not path.is_file() or path.stat().st_size > _MAX_PAGE_BYTES:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def cmd_models_show(args: argparse.Namespace) -> int:
    """A model's page: its card.md, then its training curve when it has one."""
    from arlm_tui.charts import LOSS_CHART_FILE
    from arlm_tui.lm.registry import resolve

    where = resolve(args.name)
    folder = where if where.is_dir() else where.parent
    card = _read_small(folder / "card.md") if where.is_dir() else None
    print(card.rstrip() if card else f"{args.name}: {where} (no card.md)")
    chart = _read_small(folder / LOSS_CHART_FILE) if where.is_dir() else None
    if chart:
        print()
        print(chart.rstrip())
    return 0
