"""The SilenceBook: Alertmanager's rules for creating and expiring silences, states on the clock,
muting, and persistence in the real store (SQLite and PostgreSQL) across a restart."""

from __future__ import annotations

import pytest

from tests.store.conftest import pg_url, store_url  # noqa: F401  (fixtures)
from vigil.incidents.matchers import Matcher
from vigil.incidents.silences import SilenceBook, SilenceError, SilenceNotFound
from vigil.model import Alert, AlertStatus
from vigil.store import open_store
from vigil.testing import InlineWriter

T0 = 1_700_000_000.0
DAY = 86400.0


def firing(**labels: str) -> Alert:
    return Alert(labels, AlertStatus.FIRING, T0)


def book() -> SilenceBook:
    return SilenceBook(None, None)


async def test_states_follow_the_clock_and_only_active_silences_mute() -> None:
    b = book()
    s = await b.create('alertname="DiskFull", instance=~"db-.*"', T0 + 60, T0 + 120, "ana", "disk swap", T0)
    disk = firing(alertname="DiskFull", instance="db-1")
    assert [x.id for x in b.list(T0, state="pending")] == [s.id]
    assert not b.mutes(disk, T0 + 59.9)
    assert b.mutes(disk, T0 + 60) and b.mutes(disk, T0 + 119.9)
    assert not b.mutes(disk, T0 + 120)  # the end is exclusive
    assert not b.mutes(firing(alertname="DiskFull", instance="web-1"), T0 + 90)
    assert [(c.silence.id, c.state) for c in await b.tick(T0 + 90)] == [(s.id, "active")]
    assert [(c.silence.id, c.state) for c in await b.tick(T0 + 121)] == [(s.id, "expired")]
    assert await b.tick(T0 + 122) == []
    assert b.get(s.id).state(T0 + 121) == "expired"


async def test_a_start_in_the_past_means_now_and_expire_ends_it_now() -> None:
    b = book()
    s = await b.create([{"name": "job", "value": "api", "isRegex": False, "isEqual": True}],
                       T0 - 3600, T0 + 3600, "bo", "deploy", T0)
    assert s.starts_at == T0 and s.matchers == (Matcher("job", "=", "api"),)
    ended = await b.expire(s.id, T0 + 10)
    assert ended.ends_at == T0 + 10 and ended.state(T0 + 10) == "expired"
    assert not b.mutes(firing(job="api"), T0 + 10)
    with pytest.raises(SilenceError, match="already expired"):
        await b.expire(s.id, T0 + 11)
    pending = await b.create("job=api", T0 + 100, T0 + 200, "bo", "later", T0)
    never = await b.expire(pending.id, T0 + 5)  # a pending silence never starts
    assert never.starts_at == never.ends_at == T0 + 5
    with pytest.raises(SilenceNotFound):
        b.get("no-such-id")


@pytest.mark.parametrize(("matchers", "start", "end", "by", "comment", "error"), [
    ("alertname=x", T0, None, "a", "c", "needs an end time"),
    ("alertname=x", T0 + 100, T0 + 50, "a", "c", "ends_at is before starts_at"),
    ("alertname=x", T0 - 100, T0 - 50, "a", "c", "in the past"),
    ("alertname=x", T0, T0 + 31 * DAY, "a", "c", "at most 30 days"),
    ("", T0, T0 + 60, "a", "c", "at least one matcher"),
    ('alertname=~".*"', T0, T0 + 60, "a", "c", "must not match the empty string"),
    ('alertname=~"(a"', T0, T0 + 60, "a", "c", "invalid regex"),
    ("alertname=x", T0, T0 + 60, "  ", "c", "created_by is required"),
    ("alertname=x", T0, T0 + 60, "a", "", "comment is required"),
])
async def test_bad_silences_are_refused_with_the_reason(matchers, start, end, by, comment, error) -> None:
    with pytest.raises(SilenceError, match=error):
        await book().create(matchers, start, end, by, comment, T0)


async def test_a_backtracking_pattern_is_matched_in_linear_time() -> None:
    # (a+)+$ takes exponential time in a backtracking engine on "aaaa...b"; RE2 answers at once.
    b = book()
    await b.create('path=~"(a+)+"', T0, T0 + 60, "a", "c", T0)
    assert not b.mutes(firing(path="a" * 5000 + "b"), T0 + 1)
    assert b.mutes(firing(path="a" * 5000), T0 + 1)


async def test_max_duration_is_configurable() -> None:
    b = SilenceBook(None, None, max_duration=3600)
    await b.create("a=b", T0, T0 + 3600, "x", "y", T0)
    with pytest.raises(SilenceError, match="at most 1 hours"):
        await b.create("a=b", T0, T0 + 3601, "x", "y", T0)


async def test_silences_survive_a_restart_and_are_forgotten_after_retention(store_url) -> None:  # noqa: F811
    store = open_store(store_url)
    try:
        b = SilenceBook(store, InlineWriter(), retention=DAY)
        await b.load()
        keep = await b.create('service="payments", severity!="critical"', T0, T0 + 7200, "ana", "migration",
                              T0)
        gone = await b.create("service=catalog", T0, T0 + 60, "bo", "quick fix", T0)
        await b.expire(gone.id, T0 + 30)
    finally:
        store.close()
    store = open_store(store_url)
    try:
        again = SilenceBook(store, InlineWriter(), retention=DAY)
        await again.load()
        assert again.get(keep.id) == keep
        assert again.get(gone.id).ends_at == T0 + 30
        assert again.mutes(firing(service="payments", severity="warning"), T0 + 100)
        assert not again.mutes(firing(service="payments", severity="critical"), T0 + 100)
        await again.tick(T0 + 30 + DAY + 1)  # the expired one is past its retention
        assert [s.id for s in again.list(T0)] == [keep.id]
    finally:
        store.close()
    store = open_store(store_url)
    try:
        assert [s.id for s in store.silences()] == [keep.id]
    finally:
        store.close()
