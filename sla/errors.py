"""One error hierarchy for the domain, mapped once at each boundary (activity, API)."""

from __future__ import annotations


class SlaError(Exception):
    """Base of every domain error. `rule` names the broken rule, `source` where it is written."""

    rule: str = "sla.error"

    def __init__(self, message: str, *, rule: str | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if rule is not None:
            self.rule = rule
        self.source = source

    def to_dict(self) -> dict[str, str | None]:
        return {"type": type(self).__name__, "rule": self.rule, "message": self.message, "source": self.source}


class NaiveDatetimeError(SlaError, ValueError):
    rule = "time.timezone_required"


class CalendarDataError(SlaError, ValueError):
    """An overlay file or its contents break the overlay rules."""

    rule = "calendar.overlay_invalid"


class CatalogError(SlaError, ValueError):
    """A catalog file breaks the catalog rules (named with file and entry)."""

    rule = "catalog.invalid"


class UnknownServiceError(SlaError, LookupError):
    rule = "catalog.unknown_service"


class UnknownEventError(SlaError, ValueError):
    rule = "event.unknown"


class EventNotAcceptedError(SlaError, ValueError):
    """The service does not accept this event at all."""

    rule = "event.not_accepted_by_service"


class EventNotAllowedError(SlaError, ValueError):
    """The event is valid for the service but not allowed in the request's current state."""

    rule = "event.not_allowed_now"


class FutureEventError(SlaError, ValueError):
    rule = "event.occurred_in_future"


class CustomerWindowError(SlaError, ValueError):
    """A customer-side window (lead time, cut-off, forbidden after) was violated."""

    rule = "customer_window"
