"""A broken business rule as a Temporal failure: the rule and its source travel in the details,
and it is never retried (retrying cannot make the event acceptable)."""

from temporalio.exceptions import ApplicationError

from sla.errors import SlaError


def rule_failure(error: SlaError) -> ApplicationError:
    return ApplicationError(error.message, error.to_dict(), type=type(error).__name__, non_retryable=True)
