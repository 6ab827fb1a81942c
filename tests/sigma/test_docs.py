"""docs/sigma.md is generated from the rules and the field tables: it must be current."""

from __future__ import annotations

from pathlib import Path

import pytest

from idwatch.sigma.convert import convert_paths
from idwatch.sigma.docs import render

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT.parent / "shared" / "data" / "sigma"


@pytest.mark.skipif(not RULES.is_dir(), reason="shared samples not available (SigmaHQ rules)")
def test_docs_page_is_current() -> None:
    expected = render(convert_paths([RULES]), RULES)
    assert (ROOT / "docs" / "sigma.md").read_text("utf-8") == expected, (
        "regenerate: python -m idwatch.sigma.docs ../shared/data/sigma > docs/sigma.md"
    )


@pytest.mark.skipif(not RULES.is_dir(), reason="shared samples not available (SigmaHQ rules)")
def test_every_rule_has_a_row() -> None:
    page = (ROOT / "docs" / "sigma.md").read_text("utf-8")
    for rule in RULES.rglob("*.yml"):
        assert f"`{rule.relative_to(RULES)}`" in page
