"""`vigil chaos run`: read, check, run, report. The CLI module only parses options and calls this."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from rich.console import Console

from vigil.chaos.experiment import ExperimentError, read_experiment
from vigil.chaos.journal import HELD, NOT_CONCLUDED
from vigil.chaos.plan import Plan, build_plan
from vigil.chaos.runner import ExperimentRun
from vigil.chaos.scope import Scope
from vigil.config.schema import VigilConfig


def plan_or_problems(experiment: Path, config: VigilConfig | None, config_file: Path | None,
                     err: Console) -> Plan | None:
    try:
        return build_plan(read_experiment(experiment), Scope(config, str(config_file) if config_file else None))
    except ExperimentError as exc:
        n = len(exc.problems)
        err.print(f"[bold red]the experiment cannot run[/] ({n} problem{'s' if n != 1 else ''}; nothing was run):")
        for p in sorted(exc.problems, key=lambda p: (p.line or 0)):
            err.print(f"  {p}", markup=False, highlight=False, soft_wrap=True)
        return None


def print_plan(plan: Plan, out: Console) -> None:
    exp = plan.experiment
    out.print(f"experiment: {exp.title}", markup=False, highlight=False)
    bound = 0.0
    for title, steps in (("steady state (checked before and after the method)", plan.hypothesis),
                         ("method", plan.method), ("rollbacks (always run)", plan.rollbacks)):
        out.print(f"{title}:", markup=False)
        for step in steps:
            pauses = step.activity.pauses
            bound += step.timeout_s + pauses.before + pauses.after
            extra = " in the background" if step.activity.background else ""
            out.print(f"  {step.activity.type} {step.activity.name!r}{extra}, at most {step.timeout_s:g} s"
                      + (f": {'; '.join(step.targets)}" if step.targets else ""), markup=False, highlight=False,
                      soft_wrap=True)
        if not steps:
            out.print("  (none)")
    bound += sum(s.timeout_s for s in plan.hypothesis)  # the hypothesis runs twice
    out.print(f"every target allowed; the run takes at most {bound:g} s", markup=False)


def run_command(experiment: Path, config: VigilConfig | None, config_file: Path | None, journal: Path,
                dry_run: bool) -> int:
    out, err = Console(), Console(stderr=True)
    plan = plan_or_problems(experiment, config, config_file, err)
    if plan is None:
        return NOT_CONCLUDED
    if dry_run:
        print_plan(plan, out)
        out.print("dry run: nothing was run")
        return HELD
    folder = journal.parent if str(journal.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        err.print(f"[bold red]cannot write the journal[/] to {journal}: {folder} is not a folder this user can "
                  "write; nothing was run", highlight=False, soft_wrap=True)
        return NOT_CONCLUDED
    status = out.status("starting") if out.is_terminal else None

    def report(line: str) -> None:
        out.print(line, markup=False, highlight=False, soft_wrap=True)

    def started(line: str) -> None:
        if status is not None:
            status.update(line)

    run = ExperimentRun(plan, journal, report, started)
    out.print(f"experiment: {plan.experiment.title}", markup=False, highlight=False)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, run.interrupt)
        try:
            return (await run.run()).exit_status
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    if status is not None:
        status.start()
    try:
        code = asyncio.run(main())
    finally:
        if status is not None:
            status.stop()
    out.print(f"journal: {journal}  (exit status {code}: 0 held, 1 deviated, 2 not concluded)", markup=False,
              highlight=False)
    sys.stdout.flush()
    return code
