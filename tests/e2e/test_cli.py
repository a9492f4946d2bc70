"""The `slatrack` command, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from adapters.calendar_files import load_overlay_file, package_years
from sla.calendar.overlay import parse_overlay
from tests.data import NOTICES, OVERLAY_2027, ROOT

SLATRACK = Path(sys.executable).with_name("slatrack")  # .venv/bin/slatrack, the installed entry point
PACKAGE = package_years()  # the project's own conversion of chinese-calendar, what the calendar runs on


def slatrack(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SLATRACK), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"COLUMNS": "200"} | (env or {}),
    )


def notice_text(name: str) -> str:
    return (NOTICES / name).read_text(encoding="utf-8")


def test_calendar_due_prints_the_instant_the_flag_and_the_fingerprint() -> None:
    result = slatrack("calendar", "due", "2025-09-26T14:00+08:00", "--working-days", "10", "--json")
    answer = json.loads(result.stdout)
    assert answer["due_at"] == "2025-10-17T00:00:00+08:00" and answer["provisional"] is False
    assert len(answer["calendar_fingerprint"]) == 16
    provisional = slatrack("calendar", "due", "2026-12-24T09:00+08:00", "--working-days", "10")
    assert "2027-01-08T00:00:00+08:00" in provisional.stdout and "provisional" in provisional.stdout


def test_calendar_due_refuses_naive_instants_and_two_durations() -> None:
    naive = slatrack("calendar", "due", "2025-09-26T14:00", "--working-days", "10")
    assert naive.returncode == 2 and "no timezone" in naive.stdout
    both = slatrack("calendar", "due", "2025-09-26T14:00+08:00", "--working-days", "1", "--hours", "2")
    assert both.returncode == 2 and "exactly one" in both.stdout


def test_calendar_show_lists_holidays_make_up_days_and_source() -> None:
    result = slatrack("calendar", "show", "2025")
    assert "2025-10-01" in result.stdout and "2025-09-28" in result.stdout and "make-up working day" in result.stdout
    assert "国务院办公厅关于2025年部分节假日安排的通知" in result.stdout
    missing = slatrack("calendar", "show", "2027")
    assert missing.returncode == 1 and "provisional" in missing.stdout


def test_calendar_check_validates_an_overlay(tmp_path: Path) -> None:
    assert slatrack("calendar", "check", str(OVERLAY_2027)).returncode == 0
    bad = tmp_path / "2027.yaml"
    bad.write_text(OVERLAY_2027.read_text().replace("2027-01-09", "2027-01-11"))
    result = slatrack("calendar", "check", str(bad))
    assert result.returncode == 2 and "Saturday or Sunday" in result.stdout


def test_catalog_list_and_show_cite_their_sources() -> None:
    listed = slatrack("catalog", "list", "--insurer", "axa_tianping")
    assert "axa.green_channel.inpatient" in listed.stdout and "zhongan" not in listed.stdout
    shown = slatrack("catalog", "show", "axa.green_channel.inpatient")
    assert "[004:67, 90]" in shown.stdout and "restart on: materials_complete" in shown.stdout
    assert slatrack("catalog", "show", "axa.nope").returncode == 2


def test_keys_are_printed_once_and_listed_without_secrets(tmp_path: Path) -> None:
    env = {"SLA_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    created = slatrack("keys", "create", "--role", "coordinator", "--vendor", "vendor-a", env=env)
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sk_")
    listed = slatrack("keys", "list", env=env)
    assert key.split("_")[1] in listed.stdout and key.split("_", 2)[2] not in listed.stdout
    assert slatrack("keys", "create", "--role", "auditor", env=env).returncode == 2  # auditors need --insurer
    assert slatrack("keys", "revoke", key.split("_")[1], env=env).returncode == 0


# --- `slatrack calendar import-notice`, as the operator runs it (the reading itself: tests/domain/test_notice.py)


def test_import_notice_writes_an_overlay_that_check_accepts_and_prints_what_it_read(tmp_path: Path) -> None:
    out = tmp_path / "2026.yaml"
    result = slatrack("calendar", "import-notice", NOTICES / "2026.txt", "--year", "2026", "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    printed = result.stdout
    assert "国务院办公厅关于2026年部分节假日安排的通知 (国办发明电〔2025〕7号, 2025-11-04)" in printed
    for period in ("2026-02-15 Sun │ 2026-02-23 Mon │ 9", "2026-10-01 Thu │ 2026-10-07 Wed │ 7", "2026-04-04 Sat"):
        assert period in printed
    for makeup in ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"):
        assert makeup in printed
    assert "2026: 19 weekday holidays, 6 make-up working days" in printed
    checked = slatrack("calendar", "check", out)
    assert checked.returncode == 0 and "ok" in checked.stdout
    written = load_overlay_file(out)
    assert (written.holidays, written.makeup_workdays) == (PACKAGE[2026].holidays, PACKAGE[2026].makeup_workdays)
    again = slatrack("calendar", "import-notice", NOTICES / "2026.txt", "--year", "2026", "--out", out)
    assert again.returncode == 2 and "--force" in again.stdout  # a checked file is never overwritten by accident


def test_import_notice_json_is_the_body_of_put_calendar_with_later_notices_applied() -> None:
    result = slatrack(
        "calendar", "import-notice", NOTICES / "2020.txt", NOTICES / "2020-spring-festival-extension.txt",
        "--year", "2020", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"source", "holidays", "makeup_workdays"}  # api.routes.calendar.OverlayIn
    loaded = parse_overlay({"year": 2020, **body}, "PUT /v1/calendar/2020")  # what the route does with it
    assert (loaded.holidays, loaded.makeup_workdays) == (PACKAGE[2020].holidays, PACKAGE[2020].makeup_workdays)
    assert loaded.source.number == "国办发明电〔2019〕16号；国办发明电〔2020〕1号"
    assert "2020-01-24 Fri │ 2020-02-02 Sun │ 10" in result.stderr  # what was read goes to stderr, beside the pipe


def test_import_notice_reports_days_outside_the_year_against_the_loaded_calendar() -> None:
    result = slatrack("calendar", "import-notice", NOTICES / "2019.txt", "--year", "2019")
    assert result.returncode == 0
    assert "2018-12-31 Mon rest day (元旦): already so in the loaded 2018 data" in result.stdout
    assert "2018-12-29 Sat make-up working day (元旦): already so in the loaded 2018 data" in result.stdout
    assert "no --out given" in result.stdout and "- '2019-10-07'" in result.stdout


def test_import_notice_refuses_a_malformed_text_and_takes_a_missing_number_from_the_operator(tmp_path: Path) -> None:
    broken = tmp_path / "2026.txt"
    broken.write_text(
        notice_text("2026.txt").replace("5月9日（周六）上班", "5月9日（周日）上班"),
        encoding="utf-8",
    )
    out = tmp_path / "2026.yaml"
    refused = slatrack("calendar", "import-notice", broken, "--year", "2026", "--out", out)
    assert refused.returncode == 2 and "「5月9日（周日）上班」" in refused.stdout and not out.exists()
    xinhua_copy = tmp_path / "xinhua.txt"  # the news agency's copy has no document number line
    xinhua_copy.write_text(notice_text("2025.txt").replace("国办发明电〔2024〕12号", ""), encoding="utf-8")
    missing = slatrack("calendar", "import-notice", xinhua_copy, "--year", "2025")
    assert missing.returncode == 2 and "no document number" in missing.stdout
    given = slatrack("calendar", "import-notice", xinhua_copy, "--year", "2025", "--number", "国办发明电〔2024〕12号")
    assert given.returncode == 0 and "国办发明电〔2024〕12号, 2024-11-12" in given.stdout


def test_import_notice_takes_a_number_per_file_reads_traditional_copies_and_sends_the_previous_december() -> None:
    both = (NOTICES / "2020.txt", NOTICES / "2020-spring-festival-extension-xinhua-news-copy.txt")
    missing = slatrack("calendar", "import-notice", *both, "--year", "2020", "--json")
    # rich wraps the message at the terminal's width, and the two paths in it are as long as the checkout's
    assert missing.returncode == 2 and "no document number" in " ".join(missing.stderr.split())  # Xinhua's has none
    once = slatrack("calendar", "import-notice", *both, "--year", "2020", "--number", "国办发明电〔2020〕1号")
    assert once.returncode == 2 and "give it once per file" in once.stdout
    given = slatrack(
        "calendar", "import-notice", *both, "--year", "2020", "--number", "", "--number", "国办发明电〔2020〕1号",
        "--json",
    )  # fmt: skip
    assert given.returncode == 0, given.stderr
    assert json.loads(given.stdout)["source"]["number"] == "国办发明电〔2019〕16号；国办发明电〔2020〕1号"
    traditional = slatrack(
        "calendar", "import-notice", NOTICES / "2023-xinhua-traditional.txt", "--year", "2023",
        "--number", "国办发明电〔2022〕16号", "--json",
    )  # fmt: skip
    assert traditional.returncode == 0 and "converted to simplified (OpenCC t2s)" in " ".join(
        traditional.stderr.split()
    )
    loaded = parse_overlay({"year": 2023, **json.loads(traditional.stdout)}, "PUT /v1/calendar/2023")
    assert (loaded.holidays, loaded.makeup_workdays) == (PACKAGE[2023].holidays, PACKAGE[2023].makeup_workdays)
    new_year_2019 = json.loads(
        slatrack("calendar", "import-notice", NOTICES / "2019.txt", "--year", "2019", "--json").stdout
    )
    assert "2018-12-31" in new_year_2019["holidays"] and "2018-12-29" in new_year_2019["makeup_workdays"]
