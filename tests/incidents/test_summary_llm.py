"""The LLM rewrite against a real HTTP server on loopback playing an OpenAI-compatible endpoint: what
it received is redacted (the config's secrets, URL credentials, configured patterns), its answer
becomes the summary with a note, and a slow or failing endpoint falls back to the offline summary
with a note saying why, without holding up the pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiohttp import web

from vigil.app import build_app
from vigil.config import parse_config
from vigil.config.incidents import SummaryLlmConfig
from vigil.incidents.llm import LlmRewriter, Redaction
from vigil.testing import FakeClock, InlineWriter

T0 = 1_700_000_000.0
API_KEY = "summary-llm-api-key-0001"
LLM_KEY = "sk-llm-secret-key-123456"
DB_PASSWORD = "pw-in-a-url-98765"


@dataclass
class FakeLlm:
    """An OpenAI-compatible /v1/chat/completions on 127.0.0.1: answers, stalls or fails, as told."""

    mode: str = "ok"  # ok | slow | error | garbage
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(orjson.loads(await request.read()))
        self.headers.append(dict(request.headers))
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "error":
            return web.json_response({"error": {"message": "overloaded"}}, status=500)
        if self.mode == "garbage":
            return web.Response(text="<html>proxy error</html>", content_type="text/html")
        return web.json_response(
            {
                "id": "c1",
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "payments is down since 22:13 UTC."},
                        "finish_reason": "stop",
                    }
                ],
            }
        )


@pytest.fixture
async def llm() -> AsyncIterator[FakeLlm]:
    fake = FakeLlm()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield fake
    finally:
        await runner.cleanup()


CFG = """
store: {{url: "sqlite:///{db}"}}
server: {{api_keys: [{{name: alice, key: {key}}}]}}
incidents:
  summary:
    llm:
      {{url: "{url}", model: tiny-model, api_key: {llm_key}, timeout: {timeout}, redact: ['ACCT-[0-9]{{6}}']}}
services:
  - {{name: payments}}
"""


@pytest.fixture
async def vigil(tmp_path: Path, llm: FakeLlm, request: pytest.FixtureRequest) -> Any:
    timeout = getattr(request, "param", "2s")
    clock = FakeClock(T0)
    cfg = parse_config(
        CFG.format(db=tmp_path / "v.db", key=API_KEY, url=llm.url, llm_key=LLM_KEY, timeout=timeout), env={}
    )
    app, engine = build_app(cfg, clock=clock, collectors=[], writer=InlineWriter(), worker=InlineWriter())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://vigil.test",
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as client:
        await engine.start()
        try:
            yield clock, engine, client
        finally:
            await engine.stop()
            engine.store.close()


SECRET_SUMMARY = (
    f"payments down: auth failed with key {API_KEY} for account ACCT-123456 at "
    f"postgresql://vig:{DB_PASSWORD}@db/pay?token=tok-abcdef123"
)


async def open_incident(clock: FakeClock, engine: Any, client: httpx.AsyncClient) -> str:
    r = await client.post(
        "/api/v1/alerts",
        json={
            "alerts": [
                {
                    "name": "PaymentsDown",
                    "service": "payments",
                    "severity": "critical",
                    "summary": SECRET_SUMMARY,
                }
            ]
        },
    )
    assert r.status_code == 200, r.text
    await clock.advance(1)  # the job starts after this pass
    await engine.stages.incidents.summaries.idle()  # the LLM answers in real time, beside the passes
    await clock.advance(1)  # the next pass takes the summary in
    return (await client.get("/api/v1/incidents/1")).json()["summary"]


async def test_the_llm_rewrites_the_summary_and_receives_nothing_secret(vigil: Any, llm: FakeLlm) -> None:
    clock, engine, client = vigil
    text = await open_incident(clock, engine, client)
    assert (
        text == "payments is down since 22:13 UTC.\n(Rewritten by tiny-model from vigil's offline summary.)"
    )
    assert len(llm.received) == 1
    body = llm.received[0]
    assert body["model"] == "tiny-model" and body["messages"][0]["role"] == "system"
    sent = orjson.dumps(body).decode()
    for secret in (API_KEY, LLM_KEY, DB_PASSWORD, "ACCT-123456", "tok-abcdef123"):
        assert secret not in sent
    prompt = body["messages"][1]["content"]
    assert (
        "PaymentsDown on payments (critical): payments down: auth failed with key *** for account *** at "
        "postgresql://vig:***@db/pay?token=***" in prompt
    )
    assert llm.headers[0]["Authorization"] == f"Bearer {LLM_KEY}"  # the key goes in the header only
    assert engine.stages.incidents.summaries.by_llm == 1
    await clock.advance(310)  # an open incident is re-read on its refresh; its facts did not change
    await engine.stages.incidents.summaries.idle()
    assert (
        engine.stages.incidents.summaries.written == 2 and len(llm.received) == 1
    )  # the LLM is not asked again


@pytest.mark.parametrize("vigil", ["300ms"], indirect=True)
async def test_a_slow_endpoint_falls_back_to_the_offline_summary(vigil: Any, llm: FakeLlm) -> None:
    clock, engine, client = vigil
    llm.mode = "slow"
    text = await open_incident(clock, engine, client)
    offline, note = text.rsplit("\n", 1)
    assert offline.startswith("PaymentsDown on payments (critical): payments down: auth failed with key ***")
    assert note == "(vigil's offline summary: tiny-model did not answer within 0.3s.)"
    assert API_KEY not in text  # the summary served by the API is redacted the same way
    assert engine.stages.incidents.summaries.fallbacks == 1


async def test_an_error_or_an_unreadable_answer_falls_back_and_says_so(vigil: Any, llm: FakeLlm) -> None:
    clock, engine, client = vigil
    llm.mode = "error"
    text = await open_incident(clock, engine, client)
    assert text.endswith("\n(vigil's offline summary: tiny-model answered HTTP 500.)")
    assert text.startswith("PaymentsDown on payments (critical)")
    llm.mode = "garbage"
    rewriter = LlmRewriter(SummaryLlmConfig(url=llm.url, model="m", timeout=2.0), [])
    r = await rewriter.rewrite("offline text", [], 1)
    assert (
        not r.by_llm
        and r.text
        == "offline text\n(vigil's offline summary: m sent an answer that is not a chat completion.)"
    )


async def test_an_endpoint_that_is_not_there_falls_back() -> None:
    from vigil.demo.run import free_port

    rewriter = LlmRewriter(
        SummaryLlmConfig(url=f"http://127.0.0.1:{free_port()}/v1", model="m", timeout=2.0), []
    )
    r = await rewriter.rewrite("offline text", ["alert X"], 1)
    assert not r.by_llm and r.text.startswith(
        "offline text\n(vigil's offline summary: m could not be reached"
    )


def test_redaction_masks_secrets_url_credentials_and_patterns_in_linear_time() -> None:
    redact = Redaction(["hunter2-secret"], [r"ACCT-[0-9]{6}", r"(a+)+$"])
    assert (
        redact("pw hunter2-secret, ACCT-000042, https://user:pw@host/x?api_key=k123")
        == "pw ***, ***, https://user:***@host/x?api_key=***"
    )
    assert redact("a" * 50_000 + "!").endswith("!")  # RE2: no catastrophic backtracking on (a+)+$


def test_the_endpoint_url_and_the_config_errors() -> None:
    assert SummaryLlmConfig(url="http://h:1/v1", model="m").endpoint == "http://h:1/v1/chat/completions"
    assert (
        SummaryLlmConfig(url="http://h/v1/chat/completions", model="m").endpoint
        == "http://h/v1/chat/completions"
    )
    from vigil.config import ConfigError

    bad = "incidents: {summary: {llm: {url: 'ftp://x', model: m, timeout: 10m, redact: ['(?<=x)y']}}}"
    with pytest.raises(ConfigError) as err:
        parse_config(bad, env={})
    text = str(err.value)
    assert "http:// or https://" in text and "between 100ms and 5m" in text and "invalid regex" in text
