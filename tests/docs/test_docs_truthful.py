"""The docs and `--help` say only what is true today: what is not built yet (logs as a source) is
only ever mentioned as planned."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import app

ROOT = Path(__file__).resolve().parents[2]
NOT_BUILT = re.compile(r"\b(logs as a source|log ingest)\b", re.IGNORECASE)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def units(text: str) -> list[str]:
    """Paragraphs of prose; each line of a table or a code block on its own (a comment in an example
    must say 'planned' itself, not borrow it from elsewhere in the block)."""
    out: list[str] = []
    prose: list[str] = []
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif in_code or line.lstrip().startswith("|"):
            out.append(line)
            continue
        if not line.strip():
            out.append(" ".join(prose))
            prose = []
        else:
            prose.append(line)
    return out + [" ".join(prose)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_what_is_not_built_is_only_mentioned_as_planned(doc: Path) -> None:
    claims = [u.strip() for u in units(doc.read_text()) if NOT_BUILT.search(u) and "planned" not in u.lower()]
    assert not claims, f"{doc.name} describes what does not exist yet without saying it is planned:\n" + \
        "\n".join(claims)


def test_help_texts_claim_nothing_that_is_not_built() -> None:
    runner = CliRunner()
    texts = [runner.invoke(app, ["--help"]).output]
    texts += [runner.invoke(app, [c.name, "--help"]).output
              for c in app.registered_commands if c.name != "bench"]
    for text in texts:
        flat = " ".join(text.split())
        if NOT_BUILT.search(flat):
            assert "planned" in flat.lower(), flat
    assert "heals" not in texts[0]
