"""Reading one value from a service's /metrics page, for the demo tests."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def metric_value(client: httpx.Client, url: str, sample: str, **labels: str) -> float:
    """Sum of the samples named `sample` whose labels include `labels`, from a /metrics page."""
    total = 0.0
    text = client.get(url).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total
