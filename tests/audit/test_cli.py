"""`vigil audit verify` and `vigil audit export` on a store of each kind, as a person runs them:
an intact log verifies; a record changed in the database makes verify fail naming it; export
writes JSON lines that carry the chain."""

from __future__ import annotations

from pathlib import Path

import orjson
import sqlalchemy as sa
from typer.testing import CliRunner

from vigil.audit import AuditLog
from vigil.audit.chain import GENESIS, digest
from vigil.cli import app
from vigil.store import open_store
from vigil.testing import FakeClock, InlineWriter

T0 = 1_700_000_000.0


def config_for(tmp_path: Path, store_url: str) -> Path:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f'store: {{url: "{store_url}"}}\nservices: [{{name: api}}]\n')
    return cfg


async def fill(store_url: str, n: int) -> None:
    store = open_store(store_url)
    clock = FakeClock(T0)
    audit = AuditLog(store, InlineWriter(), clock)
    for i in range(n):
        audit.append("engine", "scale", {"rule": "HPA"}, {"replicas": i}, {"act": True}, 0.5, service="api")
        await clock.advance(60)
    await audit.flush()
    store.close()


async def test_verify_passes_then_fails_naming_the_tampered_record(tmp_path: Path, store_url: str) -> None:
    await fill(store_url, 4)
    cfg = config_for(tmp_path, store_url)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "-c", str(cfg)])
    assert ok.exit_code == 0, ok.output
    assert "ok: 4 audit records, chain intact" in ok.output
    eng = sa.create_engine(store_url)
    try:
        with eng.begin() as conn:
            conn.execute(sa.text("UPDATE audit_log SET result = :v WHERE id = 2"), {"v": '{"act":false}'})
    finally:
        eng.dispose()
    bad = runner.invoke(app, ["audit", "verify", "-c", str(cfg)])
    assert bad.exit_code == 1
    assert "audit chain broken at record 2" in bad.output and "does not match its hash" in bad.output


async def test_export_writes_json_lines_with_the_chain(tmp_path: Path, store_url: str) -> None:
    await fill(store_url, 3)
    cfg = config_for(tmp_path, store_url)
    out = tmp_path / "audit.jsonl"
    done = CliRunner().invoke(app, ["audit", "export", "--out", str(out), "-c", str(cfg)])
    assert done.exit_code == 0, done.output
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [r["id"] for r in lines] == [1, 2, 3]
    prev = GENESIS
    for r in lines:  # the export checks on its own, by the same rule
        assert r["prev_hash"] == prev
        assert digest({k: v for k, v in r.items() if k != "hash"}) == r["hash"]
        prev = r["hash"]
    assert lines[1]["inputs"] == {"replicas": 1} and lines[1]["ts"] == T0 + 60
    since = CliRunner().invoke(app, ["audit", "export", "--since", str(T0 + 100), "-c", str(cfg)])
    assert since.exit_code == 0
    assert [orjson.loads(line)["id"] for line in since.stdout.splitlines()] == [3]
    wrong = CliRunner().invoke(app, ["audit", "export", "--since", "last tuesday", "-c", str(cfg)])
    assert wrong.exit_code == 2 and "--since" in wrong.output
