"""Pictures to share from the app: an SVG screenshot of any screen (ctrl+e) and the play
session as an HTML page (e on the play screen).

Both go into arlm's data directory (``screenshots/`` and ``sessions/``) and the app says where.
In a browser (``arlm serve``) the file is also offered to the visitor as a download, since the
data directory is on the server.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual.app import App

from arlm_tui.errors import ArlmError


def screenshots_dir() -> Path:
    from arlm_tui import paths

    return paths.user_home() / "screenshots"


def _unique(folder: Path, stem: str, suffix: str) -> Path:
    path = folder / f"{stem}{suffix}"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}{suffix}"
        n += 1
    return path


def _reason(exc: OSError | ArlmError) -> str:
    return str(exc.strerror or exc) if isinstance(exc, OSError) else str(exc)


def _offer(app: App, text: str, path: Path, mime_type: str) -> None:
    """In a browser, hand the file to the visitor too (a download)."""
    if not app.is_web:
        return
    import io

    try:
        app.deliver_text(io.StringIO(text), save_filename=path.name, open_method="download",
                         mime_type=mime_type)
    except Exception:  # noqa: BLE001 - the file is saved; a failed download is not fatal
        pass


def save_screen_svg(app: App) -> Path | None:
    """Save an SVG of the current screen into the data directory; notify where (or why not)."""
    from arlm_tui.outputs import write_text
    from arlm_tui.paths import shown

    screen_name = type(app.screen).__name__.removesuffix("Screen").lower() or "screen"
    folder = screenshots_dir()
    try:
        svg = app.export_screenshot(title=f"arlm: {screen_name}")
        folder.mkdir(parents=True, exist_ok=True)
        path = _unique(folder, time.strftime(f"arlm-{screen_name}-%Y%m%d-%H%M%S"), ".svg")
        write_text(path, svg)
    except (OSError, ArlmError) as exc:  # the writer's failures are ArlmErrors
        app.notify(f"could not save the screenshot in {shown(folder)}: {_reason(exc)}",
                   severity="error")
        return None
    app.notify(f"screenshot saved: {shown(path)}", timeout=6)
    _offer(app, svg, path, "image/svg+xml")
    return path


def save_session_page(app: App, session: Any) -> Path | None:
    """Write ``session`` as an HTML page into the data directory's sessions folder; notify."""
    from arlm_tui import paths
    from arlm_tui.export_html import session_page
    from arlm_tui.outputs import write_text
    from arlm_tui.paths import shown

    folder = paths.user_home() / "sessions"
    try:
        page = session_page(session)
        folder.mkdir(parents=True, exist_ok=True)
        path = _unique(folder, time.strftime("session-%Y%m%d-%H%M%S"), ".html")
        write_text(path, page)
    except (OSError, ArlmError) as exc:
        app.notify(f"could not save the page in {shown(folder)}: {_reason(exc)}",
                   severity="error")
        return None
    app.notify(f"page saved: {shown(path)}", timeout=6)
    _offer(app, page, path, "text/html")
    return path
