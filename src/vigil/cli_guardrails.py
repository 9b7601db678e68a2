"""`vigil audit verify|export` (read the store directly, as `vigil explain` does) and `vigil pause` /
`vigil resume` (the running vigil's kill switch, through its API like `vigil incidents`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import orjson
import typer

from vigil.cli_client import _CONFIG, _KEY, _URL, Client, configured_store, console, err_console

audit_app = typer.Typer(no_args_is_help=True, help="The audit log: verify its hash chain, export it as JSON lines.")


@audit_app.command("verify")
def verify(config: Path = _CONFIG) -> None:
    """Check the hash chain of every record; exit 1 naming the first broken record."""
    from vigil.audit.chain import first_break
    from vigil.store.audit import walk

    with configured_store(config) as store:
        checked, broken = first_break(walk(store.audit_page))
    if broken is not None:
        err_console.print(f"audit chain broken at record {broken.id}: {broken.problem} "
                          f"({checked - 1} records before it are intact)", markup=False, highlight=False,
                          soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"ok: {checked} audit record{'s' if checked != 1 else ''}, chain intact", highlight=False)


@audit_app.command("export")
def export(since: str | None = typer.Option(None, help="only records from: epoch s, RFC 3339, or like -1d"),
           out: Path | None = typer.Option(None, "--out", help="write to this file (default: standard output)"),
           config: Path = _CONFIG) -> None:
    """Every record (oldest first) as JSON lines, with its hash and the previous record's."""
    from vigil.store.audit import walk
    from vigil.web.timeparse import parse_time

    try:
        start = parse_time(since, time.time()) if since is not None else None
    except ValueError as exc:
        err_console.print(f"--since: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    n = 0
    with configured_store(config) as store:
        sink = out.open("wb") if out is not None else sys.stdout.buffer
        try:
            for rec in walk(store.audit_page, since=start):
                sink.write(orjson.dumps(rec.view(), option=orjson.OPT_SORT_KEYS) + b"\n")
                n += 1
        finally:
            if out is not None:
                sink.close()
            else:
                sink.flush()
    if out is not None:
        err_console.print(f"wrote {n} audit records to {out}", markup=False, highlight=False)


def _show(state: dict[str, Any]) -> None:
    if state["paused"]:
        why = f": {state['reason']}" if state.get("reason") else ""
        console.print(f"automation PAUSED by {state['by']}{why}", markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(f"automation running (resumed by {state['by'] or '-'})", markup=False, highlight=False)


def pause(reason: str = typer.Option("", "--reason", help="why (shown in the API and the audit log)"),
          config: Path = _CONFIG, url: str | None = _URL, key: str | None = _KEY) -> None:
    """Stop every automatic action at once (the kill switch); vigil still decides and records."""
    _show(Client(config, url, key).call("POST", "/api/v1/automation", json={"paused": True, "reason": reason}))


def resume(reason: str = typer.Option("", "--reason", help="why"),
           config: Path = _CONFIG, url: str | None = _URL, key: str | None = _KEY) -> None:
    """Let automatic actions run again."""
    _show(Client(config, url, key).call("POST", "/api/v1/automation", json={"paused": False, "reason": reason}))
