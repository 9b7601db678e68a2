"""Reads a vigil.yaml: YAML with line numbers kept, ${ENV} interpolation, complete validation.

Every problem found is reported at once, each with the file, the line, the key path, what was
expected and what was found, so a user fixes the whole file in one pass."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from vigil.config.redact import mask

Path_ = tuple[str | int, ...]

_ENV_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _walk_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int], dups: list[tuple[Path_, int]]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                dups.append((path + (key,), key_node.start_mark.line + 1))
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk_lines(value_node, path + (key,), lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _walk_lines(item, path + (i,), lines, dups)


def _interpolate(data: Any, path: Path_, env: Mapping[str, str], missing: list[tuple[Path_, str]],
                 written: dict[Path_, str]) -> Any:
    if isinstance(data, dict):
        return {k: _interpolate(v, path + (k,), env, missing, written) for k, v in data.items()}
    if isinstance(data, list):
        return [_interpolate(v, path + (i,), env, missing, written) for i, v in enumerate(data)]
    if isinstance(data, str) and "$" in data:
        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            missing.append((path, name))
            return ""
        value = _ENV_RE.sub(sub, data)
        if value != data:
            written[path] = data
        return value
    return data


def _line_for(path: Path_, lines: dict[Path_, int]) -> int | None:
    # The deepest part of the path that exists in the file (a missing key reports its parent's line).
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


@dataclass
class Document:
    """A configuration file as read: the data (${ENV} substituted), the line of every key path, the
    problems found while reading (duplicate keys, unset variables: validation goes on regardless, so
    every problem is reported at once) and, where a variable was substituted, the value as written."""

    file: str
    data: Any
    lines: dict[Path_, int]
    problems: list[ConfigProblem]
    written: dict[Path_, str]
    unset: set[Path_]  # key paths holding an unset variable

    def line(self, path: Path_) -> int | None:
        return _line_for(path, self.lines)


def read_yaml(text: str, file: str, env: Mapping[str, str] | None = None) -> Document:
    """Parse YAML text; only YAML that does not parse raises here (nothing else can be checked)."""
    env = os.environ if env is None else env
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(file, line, "", f"invalid YAML: {problem}")]) from None
    lines: dict[Path_, int] = {}
    dups: list[tuple[Path_, int]] = []
    if node is not None:
        _walk_lines(node, (), lines, dups)
    problems = [ConfigProblem(file, ln, format_path(p), "duplicate key; each key may appear once")
                for p, ln in dups]
    missing: list[tuple[Path_, str]] = []
    written: dict[Path_, str] = {}
    data = _interpolate(data, (), env, missing, written)
    for p, name in missing:
        problems.append(ConfigProblem(
            file, _line_for(p, lines), format_path(p),
            f"environment variable {name} is not set; set it, or write ${{{name}:-default}}"))
    return Document(file, data, lines, problems, written, {p for p, _ in missing})


def _describe(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return type(value).__name__ if len(repr(value)) > 60 else repr(value)
    return repr(value)


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _clean_loc(loc: Path_, data: Any) -> Path_:
    """Drop what pydantic adds to a location that is not a key in the file: the tag of a
    discriminated union (probes[0].http.url -> probes[0].url) and validator names."""
    out: list[str | int] = []
    tag_dropped = False
    for part in loc:
        if isinstance(part, str) and (part.startswith("function-") or part == "tagged-union"):
            continue
        if out and isinstance(out[-1], int) and isinstance(part, str) and not tag_dropped:
            item = _get(data, tuple(out))
            if isinstance(item, dict) and item.get("kind") == part:
                tag_dropped = True
                continue
        tag_dropped = False
        out.append(part)
    return tuple(out)


def problems_from_validation(exc: ValidationError, doc: Document, secret: set[Path_]) -> list[ConfigProblem]:
    """One problem per validation error, at its key and line. A value at or under a `secret` path is
    never shown, and every message is masked (URL credentials, the file's secret values)."""
    secrets = {str(v) for p in secret for v in _scalars(_get(doc.data, p))}
    out: list[ConfigProblem] = []
    for err in exc.errors(include_url=False):
        path = _clean_loc(tuple(err["loc"]), doc.data)
        if path in doc.unset:
            continue  # already reported: the variable is not set
        msg = err["msg"].replace("Value error, ", "")
        etype = err["type"]
        if etype == "union_tag_invalid":
            ctx = err.get("ctx", {})
            path = path + ("kind",)
            msg = f"unknown kind {ctx.get('tag')!r}; expected one of: {ctx.get('expected_tags')}"
        elif etype == "union_tag_not_found":
            path = path + ("kind",)
            msg = f"required key is missing; expected one of: {err.get('ctx', {}).get('expected_tags', '')}"
        elif etype == "extra_forbidden":
            msg = "unknown key; check its spelling and where it is indented"
        elif etype == "missing":
            msg = "required key is missing"
        elif any(path[:n] in secret for n in range(len(path) + 1)):
            msg = f"{msg}; found {_kind_of(err.get('input'))} (a secret: not shown)"
        elif "found" not in msg and "input" in err and not isinstance(err["input"], dict):
            msg = f"{msg}; found {_describe(err['input'])}"
            written = doc.written.get(path)
            if written is not None and mask(written, secrets) != mask(str(err["input"]), secrets):
                msg += f" (from {written!r})"
        out.append(ConfigProblem(doc.file, doc.line(path), format_path(path), mask(msg, secrets)))
    return out


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    names: dict[type, str] = {str: "a string", list: "a list", dict: "a mapping"}
    return names.get(type(value), "nothing" if value is None else type(value).__name__)


def _scalars(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scalars(v)]
    if isinstance(value, list):
        return [s for v in value for s in _scalars(v)]
    return [] if value is None else [value]


def load_file(path: str | os.PathLike[str]) -> Document:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(file, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(file, None, "", f"cannot read file: {exc}")]) from None
    return read_yaml(text, file)
