"""Alembic's entry point: runs the migrations on the connection the hub hands over (voicesim.hub.db.migrate)."""

from alembic import context

from voicesim.hub.db import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
