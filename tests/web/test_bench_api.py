"""`vigil bench api` runs end to end on a tiny store (its figures come from the full run, not here)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

FIELDS = {"list_p95_ms", "detail_p95_ms", "rps", "burst_429", "burst_5xx", "burst_p95_ms", "loop_lag_max_s",
          "overview_interactive_s"}


def test_bench_api_quick_run_reports_every_field() -> None:
    vigil = Path(sys.executable).parent / "vigil"
    run = subprocess.run([str(vigil), "bench", "api", "--json", "--incidents", "200", "--services", "10",
                          "--rollup-days", "3", "--steady-s", "1", "--rps", "20", "--burst-s", "2",
                          "--burst-rps", "200"], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert FIELDS <= set(result)
    assert result["burst_requests"] == 400 and result["burst_5xx"] == 0
    assert result["steady_statuses"].get("200", 0) >= 15
    assert result["list_p95_ms"] > 0 and result["detail_p95_ms"] > 0
    assert result["loop_lag_max_s"] is not None
    if result["overview_interactive_s"] is None:
        assert result["overview_note"]  # says why
    if importlib.util.find_spec("playwright") is not None and Path("/usr/bin/chromium").exists():
        # the dashboard is served: the overview must be timed, not skipped
        assert result["overview_interactive_s"] is not None and result["overview_interactive_s"] > 0, result
