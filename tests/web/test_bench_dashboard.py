"""Smoke test of `vigil bench dashboard` at a small size (the figures are measured by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]
pytest.importorskip("playwright.sync_api")
if not Path("/usr/bin/chromium").exists():
    pytest.skip("Debian chromium is not installed (scripts/test-services.sh installs it)", allow_module_level=True)


def test_the_overview_is_timed_with_every_service_drawn() -> None:
    from vigil.bench.dashboard import measure

    figures = measure(25, runs=1)  # raises unless the overview shows all 25 services
    assert figures["services"] == 25 and figures["runs"] == 1
    assert 0 < figures["page_shell_s"]
    assert 0 < figures["overview_interactive_s"] <= figures["overview_interactive_max_s"]
    # The first service's page over a year, drawn from its hourly roll-ups: a point per 6 hours.
    assert figures["service_year_s"] > 0 and figures["rollup_days"] == 365
    # 1,460 steps over the year. The page's year starts when it is opened (a minute or more after the
    # roll-ups were written), so its first step may hold none; and its last step may be the one whose
    # hours are not rolled up yet: either end may lose a step, never more.
    assert 1458 <= figures["service_year_chart_points"] <= 1460
