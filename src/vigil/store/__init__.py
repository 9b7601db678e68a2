"""vigil.store: persistence for samples (columnar write-ahead, hour chunks, 1m/1h roll-ups) and for
services, probe results, health, events, signals, decisions and state, on SQLite or PostgreSQL.
See docs/store.md for the layout and why."""

from vigil.store.db import StoreUnavailable
from vigil.store.query import RangeResult
from vigil.store.records import ServiceRecord
from vigil.store.series import SeriesInfo
from vigil.store.store import Store, open_store

__all__ = ["RangeResult", "SeriesInfo", "ServiceRecord", "Store", "StoreUnavailable", "open_store"]
