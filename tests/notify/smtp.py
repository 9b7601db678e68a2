"""A real SMTP server in-process (aiosmtpd, on its own thread) on a free loopback port: plain, with
STARTTLS (a self-signed certificate made by the test), with AUTH, and scriptable refusals."""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.sources.conftest import make_self_signed
from vigil.demo.run import free_port

USER, PASSWORD = "alerts", "s3cret-pa55word"


@dataclass
class Mailbox:
    """What the server accepted, and the answers it gives to the next DATA commands."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    answers: deque[str] = field(default_factory=deque)  # e.g. "451 4.3.0 try later"; then 250
    logins: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, answer: str, times: int = 1) -> None:
        with self._lock:
            self.answers.extend([answer] * times)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.answers:
                return self.answers.popleft()
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(msg)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == USER
            and data.password.decode() == PASSWORD
        )
        if ok:
            self.logins.append(mechanism)
        return AuthResult(success=ok, handled=False)  # unhandled: aiosmtpd answers 535 itself


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int
    cert: Path | None
    controller: Controller

    @property
    def smarthost(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.controller.stop()


def start_smtp(
    folder: Path | None = None,
    starttls: bool = False,
    auth: bool = False,
    port: int | None = None,
    mailbox: Mailbox | None = None,
) -> SmtpServer:
    box = mailbox or Mailbox()
    kwargs: dict[str, Any] = {}
    cert = None
    if starttls:
        assert folder is not None
        cert, key = make_self_signed(folder, days=30)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        kwargs.update(tls_context=ctx, require_starttls=True)
    if auth:
        kwargs.update(authenticator=box.authenticate, auth_required=True, auth_require_tls=starttls)
    port = port or free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, ready_timeout=5.0, **kwargs)
    controller.start()
    return SmtpServer(box, port, cert, controller)
