"""`vigil keys create | list | rotate | revoke`: the store's API keys, straight in the store (the
running vigil sees a change within a couple of seconds). A new key is printed once, alone on the last
line, so scripts can take it with `tail -n 1`; it cannot be shown again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli_client import configured_store
from vigil.keys import manage
from vigil.keys.model import DEFAULT_EXPIRY_DAYS, DEFAULT_GRACE_DAYS, expiry_warning

keys_app = typer.Typer(no_args_is_help=True, help="API keys kept in the store: create, list, rotate, revoke.")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)
_CONFIG = typer.Option(Path("vigil.yaml"), "--config", "-c", help="the configuration file (for the store)")


@contextmanager
def _store(config: Path) -> Iterator[Any]:
    with configured_store(config) as store:
        try:
            yield store
        except manage.KeyError_ as exc:
            err_console.print(f"[red]error[/]: {exc}", highlight=False)
            raise typer.Exit(2) from None


def _shown_once(name: str, key: str) -> None:
    err_console.print(f"key {name!r}: shown once, keep it now (only its hash is stored):", highlight=False)
    print(key, flush=True)


@keys_app.command("create")
def create(name: str = typer.Option(..., "--name", help="what the key is for (unique among valid keys)"),
           scope: list[str] = typer.Option(..., "--scope", help="read, ingest, operate or admin; repeat for more"),
           expires_days: float = typer.Option(DEFAULT_EXPIRY_DAYS, "--expires-days", help="days until it expires"),
           config: Path = _CONFIG) -> None:
    """Make a key; prints it (alone on the last line) once."""
    with _store(config) as store:
        rec, key = manage.create(store, name, scope, time.time(), expires_days)
    _shown_once(rec.name, key)


@keys_app.command("rotate")
def rotate(name: str = typer.Argument(..., help="the key to rotate"),
           grace_days: float = typer.Option(DEFAULT_GRACE_DAYS, "--grace-days",
                                            help="days the current version keeps working"),
           config: Path = _CONFIG) -> None:
    """A new version of the key; the current one keeps working for the grace period."""
    with _store(config) as store:
        rec, key = manage.rotate(store, name, time.time(), grace_days)
    _shown_once(rec.name, key)


@keys_app.command("revoke")
def revoke(name: str = typer.Argument(..., help="the key to revoke"), config: Path = _CONFIG) -> None:
    """Every version of the key stops working."""
    with _store(config) as store:
        done = manage.revoke(store, name, time.time())
    console.print(f"revoked {name!r} ({len(done)} version(s))", highlight=False)


@keys_app.command("list")
def list_keys(config: Path = _CONFIG,
              all_: bool = typer.Option(False, "--all", help="also revoked, expired and rotated-out versions")) -> None:
    """Keys with scopes, state, expiry and use (never the key)."""
    now = time.time()
    with _store(config) as store:
        recs = store.api_keys()
    table = Table("name", "version", "id", "scopes", "state", "expires", "last used", "uses")
    warnings = []
    for r in recs:
        state = r.state(now)
        if not all_ and state in ("revoked", "expired", "rotated out"):
            continue
        table.add_row(r.name, str(r.version), r.id, " ".join(r.scopes), state, _when(r.expires_at),
                      _when(r.last_used_at) if r.last_used_at else "never", str(r.use_count))
        if r.valid(now) and (w := expiry_warning(r, now)):
            warnings.append(w)
    console.print(table)
    for w in warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")
