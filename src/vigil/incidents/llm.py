"""The optional rewrite of an incident's summary by an LLM behind any OpenAI-compatible
chat-completions endpoint (`incidents.summary.llm`). Everything sent is redacted first: every secret
of the running configuration (API keys, receiver credentials, URL passwords), credentials in URLs and
secret-looking query parameters (`vigil.config.redact.mask`), and the configured `redact` patterns
(RE2, linear time). The request is cut at `timeout`; any failure (no answer in time, an error status,
an answer that cannot be read, an empty one) falls back to vigil's offline summary, and the summary
ends with a note saying which of the two it is."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiohttp
import orjson

from vigil.config.incidents import SummaryLlmConfig
from vigil.config.redact import MASK, mask
from vigil.config.types import Regex, compile_regex, format_duration

log = logging.getLogger("vigil.incidents.summary")

MAX_ANSWER_BYTES = 256 * 1024
MAX_SUMMARY_CHARS = 3_000
MAX_TOKENS = 500
WARN_EVERY_S = 60.0  # a failing endpoint is logged at most this often (each incident falls back alone)

SYSTEM = (
    "You rewrite incident summaries for an on-call engineer reading them at 3 am. Keep every fact, "
    "service name, alert name, number and time exactly as given; invent nothing; say what is wrong, "
    "since when, the probable root cause and why, what was done, and what changed before. Plain text, "
    "at most 8 short lines, no headings, no greeting, no advice that the facts do not support. "
    "*** marks redacted text: leave it as it is."
)


class Redaction:
    """Secrets and operator patterns out of a text, before it leaves."""

    def __init__(self, secrets: Iterable[str], patterns: Sequence[str] = ()) -> None:
        self.secrets = frozenset(s for s in secrets if s)
        self.patterns: list[Regex] = [compile_regex(p) for p in patterns]

    def __call__(self, text: str) -> str:
        text = mask(text, self.secrets)
        for pattern in self.patterns:
            text = pattern.sub(MASK, text)  # type: ignore[attr-defined]  # RE2's sub, linear time
        return text


@dataclass(frozen=True, slots=True)
class Rewrite:
    text: str  # the summary to show, its note included
    by_llm: bool
    reason: str = ""  # why the offline summary was kept


class LlmRewriter:
    def __init__(self, config: SummaryLlmConfig, secrets: Iterable[str]) -> None:
        self.config = config
        self._key = config.api_key.get_secret_value() if config.api_key is not None else None
        self.redact = Redaction([*secrets, *([self._key] if self._key else [])], config.redact)
        self._warned = float("-inf")

    def prompt(self, offline: str, facts: Sequence[str]) -> str:
        text = "Summary written by vigil from the evidence:\n" + offline
        if facts:
            text += "\n\nEvidence:\n" + "\n".join(f"- {f}" for f in facts)
        return self.redact(text)

    def body(self, offline: str, facts: Sequence[str]) -> bytes:
        return orjson.dumps(
            {
                "model": self.config.model,
                "temperature": 0.2,
                "max_tokens": MAX_TOKENS,
                "stream": False,
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": self.prompt(offline, facts)},
                ],
            }
        )

    async def rewrite(self, offline: str, facts: Sequence[str], incident: int) -> Rewrite:
        """The LLM's version of the summary, or the offline one with why."""
        timeout = self.config.timeout
        try:
            answer = await asyncio.wait_for(self._ask(self.body(offline, facts)), timeout)
        except TimeoutError:
            return self._fallback(offline, f"did not answer within {format_duration(timeout)}", incident)
        except aiohttp.ClientError as exc:
            return self._fallback(offline, f"could not be reached ({type(exc).__name__})", incident)
        except OSError as exc:
            return self._fallback(offline, f"could not be reached ({type(exc).__name__})", incident)
        except _Refused as exc:
            return self._fallback(offline, str(exc), incident)
        text = answer.strip()[:MAX_SUMMARY_CHARS].strip()
        return Rewrite(f"{text}\n(Rewritten by {self.config.model} from vigil's offline summary.)", True)

    def _fallback(self, offline: str, reason: str, incident: int) -> Rewrite:
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY_S:
            self._warned = now
            log.warning(
                "incident %d: the summary LLM (%s) %s; the offline summary is used",
                incident,
                self.config.model,
                reason,
            )
        return Rewrite(f"{offline}\n(vigil's offline summary: {self.config.model} {reason}.)", False, reason)

    async def _ask(self, body: bytes) -> str:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(
                self.config.endpoint, data=body, headers=headers, allow_redirects=False
            ) as r:
                raw = await r.content.read(MAX_ANSWER_BYTES)
                if r.status != 200:
                    raise _Refused(f"answered HTTP {r.status}")
        try:
            content = orjson.loads(raw)["choices"][0]["message"]["content"]
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            raise _Refused("sent an answer that is not a chat completion") from None
        if not isinstance(content, str) or not content.strip():
            raise _Refused("sent an empty answer")
        return content


class _Refused(Exception):
    """The endpoint answered, but not with a usable summary."""
