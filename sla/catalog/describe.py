"""What a clock or a customer window enforces, in plain words, in Chinese and in English.

Generated from the `ClockSpec` / `CustomerWindow` fields only (no hand-kept copy), so what an insurer
signs off is what the engine does: the terms page and the table in catalog/README.md both read it.

    describe_clock(spec) -> ClockTerms      describe_window(window) -> WindowTerms

Each aspect is a `Words` (zh, en): one sentence each. New aspects may be added; none is renamed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sla.catalog.model import ClockSpec, CustomerWindow, Duration, DurationUnit, Party, WindowKind
from sla.events import EventType


@dataclass(frozen=True)
class Words:
    zh: str
    en: str


# Each event as the step it records (a noun phrase: who did what). A reader signs off these words.
EVENT_WORDS: dict[EventType, Words] = {
    EventType.REQUEST_OPENED: Words("客户提出申请（请求开立）", "the customer's application (the request's opening)"),
    EventType.MATERIALS_RECEIVED: Words(
        "收到客户材料（尚未判断是否齐全）", "receipt of the customer's materials (not yet judged)"
    ),
    EventType.MATERIALS_INCOMPLETE: Words("判定客户材料不齐全", "a finding that the materials are incomplete"),
    EventType.MATERIALS_COMPLETE: Words("收齐客户完整材料", "the customer's complete materials in hand"),
    EventType.ELIGIBILITY_APPROVED: Words("审核通过、同意启动服务", "the approval of the service"),
    EventType.ELIGIBILITY_REJECTED: Words("审核不通过（拒绝服务）", "the rejection of the service"),
    EventType.REJECTION_NOTIFIED: Words(
        "告知客户不启动（或不能继续）服务", "notice to the customer that the service does not start"
    ),
    EventType.OUT_OF_SCOPE: Words(
        "确认不属于承诺范围（如非一线及省会城市）", "a finding that the request is outside the commitment's scope"
    ),
    EventType.INVESTIGATION_REQUIRED: Words("决定需要查勘", "a decision that an investigation (查勘) is needed"),
    EventType.INVESTIGATION_CONCLUDED: Words("通知查勘结果", "notice of the investigation's result"),
    EventType.ADMISSION_NOTICE_ISSUED: Words("医院开具住院通知单", "the hospital's admission notice"),
    EventType.EXPERT_CONFIRMED: Words("专家/预约确认并通知客户", "the expert or appointment confirmed to the customer"),
    EventType.CUSTOMER_CONFIRMED: Words(
        "客户确认（或已获告知）", "the customer's confirmation (or notice to the customer)"
    ),
    EventType.HOSPITAL_CONFIRMED: Words(
        "医院确认安排（床位/手术/就诊）", "the hospital's confirmation of the arrangement"
    ),
    EventType.CONSULTATION_HELD: Words(
        "问诊/会诊/就诊/检查/手术已进行", "the consultation, visit, exam or operation taking place"
    ),
    EventType.ESCORT_PROVIDED: Words("专人陪同（陪诊）已到场", "the escort at the customer's side"),
    EventType.SAMPLE_RECEIVED: Words("实验室收到样本", "the lab's receipt of the sample"),
    EventType.REPORT_ISSUED: Words("出具报告（电子版）", "the report's issue (electronic)"),
    EventType.PAPER_REPORT_ISSUED: Words("出具纸质版报告", "the paper report's issue"),
    EventType.PATIENT_ADMITTED: Words("患者入院", "the patient's admission"),
    EventType.PATIENT_DISCHARGED: Words("患者出院", "the patient's discharge"),
    EventType.DISCHARGE_NOTIFIED: Words("客户告知将出院", "the customer's notice of the coming discharge"),
    EventType.PAYMENT_REQUESTED: Words("客户申请（续）付款", "the customer's request for a (further) payment"),
    EventType.PAYMENT_ADVANCED: Words("款项已垫付/支付", "the payment advanced"),
    EventType.ORDER_PAID: Words("客户支付订单", "the customer's payment of the order"),
    EventType.DRUG_DISPATCHED: Words("药品发货", "dispatch of the drugs"),
    EventType.DRUG_DELIVERED: Words("药品送达", "delivery of the drugs"),
    EventType.RETURN_REQUESTED: Words("客户要求退换药品", "the customer's request to return or exchange the drugs"),
    EventType.FOLLOW_UP_DONE: Words("完成回访", "the follow-up done"),
    EventType.CUSTOMER_NO_SHOW: Words(
        "客户因本人原因未到/放弃（视同已完成）", "the customer's no-show for their own reasons (counts as used)"
    ),
    EventType.CUSTOMER_RESCHEDULED: Words("客户要求改期或变更", "the customer's request to reschedule or change it"),
    EventType.CUSTOMER_CANCELLED: Words("客户取消服务", "the customer's cancellation"),
    EventType.SERVICE_COMPLETED: Words("服务完成", "the service's completion"),
}

PARTY_WORDS: dict[Party, Words] = {
    Party.VENDOR: Words("服务商", "the vendor"),
    Party.INSURER: Words("保险公司", "the insurer"),
    Party.LAB: Words("检测实验室", "the lab"),
    Party.HOSPITAL: Words("医院", "the hospital"),
    Party.THIRD_PARTY: Words("第三方（如监管部门）", "a third party (e.g. a regulator)"),
}


def event_words(event: EventType) -> Words:
    return EVENT_WORDS[event]


def _join(events: tuple[EventType, ...], zh_sep: str, en_sep: str) -> Words:
    words = [EVENT_WORDS[e] for e in events]
    zh = zh_sep.join(f"「{w.zh}」" for w in words)
    if len(words) <= 2:
        en = f" {en_sep} ".join(w.en for w in words)
    else:
        en = ", ".join(w.en for w in words[:-1]) + f" {en_sep} " + words[-1].en
    return Words(zh, en)


def duration_words(duration: Duration) -> Words:
    n = duration.amount
    match duration.unit:
        case DurationUnit.WORKING_DAYS:
            return Words(
                f"{n}个工作日（法定工作日，至第{n}个工作日24:00）",
                f"{n} working day{'s' if n != 1 else ''} (statutory working days, until 24:00 of the {_nth(n)})",
            )
        case DurationUnit.CALENDAR_DAYS:
            return Words(
                f"{n}天（自然日，至第{n}天24:00，逢休息日顺延至下一个工作日）",
                f"{n} calendar day{'s' if n != 1 else ''} (until 24:00 of the {_nth(n)} day; "
                "a rest day moves it to the next working day)",
            )
        case DurationUnit.HOURS:
            return Words(f"{n}小时（按实际经过时间）", f"{n} hour{'s' if n != 1 else ''} (elapsed time)")
        case DurationUnit.SAME_DAY:
            return Words("当日（开始当天24:00前）", "the same day (by 24:00 of the day it starts)")
        case DurationUnit.CALENDAR_MONTHS:
            return Words(
                f"{n}个月（对应日24:00，逢休息日顺延）",
                f"{n} month{'s' if n != 1 else ''} (24:00 of the corresponding date, a rest day moved on)",
            )


_UNIT_ZH = {
    DurationUnit.WORKING_DAYS: "个工作日",
    DurationUnit.CALENDAR_DAYS: "天",
    DurationUnit.HOURS: "小时",
    DurationUnit.SAME_DAY: "日",
    DurationUnit.CALENDAR_MONTHS: "个月",
}


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _nth(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class ClockTerms:
    clock_id: str
    name: Words
    owed_by: Words  # who owes it: whose compliance it counts in
    duration: Words
    starts: Words
    stops: Words
    pauses: Words  # pause, resume and restart; says so when it never pauses
    exempt: Words  # what closes it without breach
    warnings: Words
    summary: Words  # the whole commitment in one sentence
    source: str  # "[003:L69]"
    quote: str  # the manual's cited lines, verbatim

    def aspects(self) -> tuple[tuple[str, Words], ...]:
        """The sentences in reading order, named, for a page or a table."""
        return (
            ("owed_by", self.owed_by),
            ("duration", self.duration),
            ("starts", self.starts),
            ("stops", self.stops),
            ("pauses", self.pauses),
            ("exempt", self.exempt),
            ("warnings", self.warnings),
        )


def _start_words(spec: ClockSpec) -> Words:
    generated = _generated_start_words(spec)
    step_zh, step_en = spec.start_step
    if not step_zh:
        return generated
    return Words(f"{generated.zh}{step_zh.rstrip('。')}。", f"{generated.en} {_capital(step_en.rstrip('.'))}.")


def _generated_start_words(spec: ClockSpec) -> Words:
    events = _join(spec.start_all_of, "与", "and")
    if spec.per_occurrence:
        return Words(
            f"每次{events.zh}都单独开始一次计时（各有各的期限）。",
            f"Every occurrence of {events.en} starts a separate instance, with its own deadline.",
        )
    if spec.in_order and len(spec.start_all_of) > 1:
        first, last = _join(spec.start_all_of[:-1], "、", "and"), EVENT_WORDS[spec.start_all_of[-1]]
        return Words(
            f"按顺序：先{first.zh}，之后的「{last.zh}」起开始计时（此前的不算）。",
            f"In order: it starts at {last.en} that comes after {first.en} (an earlier one does not count).",
        )
    if len(spec.start_all_of) == 1:
        return Words(f"自{events.zh}起开始计时。", f"It starts at {events.en}.")
    return Words(
        f"待{events.zh}都已发生后开始计时，以其中最晚者为起点。",
        f"It starts once {events.en} have all happened, at the latest of them.",
    )


def _stop_words(spec: ClockSpec) -> Words:
    events = _join(spec.stop, "或", "or")
    if spec.in_order or spec.per_occurrence:
        return Words(
            f"开始之后的{events.zh}即为履约（开始之前的不算），期限内发生为达标，否则为超时。",
            f"It is met by {events.en} after its start (an earlier one does not count) in time; later is a breach.",
        )
    return Words(
        f"{events.zh}即为履约，期限内发生为达标，否则为超时。",
        f"It is met by {events.en} in time; later is a breach.",
    )


def _pause_words(spec: ClockSpec) -> Words:
    if not spec.pause:
        return Words("不暂停。", "It never pauses.")
    pause = _join(spec.pause, "或", "or")
    zh = [f"{pause.zh}时暂停（已用时间保留，暂停期间无期限）"]
    en = [f"It pauses at {pause.en} (time used is kept; no deadline while paused)"]
    if spec.resume:
        resume = _join(spec.resume, "或", "or")
        zh.append(f"{resume.zh}时按剩余时间继续")
        en.append(f"resumes with the time left at {resume.en}")
    if spec.restart:
        restart = _join(spec.restart, "或", "or")
        zh.append(f"{restart.zh}时重新起算完整时限")
        en.append(f"restarts the full duration at {restart.en}")
    return Words("，".join(zh) + "。", "; ".join(en) + ".")


def _exempt_words(spec: ClockSpec) -> Words:
    cancelled = Words(
        "客户取消服务则计时取消（不计达标或超时）", "a cancelled request cancels it (neither met nor breached)"
    )
    zh: list[str] = []
    en: list[str] = []
    if spec.exempt:
        events = _join(spec.exempt, "或", "or")
        zh.append(f"{events.zh}则免责结束（不算超时）")
        en.append(f"It closes without breach at {events.en}")
    if spec.void:
        events = _join(spec.void, "或", "or")
        zh.append(f"{events.zh}表明本无此义务：无论何时发生都免责（已显示的超时撤销）")
        en.append(
            f"{_capital(events.en)} shows it was never owed: exempt whenever it comes (a breach shown is withdrawn)"
        )
    if spec.notice is not None:
        notice = _notice_words(spec)
        zh.append(notice.zh)
        en.append(_capital(notice.en))
    if not zh:
        return Words(f"无免责事件；{cancelled.zh}。", f"Nothing exempts it; {cancelled.en}.")
    return Words("；".join([*zh, cancelled.zh]) + "。", "; ".join([*en, cancelled.en]) + ".")


def _notice_words(spec: ClockSpec) -> Words:
    assert spec.notice is not None
    notice = EVENT_WORDS[spec.notice.event]
    start = EVENT_WORDS[spec.start_all_of[0]]
    lead = _length_words(spec.notice.lead)
    return Words(
        f"仅当「{notice.zh}」不晚于「{start.zh}」前{lead.zh}时才有此义务，否则（迟报或未报）免责",
        f"it is owed only when {notice.en} came at least {lead.en} before {start.en}; "
        "otherwise (late or never) it is exempt",
    )


def _warning_words(spec: ClockSpec) -> Words:
    thresholds = spec.thresholds()
    if not thresholds:
        return Words("不预警。", "No warning before the deadline.")
    zh = "、".join(
        f"满{w.after.amount}{_UNIT_ZH[w.after.unit]}"
        if w.after is not None
        else f"用去{w.share.numerator}/{w.share.denominator}时限"
        for w in thresholds
    )
    return Words(f"{zh}时预警。", f"Warns {', '.join(w.label for w in thresholds)}.")


def describe_clock(spec: ClockSpec) -> ClockTerms:
    party = PARTY_WORDS[spec.party]
    duration = duration_words(spec.duration)
    starts, stops = _start_words(spec), _stop_words(spec)
    start_events = _join(spec.start_all_of, "与", "and")
    stop_events = _join(spec.stop, "或", "or")
    exempting = (*spec.exempt, *spec.void)
    exempt_zh = f"；{_join(exempting, '或', 'or').zh}免责" if exempting else ""
    exempt_en = f"; exempt at {_join(exempting, 'or', 'or').en}" if exempting else ""
    if spec.notice is not None:
        notice = _notice_words(spec)
        exempt_zh += f"；{notice.zh}"
        exempt_en += f"; {notice.en}"
    if spec.duration.unit is DurationUnit.SAME_DAY:
        within = Words(f"{start_events.zh}当日24:00前", f"by 24:00 of the day of {start_events.en}")
    else:
        length = _length_words(spec.duration)
        within = Words(f"{start_events.zh}后{length.zh}内", f"within {length.en} of {start_events.en}")
    each = Words("每次", ", each time") if spec.per_occurrence else Words("", "")
    summary = Words(
        f"{each.zh}{party.zh}须在{within.zh}做到{stop_events.zh}{exempt_zh}。",
        f"{_capital(party.en)} owes {stop_events.en} {within.en}{each.en}{exempt_en}.",
    )
    return ClockTerms(
        clock_id=spec.id,
        name=Words(spec.name_zh, spec.name_en),
        owed_by=Words(
            f"由{party.zh}负责，计入{party.zh}的履约统计。",
            f"Owed by {party.en}: it counts in {party.en}'s compliance.",
        ),
        duration=Words(f"时限：{duration.zh}。", f"Duration: {duration.en}."),
        starts=starts,
        stops=stops,
        pauses=_pause_words(spec),
        exempt=_exempt_words(spec),
        warnings=_warning_words(spec),
        summary=summary,
        source=spec.source.cite(),
        quote=spec.quote,
    )


@dataclass(frozen=True)
class WindowTerms:
    window_id: str
    rule: Words  # what the customer must (not) do, and by when
    consequence: Words  # what happens to a late or forbidden event
    summary: Words
    source: str
    quote: str

    def aspects(self) -> tuple[tuple[str, Words], ...]:
        return (("rule", self.rule), ("consequence", self.consequence))


def _instant_words(event: EventType, field: str | None) -> Words:
    words = EVENT_WORDS[event]
    if field is None:
        return Words(f"「{words.zh}」之时", f"the time of {words.en}")
    return Words(f"「{words.zh}」所载的时间（{field}）", f"the time {field} recorded with {words.en}")


def _length_words(duration: Duration) -> Words:
    """A window's length, counted back or on from an instant."""
    n = duration.amount
    unit_en = duration.unit.value.replace("_", " ")
    return Words(f"{n}{_UNIT_ZH[duration.unit]}", f"{n} {unit_en[:-1] if n == 1 else unit_en}")


def describe_window(window: CustomerWindow) -> WindowTerms:
    subject = EVENT_WORDS[window.event]
    subject_at = _instant_words(window.event, window.event_field)
    reference = _instant_words(window.reference.event, window.reference.field)
    cutoff = window.cutoff or "24:00"
    match window.kind:
        case WindowKind.FORBIDDEN_AFTER:
            marks = _join(window.reference.events, "或", "or")
            rule = Words(
                f"{marks.zh}之后，不再接受「{subject.zh}」。",
                f"After {marks.en}, {subject.en} is no longer accepted.",
            )
        case WindowKind.LEAD_TIME:
            assert window.duration is not None
            length = _length_words(window.duration)
            rule = Words(
                f"{subject_at.zh}须不晚于{reference.zh}前{length.zh}的{cutoff}。",
                f"{_capital(subject_at.en)} must be no later than {cutoff}, {length.en} before {reference.en}.",
            )
        case WindowKind.WITHIN_AFTER:
            assert window.duration is not None
            length = _length_words(window.duration)
            rule = Words(
                f"{subject_at.zh}须在{reference.zh}后{length.zh}内。",
                f"{_capital(subject_at.en)} must be within {length.en} after {reference.en}.",
            )
    if window.advisory:
        consequence = Words(
            "仅为建议：不拒绝该事件，只在请求上提示。",
            "Advice only: the event is accepted and the request shows a notice.",
        )
    else:
        consequence = Words(
            f"违反时拒绝该事件（规则 customer_window.{window.id}，出处 {window.source.cite()}）。",
            f"An event that breaks it is refused (rule customer_window.{window.id}, source {window.source.cite()}).",
        )
    refused = "advice only" if window.advisory else "refused otherwise"
    summary = Words(
        rule.zh.rstrip("。") + ("（仅为建议）。" if window.advisory else "，否则拒绝。"),
        rule.en.rstrip(".") + f" ({refused}).",
    )
    return WindowTerms(
        window_id=window.id,
        rule=rule,
        consequence=consequence,
        summary=summary,
        source=window.source.cite(),
        quote=window.quote,
    )
