"""The notifier plug point: send one notice, say whether a failure is worth retrying."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from vigil.model import Delivery, Notice


@runtime_checkable
class Notifier(Protocol):
    kind: str  # slack | discord | email | webhook | pagerduty

    async def send(self, notice: Notice) -> Delivery:
        """Deliver `notice` once. Never raises for a failing receiver: a failure is a Delivery with
        ok False and retryable True (timeouts, 5xx, 429, connection refused) or False (4xx, bad
        credentials, a payload the receiver refuses)."""
        ...


class NotifierBase:
    """Optional parts with defaults: whether resolved notices are wanted (the config's
    `send_resolved`), and `aclose()` to release connections when the outbox closes."""

    kind = "notifier"
    config: Any = None

    @property
    def send_resolved(self) -> bool:
        return bool(getattr(self.config, "send_resolved", True))

    async def aclose(self) -> None:
        return None
