"""An overlay as YAML text: how overlay files and the database's overlay rows hold a year's data.

Parsing the YAML is here, validating the document is `sla.calendar.overlay.parse_overlay`.
"""

from __future__ import annotations

import yaml

from sla.calendar.overlay import YearData, overlay_document, parse_overlay
from sla.errors import CalendarDataError


def load_overlay_text(text: str, origin: str) -> YearData:
    try:
        document = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for dates like 2027-13-01
        raise CalendarDataError(f"{origin}: not valid YAML or not a date: {exc}") from None
    return parse_overlay(document, origin)


def dump_overlay(data: YearData) -> str:
    return yaml.safe_dump(overlay_document(data), allow_unicode=True, sort_keys=False)
