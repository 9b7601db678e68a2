"""The journal of a run, in Chaos Toolkit's shape:

    {status, deviated, start, end, duration, experiment, steady_states: {before, after, during},
     run: [activity run], rollbacks: [activity run], ...}

an activity run being {activity, status: succeeded|failed, output, exception, start, end, duration}, and
`tolerance_met` for a steady-state probe. Status is completed, failed, aborted or interrupted (Chaos
Toolkit's four); `deviated` is true when the hypothesis held before the method and not after.

The journal is rewritten (atomically) after every activity, so a run stopped even by SIGKILL leaves one
that says how far it got (status `running`). Values from the environment are masked in it."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vigil import __version__
from vigil.config.redact import mask

# exit statuses of `vigil chaos run`
HELD, DEVIATED, NOT_CONCLUDED = 0, 1, 2


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=repr))


class Journal:
    def __init__(self, experiment: dict[str, Any], started: float, path: Path | None, secrets: set[str]) -> None:
        self.path = path
        self.secrets = secrets
        self.data: dict[str, Any] = {
            "vigil-version": __version__, "platform": platform.platform(), "node": platform.node(),
            "experiment": experiment, "start": iso(started), "end": None, "duration": None,
            "status": "running", "deviated": False, "summary": "",
            "steady_states": {"before": None, "after": None, "during": []}, "run": [], "rollbacks": [],
        }

    def record(self, section: str, run: dict[str, Any]) -> None:
        run["output"] = _jsonable(run.get("output"))
        self.data[section].append(run)
        self.save()

    def steady_state(self, when: str, met: bool, probes: list[dict[str, Any]]) -> None:
        for p in probes:
            p["output"] = _jsonable(p.get("output"))
        self.data["steady_states"][when] = {"steady_state_met": met, "probes": probes}
        self.save()

    def finish(self, status: str, deviated: bool, summary: str, ended: float, started: float) -> None:
        self.data.update(status=status, deviated=deviated, summary=summary, end=iso(ended),
                         duration=round(ended - started, 3))
        self.save()

    @property
    def exit_status(self) -> int:
        if self.data["deviated"]:
            return DEVIATED
        return HELD if self.data["status"] == "completed" else NOT_CONCLUDED

    def text(self) -> str:
        return mask(json.dumps(self.data, indent=2, default=repr), self.secrets)

    def save(self) -> None:
        if self.path is None:
            return
        folder = self.path.parent if str(self.path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=".journal-", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.text() + "\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
