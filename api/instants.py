"""Instants at the API's edge: what it takes (an offset, inside the range a business date can have)
and what it returns (RFC 3339 with the +08:00 offset, whatever offset it was stored in)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, PlainSerializer

from sla.calendar.timeutil import SHANGHAI
from sla.event_data import INSTANT_RULE, instant_in_range, parse_instant


def _business_instant(value: object) -> object:
    """The domain's one rule for instants (sla.event_data): an RFC 3339 string with an offset, inside the
    range a business date can have. A number is refused, not read as epoch time: its unit (seconds or
    milliseconds) would be a guess, and the offset the coordinator meant is lost."""
    if isinstance(value, datetime):  # built in code, not parsed from a request
        if not instant_in_range(value):
            raise ValueError(f"must be {INSTANT_RULE}")
        return value
    return parse_instant(value)


# Every instant the API takes, in a body or a query.
BusinessInstant = Annotated[AwareDatetime, BeforeValidator(_business_instant)]
# Every instant the API returns.
Instant = Annotated[
    datetime, PlainSerializer(lambda value: value.astimezone(SHANGHAI).isoformat(), return_type=str, when_used="json")
]
