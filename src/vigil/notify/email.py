"""`email`: SMTP with aiosmtplib, as Alertmanager's email integration behaves: port 465 is TLS from
the first byte; otherwise `require_tls` (default true) demands STARTTLS and fails if the server does
not offer it, and with `require_tls: false` the session stays plain. AUTH is used when the server
offers it and `auth_username` is set (CRAM-MD5 with `auth_secret`, else PLAIN/LOGIN with
`auth_password`). Keys left unset fall back to the `global:` smtp_* ones.

Each mail has a text and an HTML part. Its Message-ID comes from the notice's key (a re-send after a
crash carries the same one, so mail systems can drop the copy) and In-Reply-To/References name one
thread per incident (or group) and receiver, so the resolved mail threads under the firing one.
4xx answers and connection failures are worth retrying; 5xx answers and TLS or auth refusals are not."""

from __future__ import annotations

import email.utils
import hashlib
import ssl
from email.message import EmailMessage

import aiosmtplib

from vigil.config.receivers import EmailConfig, GlobalConfig
from vigil.model import Delivery, Notice
from vigil.notify import render
from vigil.notify.base import NotifierBase
from vigil.notify.http import ConfigError, scrub, scrubber, secret_or_file, tls_context

SMTP_TIMEOUT_S = 30.0
# Headers vigil writes itself; `headers:` may override Subject, From and To, and add others.
_OWN = {"message-id", "in-reply-to", "references", "date", "content-type", "mime-version"}


class EmailNotifier(NotifierBase):
    kind = "email"

    def __init__(self, config: EmailConfig, globals_: GlobalConfig | None = None,
                 external_url: str = "") -> None:
        g = globals_ or GlobalConfig()
        given = config.model_fields_set
        self.config = config
        self._to = [addr for _, addr in email.utils.getaddresses([config.to]) if addr]
        if not self._to:
            raise ConfigError("email_configs: to has no address")
        self._from: str = config.from_ or g.smtp_from or ""
        if not self._from:
            raise ConfigError("email_configs: from is missing (set from or global.smtp_from)")
        smarthost = config.smarthost or g.smtp_smarthost
        host, sep, port = (smarthost or "").rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ConfigError("email_configs: smarthost must be host:port (or set global.smtp_smarthost)")
        self._host, self._port = host.strip("[]"), int(port)
        self._hello = config.hello if "hello" in given else g.smtp_hello
        self._require_tls = config.require_tls if "require_tls" in given else g.smtp_require_tls
        self._user = config.auth_username or g.smtp_auth_username
        password = secret_or_file(config.auth_password, config.auth_password_file, "auth_password",
                                  required=False)
        if password is None and config.auth_password is None and not config.auth_password_file:
            password = secret_or_file(g.smtp_auth_password, g.smtp_auth_password_file, "smtp_auth_password",
                                      required=False)
        secret = config.auth_secret or g.smtp_auth_secret
        self._password = password or (secret.get_secret_value() if secret is not None else None)
        self._tls = tls_context(config.tls_config) or ssl.create_default_context()
        self._hidden = scrubber([self._password])
        domain = self._from.rpartition("@")[2].strip(">") or "vigil"
        self._domain = domain

    # ------------------------------------------------------------------------------------- message

    def message_id(self, key: str) -> str:
        return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{self._domain}>"

    def thread_id(self, notice: Notice) -> str:
        topic = str((notice.incident or {}).get("id") or notice.group_key)
        digest = hashlib.sha256(f"{notice.receiver}\0{topic}".encode()).hexdigest()[:32]
        return f"<thread-{digest}@{self._domain}>"

    def message(self, notice: Notice) -> EmailMessage:
        v = render.view(notice)
        msg = EmailMessage()
        report = render.report_parts(notice)  # a scheduled report carries its own texts
        custom = {k.lower(): (k, val) for k, val in self.config.headers.items() if render.literal(val)}
        msg["Subject"] = custom.pop("subject", ("", report[0] if report else v.title))[1]
        msg["From"] = custom.pop("from", ("", self._from))[1]
        msg["To"] = custom.pop("to", ("", ", ".join(self._to)))[1]
        msg["Date"] = email.utils.formatdate(notice.created_at, usegmt=True)
        msg["Message-ID"] = self.message_id(notice.key)
        thread = self.thread_id(notice)
        msg["In-Reply-To"] = thread
        msg["References"] = thread
        msg["X-Vigil-Key"] = notice.key
        for name, value in custom.values():
            if name.lower() not in _OWN:
                msg[name] = value
        if report is not None:
            msg.set_content(report[1])
            msg.add_alternative(report[2], subtype="html")
            return msg
        msg.set_content(render.literal(self.config.text) or render.text(v))
        msg.add_alternative(render.literal(self.config.html) or render.html_body(v), subtype="html")
        return msg

    # ---------------------------------------------------------------------------------------- send

    async def send(self, notice: Notice) -> Delivery:
        msg = self.message(notice)
        smtp = aiosmtplib.SMTP(hostname=self._host, port=self._port, local_hostname=self._hello,
                               timeout=SMTP_TIMEOUT_S, use_tls=self._port == 465, start_tls=False,
                               tls_context=self._tls)
        try:
            await smtp.connect()
            await smtp.ehlo()
            if self._port != 465 and self._require_tls:
                if not smtp.supports_extension("starttls"):
                    return Delivery(False, False, "email: require_tls is set but the server does not offer "
                                                  "STARTTLS")
                await smtp.starttls(tls_context=self._tls, server_hostname=self._host)
                await smtp.ehlo()  # the extensions offered change once the session is encrypted
            if self._user and smtp.supports_extension("auth"):
                await smtp.login(self._user, self._password or "")
            refused, _ = await smtp.send_message(msg, sender=self._from_address(), recipients=self._to)
            detail = "email accepted" + (f"; {len(refused)} recipient(s) refused" if refused else "")
            return Delivery(True, False, detail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            return Delivery(False, all(400 <= c < 500 for c in codes),
                            f"email: every recipient refused ({', '.join(map(str, codes))})", min(codes))
        except aiosmtplib.SMTPResponseException as exc:
            text = scrub(" ".join(exc.message.split())[:200], self._hidden)
            retry = 400 <= exc.code < 500
            return Delivery(False, retry, f"email: server answered {exc.code} {text}", exc.code)
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError,
                aiosmtplib.SMTPServerDisconnected, TimeoutError, ConnectionError) as exc:
            if isinstance(exc.__cause__, ssl.SSLError) or isinstance(exc, ssl.SSLError):
                return Delivery(False, False, f"email: TLS failed ({_ssl_reason(exc)})")
            return Delivery(False, True, f"email: {_connect_reason(exc)}")
        except ssl.SSLError as exc:
            return Delivery(False, False, f"email: TLS failed ({_ssl_reason(exc)})")
        except (aiosmtplib.SMTPException, OSError) as exc:
            why = scrub(str(exc), self._hidden)[:160]
            return Delivery(False, False, f"email: {type(exc).__name__}: {why}")
        finally:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()

    def _from_address(self) -> str:
        parsed = email.utils.parseaddr(self._from)[1]
        return parsed or self._from



def _ssl_reason(exc: BaseException) -> str:
    err = exc if isinstance(exc, ssl.SSLError) else exc.__cause__
    if isinstance(err, ssl.SSLError):
        return err.reason or type(err).__name__
    return type(exc).__name__


def _connect_reason(exc: BaseException) -> str:
    """Why the session failed, without the server's address (as the HTTP notifiers say it)."""
    if isinstance(exc, (aiosmtplib.SMTPTimeoutError, TimeoutError)):
        return f"no answer within {SMTP_TIMEOUT_S:g}s"
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    refused = isinstance(exc, ConnectionRefusedError) or isinstance(exc.__cause__, ConnectionRefusedError) \
        or "Errno 111" in str(exc)
    return "connection refused" if refused else "cannot connect"
