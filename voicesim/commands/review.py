"""``voicesim review``: the trainer's desk, a local web app over the session folders.

    voicesim review                          # http://127.0.0.1:8765/
    voicesim review --sessions-dir /data/sessions --port 9000
    voicesim review --export desk-site/      # the same pages as static files

The desk has no accounts, so it serves this PC's loopback only; a training room's desk is
``voicesim hub`` (trainer sign-in, room tokens), which serves the same pages over the
calls uploaded to it.

Needs the desk extra: ``pip install 'voicesim[desk]'`` (scripts/setup installs it).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
from pathlib import Path

from voicesim.commands.options import add_sessions_dir
from voicesim.errors import VoicesimError

DEFAULT_PORT = 8765


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "review", help="the trainer's desk: replay, compare and override calls in the browser",
        description="Serve the trainer's desk on this machine (replay calls with their transcript, compare "
        "trainees, override verdicts, comment), or write it as a static site with --export.")
    add_sessions_dir(parser)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default: 127.0.0.1; for a training room use voicesim hub)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N", help=f"port (default: {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--export", metavar="DIR", help="write the pages as a static site into DIR instead of serving")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicesim.session import default_sessions_dir

    root = Path(args.sessions_dir).expanduser() if args.sessions_dir else default_sessions_dir()
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise VoicesimError(f"sessions folder {root} {what}; pass --sessions-dir DIR with the folder "
                            "voicesim practice saved calls in")
    if not 0 <= args.port <= 65535:
        raise VoicesimError(f"--port {args.port} is not a port; give a number from 1024 to 65535, or 0 for any free one")
    library = _library(root)
    if args.export:
        return _export(library, root, Path(args.export).expanduser())
    _refuse_off_loopback(args.host)
    return _serve(library, args.host, args.port)


def _refuse_off_loopback(host: str) -> None:
    """The desk has no login: other machines reach it only through the hub, which has."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise VoicesimError(f"the desk has no login, so it serves this PC only (--host 127.0.0.1); to open it to "
                            f"a training room run `voicesim hub --host {host}` (trainer accounts, room tokens)")


def _library(root: Path):
    try:
        import voicesim.desk.app  # noqa: F401  (fail here, before anything starts, when the extra is missing)
        from voicesim.desk.library import Library
    except ImportError as exc:
        raise VoicesimError(f"the desk needs the desk extra ({exc.name} is missing); install it with: "
                            "pip install 'voicesim[desk]' (or scripts/setup)") from None
    return Library(root)


def _export(library, root: Path, out: Path) -> int:
    from voicesim.desk.export import export_site

    if out.resolve().is_relative_to(root.resolve()):
        raise VoicesimError(f"export folder {out} is inside the sessions folder {root}; choose a folder outside it")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".voicesim-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise VoicesimError(f"cannot write the export folder {out} ({exc.strerror or exc}); "
                            "choose a writable folder with --export DIR") from None
    try:
        n = export_site(library, out)
    except OSError as exc:
        raise VoicesimError(f"export into {out} failed ({exc.strerror or exc}); check free space and permissions") from None
    print(f"Exported {n} calls to {out}; open {out / 'index.html'} in a browser.")
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, so a busy port is one clear error before the server starts."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise VoicesimError(f"cannot listen on --host {host}: no such address; use 127.0.0.1 (this machine)") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise VoicesimError(f"port {port} on {host} is in use (another voicesim review?); "
                                "pass another --port N, or --port 0 for any free one") from None
        raise VoicesimError(f"cannot listen on {host}:{port} ({exc.strerror}); use --host 127.0.0.1 "
                            "and a --port above 1023") from None
    sock.listen(128)
    return sock


def _serve(library, host: str, port: int) -> int:
    import uvicorn

    from voicesim.desk.app import create_app

    sock = bind(host, port)
    library.calls()  # read every session.json now, so the first page is as quick as the rest
    shown_host, shown_port = sock.getsockname()[:2]
    print(f"The trainer's desk is at http://{shown_host}:{shown_port}/ (sessions: {library.root}); Ctrl-C stops it.",
          flush=True)
    config = uvicorn.Config(create_app(library), log_level="warning", access_log=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down cleanly and re-raised Ctrl-C: for a server that is the normal way to stop
    print("Desk stopped.", file=sys.stderr)
    return 0
