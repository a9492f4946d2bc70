"""Personal data that must not travel in free text: notes are stored in clear (history, read model,
audit pack), while the insured's name and ID number are sealed in their own fields.

Found here (pure, stdlib):
- a resident identity number of the People's Republic of China (GB 11643-1999): 17 digits and a check
  character, the ISO 7064 MOD 11-2 checksum of the 17 digits (0-9 or X);
- a mainland mobile number: 11 digits starting 13-19, optionally after +86 / 86 / 0086.

Digits are read after Unicode compatibility folding (full-width ０-９) and also with single spaces or
hyphens between digits removed ("138 0013 8000", "138-0013-8000").
"""

from __future__ import annotations

import re
import unicodedata

RESIDENT_ID = "a resident ID number (18 digits with a valid check digit)"
MOBILE_NUMBER = "a mobile phone number"

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, ...
_CHECK = "10X98765432"
_RESIDENT_ID = re.compile(r"(?<![0-9])([0-9]{17}[0-9X])(?![0-9A-Z])", re.IGNORECASE)
_MOBILE = re.compile(r"(?<![0-9])(?:\+?(?:00)?86)?(1[3-9][0-9]{9})(?![0-9])")
_BETWEEN_DIGITS = re.compile(r"(?<=[0-9])[ \-](?=[0-9])")


def resident_id_check(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of 17 digits."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def is_resident_id(text: str) -> bool:
    return len(text) == 18 and text[:17].isdigit() and resident_id_check(text[:17]) == text[17].upper()


def personal_data_in(text: str) -> str | None:
    """What kind of personal data `text` holds (a phrase for a message, never the value), or None."""
    folded = unicodedata.normalize("NFKC", text)
    for candidate in (folded, _BETWEEN_DIGITS.sub("", folded)):
        if any(is_resident_id(m.group(1)) for m in _RESIDENT_ID.finditer(candidate)):
            return RESIDENT_ID
        if _MOBILE.search(candidate):
            return MOBILE_NUMBER
    return None


PERSONAL_DATA_RULE = (
    "notes are stored in clear, so they may not carry the insured's ID or phone number "
    "(the request's sealed insured fields hold who it is)"
)
PERSONAL_DATA_REFUSAL = {"rule": "event.note_personal_data", "source": "sla/personal_data.py"}
