"""Reading the State Council's holiday notices: the published texts 2018-2026 against chinese-calendar's
data for every day, the ways a copy of a notice varies, malformed texts. `slatrack calendar
import-notice`, run as an operator runs it, is tested with the command (tests/e2e/test_cli.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import chinese_calendar
import pytest

from adapters.calendar_files import package_years
from adapters.notice_text import simplified
from sla.calendar.notice import (
    NoticeReading,
    amend,
    carried_into_previous_year,
    half_width,
    read_notice,
    split_previous_december,
    to_year_data,
)
from sla.errors import CalendarDataError
from tests.data import NOTICES

YEARS = range(2018, 2027)
# Notices that changed a year after its yearly notice; chinese-calendar carries the changed year.
AMENDMENTS = {2019: ["2019-labour-day-adjustment.txt"], 2020: ["2020-spring-festival-extension.txt"]}
SOURCES = {
    2018: ("国办发明电〔2017〕12号", date(2017, 11, 30)),
    2019: ("国办发明电〔2018〕15号", date(2018, 12, 4)),
    2020: ("国办发明电〔2019〕16号", date(2019, 11, 21)),
    2021: ("国办发明电〔2020〕27号", date(2020, 11, 25)),
    2022: ("国办发明电〔2021〕11号", date(2021, 10, 25)),
    2023: ("国办发明电〔2022〕16号", date(2022, 12, 8)),
    2024: ("国办发明电〔2023〕7号", date(2023, 10, 25)),
    2025: ("国办发明电〔2024〕12号", date(2024, 11, 12)),
    2026: ("国办发明电〔2025〕7号", date(2025, 11, 4)),
}
PACKAGE = package_years()  # the project's own conversion of chinese-calendar, what the calendar runs on


def text(name: str) -> str:
    return (NOTICES / name).read_text(encoding="utf-8")


def reading(year: int) -> NoticeReading:
    first = read_notice(text(f"{year}.txt"), year, origin=f"{year}.txt")
    later = [read_notice(text(name), year, origin=name) for name in AMENDMENTS.get(year, [])]
    for notice in later:
        first = amend(first, notice)
    return first


def days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]


@pytest.mark.parametrize("year", YEARS)
def test_each_published_notice_reads_into_chinese_calendars_data_for_every_day(year: int) -> None:
    overlay = to_year_data(reading(year), f"notice {year}")
    holidays, makeups = set(overlay.holidays), set(overlay.makeup_workdays)
    if year + 1 in YEARS:  # the next notice's New Year may begin in this December (2019's began 2018-12-30)
        spilled_holidays, spilled_makeups = reading(year + 1).days_in(year)
        holidays |= spilled_holidays
        makeups |= spilled_makeups
    assert holidays == PACKAGE[year].holidays
    assert makeups == PACKAGE[year].makeup_workdays
    working = {day: (day.weekday() < 5 and day not in holidays) or day in makeups for day in days_of(year)}
    assert [day for day, works in working.items() if works != chinese_calendar.is_workday(day)] == []


@pytest.mark.parametrize("year", YEARS)
def test_the_source_is_the_notices_title_number_and_date(year: int) -> None:
    (header,) = read_notice(text(f"{year}.txt"), year).headers
    assert (header.title, header.number, header.published) == (
        f"国务院办公厅关于{year}年部分节假日安排的通知",
        *SOURCES[year],
    )


def test_the_yearly_notices_alone_miss_exactly_what_the_later_notices_changed() -> None:
    labour_day_2019 = to_year_data(read_notice(text("2019.txt"), 2019), "2019 notice alone")
    assert PACKAGE[2019].holidays - labour_day_2019.holidays == {date(2019, 5, 2), date(2019, 5, 3)}
    assert PACKAGE[2019].makeup_workdays - labour_day_2019.makeup_workdays == {date(2019, 4, 28), date(2019, 5, 5)}
    spring_2020 = to_year_data(read_notice(text("2020.txt"), 2020), "2020 notice alone")
    assert PACKAGE[2020].holidays - spring_2020.holidays == {date(2020, 1, 31)}
    assert spring_2020.makeup_workdays - PACKAGE[2020].makeup_workdays == {date(2020, 2, 1)}  # worked no more


def test_an_extension_moves_the_holidays_end_and_cancels_the_make_up_day_inside_it() -> None:
    extended = reading(2020)
    spring = next(p for p in extended.periods if p.holiday == "春节")
    assert (spring.first, spring.last) == (date(2020, 1, 24), date(2020, 2, 2))
    assert date(2020, 2, 1) not in {m.day for m in extended.makeup_days}
    assert [r.days for r in extended.remarks] == [(date(2020, 2, 3),)]  # 2月3日（星期一）起正常上班: changes nothing
    extension_alone = read_notice(text("2020-spring-festival-extension.txt"), 2020)
    with pytest.raises(CalendarDataError, match="give that notice first"):
        to_year_data(extension_alone, "extension alone")
    without_spring = text("2020.txt").replace(
        "二、春节：1月24日至30日放假调休，共7天。1月19日（星期日）、2月1日（星期六）上班。", ""
    )
    with pytest.raises(CalendarDataError, match="extends 春节, which the earlier notice does not announce"):
        amend(read_notice(without_spring, 2020), extension_alone)
    with pytest.raises(CalendarDataError, match="amends 2020, not 2019") as other_year:
        amend(read_notice(text("2019.txt"), 2019), extension_alone)
    assert other_year.value.rule == "calendar.notice.wrong_year"


def test_a_holiday_spanning_the_new_year_keeps_its_days_in_their_own_year() -> None:
    notice = read_notice(text("2019.txt"), 2019)
    outside = [(o.day, o.kind) for o in notice.outside_year()]
    assert outside == [(date(2018, 12, 29), "makeup"), (date(2018, 12, 30), "weekend"), (date(2018, 12, 31), "holiday")]
    overlay = to_year_data(notice, "2019")
    assert all(d.year == 2019 for d in overlay.holidays | overlay.makeup_workdays)
    # Without the years the notice gives, a range ending in January runs from December of the year before.
    without_years = (
        text("2019.txt")
        .replace("2018年12月30日至2019年1月1日", "12月30日至1月1日")
        .replace("2018年12月29日", "12月29日")
    )
    assert [(o.day, o.kind) for o in read_notice(without_years, 2019).outside_year()] == outside
    new_year_2023 = text("2023.txt").replace("2022年12月31日至2023年1月2日", "12月31日（周六）至1月2日（周一）")
    assert to_year_data(read_notice(new_year_2023, 2023), "x") == to_year_data(read_notice(text("2023.txt"), 2023), "x")


def test_a_date_mentioned_in_passing_is_a_remark_not_a_rest_day() -> None:
    notice = read_notice(text("2024.txt"), 2024)  # 鼓励各单位…安排职工在除夕（2月9日）休息
    assert [r.days for r in notice.remarks] == [(date(2024, 2, 9),)]
    assert date(2024, 2, 9) not in to_year_data(notice, "2024").holidays
    assert date(2024, 2, 9) not in PACKAGE[2024].holidays


def test_the_older_wording_with_a_substitute_day_off_is_read_too() -> None:
    # The 2016 notice's Labour Day item, word for word: the 补休 day is a weekday off.
    labour_day_2016 = "国务院办公厅关于2016年部分节假日安排的通知\n\n三、劳动节：5月1日放假，5月2日（星期一）补休。\n"
    days, _ = read_notice(labour_day_2016, 2016).days_in(2016)
    assert days == {date(2016, 5, 2)}  # 5月1日 was a Sunday
    assert days == {d for d in PACKAGE[2016].holidays if d.month == 5}


def _replace(notice: str, old: str, new: str) -> str:
    assert old in notice, old  # a variant that changes nothing would prove nothing
    return notice.replace(old, new)


def _full_width_digits(notice: str) -> str:
    return notice.translate({code: code + 0xFEE0 for code in range(ord("0"), ord("9") + 1)})


def _items_run_together(notice: str) -> str:
    """As some republished copies print it: the numbered items in one paragraph."""
    for marker in "二三四五六七":
        notice = _replace(notice, f"\n\n{marker}、", f"{marker}、")
    return notice


def _wrapped_like_a_pdf(notice: str) -> str:
    """A two-line title, indented paragraphs, sentences broken across lines, Windows line ends."""
    notice = _replace(notice, "关于2026年部分", "关于2026年\n部分")
    notice = _replace(notice, "共9天。", "共9天。\n    ")
    notice = _replace(notice, "\n一、", "\n\u3000\u3000一、")
    notice = _replace(notice, "（农历腊月二十八、周日）至23日", "（农历腊月二十八、周日）\n至23日")
    return notice.replace("\n", "\r\n")


@pytest.mark.parametrize(
    "variant",
    [half_width, _full_width_digits, _items_run_together, _wrapped_like_a_pdf],
    ids=["half-width punctuation", "full-width digits", "items in one paragraph", "wrapped lines"],
)
def test_copies_of_a_notice_read_the_same(variant: Callable[[str], str]) -> None:
    published = read_notice(text("2026.txt"), 2026)
    copy = read_notice(variant(text("2026.txt")), 2026)
    assert to_year_data(copy, "copy") == to_year_data(published, "copy")
    assert copy.headers == published.headers


@pytest.mark.parametrize(
    ("published", "changed", "rule", "quoted"),
    [
        ("1月4日（周日）上班", "1月4日（周一）上班", "weekday_mismatch", "「1月4日（周一）上班」"),
        (
            "至23日（农历正月初七、周一）",
            "至23日（农历正月初七、周二）",
            "weekday_mismatch",
            "至23日（农历正月初七、周二）",
        ),
        ("2月15日（农历", "2月l5日（农历", "unreadable_date", "「2月l5日（农历腊月二十八、周日）至23日"),
        ("2月28日（周六）", "2月30日（周六）", "unreadable_date", "「2月14日（周六）、2月30日（周六）上班」"),
        (
            "三、清明节：4月4日（周六）至6日（周一）放假，共3天。",
            "三、清明节：放假，共3天。",
            "section_without_dates",
            "清明节",
        ),
        ("共9天", "共8天", "count_mismatch", "共8天」"),
        ("5月9日（周六）上班", "5月8日（周五）上班", "makeup_not_weekend", "「5月8日（周五）上班」"),
        ("5月9日（周六）上班", "5月2日（周六）上班", "makeup_inside_holiday", "「5月2日（周六）上班」"),
        ("共3天。\n\n四", "共3天。4月7日（周二）值班。\n\n四", "unknown_sentence", "「4月7日（周二）值班」"),
        (
            "6月19日（周五）至21日（周日）",
            "5月5日（周二）至7日（周四）",
            "overlap",
            "「5月5日（周二）至7日（周四）放假",
        ),
        ("国务院办公厅关于2026年部分节假日安排的通知\n", "", "no_title", "「国办发明电〔2025〕7号」"),
    ],
)
def test_a_malformed_notice_is_refused_naming_the_sentence(
    published: str, changed: str, rule: str, quoted: str
) -> None:
    assert published in text("2026.txt")
    with pytest.raises(CalendarDataError) as error:
        read_notice(text("2026.txt").replace(published, changed), 2026, origin="2026.txt")
    assert error.value.rule == f"calendar.notice.{rule}"
    assert quoted in str(error.value)
    assert error.value.source is not None and error.value.source.startswith("2026.txt")


def test_the_wrong_year_and_a_copy_without_its_number_are_refused() -> None:
    with pytest.raises(CalendarDataError, match="is the notice for 2026, not for 2027") as wrong:
        read_notice(text("2026.txt"), 2027)
    assert wrong.value.rule == "calendar.notice.wrong_year"
    without_number = read_notice(text("2026.txt").replace("国办发明电〔2025〕7号", ""), 2026)
    with pytest.raises(CalendarDataError, match="no document number") as incomplete:
        to_year_data(without_number, "copy")
    assert incomplete.value.rule == "calendar.notice.source_incomplete"
    with pytest.raises(CalendarDataError) as empty:
        read_notice("国务院办公厅关于2026年部分节假日安排的通知\n\n经国务院批准，现将……通知如下。\n", 2026)
    assert empty.value.rule == "calendar.notice.no_holidays"


# --- Copies as people find them (issue 21 §3): each a real text kept in tests/data/notices/ (README.md there).


def test_a_xinhua_news_copy_reads_into_the_same_year_as_the_gov_cn_text() -> None:
    news = read_notice(text("2025-xinhua-news-copy.txt"), 2025, origin="news")  # 新华社北京11月12日电 …
    (header,) = news.headers
    assert (header.title, header.number, header.published) == (
        "国务院办公厅关于2025年部分节假日安排的通知",
        None,  # Xinhua prints no number line: the operator gives it (--number)
        date(2024, 11, 12),
    )
    with_number = replace(news, headers=(replace(header, number=SOURCES[2025][0]),))
    assert to_year_data(with_number, "x") == to_year_data(read_notice(text("2025.txt"), 2025), "x")


def test_a_copy_without_its_title_takes_the_title_from_the_sentence_that_announces_the_year() -> None:
    copy = read_notice(text("2016-without-title.txt"), 2016)  # begins 各省、自治区…: no title, no number
    (header,) = copy.headers
    assert header.title == "国务院办公厅关于2016年部分节假日安排的通知"
    assert header.title_from is not None and header.title_from.startswith("现将2016年元旦、春节")
    holidays, makeups = copy.days_in(2016)
    assert (holidays, makeups) == (PACKAGE[2016].holidays, PACKAGE[2016].makeup_workdays)
    with pytest.raises(CalendarDataError, match="is the notice for 2016, not for 2017"):
        read_notice(text("2016-without-title.txt"), 2017)


def test_a_later_notice_copied_without_its_number_still_amends_the_year() -> None:
    news = read_notice(text("2020-spring-festival-extension-xinhua-news-copy.txt"), 2020)
    assert [(h.number, h.published) for h in news.headers] == [(None, date(2020, 1, 26))]
    amended = amend(read_notice(text("2020.txt"), 2020), news)
    assert amended.days_in(2020) == reading(2020).days_in(2020)
    with pytest.raises(CalendarDataError, match="no document number"):
        to_year_data(amended, "the extension has no number")


def test_the_state_councils_one_off_holiday_without_numbered_items_is_read() -> None:
    victory_day = read_notice(text("2015-victory-day-state-council.txt"), 2015, origin="2015-victory-day")
    (header,) = victory_day.headers
    assert (header.number, header.published, header.yearly) == ("国发明电〔2015〕1号", date(2015, 5, 13), False)
    (period,) = victory_day.periods  # 9月3日放假 / 9月3日至5日调休放假 / 其中9月3日放假，9月4日调休: one period
    assert (period.holiday, period.first, period.last) == (
        "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
        date(2015, 9, 3),
        date(2015, 9, 5),
    )
    holidays, makeups = victory_day.days_in(2015)
    assert (holidays, makeups) == ({date(2015, 9, 3), date(2015, 9, 4)}, {date(2015, 9, 6)})
    yearly = read_notice(text("2015-without-title.txt"), 2015, origin="2015 yearly")  # a copy without title
    year = amend(yearly, victory_day)  # after the yearly notice, like any later notice: the year exactly
    assert year.days_in(2015) == (PACKAGE[2015].holidays, PACKAGE[2015].makeup_workdays)
    assert yearly.days_in(2015) != year.days_in(2015)
    with pytest.raises(CalendarDataError, match="give the yearly notice first") as alone:
        to_year_data(victory_day, "one-off alone")  # an overlay replaces the year whole
    assert alone.value.rule == "calendar.notice.amendment_alone"
    with pytest.raises(CalendarDataError, match="2016-09-03 is a Saturday, not 星期四"):
        read_notice(text("2015-victory-day-state-council.txt"), 2016)  # the title names no year; the weekdays do


def test_a_copy_in_traditional_chinese_is_converted_and_reads_like_the_simplified_text() -> None:
    published = text("2023-xinhua-traditional.txt")  # 新華社北京12月8日電 國務院辦公廳關於2023年…
    with pytest.raises(CalendarDataError, match="traditional Chinese: convert it") as refused:
        read_notice(published, 2023)
    assert refused.value.rule == "calendar.notice.no_title"
    converted, was_traditional = simplified(published)
    assert was_traditional and simplified(text("2023.txt")) == (text("2023.txt"), False)
    copy = read_notice(converted, 2023)
    assert copy.headers[0].title == "国务院办公厅关于2023年部分节假日安排的通知"
    assert copy.days_in(2023) == read_notice(text("2023.txt"), 2023).days_in(2023)
    assert [o.day for o in copy.outside_year()] == [date(2022, 12, 31)]  # a Saturday: changes nothing


def test_the_days_a_notice_sets_in_the_previous_december_complete_that_year() -> None:
    # 2018 from its own notice lacks what the 2019 notice set: 12-31 off, Saturday 12-29 worked.
    alone = to_year_data(read_notice(text("2018.txt"), 2018), "2018 notice")
    body = {"year": 2019, "holidays": ["2018-12-31", "2019-01-01"], "makeup_workdays": ["2018-12-29"], "source": {}}
    kept, december_holidays, december_makeups = split_previous_december(body)
    assert (kept["holidays"], kept["makeup_workdays"]) == (["2019-01-01"], [])
    assert december_holidays == reading(2019).days_in(2018)[0] == {date(2018, 12, 31)}
    assert december_makeups == reading(2019).days_in(2018)[1] == {date(2018, 12, 29)}
    notice_2019 = to_year_data(read_notice(text("2019.txt"), 2019), "2019").source
    completed = carried_into_previous_year(alone, december_holidays, december_makeups, notice_2019, "load 2019")
    assert completed is not None
    assert (completed.holidays, completed.makeup_workdays) == (PACKAGE[2018].holidays, PACKAGE[2018].makeup_workdays)
    assert completed.source.number == "国办发明电〔2017〕12号；国办发明电〔2018〕15号"
    assert carried_into_previous_year(completed, december_holidays, december_makeups, notice_2019, "again") is None
    far = split_previous_december({**body, "holidays": ["2018-11-30"]})[0]  # not December: parse_overlay refuses it
    assert far["holidays"] == ["2018-11-30"]
