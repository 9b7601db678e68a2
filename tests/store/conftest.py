"""Store fixtures: every store test runs on SQLite (a temporary file) and on PostgreSQL (a scratch
database created for the test session on 127.0.0.1:5432 and dropped at the end)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from vigil.store import Store, open_store
from vigil.store.schema import metadata

PG_ADMIN = os.environ.get("VIGIL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (dropped afterwards)."""
    name = f"vigil_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = _pg_admin()
    except Exception as exc:  # make the cause plain: the server is not running
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable ({exc}); start it or deselect "
                    "with -m 'not postgres'")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_pg(url: str) -> None:
    eng = sa.create_engine(url)
    try:
        with eng.begin() as conn:
            names = [t.name for t in metadata.sorted_tables
                     if sa.inspect(conn).has_table(t.name)]
            if names:
                conn.execute(sa.text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY"))
    finally:
        eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vigil.db'}"
    url = request.getfixturevalue("pg_url")
    _empty_pg(url)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()
