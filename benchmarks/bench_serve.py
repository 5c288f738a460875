"""A classroom on one machine: N visitors of ``arlm serve`` stepping and turning knobs at once.

    python benchmarks/bench_serve.py [--visitors 20] [--seconds 60] [--think 1.0]

Starts ``arlm serve`` on a free port of 127.0.0.1 (local only) with a temporary data folder.
Each visitor is a websocket client speaking textual-serve's protocol, as the page's xterm.js
does (``["stdin", keys]`` up, terminal bytes down): it waits for the home screen, opens play
(the bundled n-gram ``oracle-kn3``), then for ``--seconds`` presses keys like a learner: steps
(space), takes a step back (backspace), moves along the knob panel (↑/↓) and turns knobs (←/→),
resets (R) now and then, waiting ``--think`` seconds between keys (reading the screen).

Key → screen update: from sending a key to the first terminal bytes the visitor's app sends
back (the redraw that answers it; the app is quiet before each key, so nothing else is in
flight). "Complete" is the time to the last bytes of that redraw (the stream then stays quiet
for 60 ms; the quiet wait itself is not counted). Memory: the resident set size summed over the
server and every process under it, sampled each second; the peak is reported (and the
proportional set size, which counts shared pages once).

Targets (issue #16): p95 key → update < 250 ms and < 3 GB for 20 visitors. Prints a table;
exits 1 if a target is missed. Bounded: --visitors ≤ 60, --seconds ≤ 600.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")
KEYS = {"space": " ", "backspace": "\x7f", "up": "\x1b[A", "down": "\x1b[B",
        "right": "\x1b[C", "left": "\x1b[D", "R": "R", "p": "p"}
#: One learner's round of keys: steps, a knob moved up and back, a step taken back.
ROUND = ("space", "space", "down", "right", "space", "right", "left", "backspace", "space",
         "left", "up", "space")
QUIET = 0.06
TARGET_P95_MS = 250.0
TARGET_MEMORY_GB = 3.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_memory(pid: int) -> tuple[int, int, int]:
    """(Σ RSS, Σ PSS, processes) over ``pid`` and every process under it. RSS counts shared
    pages (the Python runtime, numpy) once per process, PSS shares them out."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, 0
    rss = pss = 0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss, pss, len(procs)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Visitor:
    index: int
    first: list[float] = field(default_factory=list)
    complete: list[float] = field(default_factory=list)
    startup: float = float("nan")
    error: str = ""


class Stream:
    """The terminal bytes a visitor receives, with the time of each frame."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.text = ""
        self.last = time.perf_counter()
        self.frames = asyncio.Queue()
        self.closed = False

    async def pump(self) -> None:
        import aiohttp

        async for msg in self.ws:
            now = time.perf_counter()
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.text = (self.text + _ANSI.sub("", msg.data.decode("utf-8", "replace")))[
                    -20000:]
                self.last = now
                self.frames.put_nowait(now)
        self.closed = True
        self.frames.put_nowait(None)

    async def wait_for(self, needle: str, timeout: float) -> None:
        end = time.perf_counter() + timeout
        while needle not in self.text:
            if self.closed or time.perf_counter() > end:
                raise TimeoutError(f"{needle!r} not shown")
            await asyncio.sleep(0.05)

    async def quiet(self, limit: float = 5.0) -> float:
        """Wait until no frame came for QUIET seconds; the time of the last frame."""
        end = time.perf_counter() + limit
        while time.perf_counter() - self.last < QUIET and time.perf_counter() < end:
            await asyncio.sleep(0.01)
        while not self.frames.empty():
            self.frames.get_nowait()
        return self.last


async def visit(url: str, visitor: Visitor, seconds: float, think: float,
                start_gate: asyncio.Event) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        t0 = time.perf_counter()
        async with http.ws_connect(f"{url}/ws?width=100&height=30", max_msg_size=0) as ws:
            stream = Stream(ws)
            pump = asyncio.create_task(stream.pump())
            try:
                await stream.wait_for("Review cards", 180)
                await stream.quiet()
                await ws.send_str(json.dumps(["stdin", KEYS["p"]]))
                await stream.wait_for("no token generated yet", 120)
                visitor.startup = time.perf_counter() - t0
                await stream.quiet()
                await start_gate.wait()
                end = time.perf_counter() + seconds
                n = 0
                while time.perf_counter() < end:
                    key = ROUND[n % len(ROUND)]
                    n += 1
                    if n % 36 == 0:
                        key = "R"
                    await stream.quiet()
                    sent = time.perf_counter()
                    await ws.send_str(json.dumps(["stdin", KEYS[key]]))
                    try:
                        got = await asyncio.wait_for(stream.frames.get(), timeout=10)
                    except TimeoutError:
                        continue  # a key with nothing to redraw (e.g. a knob at its end)
                    if got is None:
                        raise ConnectionError("the server closed the connection")
                    visitor.first.append(got - sent)
                    last = await stream.quiet()
                    visitor.complete.append(last - sent)
                    await asyncio.sleep(think)
            except Exception as exc:  # noqa: BLE001 - reported per visitor
                visitor.error = f"{type(exc).__name__}: {exc}"
            finally:
                await ws.close()
                pump.cancel()


async def classroom(url: str, server_pid: int, visitors: int, seconds: float,
                    think: float) -> tuple[list[Visitor], tuple[int, int, int]]:
    gate = asyncio.Event()
    people = [Visitor(i) for i in range(visitors)]
    tasks = [asyncio.create_task(visit(url, v, seconds, think, gate)) for v in people]
    peak = (0, 0, 0)

    async def wait_ready() -> None:
        while not all(v.startup == v.startup or v.error for v in people):
            await asyncio.sleep(0.2)
        gate.set()

    ready = asyncio.create_task(wait_ready())
    while not all(t.done() for t in tasks):
        peak = max(peak, tree_memory(server_pid))
        await asyncio.sleep(1.0)
    await ready
    return people, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=1.0,
                        help="seconds a visitor waits between keys")
    args = parser.parse_args()
    if not (1 <= args.visitors <= 60 and 1 <= args.seconds <= 600):
        parser.error("--visitors must be 1..60 and --seconds 1..600")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="arlm-bench-serve-") as tmp:
        env = dict(os.environ, ARLM_HOME=str(Path(tmp) / "home"))
        server = subprocess.Popen(
            [sys.executable, "-m", "arlm_tui", "serve", "--port", str(port), "--data",
             str(Path(tmp) / "served")],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            for _ in range(300):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            people, peak = asyncio.run(
                classroom(f"http://127.0.0.1:{port}", server.pid, args.visitors, args.seconds,
                          args.think))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
    return report(people, peak, args)


def report(people: list[Visitor], peak: tuple[int, int, int], args: argparse.Namespace) -> int:
    print(f"{args.visitors} visitors · {args.seconds:.0f} s each · {args.think:.2f} s between "
          f"keys · oracle-kn3 · {os.cpu_count()} CPUs")
    print(f"{'visitor':>7} {'keys':>5} {'start s':>8} {'median ms':>10} {'p95 ms':>8} "
          f"{'complete p95':>13}  error")
    all_first: list[float] = []
    p95s = []
    for v in people:
        ms = [x * 1000 for x in v.first]
        done = [x * 1000 for x in v.complete]
        all_first += ms
        p95 = percentile(ms, 0.95)
        if ms:
            p95s.append(p95)
        print(f"{v.index:>7} {len(ms):>5} {v.startup:>8.1f} "
              f"{statistics.median(ms) if ms else float('nan'):>10.0f} {p95:>8.0f} "
              f"{percentile(done, 0.95):>13.0f}  {v.error}")
    worst = max(p95s, default=float("nan"))
    print(f"all keys: {len(all_first)} · median {statistics.median(all_first):.0f} ms · "
          f"p95 {percentile(all_first, 0.95):.0f} ms · worst visitor's p95 {worst:.0f} ms"
          if all_first else "no keys measured")
    rss, pss, procs = peak
    print(f"server memory at its peak ({procs} processes): Σ RSS {rss / 2**30:.2f} GiB "
          f"({rss / max(len(people), 1) / 2**20:.0f} MiB a visitor), Σ PSS {pss / 2**30:.2f} GiB")
    ok = (bool(all_first) and not any(v.error for v in people)
          and percentile(all_first, 0.95) < TARGET_P95_MS and rss < TARGET_MEMORY_GB * 2**30)
    print("targets met" if ok else
          f"targets missed (p95 < {TARGET_P95_MS:.0f} ms, memory < {TARGET_MEMORY_GB} GB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
