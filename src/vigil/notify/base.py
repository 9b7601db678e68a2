"""The notifier plug point: send one notice, say whether a failure is worth retrying."""

from __future__ import annotations

from typing import Protocol

from vigil.model import Delivery, Notice


class Notifier(Protocol):
    kind: str  # slack | discord | email | webhook | pagerduty

    async def send(self, notice: Notice) -> Delivery:
        """Deliver `notice` once. Never raises for a failing receiver: a failure is a Delivery with
        ok False and retryable True (timeouts, 5xx, 429, connection refused) or False (4xx, bad
        credentials, a payload the receiver refuses)."""
        ...
