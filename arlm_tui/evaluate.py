"""Held-out perplexities of the bundled models: ``python -m arlm_tui.evaluate``.

Every model trained on the oracle language is scored on the same held-out stories (drawn with a
seed no training run uses), next to the oracle's own perplexity on them: the floor that no model
can beat in expectation, since E[−log q] = H(p) + KL(p ‖ q) ≥ H(p). The README's table is this
command's output.
"""

from __future__ import annotations

import argparse

#: Held-out stories: a seed the training corpora (seed 0) do not use.
HELDOUT_SEED = 12_345
HELDOUT_STORIES = 2_000


def heldout_table(n_stories: int = HELDOUT_STORIES, seed: int = HELDOUT_SEED) -> list[dict]:
    """One row per model trained on the oracle language (and the oracle itself), best first."""
    from arlm_tui.lm.information import heldout_nll, perplexity
    from arlm_tui.lm.oracle import OracleLanguage
    from arlm_tui.lm.registry import list_models, load_model

    texts = OracleLanguage().corpus(n_stories, seed=seed)
    rows = []
    for entry in list_models():
        corpus = str(entry.config.get("summary", {}).get("corpus") or "")
        if entry.backend != "oracle" and "oracle" not in corpus:
            continue
        model = load_model(entry.name)
        nll, count = heldout_nll(model, texts)
        rows.append(
            {
                "model": entry.name,
                "backend": entry.backend,
                "parameters": entry.summary()["parameters"],
                "tokens": count,
                "nll_per_token": nll / count,
                "perplexity": perplexity(nll, count),
            }
        )
    rows.sort(key=lambda r: r["perplexity"])
    return rows


def markdown(rows: list[dict], n_stories: int, seed: int) -> str:
    tokens = rows[0]["tokens"] if rows else 0
    lines = [
        f"Held-out perplexity on {n_stories} oracle stories (seed {seed}, {tokens} tokens incl. </s>):",
        "",
        "| model | backend | parameters | NLL / token (nats) | perplexity |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        params = "exact p (no parameters)" if r["backend"] == "oracle" else f"{r['parameters'] or 0:,}"
        lines.append(
            f"| `{r['model']}` | {r['backend']} | {params} | {r['nll_per_token']:.4f} | "
            f"{r['perplexity']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m arlm_tui.evaluate", description=__doc__)
    parser.add_argument("--stories", type=int, default=HELDOUT_STORIES)
    parser.add_argument("--seed", type=int, default=HELDOUT_SEED)
    args = parser.parse_args(argv)
    print(markdown(heldout_table(args.stories, args.seed), args.stories, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
