"""How fast the interface answers: launch to home screen, and one step on the play screen.

    python benchmarks/bench_tui.py [--steps 200]

1. launch → home screen drawn: a fresh interpreter imports arlm, starts the app headless and
   reports when the home screen has been composed and painted (target < 1 s). Median of 5.
2. key press → play screen redrawn after one step: Pilot drives the app; the time runs from
   the space key event to the end of the first screen paint that shows the new step (the step,
   the snapshot, every widget re-rendered and composited); median over N steps (targets:
   n-gram < 50 ms, transformer < 80 ms when one is installed). ``pilot.press`` itself waits
   for the process to look idle in 20 ms slices, which is test machinery, not latency, so the
   clock is read from hooks on the screen instead. When the text ends the session is reset
   outside the timing.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LAUNCH_CODE = """
import asyncio, time
t0 = time.perf_counter()
from arlm_tui.tui.app import ArlmApp
from arlm_tui.tui.settings import Settings

async def run():
    app = ArlmApp(settings=Settings(), save_settings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "HomeScreen"
        print("drawn", time.perf_counter() - t0, flush=True)

asyncio.run(run())
"""


def bench_launch(repeats: int = 5) -> float:
    """Median wall time from starting the interpreter to the home screen drawn (seconds)."""
    times = []
    env = {**os.environ, "ARLM_HOME": tempfile.mkdtemp(prefix="arlm-bench-"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                        os.environ.get("PYTHONPATH")]))}
    for _ in range(repeats):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", LAUNCH_CODE], capture_output=True,
                             text=True, env=env, check=True)
        assert "drawn" in out.stdout, out.stderr
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def bench_steps(model: str, steps: int, threaded: bool = False) -> tuple[float, float]:
    """(median, 95th percentile) milliseconds from a space key event to the end of the first
    screen paint after the play screen took the new step into its widgets."""
    from textual import events

    from arlm_tui.tui.app import ArlmApp
    from arlm_tui.tui.settings import Settings

    app = ArlmApp("play", model=model, prompt="the", strategy="sample",
                  knobs={"max_tokens": 10_000, "temperature": 0.9, "top_p": 0.95},
                  settings=Settings(), save_settings=False)
    times = []
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert screen.session is not None, getattr(screen, "last_error", "")
        screen.always_threaded = threaded
        painted: list[float] = []
        updated: list[float] = []
        compositor_refresh, refresh_views = screen._compositor_refresh, screen.refresh_views

        def spy_compositor() -> None:
            compositor_refresh()
            painted.append(time.perf_counter())

        def spy_views() -> None:
            refresh_views()
            updated.append(time.perf_counter())

        screen._compositor_refresh = spy_compositor
        screen.refresh_views = spy_views
        while len(times) < steps:
            if screen.session.done:
                await pilot.press("R")
                await app.workers.wait_for_complete()
                await pilot.pause()
            painted.clear()
            updated.clear()
            key = events.Key("space", " ")
            key.set_sender(app)
            start = time.perf_counter()
            app._driver.send_message(key)
            while not (updated and painted and painted[-1] > updated[0]):
                await asyncio.sleep(0.0005)
                if time.perf_counter() - start > 10:
                    raise RuntimeError("no redraw within 10 s")
            times.append((painted[-1] - start) * 1000)
            await pilot.pause()
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("ARLM_HOME", tempfile.mkdtemp(prefix="arlm-bench-"))

    from arlm_tui.lm.registry import list_models

    rows = []
    launch = bench_launch()
    rows.append(("launch → home screen drawn", f"{launch * 1000:.0f} ms", "< 1000 ms",
                 launch < 1.0))
    median, p95 = asyncio.run(bench_steps("pyref-word-kn3", args.steps))
    rows.append((f"space → redrawn, n-gram ({args.steps} steps)",
                 f"{median:.1f} ms (p95 {p95:.1f})", "< 50 ms", median < 50))
    few = min(args.steps, 50)
    median, p95 = asyncio.run(bench_steps("pyref-word-kn3", few, threaded=True))
    rows.append((f"  same through a thread worker ({few} steps)",
                 f"{median:.1f} ms (p95 {p95:.1f})", "(info)", True))
    transformers = [e.name for e in list_models() if e.backend == "transformer"]
    if transformers:
        median, p95 = asyncio.run(bench_steps(transformers[0], args.steps))
        rows.append((f"space → redrawn, transformer {transformers[0]}",
                     f"{median:.1f} ms (p95 {p95:.1f})", "< 80 ms", median < 80))
    else:
        rows.append(("space → redrawn, transformer", "none installed", "< 80 ms", True))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':<24} {'target':<10} ok")
    for name, result, target, ok in rows:
        print(f"{name:<{width}}  {result:<24} {target:<10} {'yes' if ok else 'NO'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
