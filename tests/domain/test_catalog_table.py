"""catalog/README.md's sign-off table is the one the catalog generates, never a copy kept by hand."""

from __future__ import annotations

from adapters.catalog_files import DEFAULT_CATALOG_DIR, default_catalog
from sla.catalog.table import BEGIN, END, sign_off_table, table_in, with_table

CATALOG = default_catalog()


def test_the_readmes_sign_off_table_is_what_the_catalog_generates() -> None:
    readme = (DEFAULT_CATALOG_DIR / "README.md").read_text(encoding="utf-8")
    assert table_in(readme) == sign_off_table(CATALOG), "run: slatrack catalog table --write"


def test_the_sign_off_table_has_a_row_for_every_clock_and_every_customer_window() -> None:
    table = sign_off_table(CATALOG)
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == sum(len(e.clocks) + len(e.windows) for e in CATALOG)
    assert all(f"[{c.source.document}:{c.source.lines}]" in table for e in CATALOG for c in e.clocks)


def test_writing_the_table_replaces_only_what_lies_between_its_markers() -> None:
    readme = f"# title\n\nkept\n\n{BEGIN}\nold rows\n{END}\n\nafter\n"
    assert with_table(readme, f"{BEGIN}\nnew\n{END}") == f"# title\n\nkept\n\n{BEGIN}\nnew\n{END}\n\nafter\n"
    assert table_in("no table here") is None
