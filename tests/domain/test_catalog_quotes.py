"""Every clock and customer window carries the manual's own words for the lines it cites."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.catalog_files import default_catalog
from sla.catalog.model import Source
from sla.catalog.quote import cited_line_numbers, quote_of

CATALOG = default_catalog()
RULES = [(entry.id, rule) for entry in CATALOG for rule in (*entry.clocks, *entry.windows)]
# The manuals are not in the repository: CI's clone has ../shared beside it; a worktree elsewhere names them.
MANUALS = Path(os.environ.get("MANUALS_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "seeds" / "raw"))


def test_every_clock_and_customer_window_quotes_its_manual_lines() -> None:
    unquoted = [f"{entry_id}/{rule.id}" for entry_id, rule in RULES if not rule.quote]
    assert unquoted == []


def test_a_line_citation_is_read_as_single_lines_and_inclusive_ranges() -> None:
    assert cited_line_numbers(Source("003", "L26, L55")) == (26, 55)
    assert cited_line_numbers(Source("002", "74, 84")) == (74, 84)
    assert cited_line_numbers(Source("003", "L3385-3386, L3621-3622")) == (3385, 3386, 3621, 3622)
    with pytest.raises(ValueError, match="cannot read"):
        cited_line_numbers(Source("003", "page 4"))


def test_a_quote_keeps_each_cited_line_verbatim_and_leaves_blank_lines_out() -> None:
    manual = ["title", "", "  第一行\t表格  ", "", "第二行"]
    assert quote_of(manual, Source("009", "L3-5")) == "第一行\t表格\n第二行"
    with pytest.raises(ValueError, match="not in the manual"):
        quote_of(manual, Source("009", "L6"))


@pytest.mark.skipif(not MANUALS.is_dir(), reason=f"the manuals are not at {MANUALS}")
def test_each_quote_is_the_manuals_cited_lines_word_for_word() -> None:
    manuals = {path.name[:3]: path.read_text(encoding="utf-8").splitlines() for path in MANUALS.glob("*_*.txt")}
    differing = [
        f"{entry_id}/{rule.id} {rule.source.cite()}"
        for entry_id, rule in RULES
        if rule.quote != quote_of(manuals[rule.source.document], rule.source)
    ]
    assert differing == [], "run tools/fill_catalog_quotes.py"
