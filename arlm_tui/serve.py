"""``arlm serve``: the whole app in web browsers, one arlm process per visitor (textual-serve).

textual-serve starts a command for every websocket connection and relays the terminal to the
page (xterm.js). That command here is this module run as a script with a visitor directory:
it sets ``ARLM_HOME`` to that directory and runs the app, so each visitor's progress,
flashcards, sessions and screenshots stay in their own folder under ``--data``.

A visitor is recognised by a random cookie set with the page, so reloading the page (or a
dropped connection) finds the same folder again; another browser gets another folder. Nothing
else of a visitor is kept by the server.

Every path a visitor types (a session to save or open, a model folder) must stay inside that
visitor's folder: ``$ARLM_SERVED`` tells the app so, and ``paths.user_path`` refuses the rest.

The server listens on 127.0.0.1 unless told otherwise. On another address anyone who can reach
the port can use arlm there, with the permissions of the account running it, which the command
says before it starts.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

from arlm_tui.errors import ArlmError

#: The cookie naming a visitor's folder (32 hex digits, made by ``secrets``).
COOKIE = "arlm_visitor"
_VISITOR_RE = re.compile(r"[0-9a-f]{32}")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def default_data_dir() -> Path:
    from arlm_tui import paths

    return paths.user_home() / "served"


def visitor_dir(data: Path, visitor: str | None) -> Path:
    """The folder of the visitor with cookie value ``visitor`` (a new one when it is missing
    or not a cookie this server makes)."""
    if visitor is None or not _VISITOR_RE.fullmatch(visitor):
        visitor = secrets.token_hex(16)
    return data / f"visitor-{visitor}"


def visitor_command(folder: Path) -> str:
    """The shell command textual-serve runs for one visitor: this module, with this Python and
    this copy of arlm_tui (PYTHONPATH), on ``folder``."""
    package_parent = Path(__file__).resolve().parent.parent
    python_path = os.pathsep.join(
        p for p in (str(package_parent), os.environ.get("PYTHONPATH", "")) if p)
    return (f"PYTHONPATH={shlex.quote(python_path)} exec {shlex.quote(sys.executable)} "
            f"-m arlm_tui.serve {shlex.quote(str(folder))}")


def make_server(host: str, port: int, data: Path, max_visitors: int = 50) -> Any:
    """A textual-serve Server whose websocket handler starts one arlm per visitor."""
    import asyncio
    import logging

    try:
        from aiohttp import web
        from textual_serve.app_service import AppService
        from textual_serve.server import Server, to_int
    except ImportError:
        raise ArlmError("arlm serve needs textual-serve (pip install textual-serve)") from None

    log = logging.getLogger("textual-serve")

    class ArlmServer(Server):
        def __init__(self) -> None:
            super().__init__("arlm", host=host, port=port, title="arlm")
            self.live = 0  # visitors connected now (one arlm process each)

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            # The page's websocket and static addresses follow the address the browser used
            # (with --host 0.0.0.0 the configured one would not work from another machine).
            # No await comes between this assignment and its use, so requests cannot mix.
            self.public_url = f"{request.scheme}://{request.host}"
            response = await super().handle_index(request)
            if not _VISITOR_RE.fullmatch(request.cookies.get(COOKIE, "")):
                response.set_cookie(COOKIE, secrets.token_hex(16), max_age=180 * 24 * 3600,
                                    httponly=True, samesite="Strict")
            return response

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            # textual-serve's handler, with a command chosen for this visitor.
            websocket = web.WebSocketResponse(heartbeat=15)
            width = to_int(request.query.get("width", "80"), 80)
            height = to_int(request.query.get("height", "24"), 24)
            if self.live >= max_visitors:  # each visitor costs a process: keep the machine usable
                raise web.HTTPServiceUnavailable(
                    text=f"arlm serve: {max_visitors} visitors already; try again later")
            command = visitor_command(visitor_dir(data, request.cookies.get(COOKIE)))
            app_service: AppService | None = None
            self.live += 1
            try:
                await websocket.prepare(request)
                app_service = AppService(
                    command, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                    close=websocket.close, download_manager=self.download_manager,
                    debug=self.debug)
                await app_service.start(width, height)
                try:
                    await self._process_messages(websocket, app_service)
                finally:
                    await app_service.stop()
            except asyncio.CancelledError:
                await websocket.close()
            except Exception as error:  # noqa: BLE001 - one visitor's failure is logged
                log.exception(error)
            finally:
                self.live -= 1
                if app_service is not None:
                    await app_service.stop()
            return websocket

        async def on_startup(self, app: web.Application) -> None:
            urls = " or ".join(f"http://{_url_host(h)}:{port}" for h in addresses_to_share(host))
            self.console.print(f"arlm serve: open {urls} in a browser (ctrl+c stops the server)",
                               highlight=False)

    return ArlmServer()


def addresses_to_share(host: str) -> list[str]:
    """The addresses to give the class: ``host`` itself, or for a wildcard (0.0.0.0, ::) this
    machine's name and its addresses."""
    if host not in ("0.0.0.0", "::", ""):
        return [host]
    import socket

    name = socket.gethostname()
    found = [name]
    try:
        for *_, address in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM):
            ip = str(address[0])
            if ip not in found and not ip.startswith("127.") and ip != "::1":
                found.append(ip)
    except OSError:
        pass
    return found


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _check_free(host: str, port: int) -> None:
    """ArlmError (one line) if nothing can listen on host:port, before anything is printed."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ArlmError(f"--host {host}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ArlmError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(host: str = "127.0.0.1", port: int = 8000, data: str | Path | None = None,
          max_visitors: int = 50) -> int:
    """Run the server until ctrl+c; returns the exit status."""
    if not 0 < port < 65536:
        raise ArlmError(f"--port must be between 1 and 65535, got {port}")
    if max_visitors < 1:
        raise ArlmError(f"--max-visitors must be at least 1, got {max_visitors}")
    folder = Path(data).expanduser() if data else default_data_dir()
    if folder.exists() and not folder.is_dir():
        raise ArlmError("--data must be a folder", path=folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArlmError(f"cannot create the data folder: {exc.strerror or exc}",
                        path=folder) from None
    folder = folder.resolve()
    _check_free(host, port)
    if host in LOCAL_HOSTS:
        print(f"arlm serve: listening on {host} only (this computer); "
              "--host 0.0.0.0 lets other machines in", flush=True)
    else:
        print(f"arlm serve: WARNING: listening on {host}: anyone who can reach port {port} can "
              "use arlm here, with this account's permissions (files stay in each visitor's own "
              "folder, but the models and the machine are shared). Use it on a network you "
              "trust.", file=sys.stderr, flush=True)
    print(f"arlm serve: each visitor's data goes to a folder of its own under {folder}",
          flush=True)
    try:
        make_server(host, port, folder, max_visitors).serve()
    except OSError as exc:
        raise ArlmError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return 0


def run_visitor(folder: str | Path) -> int:
    """Run the app for one visitor with ``ARLM_HOME`` = ``folder`` (created if missing)."""
    home = Path(folder)
    home.mkdir(parents=True, exist_ok=True)
    os.environ["ARLM_HOME"] = str(home)
    from arlm_tui import paths

    os.environ[paths.SERVED_ENV] = str(home)  # every typed path stays in here (paths.user_path)
    os.chdir(home)  # and so does anything written relative to the working directory
    from arlm_tui.tui.app import run_app

    return run_app()


if __name__ == "__main__":  # the command textual-serve runs for one visitor
    if len(sys.argv) != 2:
        sys.exit("usage: python -m arlm_tui.serve VISITOR_FOLDER")
    sys.exit(run_visitor(sys.argv[1]))
