"""A holiday notice's text as people paste it, made readable for `sla.calendar.notice`.

Copies in traditional Chinese (big5 mirrors of news sites, Hong Kong and Taiwan reprints) are
converted to simplified with OpenCC's `t2s` configuration, the maintained conversion tables, rather
than a table kept here: the reader matches simplified words (国务院办公厅, 放假, 上班, 星期).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import opencc

from sla.errors import CalendarDataError


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def simplified(text: str) -> tuple[str, bool]:
    """The text in simplified Chinese, and whether anything had to be converted."""
    converted = _converter().convert(text)
    return converted, converted != text


def read_notice_text(path: Path) -> tuple[str, bool]:
    """A notice file (UTF-8, with or without a byte-order mark) in simplified Chinese, and whether it was converted."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CalendarDataError(
            f"{path}: not UTF-8 text; save the notice as UTF-8", rule="calendar.notice.not_utf8", source=str(path)
        ) from None
    return simplified(text)
