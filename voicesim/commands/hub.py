"""``voicesim hub``: the training-room hub that trainees' PCs upload their calls to, with the trainer's desk.

The hub serves the desk's pages (``voicesim review``) over the uploaded calls at ``/``;
off 127.0.0.1 trainers sign in at ``/login`` and trainees see only their own calls.

    voicesim hub                                   # this PC only, on 127.0.0.1:8765
    voicesim hub user add anna                     # a trainer account (password from a prompt or stdin)
    voicesim hub token create --room room-2        # the room's enrolment token, for the trainees' PCs
    voicesim hub token revoke room-2               # every token of that room (or one token, given whole)
    voicesim hub --host 0.0.0.0 --port 8765        # the room's network, behind a TLS reverse proxy (README)

Needs the hub extra: pip install 'voicesim[hub]'.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from voicesim.errors import VoicesimError

HUB_MODULES = ("starlette", "uvicorn", "jinja2", "sqlalchemy", "alembic")
"""What the hub extra brings; checked before anything starts (psycopg only when --db is PostgreSQL)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("hub", help="serve the training-room hub (uploads from trainees' PCs, the trainer's desk)",
                            description="The training-room hub: trainees' PCs upload finished calls; trainers read "
                            "them on the desk's pages (sign in at /login).")
    _common(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this PC only)")
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    parser.set_defaults(func=run_serve)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    user = actions.add_parser("user", help="trainer accounts").add_subparsers(dest="user_action", metavar="ACTION")
    user.required = True
    add = user.add_parser("add", help="add a trainer; the password comes from a prompt, or stdin when piped")
    add.add_argument("name", metavar="NAME")
    _common(add)
    add.set_defaults(func=run_user_add)
    token = actions.add_parser("token", help="room enrolment tokens").add_subparsers(dest="token_action", metavar="ACTION")
    token.required = True
    create = token.add_parser("create", help="create a room's enrolment token and print it")
    create.add_argument("--room", required=True, metavar="ROOM")
    _common(create)
    create.set_defaults(func=run_token_create)
    revoke = token.add_parser("revoke", help="revoke a token (given whole) or every token of a room (given its name)")
    revoke.add_argument("token", metavar="TOKEN_OR_ROOM")
    _common(revoke)
    revoke.set_defaults(func=run_token_revoke)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", default=argparse.SUPPRESS,
                        help="postgresql://USER@HOST/DB (default: SQLite hub.db in the store folder)")
    parser.add_argument("--store", metavar="DIR", default=argparse.SUPPRESS,
                        help="where recordings and the SQLite file live (default: ~/.local/share/voicesim/hub)")


def _settings(args: argparse.Namespace, **extra):
    import importlib.util

    missing = [m for m in HUB_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise VoicesimError(f"the hub needs its extra packages ({', '.join(missing)} missing): pip install 'voicesim[hub]'")
    from voicesim.hub.server import HubSettings

    kwargs = {"db": getattr(args, "db", None), **extra}
    if getattr(args, "store", None):
        kwargs["store"] = Path(args.store).expanduser()
    return HubSettings(**kwargs)


def _store(args: argparse.Namespace):
    from voicesim.hub.server import open_store

    return open_store(_settings(args))


def _refused(call, *args):
    from voicesim.hub.schema import Refused

    try:
        return call(*args)
    except Refused as exc:
        raise VoicesimError(exc.message) from None


def run_serve(args: argparse.Namespace) -> int:
    from voicesim.hub.server import serve

    if not 0 < args.port < 65536:
        raise VoicesimError(f"--port {args.port} is not a port number; pick one from 1024 to 65535")
    settings = _settings(args, host=args.host, port=args.port)
    _check_free(args.host, args.port)
    serve(settings)
    return 0


def _check_free(host: str, port: int) -> None:
    """Say a taken port or an address this PC lacks in one line, before uvicorn would log it."""
    import socket

    try:
        family = socket.getaddrinfo(host, port)[0][0]
        with socket.socket(family) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        raise VoicesimError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port or --host") from None


def run_user_add(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            raise VoicesimError("the two passwords differ; run the command again")
    else:
        password = sys.stdin.readline().rstrip("\n")
    _refused(_store(args).add_trainer, args.name, password)
    print(f"trainer {args.name} added")
    return 0


def run_token_create(args: argparse.Namespace) -> int:
    print(_refused(_store(args).create_room_token, args.room))
    return 0


def run_token_revoke(args: argparse.Namespace) -> int:
    count = _store(args).revoke_room_token(args.token)
    if not count:
        raise VoicesimError(f"no active token or room {args.token!r}; `voicesim hub token create --room R` makes one")
    print(f"revoked {count} token(s); PCs enrolled with them can no longer upload or read")
    return 0
