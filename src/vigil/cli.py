"""The `vigil` command. Thin: each command parses its options and calls into the package."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from vigil import __version__
from vigil.config import ConfigError, load_config
from vigil.registry import Registry

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="vigil: watches services, detects trouble, predicts load, heals, and shows its work.")
console = Console()
err_console = Console(stderr=True)

# `vigil bench NAME ...`: each benchmark is its own small typer app, imported only when run.
BENCHMARKS: Registry[typer.Typer] = Registry("benchmark", {
    "ingest": "vigil.bench.ingest:app",
    "probes": "vigil.bench.probes:app",
    "nab": "vigil.bench.nab:app",
    "detect": "vigil.bench.detect:app",
    "forecast": "vigil.bench.forecast:app",
    "autoscale": "vigil.bench.autoscale:app",
})


def _load_or_exit(path: Path):
    try:
        return load_config(path)
    except ConfigError as exc:
        err_console.print(f"[bold red]invalid configuration[/] ({len(exc.problems)} problem"
                          f"{'s' if len(exc.problems) != 1 else ''}):")
        for p in sorted(exc.problems, key=lambda p: (p.line or 0)):
            err_console.print(f"  {p}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)


@app.command("check-config")
def check_config(file: Path = typer.Argument(Path("vigil.yaml"), help="the configuration file")) -> None:
    """Validate a configuration file without starting anything (exit 2 if invalid)."""
    cfg = _load_or_exit(file)
    probes = sum(len(s.probes) for s in cfg.services)
    metrics = sum(len(s.metrics) for s in cfg.services)
    console.print(f"[green]ok[/] {file}: {len(cfg.services)} services, {probes} probes, "
                  f"{metrics} metric sources, store {cfg.store.url.split('://')[0]}")


@app.command("version")
def version() -> None:
    """Print vigil's version."""
    console.print(__version__)


@app.command("bench", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             add_help_option=False)
def bench(ctx: typer.Context,
          name: Optional[str] = typer.Argument(None, help=f"one of: {', '.join(BENCHMARKS.kinds())}")) -> None:
    """Run a benchmark: vigil bench NAME [--json] [options]; vigil bench NAME --help for its options."""
    if name is None or name in ("--help", "-h"):
        console.print("usage: vigil bench NAME [OPTIONS]\n\nbenchmarks: " + ", ".join(BENCHMARKS.kinds()))
        raise typer.Exit(0)
    if name not in BENCHMARKS:
        err_console.print(f"unknown benchmark {name!r}; choose one of: {', '.join(BENCHMARKS.kinds())}")
        raise typer.Exit(2)
    sub = BENCHMARKS.load(name)
    sub(args=list(ctx.args), prog_name=f"vigil bench {name}")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
