"""arlm: a terminal game and tutor that teaches how language models generate text.

The public Python API (documented in the README) is re-exported here lazily, so that
``import arlm_tui`` stays light: no torch, no textual.

    >>> import arlm_tui
    >>> model = arlm_tui.load_model("pyref-kn3")
    >>> arlm_tui.score(model, "the value of the object")["perplexity"]   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["load_model", "score", "generate", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from arlm_tui.api import generate, load_model, score


def __getattr__(name: str) -> Any:
    if name in ("load_model", "score", "generate"):
        from arlm_tui import api

        return getattr(api, name)
    raise AttributeError(f"module 'arlm_tui' has no attribute {name!r}")
