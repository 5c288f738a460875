"""Shared fixtures: every test runs with ``ARLM_HOME`` in a fresh temporary directory."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _arlm_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("arlm_home")
    monkeypatch.setenv("ARLM_HOME", str(home))
    return home
