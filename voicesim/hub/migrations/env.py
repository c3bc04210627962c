"""Alembic's entry point: runs the migrations on the connection the hub hands over (voicesim.hub.db.migrate)."""

from alembic import context

from voicesim.hub.db import metadata


def run_migrations() -> None:
    context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


# Only under Alembic is there a context; pytest's doctest collection imports this file too.
if getattr(context, "config", None) is not None:
    run_migrations()
