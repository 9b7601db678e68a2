"""`slack`: an incoming webhook. One attachment coloured by status and severity, holding Block Kit
blocks (header, fields, the incident's summary and root cause, the alerts, link buttons), with a
plain-text fallback for notifications and old clients.

Alertmanager's text keys (`title`, `text`, `pretext`, `footer`, `fallback`, `color`) are used when
they are plain text; a Go template in them is left for vigil's own text."""

from __future__ import annotations

from typing import Any

import orjson

from vigil.config.receivers import GlobalConfig, SlackConfig
from vigil.model import Delivery, Notice
from vigil.notify import render
from vigil.notify.http import ConfigError, HttpNotifier, check_url, secret_or_file

# Slack's limits (Block Kit reference): header 150 characters, a section's text 3000, a field 2000.
HEADER_MAX, SECTION_MAX, FIELD_MAX, BUTTONS_MAX = 150, 3000, 2000, 5


class SlackNotifier(HttpNotifier):
    kind = "slack"

    def __init__(self, config: SlackConfig, globals_: GlobalConfig | None = None,
                 external_url: str = "") -> None:
        g = globals_ or GlobalConfig()
        url = secret_or_file(config.api_url, config.api_url_file, "api_url", required=False)
        if url is None:
            url = secret_or_file(g.slack_api_url, g.slack_api_url_file, "slack_api_url", required=False)
        if url is None:
            raise ConfigError("slack_configs: api_url is missing (set api_url, api_url_file or "
                              "global.slack_api_url)")
        self._url = check_url(url, "api_url")
        super().__init__(config.http_config or g.http_config, 0.0, [url])
        self.config = config

    def payload(self, notice: Notice) -> dict[str, Any]:
        c = self.config
        v = render.view(notice)
        title = render.clip(render.literal(c.title) or v.title, HEADER_MAX)
        fallback = render.literal(c.fallback) or v.title
        blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title}}]
        if render.literal(c.pretext):
            blocks.append(_section(render.mrkdwn_escape(c.pretext or "")))
        fields = [f"*Severity*\n{render.mrkdwn_escape(v.severity)}"]
        if v.services:
            fields.insert(0, f"*Services*\n{render.mrkdwn_escape(', '.join(v.services))}")
        if v.since is not None:
            fields.append(f"*When*\n{render.since_text(v)}")
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": render.clip(f, FIELD_MAX)}
                                                     for f in fields]})
        inc = v.incident
        if inc is not None and inc.summary:
            blocks.append(_section(render.mrkdwn_escape(inc.summary)))
        if inc is not None and inc.root_cause:
            causes = "\n".join(f"{i}. {render.mrkdwn_escape(c)}" for i, c in enumerate(inc.root_cause, 1))
            blocks.append(_section(f"*Probable root cause*\n{causes}"))
        custom = render.literal(c.text)
        alerts_text = render.mrkdwn_escape(custom) if custom else render.bullet_lines(v, escape=True)
        blocks.append(_section(alerts_text))
        buttons = [{"type": "button", "text": {"type": "plain_text", "text": render.clip(t, 75)}, "url": u}
                   for t, u in render.all_links(v)[:BUTTONS_MAX]]
        if c.title_link and render.literal(c.title_link):
            buttons.insert(0, {"type": "button", "text": {"type": "plain_text", "text": "Open"},
                               "url": c.title_link})
        if buttons:
            blocks.append({"type": "actions", "elements": buttons[:BUTTONS_MAX]})
        footer = render.literal(c.footer) or f"vigil · {notice.receiver}"
        blocks.append({"type": "context",
                       "elements": [{"type": "mrkdwn", "text": render.mrkdwn_escape(footer)}]})
        body: dict[str, Any] = {
            "text": fallback, "link_names": c.link_names,
            "attachments": [{"color": render.literal(c.color) or v.colour, "fallback": fallback,
                             "blocks": blocks}],
        }
        for key in ("channel", "username", "icon_emoji", "icon_url"):
            value = getattr(c, key)
            if value:
                body[key] = value
        return body

    async def send(self, notice: Notice) -> Delivery:
        return await self.post_json(self._url, orjson.dumps(self.payload(notice)), notice.key)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": render.clip(text, SECTION_MAX)}}
