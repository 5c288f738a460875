"""``arlm serve``: the app in a real browser (headless Chromium), one arlm and one data folder
per visitor, and what the command says about the address it listens on."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser import browser_page

from arlm_tui.serve import COOKIE, visitor_command, visitor_dir

ROOT = Path(__file__).resolve().parent.parent

#: Makes the page's xterm.js Terminal reachable: textual.js keeps it in ``this.terminal``.
TERMINAL_HOOK = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    window.__arlmTerminal = value;
    Object.defineProperty(this, 'terminal',
                          {value, writable: true, configurable: true, enumerable: true});
  },
});
"""
#: The text the page's terminal shows, one line per row.
SCREEN = """() => {
  const t = window.__arlmTerminal;
  if (!t) return '';
  const lines = [];
  for (let y = 0; y < t.rows; y++) {
    const line = t.buffer.active.getLine(y);
    lines.push(line ? line.translateToString(true) : '');
  }
  return lines.join('\\n');
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """``arlm serve`` running in a subprocess (its own process group, ended by the test)."""

    def __init__(self, data: Path, *extra: str, host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.data = data
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "arlm_tui", "serve", "--host", host, "--port",
             str(self.port), "--data", str(data), *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}/"

    def wait_listening(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc.poll() is None, self.proc.communicate()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("arlm serve did not start listening")

    def stop(self) -> tuple[str, str]:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            out, err = self.proc.communicate()
        return out, err


def screen_text(page) -> str:
    return page.evaluate(SCREEN)


def wait_for_text(page, needle: str, timeout: float = 30) -> str:
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        text = screen_text(page)
        if needle in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never appeared; the page shows:\n{text}")


def press_until(page, key: str, needle: str, tries: int = 6) -> str:
    """Press ``key`` until ``needle`` shows, up to ``tries`` times 10 s: for the first key a
    page sends, which on a loaded machine can arrive before the terminal passes keys on."""
    for attempt in range(tries):
        page.keyboard.press(key)
        try:
            return wait_for_text(page, needle, timeout=10)
        except AssertionError:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


def open_play(page, timeout: float = 90) -> None:
    """Press p on the home screen until the play screen shows its loaded model. On a loaded
    machine the first key can reach the browser before the terminal's connection passes keys
    on; it is pressed again only while the home screen is still what the page shows."""
    end = time.monotonic() + timeout
    while True:
        page.keyboard.press("p")  # open play
        try:
            wait_for_text(page, "no token generated yet", timeout=10)  # the model is loaded
            return
        except AssertionError:
            assert time.monotonic() < end, "the play screen never opened"
            if "pick a section" not in screen_text(page):  # play opened: its model still loads
                wait_for_text(page, "no token generated yet", timeout=max(1, end - time.monotonic()))
                return


def _knob_value(screen: str, knob: str) -> str:
    """The value the knob panel shows for ``knob`` ("1", "1.05", "off", ...)."""
    line = next(line for line in screen.splitlines() if f" {knob} " in line and "│" in line)
    cell = line.split("│")[-2]  # the knob panel is the last box of the row
    return cell.split()[-1]


def visitors(data: Path) -> list[Path]:
    return sorted(p for p in data.iterdir() if p.name.startswith("visitor-"))


def test_play_in_a_real_browser(tmp_path):
    data = tmp_path / "served"
    server = Served(data)
    try:
        server.wait_listening()
        with browser_page(1100, 720) as page:
            page.add_init_script(TERMINAL_HOOK)
            page.goto(server.url)
            home = wait_for_text(page, "Review cards", timeout=90)
            assert "Play" in home and "Lessons" in home
            page.click("#terminal")
            open_play(page)
            page.keyboard.press(" ")  # one step
            shown = wait_for_text(page, "step 1 chose")
            assert "1 token" in shown and "perplexity" in shown
            page.keyboard.press(" ")
            shown = wait_for_text(page, "2 tokens")
            # turn a knob: the cursor starts on strategy; down to temperature, right raises it
            page.keyboard.press("ArrowDown")
            page.keyboard.press("ArrowRight")
            shown = wait_for_text(page, "▸ temperature")
            end = time.monotonic() + 30
            while _knob_value(shown, "temperature") == "1" and time.monotonic() < end:
                time.sleep(0.1)
                shown = screen_text(page)
            assert float(_knob_value(shown, "temperature")) > 1
            # ctrl+e: the screenshot lands in this visitor's folder and the browser downloads it
            with page.context.expect_event("response", lambda r: "/download/" in r.url) as download:
                page.keyboard.press("Control+e")
            wait_for_text(page, "screenshot saved")
            response = download.value
            assert response.ok and "image/svg+xml" in response.headers["content-type"]
            assert re.search(r"filename=arlm-play-\S+\.svg", response.headers["content-disposition"])
        (folder,) = visitors(data)
        assert len(list((folder / "screenshots").glob("arlm-play-*.svg"))) == 1
    finally:
        out, err = server.stop()
    assert "listening on 127.0.0.1 only" in out and "WARNING" not in err


def test_each_visitor_has_their_own_folder(tmp_path):
    data = tmp_path / "served"
    server = Served(data)
    try:
        server.wait_listening()
        with browser_page() as page:
            page.add_init_script(TERMINAL_HOOK)
            page.goto(server.url)
            wait_for_text(page, "Review cards", timeout=90)
            page.click("#terminal")
            press_until(page, "Control+e", "screenshot saved")  # the first key of the page
            (first,) = visitors(data)
            page.reload()  # the same visitor (cookie) comes back to the same folder
            wait_for_text(page, "Review cards", timeout=90)
            assert visitors(data) == [first]
            cookies = {c["name"]: c["value"] for c in page.context.cookies()}
            assert first.name == f"visitor-{cookies[COOKIE]}"
            other = page.context.browser.new_context()  # another browser: no cookie
            try:
                page2 = other.new_page()
                page2.add_init_script(TERMINAL_HOOK)
                page2.goto(server.url)
                wait_for_text(page2, "Review cards", timeout=90)
                second = [p for p in visitors(data) if p != first]
                assert len(second) == 1
                assert not (second[0] / "screenshots").exists()  # nothing of the first one
            finally:
                other.close()
        assert len(list((first / "screenshots").glob("*.svg"))) == 1
    finally:
        server.stop()


def test_visitor_folders_come_from_valid_cookies_only(tmp_path):
    good = "0123456789abcdef" * 2
    assert visitor_dir(tmp_path, good) == tmp_path / f"visitor-{good}"
    for bad in (None, "", "../../etc", "0123", good.upper(), good + "0"):
        folder = visitor_dir(tmp_path, bad)
        assert folder.parent == tmp_path and folder.name != f"visitor-{bad}"
        assert len(folder.name) == len("visitor-") + 32
    assert visitor_dir(tmp_path, None) != visitor_dir(tmp_path, None)
    command = visitor_command(tmp_path / "visitor x")
    assert "-m arlm_tui.serve" in command and "'" in command  # the space is quoted


def test_other_hosts_get_a_warning(tmp_path):
    server = Served(tmp_path / "served", host="0.0.0.0")
    try:
        server.wait_listening()
    finally:
        out, err = server.stop()
    assert "WARNING" in err and "anyone who can reach port" in err
    # the class is given this machine's name, not the wildcard address
    assert f"open http://{socket.gethostname()}:{server.port}" in out


@pytest.mark.parametrize("args, needle", [
    (["--port", "0"], "--port must be between 1 and 65535"),
    (["--max-visitors", "0"], "--max-visitors must be at least 1"),
    (["--data", "FILE"], "--data must be a folder"),
])
def test_bad_serve_arguments_are_one_line(tmp_path, capsys, args, needle):
    from arlm_tui.cli import main

    (tmp_path / "FILE").write_text("x")
    args = [str(tmp_path / a) if a == "FILE" else a for a in args]
    code = main(["serve", *args])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_without_chromium_the_browser_tests_skip_or_fail_under_ci(monkeypatch):
    import browser

    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium found"):
        browser.chromium_path()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        browser.chromium_path()


def test_a_full_class_turns_the_next_visitor_away(tmp_path):
    import asyncio

    import aiohttp

    server = Served(tmp_path / "served", "--max-visitors", "1")

    async def visit_twice() -> int:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(server.url + "ws") as first:
                await first.receive(timeout=90)  # the first visitor's app is drawing
                try:
                    async with http.ws_connect(server.url + "ws"):
                        return 101
                except aiohttp.WSServerHandshakeError as exc:
                    return exc.status

    try:
        server.wait_listening()
        assert asyncio.run(visit_twice()) == 503
    finally:
        server.stop()


def test_a_port_in_use_is_one_line(tmp_path, capsys):
    from arlm_tui.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--port", str(port), "--data", str(tmp_path / "d")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert f"cannot listen on 127.0.0.1:{port}" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
