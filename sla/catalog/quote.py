"""The manual's own words for a citation: which lines a `Source` names, and their text as quoted.

Pure: it receives the manual's lines; whoever holds the manual (a tool, a test) reads the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sla.catalog.model import Source

_PART = re.compile(r"^L?(\d+)(?:\s*-\s*L?(\d+))?$")


def cited_line_numbers(source: Source) -> tuple[int, ...]:
    """ "L26, L55" -> (26, 55); "57-94" -> 57..94 (1-based, as `sed -n 57p` counts)."""
    numbers: list[int] = []
    for part in source.lines.split(","):
        match = _PART.match(part.strip())
        if not match:
            raise ValueError(f"{source.cite()}: cannot read line citation {part.strip()!r}")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if last < first:
            raise ValueError(f"{source.cite()}: line range {part.strip()!r} runs backwards")
        numbers.extend(range(first, last + 1))
    return tuple(numbers)


def quote_of(manual_lines: Sequence[str], source: Source) -> str:
    """The cited lines, each as the manual writes it (outer blanks trimmed), blank lines left out, one per line."""
    quoted: list[str] = []
    for number in cited_line_numbers(source):
        if not 1 <= number <= len(manual_lines):
            raise ValueError(f"{source.cite()}: line {number} is not in the manual ({len(manual_lines)} lines)")
        text = manual_lines[number - 1].strip()
        if text:
            quoted.append(text)
    return "\n".join(quoted)
