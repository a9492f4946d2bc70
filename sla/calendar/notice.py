"""Read the State Council's holiday notice (国务院办公厅关于YYYY年部分节假日安排的通知) as published.

`read_notice` turns the text of one notice into a `NoticeReading`: its title, document number and
date, every holiday period and every make-up working day, each with the sentence it was read from,
so a person can check the reading against the notice. A later notice that changes a year already
announced (2019: 调整2019年劳动节假期安排; 2020: 延长2020年春节假期) is read the same way and
applied with `amend`. `to_year_data` turns a reading into one year's overlay through the overlay's
own validation (`parse_overlay`), so what it returns is what `slatrack calendar check` accepts.

How dates are read (a notice for year Y):
- a date with a year is that date; without a month it takes the month (and year) of the date
  before it in the sentence ("2月15日至21日");
- a date without a year is in Y, except a December date in a section whose period began in
  December of Y-1 (a New Year holiday spanning the turn of the year);
- a range "A至B" whose end falls before its start crosses the new year: without years on either
  side it is read as December of Y-1 to January of Y (a notice for Y announces Y's New Year);
- a weekday in parentheses ("（星期六）", "（农历除夕、周二）") must be the date's weekday, which also
  catches a date given the wrong year.
Only the numbered items ("一、元旦：…") are read; the preamble, the closing paragraph and the
signature are not. The State Council's one-off notice (国务院关于…调休放假的通知, 国发明电) has no
numbered items: its body paragraphs are read as one holiday named by its title. A copy without its
title and number line (republished from the addressee on) takes the title from the yearly notice's
sentence 现将YYYY年…通知如下. Text in traditional Chinese is converted before it gets here
(adapters/notice_text.py). Days outside Y (2019's 元旦 began 2018-12-30) stay in the reading with their
year; `to_year_data` keeps the days of Y only and `outside_year` lists the others.

Pure: text in, data out (no files, no clock, no chinese_calendar). Every error is a
CalendarDataError whose message quotes the sentence it could not accept.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

from sla.calendar.overlay import NoticeSource, YearData, parse_overlay
from sla.errors import CalendarDataError

# Full-width ASCII (１２：（），) to ASCII, one character for one: positions in the half-width copy
# are positions in the original, so errors can quote the sentence exactly as the operator pasted it.
_TO_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: ord(" ")}

# 国务院办公厅 for the yearly notices and their amendments, 国务院 itself for a one-off holiday (2015-09-03).
_TITLE = re.compile(r"国务院(?:办公厅)?\s*关于(?P<subject>[^。,:;《》]{1,60}?)的\s*通知")
# A copy without its title (a news copy, a page that shows the title in its header): the year is in the
# yearly notice's own sentence "经国务院批准，现将2016年元旦、…放假调休日期的具体安排通知如下".
_TITLE_SENTENCE = re.compile(r"现将\s*(?P<year>\d{4})\s*年[^。]{0,80}?放假调休日期的具体安排通知如下")
_YEARLY = "部分节假日安排"
_YEAR_IN_TITLE = re.compile(r"(?P<year>\d{4})\s*年")
_AMENDED_HOLIDAY = re.compile(r"(?:调整|延长)\s*\d{4}\s*年\s*(?P<holiday>[^\d\s]+?)\s*假期")
_NUMBER = re.compile(
    r"(?P<kind>国办发明电|国发明电)\s*[〔\[(【]\s*(?P<year>\d{4})\s*[〕\])】]\s*(?P<serial>\d{1,3})\s*号"
)
_DATE_LINE = re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日")
_ITEM_MARK = re.compile(r"[一二三四五六七八九十]{1,3}、")
_LABEL = re.compile(r"\s*(?P<label>[^\d:,。;()、]{1,10}(?:、[^\d:,。;()、]{1,10})*)\s*:")
_DATE = re.compile(
    r"(?<!\d)(?:(?P<y>\d{4})\s*年\s*)?(?:(?P<m>\d{1,2})\s*月\s*)?(?P<d>\d{1,2})\s*日(?:\s*\((?P<note>[^()]*)\))?"
)
_DATE_LIKE = re.compile(r"\d\s*[月日]|月\s*\d")  # what is left of a date the pattern above could not read
_WEEKDAY = re.compile(r"(?:星期|周|礼拜)\s*(?P<day>[一二三四五六日天])")
_WEEKDAY_NUMBERS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_RANGE_JOINS = {"至", "到", "-", "—", "——", "–", "~", "〜"}
_COUNT = re.compile(r"(?:共|放假)\s*(?P<days>\d{1,2})\s*天")
_EXTENSION = re.compile(r"延长\s*(?:\d{4}\s*年\s*)?(?P<holiday>[^\d,。]+?)\s*假期\s*(?:至|到)")
_SIGNATURES = {"国务院办公厅", "国务院"}
_ADDRESSEE = re.compile(r"各省.*:")  # 各省、自治区、直辖市人民政府，国务院各部委、各直属机构：


def half_width(text: str) -> str:
    return text.translate(_TO_HALF_WIDTH)


@dataclass(frozen=True)
class NoticeHeader:
    """Which notice a reading comes from: what the overlay's `source` records."""

    title: str
    number: str | None  # 国办发明电〔2025〕7号; some republished copies leave it out
    published: dt.date | None  # the date under the signature
    title_from: str | None = None  # the sentence the title was read from, when the copy has no title line

    @property
    def yearly(self) -> bool:
        """The year's own notice, which an overlay can be built from; not one that changes it."""
        return _YEARLY in self.title


@dataclass(frozen=True)
class HolidayPeriod:
    holiday: str  # the section's name: 元旦, 春节, 国庆节、中秋节
    first: dt.date
    last: dt.date
    sentence: str
    place: str  # the file and line it was read from

    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def weekdays(self) -> list[dt.date]:
        """The days that change anything: a Saturday or Sunday in a holiday is a rest day anyway."""
        return [d for d in self.days() if d.weekday() < 5]


@dataclass(frozen=True)
class MakeupDay:
    holiday: str
    day: dt.date
    sentence: str
    place: str


@dataclass(frozen=True)
class Extension:
    """A later notice moving the end of a holiday already announced (延长…假期至…)."""

    holiday: str
    until: dt.date
    sentence: str
    place: str


@dataclass(frozen=True)
class Remark:
    """A sentence whose dates change nothing, shown for the check: 鼓励…除夕（2月9日）休息, 2月3日起正常上班."""

    days: tuple[dt.date, ...]
    sentence: str


@dataclass(frozen=True)
class OutsideDay:
    day: dt.date
    kind: Literal["holiday", "weekend", "makeup"]  # a weekday off, a weekend day off (no change), a working weekend day
    holiday: str
    sentence: str


@dataclass(frozen=True)
class NoticeReading:
    year: int
    headers: tuple[NoticeHeader, ...]  # the notice, then any notices that amended it, in order
    periods: tuple[HolidayPeriod, ...]
    makeup_days: tuple[MakeupDay, ...]
    extensions: tuple[Extension, ...]
    remarks: tuple[Remark, ...]
    origin: str

    def days_in(self, year: int) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
        """(weekday holidays, make-up working days) falling in `year`, as the overlay lists them."""
        holidays = frozenset(d for p in self.periods for d in p.weekdays() if d.year == year)
        makeups = frozenset(m.day for m in self.makeup_days if m.day.year == year)
        return holidays, makeups

    def outside_year(self) -> list[OutsideDay]:
        """Days the notice sets outside its own year: an overlay for the year cannot hold them."""
        days = [
            OutsideDay(d, "holiday" if d.weekday() < 5 else "weekend", p.holiday, p.sentence)
            for p in self.periods
            for d in p.days()
            if d.year != self.year
        ]
        days += [
            OutsideDay(m.day, "makeup", m.holiday, m.sentence) for m in self.makeup_days if m.day.year != self.year
        ]
        return sorted(days, key=lambda o: o.day)


@dataclass(frozen=True)
class _Where:
    place: str  # "2026.txt line 9"
    sentence: str

    def error(self, rule: str, message: str) -> CalendarDataError:
        return CalendarDataError(
            f"{self.place}: 「{self.sentence}」: {message}", rule=f"calendar.notice.{rule}", source=self.place
        )


@dataclass(frozen=True)
class _Token:
    """One date as written: any of year and month may be missing, a note in parentheses may follow."""

    year: int | None
    month: int | None
    day: int
    note: str | None
    start: int
    end: int
    text: str


@dataclass
class _Item:
    """One numbered item ("二、春节：…"), possibly wrapped over several lines."""

    marker: str
    line: int
    original: str
    half: str  # half-width copy of `original`, same length


@dataclass
class _Section:
    holiday: str
    labelled: bool
    periods: list[HolidayPeriod]
    makeups: list[MakeupDay]
    extensions: list[Extension]
    remarks: list[Remark]


def read_notice(text: str, year: int, *, origin: str = "notice") -> NoticeReading:
    """Read one notice for `year`. `origin` names the text in errors (a file name)."""
    half = half_width(text)
    header = _read_header(text, half, year, origin)
    amended_holiday = _AMENDED_HOLIDAY.search(half_width(header.title))
    periods: list[HolidayPeriod] = []
    makeups: list[MakeupDay] = []
    extensions: list[Extension] = []
    remarks: list[Remark] = []
    items = list(_items(text))
    unnumbered = not items and not header.yearly
    if unnumbered:
        # The State Council's one-off notice (国发明电〔2015〕1号) has no numbered items: its body is one
        # holiday, restated in detail by a sentence 其中…放假，…调休，…上班.
        items = list(_paragraphs(text))
    for item in items:
        named = amended_holiday["holiday"] if amended_holiday else _one_off_name(header.title) if unnumbered else None
        section = _read_item(item, year, origin, named, labels=not unnumbered)
        periods += _merged(section.periods) if unnumbered else section.periods
        makeups += section.makeups
        extensions += section.extensions
        remarks += section.remarks
    if not periods and not extensions:
        raise CalendarDataError(
            f"{origin}: no holiday period found in the numbered items (一、元旦：1月1日放假…) of 「{header.title}」",
            rule="calendar.notice.no_holidays",
            source=origin,
        )
    if not _YEAR_IN_TITLE.search(header.title) and all(p.first.year != year for p in periods):
        raise CalendarDataError(
            f"{origin}: 「{header.title}」 sets no holiday in {year}", rule="calendar.notice.wrong_year", source=origin
        )
    reading = NoticeReading(
        year,
        (header,),
        tuple(sorted(periods, key=lambda p: p.first)),
        tuple(sorted(makeups, key=lambda m: m.day)),
        tuple(extensions),
        tuple(remarks),
        origin,
    )
    _check_consistent(reading)
    return reading


def amend(reading: NoticeReading, later: NoticeReading) -> NoticeReading:
    """Apply a later notice for the same year: a holiday it announces replaces that holiday's period
    and make-up days; an extension moves the holiday's last day, and a make-up day inside the
    extended holiday is a rest day after all (2020-02-01)."""
    if later.year != reading.year:
        raise CalendarDataError(
            f"{later.origin}: amends {later.year}, not {reading.year}",
            rule="calendar.notice.wrong_year",
            source=later.origin,
        )
    replaced = {name for p in later.periods for name in _names(p.holiday)}
    periods = [p for p in reading.periods if not _names(p.holiday) & replaced]
    makeups = [m for m in reading.makeup_days if not _names(m.holiday) & replaced]
    for extension in later.extensions:
        extended = [p for p in periods if extension.holiday in _names(p.holiday)]
        where = _Where(extension.place, extension.sentence)
        if not extended:
            raise where.error(
                "extension_without_holiday", f"extends {extension.holiday}, which the earlier notice does not announce"
            )
        for period in extended:
            if extension.until < period.first:
                raise where.error("extension_before_holiday", f"{extension.until} is before {period.holiday} begins")
            grown = replace(period, last=extension.until, sentence=f"{period.sentence}。{extension.sentence}")
            periods[periods.index(period)] = grown
            makeups = [m for m in makeups if not grown.first <= m.day <= grown.last]
    amended = NoticeReading(
        reading.year,
        reading.headers + later.headers,
        tuple(sorted([*periods, *later.periods], key=lambda p: p.first)),
        tuple(sorted([*makeups, *later.makeup_days], key=lambda m: m.day)),
        reading.extensions,
        reading.remarks + later.remarks,
        f"{reading.origin} + {later.origin}",
    )
    _check_consistent(amended)
    return amended


def to_year_data(reading: NoticeReading, origin: str) -> YearData:
    """The overlay for the reading's year, validated by `parse_overlay` like any overlay file."""
    if reading.extensions:
        extension = reading.extensions[0]
        raise _Where(extension.place, extension.sentence).error(
            "extension_without_holiday",
            f"extends {extension.holiday} of an earlier notice: give that notice first, this one after it",
        )
    if not reading.headers[0].yearly:
        raise CalendarDataError(
            f"{reading.origin}: 「{reading.headers[0].title}」 changes a year announced by its yearly notice "
            f"(国务院办公厅关于{reading.year}年部分节假日安排的通知), and an overlay replaces the year whole: "
            "give the yearly notice first, this one after it",
            rule="calendar.notice.amendment_alone",
            source=reading.origin,
        )
    for header in reading.headers:
        missing = [
            name for name, value in (("document number", header.number), ("date", header.published)) if not value
        ]
        if missing:
            raise CalendarDataError(
                f"{reading.origin}: 「{header.title}」: the text gives no {' and no '.join(missing)} "
                "(the line 国办发明电〔YYYY〕N号 under the title, the date under the signature); add them",
                rule="calendar.notice.source_incomplete",
                source=reading.origin,
            )
    holidays, makeups = reading.days_in(reading.year)
    document = {
        "year": reading.year,
        "source": {
            "title": "；".join(h.title for h in reading.headers),
            "number": "；".join(h.number or "" for h in reading.headers),
            "date": "；".join(h.published.isoformat() if h.published else "" for h in reading.headers),
        },
        "holidays": sorted(d.isoformat() for d in holidays),
        "makeup_workdays": sorted(d.isoformat() for d in makeups),
    }
    return parse_overlay(document, origin)


def _names(holiday: str) -> set[str]:
    return set(holiday.split("、"))


def _read_header(text: str, half: str, year: int, origin: str) -> NoticeHeader:
    title_match = _TITLE.search(half)
    title_from = None
    if title_match is not None:
        title = re.sub(r"\s+", "", half[title_match.start() : title_match.end()])  # ASCII digits, as gov.cn has it
        title_year = _YEAR_IN_TITLE.search(title_match["subject"])
    elif (sentence := _TITLE_SENTENCE.search(half)) and not _NUMBER.search(half):
        # Only the yearly notice says 现将YYYY年…放假调休日期的具体安排通知如下, and its title is always this.
        # A copy that has the number line but not the title lost it in the paste: that one is refused.
        title = f"国务院办公厅关于{sentence['year']}年部分节假日安排的通知"
        title_year = _YEAR_IN_TITLE.search(title)
        title_from = re.sub(r"\s+", "", text[sentence.start() : sentence.end()])
    else:
        first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
        traditional = (
            " (this copy is in traditional Chinese: convert it to simplified first)" if "國務院" in text else ""
        )
        raise CalendarDataError(
            f"{origin}: the text begins 「{first_line[:60]}」 and has no title "
            f"(国务院办公厅关于{year}年部分节假日安排的通知) nor the sentence 经国务院批准，现将{year}年…通知如下"
            f"{traditional}; paste the notice from its title to its date",
            rule="calendar.notice.no_title",
            source=origin,
        )
    # A one-off notice's title may name no year (国务院关于…70周年纪念日调休放假的通知): its dates say it.
    other_year = title_year is not None and int(title_year["year"]) != year
    yearly_without_year = title_year is None and _YEARLY in title
    if other_year or yearly_without_year:
        named = f"for {title_year['year']}" if title_year else "for no year"
        raise CalendarDataError(
            f"{origin}: 「{title}」 is the notice {named}, not for {year}",
            rule="calendar.notice.wrong_year",
            source=origin,
        )
    number_match = _NUMBER.search(half)
    number = f"{number_match['kind']}〔{number_match['year']}〕{number_match['serial']}号" if number_match else None
    return NoticeHeader(title, number, _published(text, origin), title_from)


def _published(text: str, origin: str) -> dt.date | None:
    """The date on a line of its own under the signature: the last such line of the text."""
    lines = text.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        found = _DATE_LINE.fullmatch(half_width(lines[index]).strip())
        if found:
            try:
                return dt.date(int(found["y"]), int(found["m"]), int(found["d"]))
            except ValueError:
                raise _Where(f"{origin} line {index + 1}", lines[index].strip()).error(
                    "unreadable_date", "not a date"
                ) from None
    return None


def _items(text: str) -> Iterator[_Item]:
    """The numbered items. An item starts at a line or after a 。 with 一、 二、 …; it runs on over
    wrapped lines until a blank line, the next item, the signature or the date line."""
    current: _Item | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        original = line.strip()
        half = half_width(original)
        if not half or half in _SIGNATURES or _DATE_LINE.fullmatch(half):
            if current:
                yield current
            current = None
            continue
        starts = [
            m.start()
            for m in _ITEM_MARK.finditer(half)
            if not half[: m.start()].rstrip() or half[: m.start()].rstrip().endswith("。")
        ]
        if current and (not starts or starts[0] > 0):
            end = starts[0] if starts else len(half)
            current.original += original[:end]
            current.half += half[:end]
        for index, start in enumerate(starts):
            if current:
                yield current
            end = starts[index + 1] if index + 1 < len(starts) else len(half)
            marker = _ITEM_MARK.match(half, start)
            assert marker is not None  # found by finditer above
            current = _Item(marker.group(), number, original[start:end], half[start:end])
    if current:
        yield current


def _paragraphs(text: str) -> Iterator[_Item]:
    """The body of a notice without numbered items: the paragraphs after the addressee (各省…：) and
    before the signature; each is read like an item without a name."""
    lines = text.splitlines()
    addressee = next((n for n, line in enumerate(lines) if _ADDRESSEE.fullmatch(half_width(line).strip())), -1)
    for number in range(addressee + 1, len(lines)):
        original = lines[number].strip()
        half = half_width(original)
        if half in _SIGNATURES or _DATE_LINE.fullmatch(half):
            return
        if half:
            yield _Item("", number + 1, original, half)


def _one_off_name(title: str) -> str:
    """The holiday a one-off notice sets, from its title: 国务院关于X调休放假的通知 -> X."""
    found = _TITLE.search(title)
    subject = found["subject"] if found else title
    return re.sub(r"(?:调休)?放假(?:安排)?$", "", subject) or subject


def _merged(periods: list[HolidayPeriod]) -> list[HolidayPeriod]:
    """Periods of one holiday that overlap, as one: a one-off notice gives the day, the whole period,
    then the days within it (2015: 9月3日放假 / 9月3日至5日调休放假 / 其中9月3日放假，9月4日调休)."""
    result: list[HolidayPeriod] = []
    for period in sorted(periods, key=lambda p: p.first):
        if result and period.first <= result[-1].last + dt.timedelta(days=1):
            last = result[-1]
            sentence = last.sentence if period.sentence == last.sentence else f"{last.sentence}。{period.sentence}"
            result[-1] = replace(last, last=max(last.last, period.last), sentence=sentence)
        else:
            result.append(period)
    return result


def _sentences(item: _Item, body_start: int) -> Iterator[tuple[str, str]]:
    """(original, half-width) sentences of an item's body, split at 。."""
    for found in re.finditer(r"[^。]+", item.half[body_start:]):
        start, end = found.start() + body_start, found.end() + body_start
        original, half = item.original[start:end].strip(), item.half[start:end].strip()
        if half:
            yield original, half


def _read_item(item: _Item, year: int, origin: str, amended_holiday: str | None, *, labels: bool = True) -> _Section:
    body_start = len(item.marker)
    label = _LABEL.match(item.half, body_start) if labels else None
    if label:
        section = _Section(label["label"].strip(), True, [], [], [], [])
        body_start = label.end()
    else:
        # An item without "name：" announces a holiday only in an amending notice, named by its title.
        section = _Section(amended_holiday or f"第{item.marker.rstrip('、')}项", False, [], [], [], [])
    for original, half in _sentences(item, body_start):
        _read_sentence(section, half, year, _Where(f"{origin} line {item.line}", original))
    if section.labelled and not section.periods and not section.extensions:
        raise _Where(f"{origin} line {item.line}", item.original.strip()).error(
            "section_without_dates", f"the section {section.holiday} gives no holiday dates (X月X日至X日放假)"
        )
    return section


def _tokens(half: str, where: _Where) -> list[_Token]:
    tokens = []
    for found in _DATE.finditer(half):
        tokens.append(
            _Token(
                int(found["y"]) if found["y"] else None,
                int(found["m"]) if found["m"] else None,
                int(found["d"]),
                found["note"],
                found.start(),
                found.end(),
                where.sentence[found.start() : found.end()] if len(where.sentence) == len(half) else found.group(),
            )
        )
    residue = list(half)
    for token in tokens:
        residue[token.start : token.end] = " " * (token.end - token.start)
    unread = _DATE_LIKE.search("".join(residue))
    if unread:
        raise where.error(
            "unreadable_date", f"cannot read the date near 「{half[max(0, unread.start() - 4) : unread.end() + 4]}」"
        )
    return tokens


def _clauses(half: str) -> Iterator[tuple[int, int]]:
    """Spans of the clauses of a sentence, split at commas outside parentheses (（农历正月初九，星期日）)."""
    depth, start = 0, 0
    for index, char in enumerate(half):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char in ",;" and depth == 0:
            yield start, index
            start = index + 1
    yield start, len(half)


def _read_sentence(section: _Section, half: str, year: int, where: _Where) -> None:
    tokens = _tokens(half, where)
    if not tokens:
        return  # 与周末连休, 节假日期间…: nothing to read
    resolver = _Resolver(year, where, section)
    if half.startswith("鼓励"):
        section.remarks.append(Remark(tuple(resolver.single(t) for t in tokens), where.sentence))
        return
    for start, end in _clauses(half):
        clause = half[start:end]
        inside = [t for t in tokens if start <= t.start < end]
        extension = _EXTENSION.search(clause)
        if extension:
            after = [t for t in inside if t.start - start >= extension.end()]
            if len(after) != 1:
                raise where.error("unreadable_date", "cannot tell the day this extension runs to")
            section.extensions.append(
                Extension(extension["holiday"].strip(), resolver.single(after[0]), where.sentence, where.place)
            )
        elif "放假" in clause and inside:
            section.periods.append(_period(section, half, inside, resolver, where))
        elif ("补休" in clause or clause.rstrip().endswith("调休")) and inside:
            # older notices: 4月5日放假，4月7日（星期一）补休; a one-off: 9月4日（星期五）调休
            section.periods += [
                HolidayPeriod(section.holiday, d, d, where.sentence, where.place)
                for d in (resolver.single(t) for t in inside)
            ]
        elif clause.rstrip().endswith("上班") and inside:
            words = re.sub(r"[、,和及\s]", "", _without(half, inside, start, end))
            if words == "上班":
                for token in inside:
                    _add_makeup(section, resolver.single(token), where)
            elif "正常上班" in words or words.endswith("起上班"):
                section.remarks.append(Remark(tuple(resolver.single(t) for t in inside), where.sentence))
            else:
                raise where.error("unknown_sentence", "dates before 上班 that are not a list of make-up days")
        elif inside:
            raise where.error(
                "unknown_sentence", "a date in a sentence that is neither a holiday (放假) nor make-up days (上班)"
            )
        counted = _COUNT.search(clause)
        if counted and section.periods and section.periods[-1].sentence == where.sentence:
            period = section.periods[-1]
            length = (period.last - period.first).days + 1
            if int(counted["days"]) != length:
                raise where.error(
                    "count_mismatch", f"says {counted['days']} days, but {period.first} to {period.last} is {length}"
                )


def _without(half: str, tokens: list[_Token], start: int, end: int) -> str:
    residue = list(half[start:end])
    for token in tokens:
        residue[token.start - start : token.end - start] = " " * (token.end - token.start)
    return "".join(residue)


def _period(section: _Section, half: str, tokens: list[_Token], resolver: _Resolver, where: _Where) -> HolidayPeriod:
    if len(tokens) == 1:
        day = resolver.single(tokens[0])
        return HolidayPeriod(section.holiday, day, day, where.sentence, where.place)
    if len(tokens) == 2 and half[tokens[0].end : tokens[1].start].strip() in _RANGE_JOINS:
        first, last = resolver.range(tokens[0], tokens[1])
        if (last - first).days > 31:
            raise where.error("unreadable_date", f"a holiday from {first} to {last} is not one period")
        return HolidayPeriod(section.holiday, first, last, where.sentence, where.place)
    raise where.error("unreadable_date", "cannot tell the holiday period (X月X日放假 or X月X日至X日放假)")


def _add_makeup(section: _Section, day: dt.date, where: _Where) -> None:
    if day.weekday() < 5:
        raise where.error(
            "makeup_not_weekend", f"{day} is a {day:%A}; a make-up working day (上班) is a Saturday or Sunday"
        )
    section.makeups.append(MakeupDay(section.holiday, day, where.sentence, where.place))


class _Resolver:
    """Dates as written to dates, by the rules in the module docstring; checks weekday notes."""

    def __init__(self, year: int, where: _Where, section: _Section) -> None:
        self.year = year
        self.where = where
        self.section = section
        self.previous: dt.date | None = None

    def _date(self, year: int, month: int, day: int, token: _Token) -> dt.date:
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise self.where.error("unreadable_date", f"{token.text} is not a date in {year}") from None

    def _default_year(self, month: int) -> int:
        began = self.section.periods[0].first if self.section.periods else None
        if month == 12 and began is not None and began.year == self.year - 1:
            return self.year - 1
        return self.year

    def _place(self, token: _Token) -> dt.date:
        if token.month is None:
            if self.previous is None:
                raise self.where.error("unreadable_date", f"{token.text} has no month")
            return self._date(token.year or self.previous.year, self.previous.month, token.day, token)
        return self._date(token.year or self._default_year(token.month), token.month, token.day, token)

    def single(self, token: _Token) -> dt.date:
        day = self._place(token)
        self._check_weekday(token, day)
        self.previous = day
        return day

    def range(self, start: _Token, end: _Token) -> tuple[dt.date, dt.date]:
        first = self._place(start)
        month = end.month or first.month
        last = self._date(end.year or first.year, month, end.day, end)
        if last < first and end.year is None and start.year is not None:
            last = self._date(last.year + 1, last.month, last.day, end)
        elif last < first and start.year is None:  # explicit end year, or none at all: the start is in the year before
            first = self._date(first.year - 1, first.month, first.day, start)
        if last < first:
            raise self.where.error("unreadable_date", f"the period ends ({last}) before it begins ({first})")
        self._check_weekday(start, first)
        self._check_weekday(end, last)
        self.previous = last
        return first, last

    def _check_weekday(self, token: _Token, day: dt.date) -> None:
        for named in _WEEKDAY.finditer(token.note or ""):
            if _WEEKDAY_NUMBERS[named["day"]] != day.weekday():
                raise self.where.error("weekday_mismatch", f"{token.text}: {day} is a {day:%A}, not {named.group()}")


def _check_consistent(reading: NoticeReading) -> None:
    """Within the notice's reach (the year and its neighbours), without overlaps or contradictions."""
    for period in reading.periods:
        for day in (period.first, period.last):
            if abs(day.year - reading.year) > 1:
                raise _Where(period.place, period.sentence).error(
                    "wrong_year", f"{day} is too far from {reading.year} for its notice"
                )
    for before, after in zip(reading.periods, reading.periods[1:], strict=False):
        if after.first <= before.last:
            raise _Where(after.place, after.sentence).error(
                "overlap",
                f"{after.holiday} ({after.first} to {after.last}) overlaps "
                f"{before.holiday} ({before.first} to {before.last})",
            )
    seen: set[dt.date] = set()
    for makeup in reading.makeup_days:
        where = _Where(makeup.place, makeup.sentence)
        if abs(makeup.day.year - reading.year) > 1:
            raise where.error("wrong_year", f"{makeup.day} is too far from {reading.year} for its notice")
        if makeup.day in seen:
            raise where.error("duplicate_makeup", f"{makeup.day} is listed twice as a make-up working day")
        seen.add(makeup.day)
        inside = [p for p in reading.periods if p.first <= makeup.day <= p.last]
        if inside:
            raise where.error("makeup_inside_holiday", f"{makeup.day} is a working day inside {inside[0].holiday}")


def split_previous_december(document: dict[str, Any]) -> tuple[dict[str, Any], frozenset[dt.date], frozenset[dt.date]]:
    """A year's document (`year`, `source`, `holidays`, `makeup_workdays`) whose lists may hold days of
    the previous December, as the notice sets them (2019's 元旦 from 2018-12-30, 2018-12-29 worked):
    (the document with its own year's days only, those December holidays, those December make-up days).
    Anything else outside the year stays in the document, for `parse_overlay` to refuse."""
    year = document.get("year")
    if not isinstance(year, int):
        return document, frozenset(), frozenset()
    kept: dict[str, Any] = dict(document)
    spilled: list[frozenset[dt.date]] = []
    for key in ("holidays", "makeup_workdays"):
        raw = document.get(key) or []
        december = {
            value: day for value in raw if (day := _iso_date(value)) and (day.year, day.month) == (year - 1, 12)
        }
        kept[key] = [value for value in raw if value not in december]
        spilled.append(frozenset(december.values()))
    return kept, spilled[0], spilled[1]


def _iso_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None  # parse_overlay names it


def carried_into_previous_year(
    previous: YearData, holidays: frozenset[dt.date], makeups: frozenset[dt.date], notice: NoticeSource, origin: str
) -> YearData | None:
    """The previous year's data with the December days a later notice sets (a holiday running into the
    new year, a make-up Saturday before it), its source naming that notice too; None when the year
    already has them. The later notice decides its days: a day it makes a holiday is no longer worked."""
    new_holidays = (previous.holidays - makeups) | {d for d in holidays if d.weekday() < 5}
    new_makeups = (previous.makeup_workdays - holidays) | makeups
    if (new_holidays, new_makeups) == (previous.holidays, previous.makeup_workdays):
        return None
    document = {
        "year": previous.year,
        "source": {
            "title": f"{previous.source.title}；{notice.title}",
            "number": f"{previous.source.number}；{notice.number}",
            "date": f"{previous.source.date}；{notice.date}",
        },
        "holidays": sorted(new_holidays),
        "makeup_workdays": sorted(new_makeups),
    }
    return parse_overlay(document, origin)
