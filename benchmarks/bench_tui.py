"""How fast the interface answers, as ratios to bare Textual on the same machine.

    python benchmarks/bench_tui.py [--keys 200]

1. start-up: a fresh interpreter imports arlm and starts the app headless; the clock runs from
   launching the interpreter to the end of the first paint that shows the home screen laid out
   (menu, header and footer keys on screen). The peer is a one-label Textual app started the
   same way, its clock stopped at the first paint showing its label; the two are launched
   alternately. Median of 5 each; target (issue #17 §3): arlm ≤ 2× the peer. A second row,
   with no target, times the whole run until the process goes idle (``pilot.pause()`` waits
   for the CPU to rest) and exits: for arlm that includes the home screen's summaries (lessons
   and models read in a worker after the first frame, then shown in place of their "…").
2. key → repaint on the play screen, for a KNOB change (temperature up/down: the live bars are
   recomputed) and for a STEP (space), for the bundled n-gram and the bundled transformer; the
   peer is a one-widget Textual app whose widget changes its text on a key. The clock runs from
   the key event to the end of the first screen paint showing the change. ``pilot.press``
   itself waits for the process to look idle in 20 ms slices, which is test machinery, not
   latency, so the clock is read from hooks on the screen instead. Targets (issue #10 §1):
   median ≤ 50 ms for the n-gram and ≤ 80 ms for the transformer; both are also printed as a
   ratio to the bare repaint, which is what carries over between machines.
Prints a table; exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Spies on every screen paint; ``first_frame`` is the wall-clock time (``time.time()``, so
#: that the parent can subtract its own launch time) of the first paint after which
#: ``FRAME_READY(screen)`` holds.
FRAME_SPY = """
import time
from textual.screen import Screen

first_frame = []
_paint = Screen._compositor_refresh

def _spy(screen):
    _paint(screen)
    if not first_frame and FRAME_READY(screen):
        first_frame.append(time.time())

Screen._compositor_refresh = _spy
"""

LAUNCH_CODE = """
import asyncio, time
t0 = time.perf_counter()
from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.settings import Settings

def FRAME_READY(screen):
    if type(screen).__name__ != "HomeScreen":
        return False
    regions = [w.region for w in screen.query("#home-menu, Header, FooterKey")]
    return len(regions) > 2 and all(r.height > 0 for r in regions)
""" + FRAME_SPY + """
async def run():
    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "HomeScreen"
        print("drawn", time.perf_counter() - t0, flush=True)
    print("first-frame", first_frame[0], flush=True)

asyncio.run(run())
"""

PEER_LAUNCH_CODE = """
import asyncio, time
t0 = time.perf_counter()
from textual.app import App
from textual.widgets import Label

def FRAME_READY(screen):
    return any(w.region.height > 0 for w in screen.query(Label))
""" + FRAME_SPY + """
class OneLabel(App):
    def compose(self):
        yield Label("hello")

async def run():
    app = OneLabel()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        print("drawn", time.perf_counter() - t0, flush=True)
    print("first-frame", first_frame[0], flush=True)

asyncio.run(run())
"""


def _launch_once(code: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from starting the interpreter to (first frame painted, process ended)."""
    start, start_wall = time.perf_counter(), time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    whole = time.perf_counter() - start
    assert "drawn" in out.stdout, out.stderr
    frame = next(line for line in out.stdout.splitlines() if line.startswith("first-frame"))
    return float(frame.split()[1]) - start_wall, whole


def bench_launch(repeats: int = 5) -> dict[str, tuple[float, float]]:
    """Medians (seconds) of (first frame, whole run) for ``"arlm"`` and its ``"peer"``. The two
    are launched alternately, so that a shared machine's load weighs on both alike."""
    env = {**os.environ, "ARLM_HOME": tempfile.mkdtemp(prefix="arlm-bench-"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                        os.environ.get("PYTHONPATH")]))}
    runs: dict[str, list[tuple[float, float]]] = {"arlm": [], "peer": []}
    for _ in range(repeats):
        runs["arlm"].append(_launch_once(LAUNCH_CODE, env))
        runs["peer"].append(_launch_once(PEER_LAUNCH_CODE, env))
    return {name: (statistics.median(t[0] for t in times),
                   statistics.median(t[1] for t in times))
            for name, times in runs.items()}


async def _time_keys(app: Any, screen: Any, keys: list[str], updated: list[float],
                     reset: Any = None) -> list[float]:
    """Milliseconds from each key event to the end of the first paint after ``updated`` got a
    new entry (the screen's hook appends to it when the change is in the widgets)."""
    from textual import events

    painted: list[float] = []
    compositor_refresh = screen._compositor_refresh

    def spy_compositor() -> None:
        compositor_refresh()
        painted.append(time.perf_counter())

    screen._compositor_refresh = spy_compositor
    times = []
    for key_name in keys:
        if reset is not None:
            await reset()
        painted.clear()
        updated.clear()
        key = events.Key(key_name, " " if key_name == "space" else None)
        key.set_sender(app)
        start = time.perf_counter()
        app._driver.send_message(key)
        while not (updated and painted and painted[-1] > updated[0]):
            await asyncio.sleep(0.0005)
            if time.perf_counter() - start > 10:
                raise RuntimeError("no redraw within 10 s")
        times.append((painted[-1] - start) * 1000)
        await asyncio.sleep(0.02)  # let the app go idle, as between a person's key presses
    return times


async def bench_bare(keys: int) -> list[float]:
    """Key → repaint of a one-widget Textual app (the peer)."""
    from textual.app import App
    from textual.widgets import Static

    updated: list[float] = []

    class OneWidget(App):
        BINDINGS = [("space", "bump", "bump")]  # noqa: RUF012 - a throwaway peer

        def compose(self):
            yield Static("0", id="count")

        def action_bump(self) -> None:
            widget = self.query_one("#count", Static)
            widget.update(str(int(str(widget.render())) + 1))
            updated.append(time.perf_counter())

    app = OneWidget()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        return await _time_keys(app, app.screen, ["space"] * keys, updated)


async def bench_play(model: str, keys: int, what: str) -> list[float]:
    """Key → repaint on the play screen: ``what`` is "knob" (temperature ←/→ alternately) or
    "step" (space; the session is reset outside the timing when the text ends)."""
    from arlm_tui.tui.app import ArlmApp
    from arlm_tui.tui.settings import Settings
    from arlm_tui.tui.widgets.knob_panel import KnobPanel

    app = ArlmApp("play", model=model, prompt="the", strategy="sample",
                  knobs={"max_tokens": 10_000, "temperature": 0.9, "top_p": 0.95},
                  settings=Settings(), save_settings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert screen.session is not None, getattr(screen, "last_error", "")
        updated: list[float] = []
        draw = screen.drawing.draw  # the screen's whole redraw from the runner's snapshot

        def spy_views() -> None:
            draw()
            updated.append(time.perf_counter())

        screen.drawing.draw = spy_views
        if what == "knob":
            panel = screen.query_one(KnobPanel)
            panel.focus()
            panel.select("temperature")
            await pilot.pause()
            await pilot.press("space", "space")  # a few tokens of context first
            await app.workers.wait_for_complete()
            await pilot.pause()
            sequence = ["right", "left"] * (keys // 2)
            return await _time_keys(app, screen, sequence, updated)

        async def reset() -> None:
            if screen.session.done:
                await pilot.press("R")
                await app.workers.wait_for_complete()
                await pilot.pause()

        return await _time_keys(app, screen, ["space"] * keys, updated, reset)


def summary(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("ARLM_HOME", tempfile.mkdtemp(prefix="arlm-bench-"))

    from arlm_tui.lm.registry import list_models

    rows = []
    launches = bench_launch()
    (launch, launch_idle), (peer, peer_idle) = launches["arlm"], launches["peer"]
    rows.append(("start-up → first frame of the home screen",
                 f"{launch * 1000:.0f} ms vs {peer * 1000:.0f} ms = {launch / peer:.2f}×",
                 "≤ 2×", launch / peer <= 2.0))
    rows.append(("start-up → idle with summaries, exit",
                 f"{launch_idle * 1000:.0f} ms vs {peer_idle * 1000:.0f} ms = "
                 f"{launch_idle / peer_idle:.2f}×", "(shown)", True))
    bare, _ = summary(asyncio.run(bench_bare(args.keys)))
    rows.append(("bare Textual: key → repaint (peer)", f"{bare:.1f} ms", "(peer)", True))
    models = [("n-gram", "pyref-word-kn3", 50.0)]
    transformers = [e.name for e in list_models() if e.backend == "transformer"]
    if transformers:
        models.append(("transformer", transformers[0], 80.0))
    for label, model, target in models:
        for what in ("knob", "step"):
            median, p95 = summary(asyncio.run(bench_play(model, args.keys, what)))
            rows.append((f"{what} → repaint, {label} ({model})",
                         f"{median:.1f} ms (p95 {p95:.1f}) = {median / bare:.1f}× bare",
                         f"≤ {target:g} ms", median <= target))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':<36} {'target':<10} ok")
    for name, result, target, ok in rows:
        print(f"{name:<{width}}  {result:<36} {target:<10} {'yes' if ok else 'NO'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
