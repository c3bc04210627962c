"""A throwaway PostgreSQL server from Debian's postgresql package, for the hub's tests and scripts/bench_hub.

initdb and pg_ctl run as an unprivileged user when we are root (postgres refuses to
run as root): ``nobody``, in a temporary folder it owns. The server listens on
127.0.0.1 at a free port and on a socket in that folder; :meth:`stop` removes it all.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "nobody"
"""Who runs the server when we are root."""


def postgres_bin() -> Path | None:
    """/usr/lib/postgresql/<newest>/bin, or None when the postgresql package is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """``with PostgresServer() as pg: pg.url`` (postgresql://voicesim@127.0.0.1:PORT/postgres)."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise FileNotFoundError("PostgreSQL is not installed: apt-get install postgresql (scripts/setup --test)")
        self.folder = Path(tempfile.mkdtemp(prefix="voicesim-pg-"))
        self.port = _free_port()

    @property
    def url(self) -> str:
        return f"postgresql://voicesim@127.0.0.1:{self.port}/postgres"

    def database(self, name: str) -> str:
        """A fresh, empty database on this server; returns its URL."""
        import sqlalchemy as sa

        engine = sa.create_engine("postgresql+psycopg://" + self.url.split("://", 1)[1], isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url.rsplit("/", 1)[0] + "/" + name

    def __enter__(self) -> PostgresServer:
        if os.getuid() == 0:
            shutil.chown(self.folder, USER)
        data = self.folder / "data"
        self._run("initdb", "-D", str(data), "-U", "voicesim", "-A", "trust", "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -k {self.folder} -h 127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.getuid() == 0:
            command = ["runuser", "-u", USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.folder)
        if done.returncode:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
