"""A policy's own terms the quota counts by: one spelling of its number, and its policy years."""

from __future__ import annotations

import unicodedata
from datetime import date


def normalise_policy_no(policy_no: str) -> str:
    """One spelling per policy: Unicode NFKC (full-width forms), no spaces or hyphens, upper case."""
    text = unicodedata.normalize("NFKC", policy_no)
    return "".join(ch for ch in text if not ch.isspace() and ch != "-").upper()


def policy_year_end(start: date) -> date:
    """The first day after the policy year: the anniversary (28 Feb for a 29 Feb start, Civil Code art. 202)."""
    try:
        return start.replace(year=start.year + 1)
    except ValueError:
        return date(start.year + 1, 2, 28)


def mask_policy_no(policy_no: str) -> str:
    """A policy number as a page may show it: enough to tell two apart on a call (the first two and
    the last two characters), never the whole number; short numbers show only their last character."""
    if len(policy_no) <= 6:
        return "*" * (len(policy_no) - 1) + policy_no[-1:]
    return policy_no[:2] + "*" * (len(policy_no) - 4) + policy_no[-2:]
