"""Connecting and migrating. Every difference between SQLite and PostgreSQL the store cares about
is decided here (engines, transactions, locks) or in small helpers the store calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 10  # an unreachable host fails start-up in seconds, not after the OS's minutes
# A fixed key for PostgreSQL advisory locks so two vigil instances do not migrate or maintain at once.
_PG_LOCK_MIGRATE = 0x76696701
PG_LOCK_MAINTAIN = 0x76696702


@dataclass(frozen=True)
class Engines:
    """Writes go through `write` (SQLite: one connection, BEGIN IMMEDIATE); reads through `read`
    (SQLite: WAL snapshot per transaction; PostgreSQL: REPEATABLE READ so a query that reads the
    write-ahead and the chunks sees one consistent state even while compaction commits)."""

    write: Engine
    read: Engine
    dialect: str

    def dispose(self) -> None:
        self.write.dispose()
        self.read.dispose()


def connect(url: str) -> Engines:
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        return _sqlite(u)
    if u.get_backend_name() == "postgresql":
        # No pre-ping: it would add a round trip to every write. A connection broken by a server
        # restart fails one call (which raises; nothing is half-written) and the pool is renewed.
        timeout = {} if "connect_timeout" in u.query else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        args = {"connect_args": timeout} if timeout else {}
        eng = sa.create_engine(u, pool_size=5, max_overflow=10, **args)
        return Engines(eng, eng.execution_options(isolation_level="REPEATABLE READ"), "postgresql")
    raise ValueError(f"unsupported store url {u.render_as_string(hide_password=True)!r}: "
                     "use sqlite:///path.db or postgresql+psycopg://user@host/db")


def _sqlite(u: sa.engine.URL) -> Engines:
    memory = u.database in (None, "", ":memory:")
    args = {"connect_args": {"check_same_thread": False}}
    if memory:  # one shared connection, else every checkout would be a new empty database
        write = sa.create_engine(u, poolclass=StaticPool, **args)
        _sqlite_events(write, "BEGIN IMMEDIATE")
        return Engines(write, write, "sqlite")
    write = sa.create_engine(u, pool_size=1, max_overflow=0, pool_timeout=60, **args)
    read = sa.create_engine(u, pool_size=4, max_overflow=8, **args)
    _sqlite_events(write, "BEGIN IMMEDIATE")  # take the write lock up front: no upgrade deadlocks
    _sqlite_events(read, "BEGIN")
    return Engines(write, read, "sqlite")


def _sqlite_events(engine: Engine, begin: str) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's is deferred and late)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")  # readers never block on the writer
        cur.execute("PRAGMA synchronous = NORMAL")  # durable on process crash; fsync at checkpoints
        cur.execute("PRAGMA cache_size = -32000")
        cur.execute("PRAGMA temp_store = MEMORY")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql(begin)


class StoreUnavailable(RuntimeError):
    """The store could not be opened; the message says what failed and how to fix it, in one line,
    with no password in it."""


# What the driver said -> what to do about it (first match wins).
_FIXES = (
    ("password authentication failed", "check the user and password in store.url"),
    ("no password supplied", "put the password in store.url (e.g. user:${DB_PASSWORD}@host)"),
    ("unable to open database file", "check that the folder in store.url exists and is writable"),
    ("role", "check the user name in store.url (the role must exist in PostgreSQL)"),
    ("database", "create the database (createdb NAME) or fix its name in store.url"),
    ("refused", "is PostgreSQL running and listening on that host and port? check store.url"),
    ("resolve", "check the host name in store.url"),
    ("timeout", "is the database host reachable from here? check store.url and the network"),
    ("timed out", "is the database host reachable from here? check store.url and the network"),
)


def unavailable(exc: BaseException, url: str) -> StoreUnavailable:
    """A StoreUnavailable for a failed connection or migration: the driver's reason, on one line,
    and a hint that names the setting to fix."""
    from vigil.config.redact import mask, secret_values

    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    reason = " ".join(lines[:1]) or type(orig).__name__
    reason = reason.replace("connection failed: ", "").replace("FATAL:  ", "")
    fix = next((f for key, f in _FIXES if key in reason.lower()), "check store.url")
    shown = mask(f"cannot open the store {url}: {reason}; {fix}", secret_values({"url": url}))
    return StoreUnavailable(" ".join(shown.split()))


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "vigil.store:migrations")
    cfg.set_main_option("path_separator", "os")
    return cfg


def migrate(engines: Engines, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent). On PostgreSQL an advisory lock serialises
    instances starting at the same time."""
    cfg = alembic_config()
    with engines.write.begin() as conn:
        if engines.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_MIGRATE})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def try_maintenance_lock(conn: sa.Connection, dialect: str) -> bool:
    """Only one instance maintains at a time (PostgreSQL, several engines); SQLite has one writer."""
    if dialect != "postgresql":
        return True
    got = conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": PG_LOCK_MAINTAIN}).scalar()
    return bool(got)


def _insert(dialect: str, table: sa.Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignoring_duplicates(dialect: str, table: sa.Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING in the dialect's own words."""
    return _insert(dialect, table).on_conflict_do_nothing()


def upsert(dialect: str, table: sa.Table, keys: list[str], columns: list[str]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET columns = excluded.columns."""
    stmt = _insert(dialect, table)
    return stmt.on_conflict_do_update(index_elements=keys,
                                      set_={c: getattr(stmt.excluded, c) for c in columns})
