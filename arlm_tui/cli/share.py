"""Sharing arlm with a class: ``arlm export-session`` and ``arlm serve``.

    arlm export-session SESSION.json --html out.html   a saved session as one HTML page
    arlm serve [--host 127.0.0.1] [--port 8000] [--data DIR]   the app in the browser

Heavy modules (the engine, textual-serve) are imported only when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from arlm_tui.errors import ArlmError


def cmd_export_session(args: argparse.Namespace) -> int:
    from arlm_tui.export_html import load_session_file, write_session_page

    out = Path(args.html).expanduser()
    if out.is_dir():
        raise ArlmError("is a directory: give the HTML file's name", path=out)
    session = load_session_file(args.session)
    try:
        write_session_page(session, out)
    except OSError as exc:
        raise ArlmError(f"cannot write the page: {exc.strerror or exc}", path=out) from None
    print(f"wrote {out} ({len(session.traces)} steps)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from arlm_tui.serve import serve

    return serve(host=args.host, port=args.port, data=args.data, max_visitors=args.max_visitors)


def register(sub: Any) -> None:
    """Add ``export-session`` and ``serve`` to the ``arlm`` subcommands."""
    ex = sub.add_parser("export-session",
                        help="write a saved play session (ctrl+s) as one HTML page")
    ex.add_argument("session", help="the session's JSON file")
    ex.add_argument("--html", required=True, help="the HTML file to write")
    ex.set_defaults(func=cmd_export_session)

    sv = sub.add_parser("serve", help="serve the app to web browsers (one arlm per visitor)")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1: this computer only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--data", help="folder for the visitors' data, one subfolder each "
                                   "(default: 'served' in arlm's data directory)")
    sv.add_argument("--max-visitors", type=int, default=50,
                    help="visitors at once (each runs its own arlm; default 50)")
    sv.set_defaults(func=cmd_serve)
