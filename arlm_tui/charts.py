"""Terminal charts drawn with plotext: training curves, review history, sampled histograms.

Each ``draw_*`` function draws on a plotext-like object ``plt`` (the ``plotext`` module itself
for text printed by the CLI, or a textual-plotext widget's ``plt`` in the interface), so the CLI
and the screens show the same charts. ``loss_chart`` returns the training curve as text and
``save_loss_chart`` keeps it beside a trained model, linked from its ``card.md``.

No Textual here; plotext is imported when a chart is drawn.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

#: The training curve saved beside a trained model (plain text, no colours).
LOSS_CHART_FILE = "loss-chart.txt"
_CARD_LINK = f"Training curve: [{LOSS_CHART_FILE}]({LOSS_CHART_FILE})"


def _in_order(data: Any) -> list[Any]:
    """``data`` without repeats, in its first-seen order."""
    return list(dict.fromkeys(data))


def _steady_plotext() -> None:
    """Make plotext draw the same chart in every run.

    plotext drops repeated ticks (and repeated points) with ``list(set(...))``, so the ticks
    reach its label placement in an order that follows Python's per-process string hashing
    (``PYTHONHASHSEED``); a label is then moved a cell left or right of its tick depending on
    which neighbour was placed first, and the same chart differed from run to run. Its order-
    keeping alternative (a comment beside that line in plotext) gives the same result as a
    set, in a fixed order. Applied once, before anything is drawn."""
    import plotext._utility as plotext_utility

    if plotext_utility.no_duplicates is not _in_order:
        plotext_utility.no_duplicates = _in_order


def _integer_ticks(largest: int, most: int = 5) -> list[int]:
    """Whole-number ticks from 0 to at least ``largest`` (counts have no halves)."""
    step = max(1, math.ceil(max(largest, 1) / most))
    return list(range(0, max(largest, 1) + step, step))


def _reset(plt: Any, width: int | None, height: int | None) -> None:
    plt.clear_figure() if hasattr(plt, "clear_figure") else plt.clf()
    if width and height:
        plt.plotsize(width, height)


def draw_losses(plt: Any, train: Sequence[float], valid: Sequence[float]) -> None:
    """Training and validation loss (mean NLL per token, nats) per epoch."""
    _steady_plotext()
    if train:
        epochs = list(range(1, len(train) + 1))
        plt.plot(epochs, list(train), label="train", marker="dot")
    if valid:
        epochs = list(range(1, len(valid) + 1))
        plt.plot(epochs, list(valid), label="valid", marker="x")
    count = max(len(train), len(valid))
    if count:
        plt.xticks(list(range(1, count + 1, max(1, math.ceil(count / 10)))))
    plt.title("loss per epoch (NLL per token, nats)")
    plt.xlabel("epoch")


def draw_day_counts(plt: Any, days: Sequence[date], counts: Sequence[int], title: str,
                    *, max_labels: int = 8) -> None:
    """A bar for each day (``%a %d`` labels, thinned out to at most ``max_labels``)."""
    _steady_plotext()
    if not days:
        plt.title(title + ": nothing yet")
        return
    xs = list(range(len(days)))
    plt.bar(xs, list(counts), marker="hd", width=0.8)
    every = max(1, math.ceil(len(days) / max_labels))
    fmt = "%a %d" if len(days) <= 14 else "%d %b"
    plt.xticks(xs[::every], [d.strftime(fmt) for d in days][::every])
    plt.yticks(_integer_ticks(max(counts, default=0)))
    plt.title(title)


def draw_sample_histogram(plt: Any, histogram: Sequence[tuple[str, int, float]], n: int,
                          *, bars: int = 8) -> None:
    """First tokens drawn in ``n`` samples (fraction) beside their probability p."""
    _steady_plotext()
    rows = list(histogram[:bars])
    if not rows or n <= 0:
        plt.title("no samples yet")
        return
    labels = [(token.replace("\n", "⏎").replace(" ", "␣") or "∅")[:8] for token, _, _ in rows]
    drawn = [count / n for _, count, _ in rows]
    probs = [p for _, _, p in rows]
    plt.multiple_bar(labels, [drawn, probs], labels=[f"drawn / {n}", "p"])
    plt.title(f"first token: drawn in {n} samples vs p")


def loss_chart(train: Sequence[float], valid: Sequence[float], *, width: int = 72,
               height: int = 18, color: bool = False) -> str:
    """The training curve as text (ANSI colours when ``color``)."""
    import plotext as plt

    _reset(plt, width, height)
    if not color:
        plt.theme("clear")
    draw_losses(plt, train, valid)
    text = plt.build()
    _reset(plt, None, None)
    if not color:
        text = plt.uncolorize(text)
    return "\n".join(line.rstrip() for line in text.splitlines())


def validation_losses(val_perplexities: Sequence[float]) -> list[float]:
    """Held-out perplexities as losses: NLL per token = ln(perplexity)."""
    return [math.log(p) for p in val_perplexities if p > 0 and math.isfinite(p)]


def save_loss_chart(directory: str | Path, train: Sequence[float],
                    valid: Sequence[float]) -> Path:
    """Write the chart beside the model (temporary name, then renamed) and link it from
    ``card.md`` (once)."""
    folder = Path(directory)
    path = folder / LOSS_CHART_FILE
    tmp = folder / f".{LOSS_CHART_FILE}.tmp"
    tmp.write_text(loss_chart(train, valid) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    card = folder / "card.md"
    if card.is_file():
        text = card.read_text(encoding="utf-8")
        if _CARD_LINK not in text:
            tmp_card = folder / ".card.md.tmp"
            tmp_card.write_text(text.rstrip("\n") + f"\n\n{_CARD_LINK}\n", encoding="utf-8")
            os.replace(tmp_card, card)
    return path


def show_training_chart(result: Any, stream: Any = None) -> Path | None:
    """At the end of ``arlm train``: print the loss curve of a ``TrainResult`` (colours on a
    terminal) and save it beside the model. None when there is no epoch to draw."""
    import sys

    stream = stream or sys.stdout
    train = list(result.loss_history)
    valid = validation_losses(result.val_history)
    if not train and not valid:
        return None
    color = bool(getattr(stream, "isatty", lambda: False)())
    width = 72
    if color:
        try:
            width = min(max(os.get_terminal_size(stream.fileno()).columns - 2, 40), 100)
        except (OSError, ValueError, AttributeError):
            pass
    print(loss_chart(train, valid, width=width, color=color), file=stream)
    try:
        path = save_loss_chart(result.out_dir, train, valid)
    except OSError as exc:  # the model is saved; a chart that cannot be written is not fatal
        print(f"arlm: could not save the loss chart in {result.out_dir}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return None
    print(f"loss chart saved: {path}", file=stream)
    return path
