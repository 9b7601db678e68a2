"""`/api/v1/session`: log in with a key (POST), who am I (GET), log out (DELETE). See vigil.web.session."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from vigil.web.auth import ApiKeys, Principal
from vigil.web.errors import error_responses
from vigil.web.session import CSRF_COOKIE, SESSION_COOKIE


class Login(BaseModel):
    key: str = Field(min_length=1, max_length=512, description="an API key")


class SessionView(BaseModel):
    principal: str
    scopes: list[str]
    csrf_token: str
    expires_at: float | None = Field(description="when the session (or, for a header key, the key) expires; "
                                                 "null for a key that does not")


def session_router(keys: ApiKeys) -> APIRouter:
    r = APIRouter(prefix="/api/v1/session", tags=["session"], responses=error_responses(401, 429, 503))

    @r.post("", summary="Log in with an API key: sets the session and CSRF cookies", response_model=SessionView,
            responses=error_responses(400))
    async def login(body: Login, request: Request) -> Any:
        await keys.book.refresh()
        principal = keys.identify(body.key.strip())
        if principal is None:
            keys.limiter.failed(request.client.host if request.client else "unknown")
            raise HTTPException(401, detail="invalid API key; no session was made")
        now = keys.now()
        expires = now + keys.session_expiry_s
        if principal.expires_at is not None:
            expires = min(expires, principal.expires_at)
        signer = await keys.signer()
        cookie, session = signer.issue(principal.name, principal.ref, tuple(sorted(principal.scopes)), expires)
        csrf = signer.csrf_token(session)
        response = JSONResponse(_view(principal.name, principal.scopes, csrf, expires))
        secure = request.url.scheme == "https"
        max_age = max(1, int(expires - now))
        response.set_cookie(SESSION_COOKIE, cookie, max_age=max_age, path="/", secure=secure, httponly=True,
                            samesite="strict")
        response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, path="/", secure=secure, httponly=False,
                            samesite="strict")
        keys.book.note_use(principal, now)
        return response

    @r.get("", summary="The current session (or key): principal, scopes, CSRF token, expiry",
           response_model=SessionView, responses=error_responses(403), dependencies=[Depends(keys)])
    async def whoami(principal: Principal | None = Depends(keys.guard)) -> Any:  # noqa: B008
        assert principal is not None  # the route is not public
        return await _current(keys, principal)

    @r.delete("", summary="Log out: ends the session and clears its cookies", responses=error_responses(403),
             dependencies=[Depends(keys)])
    async def logout(request: Request, principal: Principal | None = Depends(keys.guard)) -> Any:  # noqa: B008
        if principal is not None and principal.session is not None:
            keys.logged_out.end(principal.session, keys.now())
        response = JSONResponse({"logged_out": True})
        secure = request.url.scheme == "https"
        response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict")
        response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, httponly=False, samesite="strict")
        return response

    return r


async def _current(keys: ApiKeys, principal: Principal) -> dict[str, Any]:
    if principal.session is None:  # a header key: no session, so no CSRF token is needed
        return _view(principal.name, principal.scopes, "", principal.expires_at)
    signer = await keys.signer()
    return _view(principal.name, principal.scopes, signer.csrf_token(principal.session), principal.session.expires_at)


def _view(name: str, scopes: frozenset[str], csrf: str, expires: float | None) -> dict[str, Any]:
    return {"principal": name, "scopes": sorted(scopes), "csrf_token": csrf, "expires_at": expires}
