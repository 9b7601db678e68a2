"""Label matchers exactly as Alertmanager parses, evaluates and prints them (pkg/labels in 0.25).

`name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`; a missing label matches as the empty string;
regexes are fully anchored (`^(?:re)$`). The forms accepted are Alertmanager's: a list such as
`{a="b", c=~"d.*"}`, the bare `a=b` of a `matchers:` line, quotes optional.

Regexes come from operators and from silences created through the API, so they never meet a
backtracking engine: they compile with RE2 (the `google-re2` package), the engine Go's regexp is a
port of, so a pattern means here exactly what it means in Alertmanager and every match is linear in
the length of the value."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import re2

# A user pattern is compiled once and kept; one this long is a mistake, not a matcher.
MAX_PATTERN = 10_000

_OPS = ("=", "!=", "=~", "!~")
_WS = " \t\n\f\r"  # Go's \s
# A matcher's label name (Alertmanager accepts ':' too); a single character class, so linear.
_NAME_AT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # errors are reported to the user, not printed to stderr


class MatcherError(ValueError):
    """A matcher or a list of matchers that does not parse; the message says what and where."""


@functools.lru_cache(maxsize=4096)
def compile_anchored(pattern: str) -> Any:
    """RE2 program for `^(?:pattern)$`, as Alertmanager compiles a regex matcher."""
    if len(pattern) > MAX_PATTERN:
        raise MatcherError(f"regex is {len(pattern)} characters long; at most {MAX_PATTERN} are accepted")
    try:
        return re2.compile(f"^(?:{pattern})$", options=_RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise MatcherError(f"invalid regex {pattern!r}: {detail}") from None


def check_regex(pattern: str) -> str:
    compile_anchored(pattern)
    return pattern


def label_name_ok(name: str) -> bool:
    return _LABEL_NAME.fullmatch(name) is not None


def _split_matcher(text: str) -> tuple[str, str, str] | None:
    """Alertmanager's `^\\s*(name)\\s*(=~|=|!=|!~)\\s*(.*?)\\s*$`, scanned by hand so that no
    user text meets a backtracking engine."""
    body = text.strip(_WS)
    m = _NAME_AT.match(body)
    if not m:
        return None
    rest = body[m.end():].lstrip(_WS)
    for op in ("=~", "!=", "!~", "="):
        if rest.startswith(op):
            return m.group(0), op, rest[len(op):].strip(_WS)
    return None


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label. `op` is one of = != =~ !~."""

    name: str
    op: str
    value: str
    _re: Any = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise MatcherError(f"unknown match operator {self.op!r}; use one of {', '.join(_OPS)}")
        if self.op in ("=~", "!~"):
            object.__setattr__(self, "_re", compile_anchored(self.value))

    @property
    def is_regex(self) -> bool:
        return self._re is not None

    @property
    def is_equal(self) -> bool:
        return self.op in ("=", "=~")

    def matches_value(self, value: str) -> bool:
        op = self.op
        if op == "=":
            return value == self.value
        if op == "!=":
            return value != self.value
        hit = self._re.fullmatch(value) is not None
        return hit if op == "=~" else not hit

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.matches_value(labels.get(self.name, ""))

    def sort_key(self) -> tuple[str, str, int]:
        # Alertmanager sorts matchers by name, then value, then type (= != =~ !~).
        return (self.name, self.value, _OPS.index(self.op))

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{escape_value(self.value)}"'

    def to_dict(self) -> dict[str, Any]:
        """The shape of Alertmanager's API v2 matcher."""
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex, "isEqual": self.is_equal}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Matcher":
        is_regex, is_equal = bool(d.get("isRegex", False)), bool(d.get("isEqual", True))
        ops = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
        op = ops[(is_regex, is_equal)]
        return cls(str(d["name"]), op, str(d["value"]))


def escape_value(value: str) -> str:
    """OpenMetrics escaping, as Alertmanager prints a matcher's value."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def sort_matchers(matchers: Iterable[Matcher]) -> list[Matcher]:
    return sorted(matchers, key=Matcher.sort_key)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """`{a="b",c=~"d"}` as Alertmanager's Matchers.String() writes it (in the given order)."""
    return "{" + ",".join(str(m) for m in matchers) + "}"


def parse_matcher(text: str) -> Matcher:
    """One matcher: `name OP value`, the value optionally in double quotes, OpenMetrics escapes
    (\\" \\n \\\\) inside; a stray backslash stays a backslash, as in Alertmanager."""
    parts = _split_matcher(text)
    if parts is None:
        raise MatcherError(f"bad matcher format: {text!r}; expected name=\"value\" with one of "
                           f"{', '.join(_OPS)}")
    name, op, raw = parts
    written = raw
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    out: list[str] = []
    escaped = False
    closed = False
    for i, ch in enumerate(raw):
        if escaped:
            escaped = False
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(ch, "\\" + ch))
            continue
        if ch == "\\":
            if i < len(raw) - 1:
                escaped = True
            else:
                out.append("\\")
        elif ch == '"':
            if not quoted or i < len(raw) - 1:
                raise MatcherError(f"matcher value contains unescaped double quote: {written!r}")
            closed = True
        else:
            out.append(ch)
    if quoted and not closed:
        raise MatcherError(f"matcher value contains unescaped double quote: {written!r}")
    return Matcher(name, op, "".join(out))


def split_matchers(text: str) -> list[str]:
    """Alertmanager's ParseMatchers tokenizer: an optional `{`/`}` around, commas outside quotes
    separate, an escaped quote does not open or close."""
    if text.startswith("{"):
        text = text[1:]
    if text.endswith("}"):
        text = text[:-1]
    tokens: list[str] = []
    token: list[str] = []
    inside = escaped = False
    for ch in text:
        if ch == "," and not inside:
            tokens.append("".join(token))
            token = []
            continue
        if ch == '"':
            if not escaped:
                inside = not inside
            else:
                escaped = False
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(ch)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return tokens


def parse_matchers(text: str) -> list[Matcher]:
    """`{a="b", c=~"d.*"}`, `a=b,c!=d` or one matcher; the order written is kept."""
    return [parse_matcher(t) for t in split_matchers(text)]


def parse_matcher_lines(lines: Iterable[str]) -> list[Matcher]:
    """A `matchers:` list (each line may hold several matchers), sorted as Alertmanager sorts it."""
    out: list[Matcher] = []
    for line in lines:
        out += parse_matchers(line)
    return sort_matchers(out)


def from_match(match: Mapping[str, str] | None, match_re: Mapping[str, str] | None) -> list[Matcher]:
    """The deprecated `match:` / `match_re:` maps as matchers. A `match_re` value is kept in its
    anchored form, as Alertmanager 0.25 keeps it (so route keys print `^(?:...)$`)."""
    out = [Matcher(k, "=", v) for k, v in (match or {}).items()]
    out += [Matcher(k, "=~", f"^(?:{v})$") for k, v in (match_re or {}).items()]
    return out


def validate_matcher_line(line: str) -> str:
    """For config validators: the line must parse; the error says why."""
    parse_matchers(line)
    return line


def label_matchers_text(matchers: Iterable[Matcher]) -> list[str]:
    return [str(m) for m in matchers]
