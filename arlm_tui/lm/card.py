"""``card.md``: the short human-readable record of how a model was made.

Every model directory carries one (corpus, size, parameters, training time, held-out perplexity),
so a learner can see what a model was trained on before trusting its numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_card(directory: str | Path, title: str, facts: Mapping[str, Any], notes: str = "") -> Path:
    """Write ``card.md`` with a title, a two-column table of facts and free notes."""
    lines = [f"# {title}", "", "| | |", "|---|---|"]
    for key, value in facts.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        lines.append(f"| {key} | {value} |")
    if notes:
        lines += ["", notes.strip()]
    from arlm_tui.outputs import write_text

    path = Path(directory) / "card.md"
    write_text(path, "\n".join(lines) + "\n")
    return path
