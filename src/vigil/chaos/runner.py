"""Running a plan: the hypothesis before, the method, the hypothesis after, and the rollbacks, always.

- Before: every probe runs; if one is out of tolerance the method does not run (status failed, not
  deviated: the system was not normal to begin with).
- Method: activities in order, each after its `pauses.before` and followed by its `pauses.after`; a
  `background: true` one runs alongside the next ones and is awaited at the end of the method. A failed
  action stops the method (status aborted): an experiment whose fault was not injected proves nothing.
  A failed probe in the method is recorded and the method goes on.
- After: the same probes; one out of tolerance means the system deviated (status failed, deviated).
- Rollbacks run whatever happened before them (a failed action, an error, Ctrl-C or SIGTERM), one after
  the other, each to its end or its timeout; a second Ctrl-C does not stop them.
Every activity is bounded by its timeout, every pause by MAX_PAUSE_S."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from vigil.chaos.builtins import Context, new_http_client
from vigil.chaos.journal import Journal, iso
from vigil.chaos.plan import HYPOTHESIS, Plan, Step
from vigil.config.redact import mask


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value) if not isinstance(value, str) else value
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe(out: Any) -> str:
    """An activity's output in a line: an http/process status, the faults now set, a surge's phases."""
    if isinstance(out, dict):
        if "status" in out and ("body" in out or "stdout" in out):
            return f"status {out['status']}"
        if isinstance(out.get("fault"), dict):
            knobs = {k: v for k, v in out["fault"].items() if v}
            return f"faults now {knobs}" if knobs else "no fault set now"
        if isinstance(out.get("killed"), list):
            pids = ", ".join(str(k.get("pid")) for k in out["killed"])
            return (f"{out.get('signal')} to pid {pids}, {'gone' if out.get('gone') else 'STILL RUNNING'}; "
                    f"remaining {out.get('remaining')}")
        if isinstance(out.get("phases"), dict):
            return "; ".join(f"{name}: {ph['sent']} sent, {ph['ok']} ok, p50 {ph['p50_ms']} ms, "
                             f"p99 {ph['p99_ms']} ms" for name, ph in out["phases"].items())
    return _short(out)


class ExperimentRun:
    def __init__(self, plan: Plan, journal_path: Path | None = None,
                 report: Callable[[str], None] | None = None, started: Callable[[str], None] | None = None) -> None:
        self.plan = plan
        self.journal = Journal(plan.written, time.time(), journal_path, plan.secrets)
        self._report = report or (lambda line: None)
        self._started = started or (lambda line: None)  # what runs now: for a spinner on a terminal
        self._task: asyncio.Task[Any] | None = None
        self._interrupted = False
        self._rolling_back = False
        self._background: list[asyncio.Task[dict[str, Any]]] = []
        self._ctx: Context | None = None

    def report(self, line: str) -> None:
        self._report(mask(line, self.plan.secrets))

    def interrupt(self) -> None:
        """Ctrl-C or SIGTERM: stop what runs and go to the rollbacks (which are not interrupted)."""
        if self._rolling_back or self._interrupted:
            self.report("interrupted again: the rollbacks still run to their end (each has a timeout)")
            return
        self._interrupted = True
        if self._task is not None:
            self._task.cancel()

    async def run(self) -> Journal:
        self._task = asyncio.current_task()
        started = time.time()
        self.journal.save()
        cancelled_from_outside = False
        async with new_http_client() as http:
            self._ctx = Context(self.plan.scope, http)
            try:
                status, deviated, summary = await self._experiment()
            except asyncio.CancelledError:
                cancelled_from_outside = not self._interrupted
                if self._task is not None:
                    self._task.uncancel()
                status, deviated = "interrupted", False
                summary = "interrupted before the experiment concluded; nothing can be said of the system"
            finally:
                await self._stop_background()
            await self._rollbacks_to_the_end()
        self.journal.finish(status, deviated, summary, time.time(), started)
        self.report(summary)
        if cancelled_from_outside:
            raise asyncio.CancelledError
        return self.journal

    async def _experiment(self) -> tuple[str, bool, str]:
        before = await self._hypothesis("before")
        if before is not None:
            return "failed", False, (f"the steady state did not hold before the method ({before}); "
                                     f"the method was not run")
        failed = await self._method()
        if failed is not None:
            return "aborted", False, f"{failed}; the method stopped there, and the hypothesis was not checked after"
        after = await self._hypothesis("after")
        if after is not None:
            return "failed", True, f"DEVIATED: the steady state did not hold after the method ({after})"
        if not self.plan.hypothesis:
            return "completed", False, "completed (no steady-state hypothesis: nothing was checked)"
        return "completed", False, "the system held: the steady state was met before and after the method"

    async def _hypothesis(self, when: str) -> str | None:
        """Run every probe of the hypothesis; None if all are within tolerance, else what was not."""
        if not self.plan.hypothesis:
            return None
        runs, missed = [], []
        for step in self.plan.hypothesis:
            record = await self._activity(step)
            runs.append(record)
            met = bool(record.get("tolerance_met"))
            self.report(f"steady state {when}: probe {step.activity.name!r} "
                        f"{'within tolerance' if met else 'OUT OF TOLERANCE'}: {self._outcome(record)}")
            if not met:
                missed.append(f"probe {step.activity.name!r}: {self._outcome(record)}")
        self.journal.steady_state(when, not missed, runs)
        return "; ".join(missed) if missed else None

    async def _method(self) -> str | None:
        """Run the method; None if it completed, else which action failed."""
        for step in self.plan.method:
            await self._pause(step, "before")
            if step.activity.background:
                self.report(f"method: {step.activity.type} {step.activity.name!r} started in the background")
                self._background.append(asyncio.create_task(self._method_activity(step)))
            else:
                record = await self._method_activity(step)
                if record["status"] == "failed" and step.activity.type == "action":
                    return f"action {step.activity.name!r} failed: {self._outcome(record)}"
            await self._pause(step, "after")
        pending, self._background = self._background, []
        for task in pending:
            record = await task
            if record["status"] == "failed" and record["activity"].get("type") == "action":
                return f"background action {record['activity'].get('name')!r} failed: {self._outcome(record)}"
        return None

    async def _method_activity(self, step: Step) -> dict[str, Any]:
        record = await self._activity(step)
        self.journal.record("run", record)
        self.report(f"method: {step.activity.type} {step.activity.name!r} {record['status']}: {self._outcome(record)}")
        return record

    async def _rollbacks_to_the_end(self) -> None:
        # A task shielded from cancellation: Ctrl-C (or a cancelled caller) cannot cut a rollback short.
        self._rolling_back = True
        task = asyncio.create_task(self._rollbacks())
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if self._task is not None:
                    self._task.uncancel()
        task.result()

    async def _rollbacks(self) -> None:
        for step in self.plan.rollbacks:
            await self._pause(step, "before")
            record = await self._activity(step)
            self.journal.record("rollbacks", record)
            self.report(f"rollback: {step.activity.type} {step.activity.name!r} {record['status']}: "
                        f"{self._outcome(record)}")
            await self._pause(step, "after")

    async def _stop_background(self) -> None:
        pending, self._background = self._background, []
        for task in pending:
            task.cancel()
        for task in pending:
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _pause(self, step: Step, when: str) -> None:
        seconds = getattr(step.activity.pauses, when)
        if seconds > 0:
            self.report(f"pause {seconds:g} s {when} {step.activity.name!r}")
            self._started(f"pause {seconds:g} s {when} {step.activity.name!r}")
            await asyncio.sleep(seconds)

    async def _activity(self, step: Step) -> dict[str, Any]:
        assert self._ctx is not None
        self._started(f"{step.label} (at most {step.timeout_s:g} s)")
        start, t0 = time.time(), time.monotonic()
        record: dict[str, Any] = {"activity": step.written, "status": "succeeded", "output": None,
                                  "start": iso(start)}
        try:
            record["output"] = await asyncio.wait_for(step.run(replace(self._ctx, what=step.label)), step.timeout_s)
        except TimeoutError:
            record.update(status="failed",
                          exception=[f"TimeoutError: {step.label} did not finish within {step.timeout_s:g} s\n"])
        except Exception as exc:  # the activity failed; the run goes on (and records why)
            record.update(status="failed", exception=[mask(line, self.plan.secrets)
                                                      for line in traceback.format_exception_only(exc)])
        record.update(end=iso(time.time()), duration=round(time.monotonic() - t0, 3))
        if step.section == HYPOTHESIS and step.tolerance is not None:
            record["tolerance_met"] = record["status"] == "succeeded" and step.tolerance.met(record["output"])
        return record

    @staticmethod
    def _outcome(record: dict[str, Any]) -> str:
        if record["status"] == "failed":
            return _short("".join(record.get("exception") or ["failed"]).strip(), 200)
        return f"{describe(record['output'])} in {record['duration']:g} s"
