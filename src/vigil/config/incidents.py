"""Config schema of incidents (`incidents:`): how alerts are gathered into incidents, and how their
summaries are written (`incidents.summary`, optionally rewritten by an LLM)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from vigil.config.types import Duration, Regexes, Secret, Strict


class SummaryLlmConfig(Strict):
    """Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp server, Ollama...)."""

    url: str = Field(description="the endpoint, e.g. https://api.openai.com/v1/chat/completions (a URL "
                                 "ending in /v1 gets /chat/completions added)")
    model: str = Field(min_length=1, description="the model name the endpoint expects")
    api_key: Secret | None = Field(default=None, description="sent as `Authorization: Bearer`; never logged")
    timeout: Duration = Field(default=10.0,
                              description="the whole request; past it the offline summary is used")
    redact: Regexes = Field(default_factory=list, description="RE2 patterns replaced by *** in everything "
                                                              "sent (the config's secrets always are)")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("incidents.summary.llm.url must be an http:// or https:// URL with a host")
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        if not 0.1 <= v <= 300:
            raise ValueError(f"incidents.summary.llm.timeout must be between 100ms and 5m; found {v:g}s")
        return v

    @property
    def endpoint(self) -> str:
        url = self.url.rstrip("/")
        return url if url.endswith("/chat/completions") else f"{url}/chat/completions"


class SummaryConfig(Strict):
    enabled: bool = True
    every: Duration = Field(default=30.0,
                            description="an incident that changed is summarised again at most this often")
    refresh: Duration = Field(default=300.0,
                              description="an open incident is re-read this often even when it did not "
                                          "change (scaling, health changes, notifications since)")
    lookback: Duration = Field(default=1800.0,
                               description="changes this long before an incident opened are named in its "
                                           "summary (scaling, replicas, reloads, versions)")
    llm: SummaryLlmConfig | None = None

    @field_validator("every", "refresh")
    @classmethod
    def _positive(cls, v: float) -> float:
        if not 1 <= v <= 86400:
            raise ValueError(f"must be between 1s and 1d; found {v:g}s")
        return v

    @field_validator("lookback")
    @classmethod
    def _lookback(cls, v: float) -> float:
        if not 0 <= v <= 86400:
            raise ValueError(f"must be between 0s and 1d; found {v:g}s")
        return v


class FlappingConfig(Strict):
    """An alert that changes state `changes` times within `window` is flapping: its incident is held
    open until the alert has been quiet for a whole window, so it neither resolves nor reopens (and
    pages) over and over."""

    window: Duration = Field(default=600.0, description="state changes are counted over this time")
    changes: int = Field(default=4, ge=2, le=1000,
                         description="this many firing/resolved changes in the window is flapping")


class IncidentsConfig(Strict):
    enabled: bool = True
    resolve_after: Duration = Field(default=0.0, ge=0, le=86400,
                                    description="an incident whose alerts all resolved resolves once that "
                                                "has held this long (0: at once)")
    flapping: FlappingConfig = FlappingConfig()
    correlation_window: Duration = Field(default=600.0,
                                         description="an alert joins an incident that had an alert join or "
                                                     "change within this time")
    reopen_window: Duration = Field(default=1800.0,
                                    description="an alert that fires again within this time after its "
                                                "incident resolved reopens it")
    max_hops: int = Field(default=2, ge=0, le=10,
                          description="services this close in the dependency graph share an incident")
    summary: SummaryConfig = SummaryConfig()
