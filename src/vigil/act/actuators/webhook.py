"""`webhook`: a templated HTTP call for platforms with an API (Railway, Render, Fly, Heroku, ...).

`{replicas}` and `{service}` are filled into the url and body. The response status is checked against
`expect_status`; 5xx, 408, 429 and connection failures are worth retrying, other 4xx are not. The
ready count is read from `status_url` (JSON, `ready_field` as a dotted path); without one, vigil can
only trust the platform's answer and the last count it set, and says so.
"""

from __future__ import annotations

from typing import Any

import httpx

from vigil.act.actuators.base import ActuationError, ActuatorBase, ScaleResult
from vigil.config.scaling import WebhookActuatorConfig


def _fill(template: str, replicas: int, service: str) -> str:
    return template.replace("{replicas}", str(replicas)).replace("{service}", service)


def _dig(doc: Any, path: str) -> Any:
    for part in path.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


class WebhookActuator(ActuatorBase):
    kind = "webhook"

    def __init__(self, config: WebhookActuatorConfig, service: str = "",
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.service = service
        self._transport = transport
        self._set: int | None = None  # the last count the platform accepted

    def _client(self) -> httpx.AsyncClient:
        headers = {k: v.get_secret_value() for k, v in self.config.headers.items()}
        return httpx.AsyncClient(timeout=self.config.timeout, headers=headers, transport=self._transport)

    async def scale(self, replicas: int, dry_run: bool = False) -> ScaleResult:
        before = self._set if self._set is not None else await self._observed_or_none()
        if before == replicas:
            return ScaleResult(before, replicas, False, dry_run, "already at this count")
        if dry_run:
            return ScaleResult(before if before is not None else -1, replicas, False, True,
                               f"would {self.config.method} {_fill(self.config.url, replicas, self.service)}")
        url = _fill(self.config.url, replicas, self.service)
        body = _fill(self.config.body, replicas, self.service)
        try:
            async with self._client() as client:
                resp = await client.request(self.config.method, url, content=body.encode(),
                                            headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise ActuationError(f"webhook unreachable: {type(exc).__name__}", retryable=True) from None
        if resp.status_code not in self.config.expect_status:
            retry = resp.status_code >= 500 or resp.status_code in (408, 425, 429)
            raise ActuationError(f"webhook answered {resp.status_code}", retryable=retry)
        self._set = replicas
        return ScaleResult(before if before is not None else -1, replicas, True)

    async def ready_replicas(self) -> int:
        observed = await self._observed_or_none()
        if observed is None:
            if self._set is None:
                raise ActuationError("no status_url and nothing set yet: ready count unknown",
                                     retryable=False)
            return self._set  # not observable: the platform accepted this count
        return observed

    async def _observed_or_none(self) -> int | None:
        if not self.config.status_url:
            return None
        try:
            async with self._client() as client:
                resp = await client.get(_fill(self.config.status_url, self._set or 0, self.service))
        except httpx.HTTPError as exc:
            raise ActuationError(f"status url unreachable: {type(exc).__name__}", retryable=True) from None
        if resp.status_code != 200:
            raise ActuationError(f"status url answered {resp.status_code}", retryable=resp.status_code >= 500)
        try:
            return int(_dig(resp.json(), self.config.ready_field))
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ActuationError(f"status has no {self.config.ready_field!r}: {exc}",
                                 retryable=False) from None
