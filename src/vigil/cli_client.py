"""`vigil incidents` and `vigil silence`: the running vigil's API from the command line, as `amtool`
is Alertmanager's. The address and key come from the configuration file (`server.host:port`, the
first of `server.api_keys`), or from `--url` and `--key` / `VIGIL_API_KEY`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # a message is one line, whatever the width

incidents_app = typer.Typer(no_args_is_help=False, invoke_without_command=True,
                            help="Incidents of a running vigil: list, show, acknowledge, assign, note, resolve.")
silence_app = typer.Typer(no_args_is_help=True, help="Silences of a running vigil: add, list, expire.")

_CONFIG = typer.Option(Path("vigil.yaml"), "--config", "-c", help="the configuration file (for the address and key)")
_URL = typer.Option(None, "--url", help="vigil's address (default: server.host:port of the config)")
_KEY = typer.Option(None, "--key", envvar="VIGIL_API_KEY", help="an API key (default: the config's first)")


class Client:
    def __init__(self, config: Path, url: str | None, key: str | None) -> None:
        if url is None or key is None:
            from vigil.config import ConfigError, load_config

            try:
                cfg = load_config(config)
            except ConfigError as exc:
                err_console.print(f"[red]cannot read {config}[/]: {exc.problems[0]}; pass --url and --key",
                                  highlight=False)
                raise typer.Exit(2) from None
            url = url or f"http://{cfg.server.host}:{cfg.server.port}"
            if key is None and cfg.server.api_keys:
                key = cfg.server.api_keys[0].key.get_secret_value()
        if not key:
            err_console.print("[red]no API key[/]: pass --key, set VIGIL_API_KEY, or add server.api_keys")
            raise typer.Exit(2)
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10)

    def call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            err_console.print(f"[red]cannot reach vigil at {self.http.base_url}[/]: {type(exc).__name__}; is it "
                              "running (vigil up)?", highlight=False)
            raise typer.Exit(1) from None
        if r.status_code >= 400:
            is_json = r.headers.get("content-type", "").startswith("application/json")
            detail = r.json().get("detail") if is_json else r.text
            err_console.print(f"[red]{r.status_code}[/]: {detail}", highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        return r.json()


def _when(t: float | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _incident_lines(inc: dict[str, Any]) -> list[str]:
    out = [f"#{inc['id']} [{inc['status']}] {inc['severity']}  {inc['title']}",
           f"  about {inc['service']}; services {', '.join(inc['services'])}; opened {_when(inc['opened_at'])}"]
    if inc.get("acknowledged_by"):
        out.append(f"  acknowledged by {inc['acknowledged_by']} at {_when(inc['acknowledged_at'])}")
    if inc.get("resolved_at"):
        by = f" by {inc['resolved_by']}" if inc["resolved_by"] else ""
        out.append(f"  resolved {_when(inc['resolved_at'])}{by}")
    if inc.get("summary"):
        out.append(f"  {inc['summary']}")
    return out


@incidents_app.callback()
def incidents(ctx: typer.Context, status: str = typer.Option("active", help="active | open | acknowledged | "
                                                                           "resolved | all"),
              service: str | None = typer.Option(None, help="only this service's"),
              config: Path = _CONFIG, url: str | None = _URL, key: str | None = _KEY) -> None:
    """List incidents (newest first); or a subcommand."""
    ctx.obj = (config, url, key)
    if ctx.invoked_subcommand is not None:
        return
    found = Client(config, url, key).call("GET", "/api/v1/incidents",
                                          params={"status": status, **({"service": service} if service else {})})
    table = Table(header_style="bold")
    for col in ("id", "status", "severity", "service", "opened", "title"):
        table.add_column(col)
    for inc in found["incidents"]:
        table.add_row(str(inc["id"]), inc["status"], inc["severity"], inc["service"], _when(inc["opened_at"]),
                      inc["title"])
    console.print(table if found["incidents"] else f"no {status} incidents")


def _client(ctx: typer.Context) -> Client:
    return Client(*ctx.obj)


@incidents_app.command("show")
def show(ctx: typer.Context, incident: int = typer.Argument(..., help="the incident's number")) -> None:
    """One incident: its alerts and its timeline."""
    inc = _client(ctx).call("GET", f"/api/v1/incidents/{incident}")
    for line in _incident_lines(inc):
        console.print(line, highlight=False, soft_wrap=True)
    console.print("alerts:")
    for a in inc["alerts"]:
        console.print(f"  {'FIRING ' if a['firing'] else 'resolved'} {a['alertname']} on {a['service']}: "
                      f"{a['summary']} ({a['why']})", highlight=False, soft_wrap=True, markup=False)
    console.print("timeline:")
    for e in inc["timeline"]:
        console.print(f"  {_when(e['ts'])}  {e['kind']:<14} {e['actor']:<10} {e['message']}", highlight=False,
                      soft_wrap=True, markup=False)


def _change(ctx: typer.Context, incident: int, action: str, body: dict[str, Any] | None = None) -> None:
    inc = _client(ctx).call("POST", f"/api/v1/incidents/{incident}/{action}", json=body)
    console.print(_incident_lines(inc)[0], highlight=False, soft_wrap=True, markup=False)


@incidents_app.command("ack")
def ack(ctx: typer.Context, incident: int = typer.Argument(...)) -> None:
    """Acknowledge an incident: someone is on it."""
    _change(ctx, incident, "acknowledge")


@incidents_app.command("resolve")
def resolve(ctx: typer.Context, incident: int = typer.Argument(...),
            note: str | None = typer.Option(None, help="why, for the timeline")) -> None:
    """Resolve an incident by hand."""
    _change(ctx, incident, "resolve", {"note": note})


@incidents_app.command("assign")
def assign(ctx: typer.Context, incident: int = typer.Argument(...), who: str = typer.Argument(...)) -> None:
    """Assign an incident to someone."""
    _change(ctx, incident, "assign", {"assignee": who})


@incidents_app.command("note")
def note(ctx: typer.Context, incident: int = typer.Argument(...), text: str = typer.Argument(...)) -> None:
    """Add a note to an incident's timeline."""
    _change(ctx, incident, "notes", {"text": text})


@silence_app.command("add")
def silence_add(matchers: list[str] = typer.Argument(..., help='label matchers, e.g. service=payments or '
                                                                  'alertname=~"Disk.*"'),
                duration: str = typer.Option("1h", "--for", help="how long (15m, 2h, 1d): never forever"),
                comment: str = typer.Option(..., help="why (a ticket, a maintenance)"),
                config: Path = _CONFIG, url: str | None = _URL, key: str | None = _KEY) -> None:
    """Silence alerts matching every matcher, for a while."""
    from vigil.config.types import parse_duration

    try:
        seconds = parse_duration(duration)
    except Exception:
        err_console.print(f"[red]--for {duration!r}[/]: expected a duration like 15m, 2h or 1d")
        raise typer.Exit(2) from None
    body = {"matchers": "{" + ",".join(matchers) + "}", "ends_at": time.time() + seconds, "comment": comment}
    s = Client(config, url, key).call("POST", "/api/v1/silences", json=body)
    console.print(s["id"])  # alone, so scripts can expire it


@silence_app.command("list")
def silence_list(state: str | None = typer.Option(None, help="pending | active | expired"),
                 config: Path = _CONFIG, url: str | None = _URL, key: str | None = _KEY) -> None:
    """Silences, newest first."""
    found = Client(config, url, key).call("GET", "/api/v1/silences", params={"state": state} if state else {})
    table = Table(header_style="bold")
    for col in ("id", "state", "matchers", "ends", "by", "comment"):
        table.add_column(col, no_wrap=col in ("id", "state"))  # an id must stay whole to be copied
    for s in found["silences"]:
        table.add_row(s["id"], s["state"], s["matchers"], _when(s["ends_at"]), s["created_by"], s["comment"])
    console.print(table if found["silences"] else "no silences")


@silence_app.command("expire")
def silence_expire(silence: str = typer.Argument(..., help="the silence's id"),
                   config: Path = _CONFIG, url: str | None = _URL, key: str | None = _KEY) -> None:
    """End a silence now."""
    s = Client(config, url, key).call("DELETE", f"/api/v1/silences/{silence}")
    console.print(f"{s['id']} {s['state']}")


__all__ = ["incidents_app", "silence_app"]


@contextmanager
def configured_store(config: Path) -> Iterator[Any]:
    """The store the configuration names, opened directly (vigil need not be running): for commands
    that read or write it themselves (`vigil audit`, `vigil keys`). An unreachable store exits 2 with
    the one-line reason."""
    from vigil.cli import _load_or_exit

    with store_of(_load_or_exit(config)) as store:
        yield store


@contextmanager
def store_of(cfg: Any, unavailable_exit: int = 2) -> Iterator[Any]:
    """The store of a loaded configuration, closed after; an unreachable one exits with the one-line
    reason (`unavailable_exit`: 2, or 1 where a command has always used it)."""
    from vigil.store import StoreUnavailable, open_store

    try:
        store = open_store(cfg.store.url, cfg.store.retention)
    except StoreUnavailable as exc:
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(unavailable_exit) from None
    try:
        yield store
    finally:
        store.close()
