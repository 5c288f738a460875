"""A headless Chromium for the tests that look at pages in a real browser.

Debian's ``chromium`` package driven by Playwright (``executable_path``: no browser download).
Outside CI, a machine without Chromium or Playwright skips those tests and says why; with
``CI=true`` their absence fails the test, since CI installs Chromium (``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: the browser tests must run)")
    pytest.skip(reason)


def chromium_path() -> str:
    """The Chromium executable, or skip (fail under CI) with the reason."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    _missing("no Chromium found (Debian: apt-get install chromium)")
    raise AssertionError("unreachable")


@contextmanager
def browser_page(width: int = 1200, height: int = 800) -> Iterator[Any]:
    """A fresh page in headless Chromium (Playwright's sync API)."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install playwright)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()
