"""The `oncall:` section: people (`users`), who is on call when (`schedules`: rotation layers and
overrides, in a time zone) and what happens while nobody acknowledges an incident
(`escalation_policies`: levels after N minutes, repeats). Services choose a policy with
`services[].escalation`. Names are checked across the file (`oncall_problems`): an unknown user,
receiver, schedule or policy is an error at its line. See docs/oncall.md."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from vigil.config.loader import ConfigProblem, Document, Path_, format_path
from vigil.config.types import Duration, Strict, format_duration

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
ONCALL_PREFIX = "oncall:"
USER_PREFIX = "user:"
MAX_LAYERS = 10
MAX_OVERRIDES = 1000


def _name(v: str) -> str:
    if not _NAME.match(v):
        raise ValueError(f"name {v!r} must be letters, digits, '_', '.', '@' or '-' (max 64), starting "
                         "with a letter or digit")
    return v


def parse_clock(value: Any) -> dt.time:
    """A time of day, "HH:MM". YAML 1.1 reads an unquoted 9:30 as the number 570 (base 60): that is
    taken as 9:30 too, since it is what was written."""
    if isinstance(value, bool):
        raise ValueError(f"expected a time of day like \"09:00\"; found {value!r}")
    if isinstance(value, int) and 0 <= value < 24 * 60:
        return dt.time(value // 60, value % 60)
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
            return dt.time(int(m.group(1)), int(m.group(2)))
    raise ValueError(f"expected a time of day like \"09:00\" (24-hour HH:MM); found {value!r}")


def parse_moment(value: Any) -> float:
    """An RFC 3339 time with its offset (2024-03-10T09:00:00+01:00, or Z) -> seconds since the epoch."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected an RFC 3339 time like 2024-03-10T09:00:00+01:00; found {value!r}") \
                from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"the time {value.isoformat()} needs its offset (Z or +01:00): a time "
                             "without one means different moments in different places")
        return value.timestamp()
    raise ValueError(f"expected an RFC 3339 time like 2024-03-10T09:00:00Z; found {value!r}")


Clock = Annotated[dt.time, BeforeValidator(parse_clock)]
Moment = Annotated[float, BeforeValidator(parse_moment)]
Name = Annotated[str, AfterValidator(_name)]


class User(Strict):
    name: Name
    receiver: str | None = Field(None, description="the receiver (alerting.receivers) that pages this person")
    full_name: str = ""



class Layer(Strict):
    """A rotation: `users` take turns, one shift each, handing over at `handoff` (local time)."""

    name: str = ""
    rotation: Literal["daily", "weekly", "hourly"] = "weekly"
    every: int = Field(1, ge=1, le=1000, description="a shift lasts this many days / weeks / hours")
    start: dt.date = Field(description="the date of the first handoff, in the schedule's time zone")
    handoff: Clock = Field(dt.time(9, 0), description="the local time of each handoff (daily, weekly), or of "
                                                      "the first one (hourly)")
    end: dt.date | None = Field(None, description="from the handoff of this date on, the layer has nobody")
    users: list[str] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _span(self) -> "Layer":
        for day in (self.start, self.end):
            if day is not None and not 1970 <= day.year <= 2999:
                raise ValueError(f"layer dates must lie between 1970 and 2999; found {day}")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"layer end {self.end} must be after its start {self.start}")
        return self


class Override(Strict):
    """Someone else on call from `start` to `end`, whatever the layers say."""

    user: str
    start: Moment
    end: Moment
    comment: str = ""

    @model_validator(mode="after")
    def _span(self) -> "Override":
        if self.end <= self.start:
            raise ValueError("an override's end must be after its start")
        return self


class Schedule(Strict):
    name: Name
    time_zone: str = Field("UTC", description="an IANA zone (Europe/Berlin): handoffs follow its clocks, DST "
                                              "included")
    layers: list[Layer] = Field(min_length=1, max_length=MAX_LAYERS)
    overrides: list[Override] = Field(default_factory=list, max_length=MAX_OVERRIDES)


    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name like UTC, Europe/Berlin or "
                             "America/New_York") from None
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class Level(Strict):
    after: Duration = Field(0.0, description="how long the incident has been unacknowledged when this level "
                                             "is paged")
    notify: list[str] = Field(min_length=1, max_length=50, description="receivers, oncall:<schedule> or "
                                                                       "user:<name>")


class EscalationPolicy(Strict):
    name: Name
    levels: list[Level] = Field(min_length=1, max_length=20)
    repeat_every: Duration | None = Field(None, description="after the last level, start again from the "
                                                            "first this long later")
    max_repeats: int = Field(3, ge=1, le=100, description="how many times the policy repeats at most")


    @model_validator(mode="after")
    def _order(self) -> "EscalationPolicy":
        for i in range(1, len(self.levels)):
            if self.levels[i].after < self.levels[i - 1].after:
                now, before = format_duration(self.levels[i].after), format_duration(self.levels[i - 1].after)
                raise ValueError(f"levels[{i}].after ({now}) is earlier than levels[{i - 1}].after "
                                 f"({before}): levels are paged in order, each at its time since the "
                                 "incident opened")
        if self.repeat_every is not None and self.repeat_every < 60:
            raise ValueError("repeat_every must be at least 1m")
        return self

    @property
    def cycle(self) -> float:
        """Seconds from one round's first level to the next round's: the next round starts
        `repeat_every` after this one's last level."""
        return self.levels[-1].after - self.levels[0].after + (self.repeat_every or 0.0)


class OnCallConfig(Strict):
    users: list[User] = Field(default_factory=list, max_length=10_000)
    schedules: list[Schedule] = Field(default_factory=list, max_length=1000)
    escalation_policies: list[EscalationPolicy] = Field(default_factory=list, max_length=1000)
    default_policy: str | None = Field(None, description="the policy of incidents whose services name none")

    def user(self, name: str) -> User | None:
        return next((u for u in self.users if u.name == name), None)

    def schedule(self, name: str) -> Schedule | None:
        return next((s for s in self.schedules if s.name == name), None)

    def policy(self, name: str) -> EscalationPolicy | None:
        return next((p for p in self.escalation_policies if p.name == name), None)


# ------------------------------------------------------------------------------ across the file

def oncall_problems(oncall: OnCallConfig, services: list[Any], receivers: list[str], routed: bool,
                    doc: Document) -> list[ConfigProblem]:
    """Every name the section uses must exist: users' receivers, the users of layers and overrides,
    the targets of each level, each service's policy and the default one. Reported at the key."""
    out: list[ConfigProblem] = []

    def problem(path: Path_, message: str) -> None:
        out.append(ConfigProblem(doc.file, doc.line(path), format_path(path), message))

    base: Path_ = ("oncall",)
    known_receivers = set(receivers)
    users = {u.name: u for u in oncall.users}
    named_lists = {"users": [u.name for u in oncall.users], "schedules": [s.name for s in oncall.schedules],
                   "escalation_policies": [p.name for p in oncall.escalation_policies]}
    for kind, names in named_lists.items():
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            if name in seen:
                problem((*base, kind, i, "name"), f"duplicate name {name!r} (also {kind}[{seen[name]}])")
            seen.setdefault(name, i)
    for i, u in enumerate(oncall.users):
        if u.receiver is not None and u.receiver not in known_receivers:
            known = ", ".join(sorted(known_receivers)) or "none (add alerting.receivers)"
            problem((*base, "users", i, "receiver"), f"user {u.name!r}: unknown receiver {u.receiver!r}; "
                    f"known: {known}")
    for i, s in enumerate(oncall.schedules):
        for j, layer in enumerate(s.layers):
            for k, name in enumerate(layer.users):
                if name not in users:
                    problem((*base, "schedules", i, "layers", j, "users", k), _unknown_user(name, users))
        for j, o in enumerate(s.overrides):
            if o.user not in users:
                problem((*base, "schedules", i, "overrides", j, "user"), _unknown_user(o.user, users))
    for i, p in enumerate(oncall.escalation_policies):
        for j, level in enumerate(p.levels):
            for k, target in enumerate(level.notify):
                why = _target_problem(target, oncall, users, known_receivers)
                if why:
                    problem((*base, "escalation_policies", i, "levels", j, "notify", k), why)
    policies = {p.name for p in oncall.escalation_policies}
    named: list[tuple[Path_, str | None]] = [((*base, "default_policy"), oncall.default_policy)]
    named += [(("services", i, "escalation"), getattr(s, "escalation", None)) for i, s in enumerate(services)]
    for path, chosen in named:
        if chosen is not None and chosen not in policies:
            known = ", ".join(sorted(policies)) or "none (add oncall.escalation_policies)"
            problem(path, f"unknown escalation policy {chosen!r}; known: {known}")
    if oncall.escalation_policies and not routed:
        problem((*base, "escalation_policies"), "escalation pages through the receivers of alerting: set "
                "alerting.route (and alerting.receivers) too")
    return out


def _unknown_user(name: str, users: dict[str, User]) -> str:
    return f"unknown user {name!r}; known: {', '.join(sorted(users)) or 'none (add oncall.users)'}"


def _target_problem(target: str, oncall: OnCallConfig, users: dict[str, User], receivers: set[str]) -> str:
    """Why a level's target cannot page anyone, or ''."""
    if target.startswith(ONCALL_PREFIX):
        name = target[len(ONCALL_PREFIX):]
        schedule = oncall.schedule(name)
        if schedule is None:
            known = ", ".join(s.name for s in oncall.schedules) or "none (add oncall.schedules)"
            return f"unknown schedule {name!r}; known: {known}"
        people = {n for layer in schedule.layers for n in layer.users} | {o.user for o in schedule.overrides}
        silent = sorted(n for n in people if n in users and users[n].receiver is None)
        if silent:
            return (f"schedule {name!r} has users without a receiver ({', '.join(silent)}): nobody could "
                    "page them when they are on call; give each a receiver")
        return ""
    if target.startswith(USER_PREFIX):
        name = target[len(USER_PREFIX):]
        if name not in users:
            return _unknown_user(name, users)
        if users[name].receiver is None:
            return f"user {name!r} has no receiver to page"
        return ""
    if target not in receivers:
        return (f"unknown receiver {target!r}; known: {', '.join(sorted(receivers)) or 'none'} (or write "
                "oncall:<schedule>, user:<name>)")
    return ""
