"""The API's view of stored keys: a snapshot by hash, reloaded off the event loop at most every
`refresh_s` (so a key made or revoked by `vigil keys` counts within that), and use counts gathered in
memory and written in one batch through the engine's writer at each reload."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from vigil.keys.model import KeyRecord, expiry_warning, key_hash
from vigil.web.auth import KeyBook, Principal

log = logging.getLogger("vigil.keys")

REFRESH_S = 2.0


class StoreKeyBook(KeyBook):
    def __init__(self, store: Any, writer: Any = None, refresh_s: float = REFRESH_S) -> None:
        self.store = store
        self.writer = writer
        self.refresh_s = refresh_s
        self._by_hash: dict[str, KeyRecord] = {}
        self._by_id: dict[str, KeyRecord] = {}
        self._loaded_at = -1e18
        self._loading: asyncio.Task[None] | None = None
        self._uses: dict[str, tuple[int, float]] = {}

    def load(self) -> None:
        """Blocking: read every key version (a small table)."""
        recs = self.store.api_keys()
        self._by_hash = {r.hash: r for r in recs}
        self._by_id = {r.id: r for r in recs}
        self._loaded_at = time.monotonic()

    async def refresh(self) -> None:
        """Reload when the snapshot is older than refresh_s (one reload at a time; callers meanwhile
        use the snapshot they have), writing the gathered uses first."""
        if time.monotonic() - self._loaded_at < self.refresh_s:
            return
        if self._loading is None or self._loading.done():
            self._loading = asyncio.ensure_future(self._reload())
        await asyncio.shield(self._loading)

    async def _reload(self) -> None:
        uses, self._uses = self._uses, {}
        try:
            if uses:
                if self.writer is not None:
                    await self.writer.call(self.store.add_api_key_uses, uses)
                else:
                    await asyncio.to_thread(self.store.add_api_key_uses, uses)
            await asyncio.to_thread(self.load)
        except Exception as exc:  # noqa: BLE001  # keep the last snapshot; the store outage is reported elsewhere
            log.warning("could not reload API keys (%s); using the last ones read", type(exc).__name__)
            self._loaded_at = time.monotonic()

    def identify(self, raw: bytes, now: float) -> Principal | None:
        rec = self._by_hash.get(key_hash(raw))
        return self._principal(rec, now)

    def check(self, ref: str, now: float) -> Principal | None:
        if not ref.startswith("store:"):
            return None
        return self._principal(self._by_id.get(ref[6:]), now)

    def note_use(self, principal: Principal, now: float) -> None:
        if not principal.ref.startswith("store:"):
            return
        kid = principal.ref[6:]
        count, _ = self._uses.get(kid, (0, now))
        self._uses[kid] = (count + 1, now)

    def warning(self, principal: Principal, now: float) -> str | None:
        rec = self._by_id.get(principal.ref[6:]) if principal.ref.startswith("store:") else None
        return expiry_warning(rec, now) if rec is not None else None

    def has_keys(self) -> bool:
        return bool(self._by_hash)

    @staticmethod
    def _principal(rec: KeyRecord | None, now: float) -> Principal | None:
        if rec is None or not rec.valid(now):
            return None
        return Principal(rec.name, frozenset(rec.scopes), rec.ref, rec.expires_at)

    def invalidate(self) -> None:
        """Reload at the next request (after a change made in this process)."""
        self._loaded_at = -1e18

    async def flush(self) -> None:
        """Write the uses gathered so far, and reload."""
        self.invalidate()
        await self.refresh()
