"""Write each clock's and customer window's `quote:` from the manual lines its `source:` cites.

Needs the manuals (`../shared/seeds/raw/<doc>_*.txt` beside the repository, or MANUALS_DIR); without them
it says so and changes nothing. Edits the YAML as text (a `quote:` line right after each clock's or
window's `source:` line), so comments and layout stay as written. Run: python tools/fill_catalog_quotes.py
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sla.catalog.model import Source  # noqa: E402
from sla.catalog.quote import quote_of  # noqa: E402

MANUALS = Path(os.environ.get("MANUALS_DIR", REPO.parent / "shared" / "seeds" / "raw"))
# A clock's or window's source sits 8 spaces in; a service's 4 (its quote would be a whole section).
_SOURCE = re.compile(r'^(?P<indent> {8,})source: \{document: "(?P<doc>\d+)", lines: "(?P<lines>[^"]+)"\}\s*$')
_QUOTE = re.compile(r"^ {8,}quote: ")


def manual_lines(document: str) -> list[str]:
    (path,) = sorted(MANUALS.glob(f"{document}_*.txt"))
    return path.read_text(encoding="utf-8").splitlines()


def fill(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    filled = 0
    for number, line in enumerate(lines):
        if _QUOTE.match(line) and number > 0 and _SOURCE.match(lines[number - 1]):
            continue  # replaced below, after its source line
        out.append(line)
        match = _SOURCE.match(line)
        if match:
            source = Source(match["doc"], match["lines"])
            quote = quote_of(manual_lines(source.document), source)
            out.append(f"{match['indent']}quote: {json.dumps(quote, ensure_ascii=False)}")
            filled += 1
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return filled


def main() -> int:
    if not MANUALS.is_dir():
        print(f"{MANUALS}: no manuals here; nothing changed", file=sys.stderr)
        return 1
    for path in sorted((REPO / "catalog").glob("*.yaml")):
        print(f"{path.name}: {fill(path)} quotes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
