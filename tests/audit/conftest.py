"""The audit tests run on SQLite and on PostgreSQL, with the store fixtures of tests/store."""

from tests.store.conftest import pg_url, store, store_url

__all__ = ["pg_url", "store", "store_url"]
