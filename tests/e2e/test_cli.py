"""The `slatrack` command, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.data import OVERLAY_2027, ROOT

SLATRACK = [sys.executable, "-m", "cli.main"]


def slatrack(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SLATRACK, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"COLUMNS": "200"} | (env or {}),
    )


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
