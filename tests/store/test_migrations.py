import sqlalchemy as sa

from vigil.store import open_store
from vigil.store.db import connect, migrate
from vigil.store.schema import metadata


def _tables(url: str) -> dict[str, set[str]]:
    eng = sa.create_engine(url)
    try:
        insp = sa.inspect(eng)
        return {t: {c["name"] for c in insp.get_columns(t)} for t in insp.get_table_names()}
    finally:
        eng.dispose()


def test_migrations_create_every_table_of_the_schema_on_an_empty_database(store_url):
    open_store(store_url).close()
    found = _tables(store_url)
    for table in metadata.sorted_tables:
        assert table.name in found, table.name
        assert found[table.name] == {c.name for c in table.columns}, table.name
    assert "alembic_version" in found


def test_migrations_are_rerunnable_and_keep_data(store_url):
    s = open_store(store_url)
    s.save_state("k", b"v")
    s.close()
    engines = connect(store_url)
    try:
        migrate(engines)
        migrate(engines)
    finally:
        engines.dispose()
    s = open_store(store_url)
    try:
        assert s.load_state("k") == b"v"
        assert s.ping()
    finally:
        s.close()


def test_downgrade_to_base_then_upgrade_again(store_url):
    engines = connect(store_url)
    try:
        migrate(engines)
        from alembic import command

        from vigil.store.db import alembic_config
        cfg = alembic_config()
        with engines.write.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert set(_tables(store_url)) <= {"alembic_version"}
        migrate(engines)
    finally:
        engines.dispose()
    assert {t.name for t in metadata.sorted_tables} <= set(_tables(store_url))


def test_sqlite_pragmas(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        with s._db.read.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
        assert s.dialect == "sqlite"
    finally:
        s.close()
