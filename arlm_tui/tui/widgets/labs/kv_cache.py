"""The view of the ``kv_cache`` lab; what it draws is computed by ``arlm_tui.learn.labs.kv_cache``."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType

from arlm_tui.learn.labs.kv_cache import KVCacheRun, kv_cache_demo
from arlm_tui.tui.widgets.labs.base import (
    LabView,
    table_of,
)


class KVCacheView(LabView):
    """Generation with and without a key/value cache (torch)."""

    KIND = "kv_cache"
    HEAVY = True
    HELP_TITLE = "KV-cache lab"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "tokens(5)", "Longer", id="lab.longer", key_display="→",
                tooltip="generate 5 tokens more"),
        Binding("left", "tokens(-5)", "Shorter", id="lab.shorter", key_display="←",
                tooltip="generate 5 tokens fewer"),
        Binding("e", "edit('prompt')", "Prompt", id="lab.prompt", tooltip="type a new prompt"),
        Binding("g", "again", "Run again", id="lab.again",
                tooltip="run both generations again (new timings)"),
    ]

    def compute(self) -> KVCacheRun:
        p = self.preset
        return kv_cache_demo(str(p["prompt"]), int(p.get("max_tokens", 20)), p.get("model"))

    def action_tokens(self, delta: int) -> None:
        self.preset["max_tokens"] = min(max(int(self.preset.get("max_tokens", 20)) + delta, 5),
                                        60)
        self.recompute()

    def action_edit(self, field: str) -> None:
        self.request_edit(field, "Prompt")

    def action_again(self) -> None:
        self.recompute()

    def draw(self, run: KVCacheRun) -> RenderableType:
        head = Text()
        head.append(f"model: {run.model}", style="bold")
        head.append(f"\n{run.note}", style="dim")
        table = table_of("t", "<token", "positions", "w/ cache", "q·k", "w/ cache", "ms",
                       "w/ cache")
        for s in run.steps:
            table.add_row(str(s.step + 1), s.token, str(s.positions_without),
                          str(s.positions_with), str(s.scores_without), str(s.scores_with),
                          f"{s.seconds_without * 1000:.2f}", f"{s.seconds_with * 1000:.2f}")
        total = Text()
        total.append(f"\nPositions run through the net: {run.positions_without} without the "
                     f"cache, {run.positions_with} with it. ", style="bold")
        gap = max((s.logprob_gap for s in run.steps), default=0.0)
        if run.identical:
            total.append(f"Both generations chose the same {len(run.tokens_with)} tokens "
                         f"(largest log-probability difference {gap:.1e}, float rounding).",
                         style="green")
        else:
            total.append("The outputs differ: the cache is broken!", style="bold red")
        later = [s for s in run.steps if s.positions_with == 1]
        if later and run.layers:
            first, last = later[0].scores_with, later[-1].scores_with
            total.append(f"\nA cached step costs L·(12d² + 2td) multiply-adds in the blocks "
                         f"(L = {run.layers}, d = {run.d_model}): "
                         f"{run.cached_step_macs(first):,} with {first} keys, "
                         f"{run.cached_step_macs(last):,} with {last}; only the 2td part grows.",
                         style="dim")
        legend = Text("without a cache every step runs the whole prefix again; with it, only the "
                      "new token, whose query meets the cached keys (q·k per layer and head)",
                      style="dim")
        text = Text("\n" + " ".join(run.prompt_tokens) + " ", style="bold")
        text.append(" ".join(run.tokens_with), style="cyan")
        return Group(head, text, Text(""), table, legend, total)
