"""`vigil bench nab` shows the published scores only beside a run on the corpus they were measured on."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.detect.test_nabscore import _corpus


def test_a_subset_is_not_shown_beside_the_full_corpus_published_scores(tmp_path: Path) -> None:
    from vigil.bench.nab import app

    _corpus(tmp_path / "nab")
    res = CliRunner().invoke(app, ["--data", str(tmp_path / "nab"), "--detector", "null"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "(published)" not in text and "Numenta HTM" not in text
    assert "published scores are for the full development corpus (34 files, 50 windows)" in text
