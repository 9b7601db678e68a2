"""The email notifier against a real SMTP server (aiosmtpd) on loopback: plain, STARTTLS with a
certificate made here, AUTH, refusals, and threading headers."""

from __future__ import annotations

import asyncio

import pytest

from tests.notify.conftest import INCIDENT_EXAMPLE, notice
from tests.notify.smtp import PASSWORD, USER, start_smtp
from vigil.config.receivers import EmailConfig, GlobalConfig
from vigil.notify.email import EmailNotifier
from vigil.notify.http import ConfigError


def email_config(server, **kw) -> EmailConfig:  # type: ignore[no-untyped-def]
    base = {
        "to": "oncall@example.test, Boss <boss@example.test>",
        "from": "vigil@example.test",
        "smarthost": server.smarthost,
    }
    return EmailConfig(**{**base, **kw})


@pytest.fixture
def plain():  # type: ignore[no-untyped-def]
    server = start_smtp()
    yield server
    server.stop()


async def test_plain_smtp_sends_text_and_html_parts(plain):
    n = EmailNotifier(email_config(plain, require_tls=False))
    d = await n.send(notice("k1", incident=INCIDENT_EXAMPLE))
    assert d.ok, d.detail
    [msg] = plain.mailbox.messages
    assert plain.mailbox.envelopes == [("vigil@example.test", ["oncall@example.test", "boss@example.test"])]
    assert msg["Subject"] == "[FIRING] #42 payments is failing"
    assert msg["X-Vigil-Key"] == "k1"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Probable root cause:" in text and "HighErrorRate on payments [critical]" in text
    assert "<h3>Probable root cause</h3>" in html and "Error rate of payments rose to 20%." in html


async def test_resolved_mail_threads_under_the_firing_one(plain):
    n = EmailNotifier(email_config(plain, require_tls=False))
    await n.send(notice("fire"))
    await n.send(notice("res", status="resolved"))
    await n.send(notice("fire"))  # the same notice again (after a crash): the same Message-ID
    fire, res, again = plain.mailbox.messages
    assert fire["Message-ID"] != res["Message-ID"] and fire["Message-ID"] == again["Message-ID"]
    assert fire["References"] == res["References"] == res["In-Reply-To"]
    assert fire["Message-ID"].endswith("@example.test>")
    other = EmailNotifier(email_config(plain, require_tls=False))
    assert other.thread_id(notice("x", group="g2")) != fire["References"]


async def test_custom_headers_and_plain_text_keys(plain):
    n = EmailNotifier(
        email_config(
            plain, require_tls=False, headers={"Subject": "Page!", "X-Team": "pay", "Message-ID": "<mine@x>"}
        )
    )
    await n.send(notice("k1"))
    [msg] = plain.mailbox.messages
    assert msg["Subject"] == "Page!" and msg["X-Team"] == "pay"
    assert msg["Message-ID"] != "<mine@x>"  # threading headers stay vigil's


async def test_require_tls_refuses_a_server_without_starttls(plain):
    n = EmailNotifier(email_config(plain))  # require_tls defaults to true, as in Alertmanager
    d = await n.send(notice("k1"))
    assert not d.ok and not d.retryable and "STARTTLS" in d.detail
    assert plain.mailbox.messages == []


async def test_starttls_and_auth(tmp_path):
    server = start_smtp(tmp_path, starttls=True, auth=True)
    try:
        cfg = email_config(
            server, auth_username=USER, auth_password=PASSWORD, tls_config={"ca_file": str(server.cert)}
        )
        d = await EmailNotifier(cfg).send(notice("k1"))
        assert d.ok, d.detail
        assert len(server.mailbox.messages) == 1 and server.mailbox.logins
        wrong = email_config(
            server,
            auth_username=USER,
            auth_password="wrong-password-123",
            tls_config={"ca_file": str(server.cert)},
        )
        d = await EmailNotifier(wrong).send(notice("k2"))
        assert not d.ok and not d.retryable and d.status_code == 535
        assert "wrong-password-123" not in d.detail and len(server.mailbox.messages) == 1
        untrusted = email_config(server, auth_username=USER, auth_password=PASSWORD)  # self-signed, no CA
        d = await EmailNotifier(untrusted).send(notice("k3"))
        assert not d.ok and not d.retryable and "TLS" in d.detail
    finally:
        server.stop()


async def test_auth_password_from_a_file_and_global_defaults(tmp_path):
    server = start_smtp(tmp_path, starttls=True, auth=True)
    try:
        secret = tmp_path / "pw"
        secret.write_text(PASSWORD + "\n")
        g = GlobalConfig(
            smtp_from="vigil@example.test",
            smtp_smarthost=server.smarthost,
            smtp_auth_username=USER,
            smtp_auth_password_file=str(secret),
        )
        cfg = EmailConfig(to="oncall@example.test", tls_config={"ca_file": str(server.cert)})
        d = await EmailNotifier(cfg, g).send(notice("k1"))
        assert d.ok, d.detail
    finally:
        server.stop()


@pytest.mark.parametrize(
    "answer, retryable", [("451 4.3.0 try again later", True), ("554 5.7.1 message rejected", False)]
)
async def test_refusals_say_whether_to_retry(plain, answer, retryable):
    plain.mailbox.refuse(answer)
    d = await EmailNotifier(email_config(plain, require_tls=False)).send(notice("k1"))
    assert not d.ok and d.retryable is retryable and d.status_code == int(answer[:3])


async def test_a_server_that_is_down_is_worth_retrying():
    from vigil.demo.run import free_port

    cfg = EmailConfig(
        to="a@example.test",
        **{"from": "v@example.test"},
        smarthost=f"127.0.0.1:{free_port()}",
        require_tls=False,
    )
    d = await asyncio.wait_for(EmailNotifier(cfg).send(notice("k1")), 10)
    assert not d.ok and d.retryable


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="smarthost must be host:port"):
        EmailNotifier(EmailConfig(to="a@example.test", **{"from": "v@example.test"}))
    with pytest.raises(ConfigError, match="from is missing"):
        EmailNotifier(EmailConfig(to="a@example.test", smarthost="127.0.0.1:25"))
