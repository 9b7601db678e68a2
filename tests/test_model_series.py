"""Series text: parsing in linear time (no backtracking on hostile input), exact Unicode round trips,
the Prometheus escapes only, and the size caps."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.model import (
    MAX_LABEL_VALUE_CHARS,
    MAX_LABELS,
    MAX_NAME_CHARS,
    MAX_SERIES_CHARS,
    MAX_SERIES_TEXT_CHARS,
    SeriesKey,
    scan_series,
)


def _elapsed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    try:
        fn(*args)
    except ValueError:
        pass
    return time.perf_counter() - t


# The selector regex this replaced took ~11 s on 2,000 spaces then '!' (cubic growth).
HOSTILE = [
    " " * 100_000 + "!",
    "m{" + " " * 100_000 + "!",
    'm{a="' + '\\"' * 50_000,  # escaped quotes, never closed
    'm{a="' + "\\\\" * 50_000 + '"}',
    "m{" + 'a="b",' * 20_000 + "}",
    "a" * 100_000,
    'm{a="x"} ' + "}" * 100_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_selectors_answer_at_once(text: str) -> None:
    assert len(text) >= 100_000
    with pytest.raises(ValueError, match="invalid series"):
        SeriesKey.parse(text)
    # The bound is 50 ms; assert a generous one on a shared machine.
    assert _elapsed(SeriesKey.parse, text) < 1.0


@pytest.mark.parametrize("build", [
    lambda n: " " * n + "!",
    lambda n: 'm{a="' + '\\"' * (n // 2),
    lambda n: "m{" + 'a="b",' * (n // 6) + "}",
    lambda n: 'm{a="' + "\\\\" * (n // 2) + '"}',
], ids=["spaces", "escaped-quotes", "many-labels", "backslashes"])
def test_scanner_is_linear_without_the_length_cap(build) -> None:  # type: ignore[no-untyped-def]
    """The scanner itself (below the cap) grows linearly: 16x the input costs about 16x, where a
    quadratic scanner would cost 256x; 64x leaves room for a busy machine."""
    small, large = build(25_000), build(400_000)
    t_small = min(_elapsed(scan_series, small) for _ in range(5))
    t_large = min(_elapsed(scan_series, large) for _ in range(5))
    assert t_large < 2.0
    assert t_large < 64 * max(t_small, 1e-4), (t_small, t_large)


def test_length_cap_is_refused_before_scanning() -> None:
    text = "m" * (MAX_SERIES_TEXT_CHARS + 1)
    with pytest.raises(ValueError, match=f"at most {MAX_SERIES_TEXT_CHARS:,} characters") as err:
        SeriesKey.parse(text)
    assert len(str(err.value)) < 300  # the input is not echoed back


@pytest.mark.parametrize("value", ["Zürich", "東京", "emoji 🚀", "ŁÓDŹ", "a\u00a0b", "tab\there"])
def test_unicode_label_values_round_trip_exactly(value: str) -> None:
    key = SeriesKey.of("m", {"c": value})
    assert SeriesKey.parse(f'm{{c="{value}"}}') == key
    assert SeriesKey.parse(str(key)) == key
    assert SeriesKey.parse(str(key)).label_map["c"] == value


def test_only_prometheus_escapes() -> None:
    assert SeriesKey.parse(r'm{a="back\\slash",b="quo\"te",c="new\nline"}').label_map == {
        "a": "back\\slash", "b": 'quo"te', "c": "new\nline"}
    for bad in (r'm{a="\t"}', r'm{a="\u00fc"}', r'm{a="\x41"}', r'm{a="\0"}'):
        with pytest.raises(ValueError, match="invalid escape"):
            SeriesKey.parse(bad)


@pytest.mark.parametrize("text,message", [
    ("bad name{}", "unexpected"),
    ("x{", "expected a label name"),
    ('m{a="1",a="2"}', "given twice"),
    ('m{a="1" b="2"}', "expected ',' or '}'"),
    ('m{a=1}', "to open the value"),
    ('m{a="open', "is not closed"),
    ("9m", "invalid metric name"),
    ('{a="b"}', "expected a metric name"),
])
def test_malformed_series_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SeriesKey.parse(text)


def test_whitespace_and_trailing_comma_are_accepted() -> None:
    assert SeriesKey.parse(' m { a = "1" , b="2", } ') == SeriesKey.of("m", {"a": "1", "b": "2"})
    assert SeriesKey.parse("m{}") == SeriesKey.of("m")


def test_size_caps() -> None:
    long_value = "v" * (MAX_LABEL_VALUE_CHARS + 1)
    with pytest.raises(ValueError, match=f"at most {MAX_LABEL_VALUE_CHARS:,} are allowed"):
        SeriesKey.of("m", {"a": long_value})
    with pytest.raises(ValueError, match=f"at most {MAX_LABEL_VALUE_CHARS:,} are allowed"):
        SeriesKey.parse(f'm{{a="{long_value}"}}')
    with pytest.raises(ValueError, match="invalid metric name"):
        SeriesKey.of("m" * (MAX_NAME_CHARS + 1))
    with pytest.raises(ValueError, match="invalid label name"):
        SeriesKey.of("m", {"l" * (MAX_NAME_CHARS + 1): "x"})
    with pytest.raises(ValueError, match=f"at most {MAX_LABELS} are allowed"):
        SeriesKey.of("m", {f"l{i}": "x" for i in range(MAX_LABELS + 1)})
    with pytest.raises(ValueError, match=f"more than {MAX_LABELS} labels"):
        SeriesKey.parse("m{" + ",".join(f'l{i}="x"' for i in range(MAX_LABELS + 1)) + "}")
    many = {f"l{i}": "v" * 1000 for i in range(9)}
    with pytest.raises(ValueError, match=f"at most {MAX_SERIES_CHARS:,} are allowed"):
        SeriesKey.of("m", many)
    SeriesKey.of("m", {f"l{i}": "v" * 250 for i in range(MAX_LABELS)})  # within every cap


def test_values_that_no_store_can_hold_are_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        SeriesKey.of("m", {"a": "x\0y"})
    with pytest.raises(ValueError, match="not valid Unicode"):
        SeriesKey.of("m", {"a": "\ud800"})


_label_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=40)
_label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,20}", fullmatch=True),
       st.dictionaries(_label_names, _label_values, max_size=6))
def test_any_key_round_trips_through_its_text(name: str, labels: dict[str, str]) -> None:
    key = SeriesKey.of(name, labels)
    assert SeriesKey.parse(str(key)) == key
    assert SeriesKey._parse_uncached(str(key)) == key
