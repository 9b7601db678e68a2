"""Alembic environment: vigil runs migrations in code (vigil.store.db.migrate) and hands over an
open connection; there is no alembic.ini and no URL here."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
