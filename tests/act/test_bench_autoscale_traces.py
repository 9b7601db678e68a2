"""Trace discovery of `vigil bench autoscale --traces`: time column, step and demand column per file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.bench.autoscale_traces import TraceError, find_traces, read_trace, step_from_name


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_dates_in_a_period_column_and_count_preferred(tmp_path: Path) -> None:
    rows = [f"1998-05-01 00:{m:02d}:00,{m % 7},{100 + m}" for m in range(60)]
    tr = read_trace(_write(tmp_path / "web.csv", "period,bytes,count", rows))
    assert tr.column == "count" and tr.time_source == "column period"
    assert list(tr.ts[:3]) == [0.0, 60.0, 120.0] and tr.y[0] == 100


def test_step_from_file_name_and_demand_word_match(tmp_path: Path) -> None:
    rows = [f"{50 + i % 5},{80 + i % 3}" for i in range(100)]
    p = _write(tmp_path / "sub" / "cluster_grouped_30_seconds.csv", "mem_util_percent,cpu_util_percent", rows)
    tr = read_trace(p)
    assert tr.column == "cpu_util_percent"  # "cpu" is a word of the name; mem is not in the list
    assert tr.time_source == "file name (30 s)" and tr.ts[1] == 30.0
    assert step_from_name(Path("a_300_seconds_month.csv")) == 300.0
    assert step_from_name(Path("per_minute.csv")) is None
    # an explicit --step wins
    assert read_trace(p, step=5).ts[1] == 5.0


def test_epoch_milliseconds_and_first_numeric_column(tmp_path: Path) -> None:
    rows = [f"{1_600_000_000_000 + i * 60_000},host{i % 2},{i * 1.5}" for i in range(80)]
    tr = read_trace(_write(tmp_path / "m.csv", "event_time,host,rps_total", rows))
    assert tr.time_source == "column event_time" and tr.ts[1] == 60.0
    assert tr.column == "rps_total"  # no preferred name: the first numeric column that is not time


def test_unusable_files_say_why(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="pass --step"):
        read_trace(_write(tmp_path / "nostep.csv", "load", [str(i) for i in range(100)]))
    with pytest.raises(TraceError, match="no numeric demand column"):
        read_trace(_write(tmp_path / "words.csv", "timestamp,name", [f"{i * 60},x" for i in range(100)]))
    with pytest.raises(TraceError, match="usable rows"):
        read_trace(_write(tmp_path / "short.csv", "timestamp,value", [f"{i * 60},1" for i in range(5)]))
    bad = tmp_path / "binary.csv"
    bad.write_bytes(b"\x00\xff\xfe" * 50)
    with pytest.raises(TraceError, match="binary.csv"):
        read_trace(bad)
    with pytest.raises(TraceError, match="no column 'nope'"):
        read_trace(_write(tmp_path / "ok.csv", "timestamp,value", [f"{i * 60},1" for i in range(60)]), "nope")


def test_find_traces_is_recursive_and_csv_only(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "b" / "deep.csv", "x", ["1"])
    _write(tmp_path / "top.CSV", "x", ["1"])
    (tmp_path / "notes.txt").write_text("not a trace")
    assert [p.name for p in find_traces(tmp_path)] == ["deep.csv", "top.CSV"]


def test_repeated_stamps_keep_row_order(tmp_path: Path) -> None:
    mins = [5 * (i // 2) for i in range(60)]  # every stamp twice
    rows = [f"2014-01-01 {m // 60:02d}:{m % 60:02d}:00,{i}" for i, m in enumerate(mins)]
    tr = read_trace(_write(tmp_path / "dup.csv", "timestamp,value", rows))
    assert np.all(np.diff(tr.ts) == 300.0) and list(tr.y[:3]) == [0, 1, 2]
