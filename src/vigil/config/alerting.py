"""The `alerting:` section: Alertmanager's configuration, key for key (`global`, `route`,
`inhibit_rules`, `receivers`, `time_intervals`, `mute_time_intervals`, `templates`), written inline
or loaded from an existing file with `alerting.alertmanager_config: alertmanager.yml` (relative to
vigil.yaml; its problems name that file, its line and key). vigil's own additions: silence limits
and maintenance windows. `templates` are accepted and not executed: vigil renders its own texts.

Validation is Alertmanager's (same messages where it has one): the route tree's checks here, the
checks across the section (receivers exist, time interval names exist, global defaults filled into
receivers) in `resolve_alerting`, called from the schema."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, field_validator, model_validator

from vigil.config.loader import ConfigProblem, Path_, format_path, load_file, problems_from_validation
from vigil.config.receivers import UNSUPPORTED_INTEGRATIONS, HttpConfig, OutboxConfig, Receiver
from vigil.config.types import Duration, Secret, Strict, parse_duration
from vigil.incidents import timeintervals as ti
from vigil.incidents.matchers import check_regex, label_name_ok, validate_matcher_line

SUPPORTED_INTEGRATIONS = ("slack_configs", "discord_configs", "email_configs", "webhook_configs",
                          "pagerduty_configs")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"


def parse_am_duration(value: Any) -> float:
    """Alertmanager's durations (1y2w3d4h5m6s7ms; a year is 365 days), and vigil's (numbers, 1.5h)."""
    if isinstance(value, str):
        text = value.strip()
        head, sep, rest = text.partition("y")
        if sep and head.isdigit():
            return int(head) * 365 * 86400.0 + (parse_duration(rest) if rest else 0.0)
    return parse_duration(value)


AmDuration = Annotated[float, BeforeValidator(parse_am_duration)]
MatcherLine = Annotated[str, AfterValidator(validate_matcher_line)]
"""One line of a `matchers:` list (it may hold several matchers), checked as Alertmanager parses it."""
Regex = Annotated[str, AfterValidator(check_regex)]


def _label_names(names: list[str], what: str) -> list[str]:
    for n in names:
        if not label_name_ok(n):
            raise ValueError(f"invalid label name {n!r} in {what}: use letters, digits and '_'")
    return names


class RouteConfig(Strict):
    receiver: str | None = None
    group_by: list[str] | None = Field(None, description="labels to group by; ['...'] groups by all")
    continue_: bool = Field(False, alias="continue")
    matchers: list[MatcherLine] = Field(default_factory=list)
    match: dict[str, str] = Field(default_factory=dict, description="deprecated: label: value")
    match_re: dict[str, Regex] = Field(default_factory=dict, description="deprecated: label: regex")
    group_wait: AmDuration | None = None
    group_interval: AmDuration | None = None
    repeat_interval: AmDuration | None = None
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    routes: list["RouteConfig"] = Field(default_factory=list)

    model_config = {**Strict.model_config, "populate_by_name": True}

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if "..." in v and len(v) > 1:
            raise ValueError("cannot have wildcard group_by (`...`) and other labels at the same time")
        seen: set[str] = set()
        for name in v:
            if name in seen:
                raise ValueError(f"duplicated label {name!r} in group_by")
            seen.add(name)
        return v if v == ["..."] else _label_names(v, "group_by")

    @field_validator("match", "match_re")
    @classmethod
    def _match(cls, v: dict[str, str]) -> dict[str, str]:
        _label_names(list(v), "match")
        return v

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _not_zero(cls, v: float | None, info: Any) -> float | None:
        if v is not None and v == 0:
            raise ValueError(f"{info.field_name} cannot be zero")
        return v


class InhibitRuleConfig(Strict):
    source_matchers: list[MatcherLine] = Field(default_factory=list)
    target_matchers: list[MatcherLine] = Field(default_factory=list)
    source_match: dict[str, str] = Field(default_factory=dict, description="deprecated")
    source_match_re: dict[str, Regex] = Field(default_factory=dict, description="deprecated")
    target_match: dict[str, str] = Field(default_factory=dict, description="deprecated")
    target_match_re: dict[str, Regex] = Field(default_factory=dict, description="deprecated")
    equal: list[str] = Field(default_factory=list, description="labels whose values must be equal")

    @field_validator("equal", "source_match", "target_match", "source_match_re", "target_match_re")
    @classmethod
    def _names(cls, v: Any) -> Any:
        _label_names(list(v), "an inhibit rule")
        return v


class TimeRangeConfig(Strict):
    start_time: str
    end_time: str

    @model_validator(mode="after")
    def _range(self) -> "TimeRangeConfig":
        ti.parse_times(self.start_time, self.end_time)
        return self


def _ranges(parse: Any) -> Any:
    """A list of ranges ("monday:friday", "1", ...), each item checked (its index in the error)."""
    def check(x: Any) -> str:
        parse(str(x))
        return str(x)
    return list[Annotated[str, BeforeValidator(check)]] | None


class TimeIntervalSpec(Strict):
    times: list[TimeRangeConfig] | None = None
    weekdays: _ranges(ti.parse_weekdays) = None  # type: ignore[valid-type]
    days_of_month: _ranges(ti.parse_days_of_month) = None  # type: ignore[valid-type]
    months: _ranges(ti.parse_months) = None  # type: ignore[valid-type]
    years: _ranges(ti.parse_years) = None  # type: ignore[valid-type]
    location: str | None = Field(None, description="IANA time zone (default UTC)")

    @field_validator("location")
    @classmethod
    def _location(cls, v: str | None) -> str | None:
        if v is not None:
            ti.load_location(v)
        return v


class NamedTimeInterval(Strict):
    name: str
    time_intervals: list[TimeIntervalSpec] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v:
            raise ValueError("missing name in time interval")
        return v


class GlobalConfig(Strict):
    """Alertmanager's `global:` keys. The SMTP, Slack, PagerDuty and HTTP defaults fill the receivers
    that leave them out; the keys of integrations vigil does not speak are accepted and unused."""

    resolve_timeout: AmDuration = 300.0
    http_config: HttpConfig | None = None
    smtp_from: str | None = None
    smtp_hello: str = "localhost"
    smtp_smarthost: str | None = None
    smtp_auth_username: str | None = None
    smtp_auth_password: Secret | None = None
    smtp_auth_password_file: str | None = None
    smtp_auth_secret: Secret | None = None
    smtp_auth_identity: str | None = None
    smtp_require_tls: bool = True
    smtp_tls_config: dict[str, str | bool] | None = None
    slack_api_url: Secret | None = None
    slack_api_url_file: str | None = None
    pagerduty_url: str = PAGERDUTY_URL
    opsgenie_api_key: Secret | None = None
    opsgenie_api_key_file: str | None = None
    opsgenie_api_url: str | None = None
    victorops_api_key: Secret | None = None
    victorops_api_key_file: str | None = None
    victorops_api_url: str | None = None
    wechat_api_url: str | None = None
    wechat_api_secret: Secret | None = None
    wechat_api_corp_id: str | None = None
    telegram_api_url: str | None = None
    webex_api_url: str | None = None


def _refuse_unsupported(value: Any) -> Any:
    if isinstance(value, dict):
        unsupported = [k for k in value if k in UNSUPPORTED_INTEGRATIONS]
        if unsupported:
            name = value.get("name", "?")
            raise ValueError(f"receiver {name!r} uses {', '.join(unsupported)}, which vigil does not "
                             f"support; vigil sends with {', '.join(SUPPORTED_INTEGRATIONS)} "
                             "(see docs/alerting.md)")
    return value


ReceiverEntry = Annotated[Receiver, BeforeValidator(_refuse_unsupported)]


class AlertmanagerFile(Strict):
    """An alertmanager.yml, as Alertmanager 0.25 reads it."""

    global_: GlobalConfig = Field(GlobalConfig(), alias="global")
    route: RouteConfig | None = None
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    receivers: list[ReceiverEntry] = Field(default_factory=list)
    time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    mute_time_intervals: list[NamedTimeInterval] = Field(default_factory=list, description="deprecated name")
    templates: list[str] = Field(default_factory=list, description="accepted, not executed")

    model_config = {**Strict.model_config, "populate_by_name": True}


class MaintenanceWindowConfig(Strict):
    name: str
    services: list[str] = Field(default_factory=list)
    matchers: list[MatcherLine] = Field(default_factory=list, description="alerts the window covers")
    time_intervals: list[str] = Field(default_factory=list, description="recurring: names of time_intervals")
    starts_at: datetime | None = Field(None, description="one-off: start (RFC 3339 with a zone)")
    ends_at: datetime | None = None
    comment: str = ""

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _zoned(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError(f"give the time zone, e.g. 2026-05-01T02:00:00Z or +02:00; found "
                             f"{v.isoformat()} without one")
        return v

    @model_validator(mode="after")
    def _shape(self) -> "MaintenanceWindowConfig":
        if not self.services and not self.matchers:
            raise ValueError("a maintenance window needs services or matchers (or it would mute everything)")
        one_off = self.starts_at is not None or self.ends_at is not None
        if one_off == bool(self.time_intervals):
            raise ValueError("a maintenance window is either recurring (time_intervals) or one-off "
                             "(starts_at and ends_at): give exactly one of the two")
        if one_off and (self.starts_at is None or self.ends_at is None or self.ends_at <= self.starts_at):
            raise ValueError("a one-off maintenance window needs starts_at and a later ends_at")
        return self


class SilencesConfig(Strict):
    max_duration: Duration = 30 * 86400.0  # the longest silence that may be created
    retention: Duration = 120 * 3600.0  # how long an expired silence is kept


class AlertingConfig(AlertmanagerFile):
    alertmanager_config: str | None = Field(None, description="an alertmanager.yml to load as it is")
    maintenance_windows: list[MaintenanceWindowConfig] = Field(default_factory=list)
    silences: SilencesConfig = SilencesConfig()
    outbox: OutboxConfig = OutboxConfig()

    def named_time_intervals(self) -> list[NamedTimeInterval]:
        return [*self.time_intervals, *self.mute_time_intervals]


# ------------------------------------------------------------------------ checks across the section

_AM_KEYS = ("global", "route", "inhibit_rules", "receivers", "time_intervals", "mute_time_intervals",
            "templates")


def resolve_alerting(alerting: AlertingConfig, services: list[str], file: str,
                     lines: dict[Path_, int]) -> tuple[AlertingConfig, list[ConfigProblem]]:
    """Load `alertmanager_config` if set, check the section as a whole, and fill the global defaults
    into the receivers. Returns the effective section and the problems found (each at its file,
    line and key)."""
    problems: list[ConfigProblem] = []
    base: Path_ = ("alerting",)
    src_file, src_lines, prefix = file, lines, base
    am: AlertmanagerFile = alerting
    if alerting.alertmanager_config is not None:
        given = alerting.model_fields_set
        inline = [k for k in _AM_KEYS if k in given or f"{k}_" in given]
        if inline:
            problems.append(_problem(file, lines, (*base, "alertmanager_config"),
                                     f"alertmanager_config is set: do not also write {', '.join(inline)} "
                                     "inline"))
        loaded, src_file, src_lines, more = _load_alertmanager_file(alerting.alertmanager_config, file)
        problems += more
        if loaded is None:
            return alerting, problems
        am, prefix = loaded, ()
    problems += _check(am, alerting, services, src_file, src_lines, prefix, file, lines)
    filled = _fill_globals(am, src_file, src_lines, prefix, problems)
    effective = alerting.model_copy(update={
        "global_": am.global_, "route": am.route, "inhibit_rules": am.inhibit_rules, "receivers": filled,
        "time_intervals": am.time_intervals, "mute_time_intervals": am.mute_time_intervals,
        "templates": am.templates})
    return effective, problems


def _problem(file: str, lines: dict[Path_, int], path: Path_, message: str) -> ConfigProblem:
    line = None
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            line = lines[path[:n]]
            break
    return ConfigProblem(file, line, format_path(path), message)


def _load_alertmanager_file(name: str, vigil_file: str) -> tuple[AlertmanagerFile | None, str, dict, list]:
    path = Path(name)
    if not path.is_absolute():
        path = Path(vigil_file).resolve().parent / path
    from vigil.config.loader import ConfigError
    from vigil.config.redact import secret_paths

    try:
        doc = load_file(path)
    except ConfigError as exc:
        return None, str(path), {}, list(exc.problems)
    file, lines, data = doc.file, doc.lines, {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        return None, file, lines, [*doc.problems, ConfigProblem(file, 1, "", "an alertmanager.yml must be a mapping")]
    try:
        am = AlertmanagerFile.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation(exc, doc, secret_paths(AlertmanagerFile, data))
        return None, file, lines, [*doc.problems, *problems]
    return (None if doc.problems else am), file, lines, list(doc.problems)


def _check(am: AlertmanagerFile, alerting: AlertingConfig, services: list[str], file: str, lines: dict,
           prefix: Path_, vigil_file: str, vigil_lines: dict) -> list[ConfigProblem]:
    out: list[ConfigProblem] = []

    def bad(path: Path_, message: str, in_vigil: bool = False) -> None:
        if in_vigil:
            out.append(_problem(vigil_file, vigil_lines, ("alerting", *path), message))
        else:
            out.append(_problem(file, lines, (*prefix, *path), message))

    names: dict[str, int] = {}
    for i, r in enumerate(am.receivers):
        if r.name in names:
            bad(("receivers", i, "name"), f"notification config name {r.name!r} is not unique")
        names.setdefault(r.name, i)
    intervals: set[str] = set()
    for key in ("time_intervals", "mute_time_intervals"):
        for i, t in enumerate(getattr(am, key)):
            if t.name in intervals:
                bad((key, i, "name"), f"time interval {t.name!r} is not unique")
            intervals.add(t.name)
    if am.route is None:
        if am.receivers or am.inhibit_rules:
            bad(("route",), "no routes provided: alerting.route names the default receiver of every alert")
    else:
        root = am.route
        if not root.receiver:
            bad(("route", "receiver"), "root route must specify a default receiver")
        if root.matchers or root.match or root.match_re:
            bad(("route",), "root route must not have any matchers")
        if root.continue_:
            bad(("route", "continue"), "cannot have continue in root route")
        if root.mute_time_intervals:
            bad(("route", "mute_time_intervals"), "root route must not have any mute time intervals")
        if root.active_time_intervals:
            bad(("route", "active_time_intervals"), "root route must not have any active time intervals")
        _check_routes(root, ("route",), names, intervals, bad)
    known = set(services)
    for i, w in enumerate(alerting.maintenance_windows):
        for j, s in enumerate(w.services):
            if s not in known:
                bad(("maintenance_windows", i, "services", j),
                    f"unknown service {s!r}; known: {', '.join(services) or 'none'}", True)
        for j, n in enumerate(w.time_intervals):
            if n not in intervals:
                bad(("maintenance_windows", i, "time_intervals", j), f"undefined time interval {n!r}", True)
    return out


def _check_routes(r: RouteConfig, path: Path_, receivers: dict[str, int], intervals: set[str],
                  bad: Any) -> None:
    if r.receiver and r.receiver not in receivers:
        bad((*path, "receiver"), f"undefined receiver {r.receiver!r} used in route; "
                                 f"defined: {', '.join(receivers) or 'none'}")
    for key in ("mute_time_intervals", "active_time_intervals"):
        for j, n in enumerate(getattr(r, key)):
            if n not in intervals:
                bad((*path, key, j), f"undefined time interval {n!r} used in route")
    for i, child in enumerate(r.routes):
        _check_routes(child, (*path, "routes", i), receivers, intervals, bad)


def _fill_globals(am: AlertmanagerFile, file: str, lines: dict, prefix: Path_,
                  problems: list[ConfigProblem]) -> list[Receiver]:
    """Alertmanager's global defaults into each integration that leaves them out; an integration
    left without what it needs is a problem, named as Alertmanager names it."""
    g = am.global_
    out = []
    for i, r in enumerate(am.receivers):
        update: dict[str, Any] = {}
        for kind in ("slack", "discord", "email", "webhook", "pagerduty"):
            items = []
            for j, c in enumerate(getattr(r, f"{kind}_configs")):
                at = (*prefix, "receivers", i, f"{kind}_configs", j)
                fill: dict[str, Any] = {}
                if c.http_config is None and g.http_config is not None:
                    fill["http_config"] = g.http_config
                missing = _fill_one(kind, c, g, fill)
                if missing:
                    problems.append(_problem(file, lines, at, missing))
                items.append(c.model_copy(update=fill) if fill else c)
            update[f"{kind}_configs"] = items
        out.append(r.model_copy(update=update))
    return out


def _fill_one(kind: str, c: Any, g: GlobalConfig, fill: dict[str, Any]) -> str | None:
    set_ = c.model_fields_set
    if kind == "slack":
        if c.api_url is None and c.api_url_file is None:
            if g.slack_api_url is None and g.slack_api_url_file is None:
                return "no global Slack API URL set: set api_url here or global.slack_api_url"
            fill.update(api_url=g.slack_api_url, api_url_file=g.slack_api_url_file)
    elif kind == "email":
        for field, gfield in (("from_", "smtp_from"), ("smarthost", "smtp_smarthost"),
                              ("hello", "smtp_hello"), ("auth_username", "smtp_auth_username"),
                              ("auth_password", "smtp_auth_password"),
                              ("auth_password_file", "smtp_auth_password_file"),
                              ("auth_secret", "smtp_auth_secret"), ("auth_identity", "smtp_auth_identity"),
                              ("require_tls", "smtp_require_tls"), ("tls_config", "smtp_tls_config")):
            if field not in set_ and getattr(g, gfield) is not None:
                fill[field] = getattr(g, gfield)
        if not (fill.get("smarthost") or c.smarthost):
            return "no global SMTP smarthost set: set smarthost here or global.smtp_smarthost"
        if not (fill.get("from_") or c.from_):
            return "no global SMTP from set: set from here or global.smtp_from"
    elif kind == "pagerduty":
        if "url" not in set_:
            fill["url"] = g.pagerduty_url
        if c.routing_key is None and c.routing_key_file is None and c.service_key is None:
            return "missing routing_key (or service_key) in PagerDuty config"
    elif kind == "webhook":
        if c.url is None and c.url_file is None:
            return "one of url or url_file must be configured"
    elif kind == "discord":
        if c.webhook_url is None and c.webhook_url_file is None:
            return "one of webhook_url or webhook_url_file must be configured"
    return None
