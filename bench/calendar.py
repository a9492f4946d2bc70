"""Due computation: our indexed calendar against a chinese-calendar day-by-day loop, same run.

Run: python -m bench.calendar [--n 40] [--starts 2000]
Prints both timings and the ratio; the target is >= 50x at N=40.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime, timedelta, timezone

import chinese_calendar

from adapters.calendar_files import default_calendar

CST = timezone(timedelta(hours=8))


def day_by_day_due(start: date, n: int) -> date:
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return day + timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--starts", type=int, default=2000)
    args = parser.parse_args()
    calendar = default_calendar()
    starts = [date(2020, 1, 1) + timedelta(days=i % 2000) for i in range(args.starts)]
    instants = [datetime.combine(d, datetime.min.time(), CST) + timedelta(hours=10) for d in starts]

    t0 = time.perf_counter()
    baseline = [day_by_day_due(d, args.n) for d in starts]
    t1 = time.perf_counter()
    ours = [calendar.due_working_days(t, args.n).due_at.date() for t in instants]
    t2 = time.perf_counter()
    assert ours == baseline, "results differ"
    base_us, ours_us = (t1 - t0) / len(starts) * 1e6, (t2 - t1) / len(starts) * 1e6
    print(f"N={args.n}, {len(starts)} starts")
    print(f"chinese-calendar day-by-day: {base_us:9.2f} us per due")
    print(f"indexed calendar:            {ours_us:9.2f} us per due")
    print(f"ratio: {base_us / ours_us:.1f}x (target >= 50x)")


if __name__ == "__main__":
    main()
