"""Matchers as Alertmanager parses, evaluates and prints them: cases from pkg/labels/parse_test.go
and matcher_test.go, plus RE2's guarantees."""

from __future__ import annotations

import pytest

from vigil.incidents.matchers import (
    Matcher,
    MatcherError,
    format_matchers,
    parse_matcher_lines,
    parse_matchers,
)


def m(name: str, op: str, value: str) -> Matcher:
    return Matcher(name, op, value)


@pytest.mark.parametrize(("text", "want"), [
    ('{foo="bar"}', [m("foo", "=", "bar")]),
    ('{foo=~"bar.*"}', [m("foo", "=~", "bar.*")]),
    ('{foo!="bar"}', [m("foo", "!=", "bar")]),
    ('{foo!~"bar.*"}', [m("foo", "!~", "bar.*")]),
    ('{foo="bar", baz!="quux"}', [m("foo", "=", "bar"), m("baz", "!=", "quux")]),
    ('{foo="bar",baz!~".*quux", derp="wat"}',
     [m("foo", "=", "bar"), m("baz", "!~", ".*quux"), m("derp", "=", "wat")]),
    ('{foo="bar", instance=~"some-api.*"}', [m("foo", "=", "bar"), m("instance", "=~", "some-api.*")]),
    ('{foo=""}', [m("foo", "=", "")]),
    ('{foo="bar,quux", job="job1"}', [m("foo", "=", "bar,quux"), m("job", "=", "job1")]),
    ('{foo = "bar", dings != "bums", }', [m("foo", "=", "bar"), m("dings", "!=", "bums")]),
    ("foo=bar,dings!=bums", [m("foo", "=", "bar"), m("dings", "!=", "bums")]),
    ('{quote="She said: \\"Hi, ladies! That\'s gender-neutral…\\""}',
     [m("quote", "=", 'She said: "Hi, ladies! That\'s gender-neutral…"')]),
    ('statuscode=~"5.."', [m("statuscode", "=~", "5..")]),
    ("tricky=~~~", [m("tricky", "=~", "~~")]),
    ('trickier==\\\\=\\=\\"', [m("trickier", "=", '=\\=\\="')]),
    ('contains_quote != "\\"" , contains_comma !~ "foo,bar" , ',
     [m("contains_quote", "!=", '"'), m("contains_comma", "!~", "foo,bar")]),
    ('line="a\\nb"', [m("line", "=", "a\nb")]),
    # Alertmanager 0.25 takes a missing value as empty (later versions refuse it; 0.25 is the reference)
    ("job=", [m("job", "=", "")]),
])
def test_parse_as_alertmanager_does(text: str, want: list[Matcher]) -> None:
    assert parse_matchers(text) == want


@pytest.mark.parametrize(("text", "error"), [
    ('job="value', "unescaped double quote"),
    ('job=value"', "unescaped double quote"),
    ('trickier==\\\\=\\=\\""', "unescaped double quote"),
    ('contains_unescaped_quote = foo"bar', "unescaped double quote"),
    ('{invalid-name = "valid label"}', "bad matcher format"),
    ('{foo=~"invalid[regexp"}', "invalid regex"),
    ('"{foo=\\"bar"}', "bad matcher format"),
    ('"foo=\\"bar"', "bad matcher format"),
    ('"foo="bar""', "bad matcher format"),
    ("foo", "bad matcher format"),
])
def test_bad_matchers_are_refused_as_alertmanager_refuses_them(text: str, error: str) -> None:
    with pytest.raises(MatcherError, match=error):
        parse_matchers(text)


def test_evaluation_missing_label_is_empty_and_regexes_are_anchored() -> None:
    labels = {"env": "production", "code": "503"}
    assert m("env", "=~", "prod").matches(labels) is False  # anchored: not a substring search
    assert m("env", "=~", "prod.*").matches(labels)
    assert m("code", "=~", "5..").matches(labels) and not m("code", "!~", "5..").matches(labels)
    assert m("team", "=", "").matches(labels)  # a missing label is the empty string
    assert m("team", "!=", "ops").matches(labels)
    assert m("team", "=~", ".*").matches(labels) and not m("team", "=~", ".+").matches(labels)
    assert m("env", "=~", "a|production").matches(labels)  # (?:...) wraps the alternation
    assert not m("x", "=~", ".*").matches({"x": "a\nb"})  # '.' does not match a newline (Go's default)
    assert m("x", "=~", "(?s).*").matches({"x": "a\nb"})


def test_printing_and_order_are_alertmanagers() -> None:
    ms = parse_matcher_lines(['{owner="team-A"}', 'level!="critical"', 'a=~"x\\"y"'])
    assert format_matchers(ms) == '{a=~"x\\"y",level!="critical",owner="team-A"}'
    # Same name: by value, then by type (= != =~ !~).
    assert [str(x) for x in parse_matcher_lines(['a!="1"', 'a="1"', 'a="0"'])] == ['a="0"', 'a="1"', 'a!="1"']
    assert Matcher.from_dict(m("a", "!~", "b").to_dict()) == m("a", "!~", "b")


@pytest.mark.timeout(30)
def test_a_catastrophic_pattern_costs_linear_time() -> None:
    # A backtracking engine would not finish this in the age of the universe; RE2 takes milliseconds.
    evil = m("v", "=~", "(a|aa)+$|(a+)+b")
    for n in (1000, 10_000, 100_000):
        assert not evil.matches({"v": "a" * n + "c"})


def test_patterns_re2_cannot_run_in_linear_time_are_refused() -> None:
    with pytest.raises(MatcherError, match="invalid regex"):
        m("a", "=~", "(x)\\1")  # backreferences need backtracking: Go's regexp refuses them too
    with pytest.raises(MatcherError, match="invalid regex"):
        m("a", "=~", "(?=x)")  # so do look-arounds
