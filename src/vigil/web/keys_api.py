"""`GET /api/v1/keys` (scope admin): the keys there are, never a key or its hash. Keys are made,
rotated and revoked with `vigil keys` on the host (a new key is shown once, on the terminal)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from vigil.keys.model import expiry_warning
from vigil.web.auth import ApiKeys
from vigil.web.errors import error_responses


def keys_router(engine: Any, keys: ApiKeys) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["keys"], dependencies=[Depends(keys)],
                  responses=error_responses(401, 403, 429, 503))

    @r.get("/keys", summary="API keys: config keys by name and scopes, stored keys with state, expiry and use")
    def list_keys() -> dict[str, Any]:
        now = engine.clock.now()
        stored = [{"name": k.name, "version": k.version, "id": k.id, "scopes": list(k.scopes), "state": k.state(now),
                   "created_at": k.created_at, "expires_at": k.expires_at, "rotated_at": k.rotated_at,
                   "revoked_at": k.revoked_at, "last_used_at": k.last_used_at, "use_count": k.use_count,
                   "warning": expiry_warning(k, now) if k.valid(now) else None} for k in engine.store.api_keys()]
        return {"config": keys.config_keys(), "stored": stored}

    return r
