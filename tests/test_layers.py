"""The layering of arlm_tui, checked by import-linter (contracts in pyproject.toml).

Unlike ``test_engine_imports.py``, which imports modules and looks at ``sys.modules``,
import-linter reads every import statement, lazy ones inside functions included.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, "--config", str(config), "--no-cache"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_are_kept():
    result = lint_imports(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 kept, 0 broken" in result.stdout


def test_a_lazy_import_that_breaks_a_contract_is_caught(tmp_path):
    # api.generate imports arlm_tui.decoding inside the function body
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "arlm_tui"\n\n'
        '[[tool.importlinter.contracts]]\nname = "api without decoding"\ntype = "forbidden"\n'
        'source_modules = ["arlm_tui.api"]\nforbidden_modules = ["arlm_tui.decoding"]\n')
    result = lint_imports(config)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "arlm_tui.api -> arlm_tui.decoding" in result.stdout
