"""`discord`: a Discord webhook with one embed coloured by status and severity: title (linking to the
incident when there is one), the alerts as its description, services, severity and times as fields.
Alertmanager's `title`, `message` (the embed's description) and `content` are used when plain text."""

from __future__ import annotations

from typing import Any

import orjson

from vigil.config.receivers import DiscordConfig, GlobalConfig
from vigil.model import Delivery, Notice
from vigil.notify import render
from vigil.notify.http import HttpNotifier, check_url, secret_or_file
from vigil.notify.webhook import rfc3339

# Discord's limits: title 256, description 4096, a field's value 1024, content 2000 characters.
TITLE_MAX, DESCRIPTION_MAX, FIELD_MAX, CONTENT_MAX = 256, 4096, 1024, 2000


class DiscordNotifier(HttpNotifier):
    kind = "discord"

    def __init__(self, config: DiscordConfig, globals_: GlobalConfig | None = None,
                 external_url: str = "") -> None:
        url = secret_or_file(config.webhook_url, config.webhook_url_file, "webhook_url") or ""
        self._url = check_url(url, "webhook_url")
        super().__init__(config.http_config or (globals_.http_config if globals_ else None), 0.0, [self._url])
        self.config = config

    def payload(self, notice: Notice) -> dict[str, Any]:
        c = self.config
        v = render.view(notice)
        description = render.literal(c.message) or _description(v)
        fields = [{"name": "Severity", "value": v.severity, "inline": True}]
        if v.services:
            fields.insert(0, {"name": "Services", "value": render.clip(", ".join(v.services), FIELD_MAX),
                              "inline": True})
        if v.since is not None:
            fields.append({"name": "When", "value": render.since_text(v), "inline": False})
        embed: dict[str, Any] = {
            "title": render.clip(render.literal(c.title) or v.title, TITLE_MAX),
            "description": render.clip(description, DESCRIPTION_MAX),
            "color": int(v.colour.lstrip("#"), 16), "fields": fields,
            "timestamp": rfc3339(notice.created_at), "footer": {"text": f"vigil · {notice.receiver}"},
        }
        links = render.all_links(v)
        if links:
            embed["url"] = links[0][1]
        body: dict[str, Any] = {"embeds": [embed], "allowed_mentions": {"parse": []}}
        content = render.literal(c.content)
        if content:
            body["content"] = render.clip(content, CONTENT_MAX)
        if c.username:
            body["username"] = c.username
        if c.avatar_url:
            body["avatar_url"] = c.avatar_url
        return body

    async def send(self, notice: Notice) -> Delivery:
        return await self.post_json(self._url, orjson.dumps(self.payload(notice)), notice.key)


def _description(v: render.View) -> str:
    parts = []
    inc = v.incident
    if inc is not None and inc.summary:
        parts.append(inc.summary)
    if inc is not None and inc.root_cause:
        causes = "\n".join(f"{i}. {c}" for i, c in enumerate(inc.root_cause, 1))
        parts.append(f"**Probable root cause**\n{causes}")
    parts.append(render.bullet_lines(v, escape=False))
    links = render.all_links(v)
    if links:
        parts.append(" · ".join(f"[{t}]({u})" for t, u in links))
    return "\n\n".join(parts)
