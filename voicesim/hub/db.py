"""The hub's database: the tables (SQLAlchemy Core), the engine for a URL, and migrations on start.

SQLite by default (a file beside the store, nothing to install); PostgreSQL when the
URL says ``postgresql://…`` (driven by psycopg 3). The schema is owned by the Alembic
migrations in ``voicesim/hub/migrations``; :func:`open_database` runs them to the head
every time the hub starts, so an old database is brought up to date in place.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from voicesim.errors import VoicesimError

metadata = sa.MetaData()

trainers = sa.Table(
    "trainers", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(80), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(300), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)
room_tokens = sa.Table(
    "room_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("room", sa.String(80), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("revoked_at", sa.String(32)),
)
pc_tokens = sa.Table(
    "pc_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("room_token_id", sa.Integer, sa.ForeignKey("room_tokens.id"), nullable=False),
    sa.Column("trainee", sa.String(200), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.String(32), nullable=False),
)
logins = sa.Table(
    "logins", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("trainer_id", sa.Integer, sa.ForeignKey("trainers.id"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("expires_at", sa.Float, nullable=False),
)
uploads = sa.Table(
    "uploads", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("session_key", sa.String(400), nullable=False),
    sa.Column("pc_token_id", sa.Integer),
    sa.Column("manifest", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("session_key", "pc_token_id", name="uq_upload_key_pc"),
)
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("session_key", sa.String(400), nullable=False, unique=True),
    sa.Column("folder_name", sa.String(200), nullable=False),
    sa.Column("pc_token_id", sa.Integer),
    sa.Column("room", sa.String(80)),
    sa.Column("trainee", sa.String(200), nullable=False),
    sa.Column("scenario_id", sa.String(200), nullable=False),
    sa.Column("started_at", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("overall", sa.Integer),
    sa.Column("assessment", sa.Text),
    sa.Column("shared", sa.Boolean, nullable=False, default=False),
    sa.Column("stored_at", sa.String(32), nullable=False),
)
session_files = sa.Table(
    "session_files", metadata,
    sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id"), primary_key=True),
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
)
comments = sa.Table(
    "comments", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("trainer_id", sa.Integer, sa.ForeignKey("trainers.id"), nullable=False),
    sa.Column("check_id", sa.String(40)),
    sa.Column("verdict", sa.Boolean),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(db: str | None, store_dir: Path) -> str:
    """--db as given, or the SQLite file hub.db in the store folder; postgresql:// means psycopg 3."""
    if not db:
        return f"sqlite:///{store_dir / 'hub.db'}"
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    if db.startswith(("sqlite:", "postgresql+psycopg:")):
        return db
    raise VoicesimError(f"--db {db!r} is neither sqlite:///FILE nor postgresql://USER@HOST/DB; leave it out for SQLite")


def open_database(url: str) -> sa.Engine:
    """An engine on `url` with the schema migrated to the newest version."""
    sqlite = url.startswith("sqlite")
    # SQLite: one file shared by the server's worker threads; wait for a writer rather than fail.
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30} if sqlite else {},
                              pool_size=5 if sqlite else 10, max_overflow=20, pool_pre_ping=not sqlite)
    if sqlite:
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        migrate(engine)
    except sa.exc.OperationalError as exc:
        raise VoicesimError(f"cannot open the hub database {engine.url.render_as_string(hide_password=True)} "
                            f"({str(exc.orig).strip().splitlines()[0]}); check --db") from None
    return engine


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest Alembic revision (a no-op when it is there already)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL: readers do not wait for the one writer; foreign keys are off in SQLite unless asked for.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
