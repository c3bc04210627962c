"""Run the hub with uvicorn: in the foreground (``voicesim hub``) or in a thread (tests, benchmarks)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from voicesim.errors import VoicesimError
from voicesim.hub.schema import LIMITS, Limits


@dataclass(frozen=True)
class HubSettings:
    """How a hub is started."""

    host: str = "127.0.0.1"
    port: int = 8765
    db: str | None = None
    """--db URL; None: SQLite in the store folder."""
    store: Path = Path("~/.local/share/voicesim/hub").expanduser()
    """Recordings, staging, and the SQLite file."""
    limits: Limits = LIMITS


def open_store(settings: HubSettings):
    """The HubStore of these settings, its database migrated."""
    from voicesim.hub.db import database_url, open_database
    from voicesim.hub.store import HubStore

    try:
        settings.store.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VoicesimError(f"cannot create the hub store {settings.store} ({exc.strerror}); pass --store DIR") from None
    return HubStore(open_database(database_url(settings.db, settings.store)), settings.store, settings.limits)


def build_app(settings: HubSettings):
    """The app for these settings; refuses an address off this PC when nobody could log in."""
    from voicesim.hub import pages
    from voicesim.hub.app import create_app
    from voicesim.hub.auth import needs_auth

    store = open_store(settings)
    closed = needs_auth(settings.host)
    if closed and not store.has_trainers():
        raise VoicesimError(f"the hub would listen on {settings.host}, off this PC, with no trainer account: "
                            "run `voicesim hub user add NAME` first (or use --host 127.0.0.1)")
    return create_app(store, open_to_local=not closed, page_routes=lambda limit: pages.routes(store, limit)), store


def serve(settings: HubSettings) -> None:
    import sys

    import uvicorn

    app, _ = build_app(settings)
    print(f"voicesim hub on http://{settings.host}:{settings.port} (store {settings.store}); Ctrl-C stops it",
          file=sys.stderr)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", proxy_headers=True)


class ThreadedHub:
    """A hub on a real socket in a background thread; ``with ThreadedHub(settings) as hub: hub.url``."""

    def __init__(self, settings: HubSettings) -> None:
        import uvicorn

        app, self.store = build_app(settings)
        self.settings = settings
        self._server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="error",
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        """Where it listens; with port 0 the system picked a free port."""
        port = self._server.servers[0].sockets[0].getsockname()[1] if self._server.started else self.settings.port
        return f"http://{self.settings.host}:{port}"

    def __enter__(self) -> ThreadedHub:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the hub did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self.store.engine.dispose()
