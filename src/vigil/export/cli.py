"""`vigil export grafana | prometheus-rules`: written to stdout, or to --output."""

from __future__ import annotations

from pathlib import Path

import typer

export_app = typer.Typer(no_args_is_help=True, help="Export a Grafana dashboard or Prometheus rules for vigil.")
_CONFIG = typer.Option(Path("vigil.yaml"), "--config", "-c", help="the configuration file")
_OUT = typer.Option(None, "--output", "-o", help="write here instead of stdout")


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        print(text)
    else:
        output.write_text(text + "\n")


@export_app.command("grafana")
def grafana(config: Path = _CONFIG, output: Path | None = _OUT) -> None:
    """A dashboard for vigil's /metrics and the services' SLOs (import it in Grafana)."""
    from vigil.cli import _load_or_exit
    from vigil.export.grafana import render

    _emit(render(_load_or_exit(config)), output)


@export_app.command("prometheus-rules")
def prometheus_rules(config: Path = _CONFIG, output: Path | None = _OUT,
                     job: str = typer.Option("vigil", help="the scrape job of vigil's /metrics")) -> None:
    """SLO recording rules and multi-window burn-rate alerts, threshold and absence rules, alerts on vigil."""
    from vigil.cli import _load_or_exit
    from vigil.export.prometheus_rules import render

    _emit(render(_load_or_exit(config), job), output)
