"""The catalog files: coverage of the manuals, and validation that names file and entry."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from adapters.catalog_files import default_catalog, load_catalog
from sla.catalog.model import CLOCK_UNITS, WINDOW_UNITS, DurationUnit
from sla.errors import CatalogError, UnknownServiceError
from tests.data import VALID_CATALOG

CATALOG = default_catalog()


def test_every_manual_is_covered() -> None:
    services = Counter(e.source.document for e in CATALOG)
    clocks = Counter(e.source.document for e in CATALOG for _ in e.clocks)
    assert set(services) == {"000", "001", "002", "003", "004"}
    assert sum(clocks.values()) >= 40
    insurers = {e.insurer for e in CATALOG}
    assert {"axa_tianping", "zhongan", "pingan_health", "pingan_pc", "ruitai", "xintai", "anxin"} <= insurers


def test_every_duration_unit_occurs_clocks_in_theirs_and_windows_in_theirs() -> None:
    clock_units = {c.duration.unit for e in CATALOG for c in e.clocks}
    window_units = {w.duration.unit for e in CATALOG for w in e.windows if w.duration}
    assert clock_units == set(CLOCK_UNITS)
    assert window_units == set(WINDOW_UNITS)
    assert clock_units | window_units == set(DurationUnit)


def test_every_clock_cites_its_lines() -> None:
    for entry in CATALOG:
        for clock in entry.clocks:
            assert clock.source.lines and clock.source.document in {"000", "001", "002", "003", "004"}, entry.id


def test_yuanmeng_has_an_availability_commitment_and_no_clock() -> None:
    entry = CATALOG.get("yuanmeng.accident_rescue_advance")
    assert entry.clocks == ()
    assert "7x24" in entry.availability


def test_pinning_is_stable_and_self_contained() -> None:
    first = CATALOG.pin("axa.green_channel.inpatient")
    again = load_catalog().pin("axa.green_channel.inpatient")
    assert first.digest == again.digest
    assert first.document["insurer"] == "axa_tianping"


def test_an_unknown_service_is_a_clear_error() -> None:
    with pytest.raises(UnknownServiceError, match="no service 'axa.nope'"):
        CATALOG.get("axa.nope")


def write(tmp_path: Path, document: dict, name: str = "test.yaml") -> Path:  # type: ignore[type-arg]
    (tmp_path / name).write_text(yaml.safe_dump(document, allow_unicode=True))
    return tmp_path


def broken(**clock_changes: object) -> dict:  # type: ignore[type-arg]
    doc = yaml.safe_load(yaml.safe_dump(VALID_CATALOG))
    doc["services"][0]["clocks"][0].update(clock_changes)
    return doc


def test_a_valid_file_loads(tmp_path: Path) -> None:
    assert len(load_catalog(write(tmp_path, VALID_CATALOG))) == 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (broken(start=["materials_done"]), "unknown event 'materials_done'"),
        (broken(start=["report_issued"]), "start can never happen"),
        (broken(pause=["materials_complete"]), "pauses on its own start event"),
        (broken(stop=["report_issued"]), "stop .* is not an event the service accepts"),
        (broken(duration={"weeks": 2}), "unknown duration unit"),
        (broken(duration={"working_days": 0}), "positive whole number"),
        (broken(warn_at=[0.8, 0.5]), "warn_at must be increasing"),
        (broken(restart=["materials_complete"]), "without a pause"),
        (broken(void=["hospital_confirmed"]), "void events are neither its start nor its stop"),
        (broken(void=["customer_no_show"]), "does not accept"),
        (broken(in_order="yes"), "in_order is true or false"),
        (broken(notice={"event": "materials_incomplete"}), "notice needs an event and a lead"),
        (broken(notice={"event": "materials_incomplete", "lead": {"same_day": 1}}), "not allowed here"),
        (broken(start_step={"zh": "只写中文"}), "start_step"),
        (broken(quote=["a list"]), "quote is the manual's cited lines as text"),
    ],
)
def test_bad_clocks_are_rejected_naming_file_and_entry(tmp_path: Path, document: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(CatalogError, match=message) as error:
        load_catalog(write(tmp_path, document))
    assert "test.yaml" in str(error.value) and "test.svc" in str(error.value)


def test_duplicate_service_ids_across_files_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, VALID_CATALOG, "a.yaml")
    write(tmp_path, VALID_CATALOG, "b.yaml")
    with pytest.raises(CatalogError, match="duplicate service id 'test.svc'"):
        load_catalog(tmp_path)


def test_duplicate_clock_ids_are_rejected(tmp_path: Path) -> None:
    doc = yaml.safe_load(yaml.safe_dump(VALID_CATALOG))
    doc["services"][0]["clocks"].append(doc["services"][0]["clocks"][0])
    with pytest.raises(CatalogError, match="duplicate clock ids"):
        load_catalog(write(tmp_path, doc))


def test_a_window_on_an_event_the_service_does_not_accept_is_rejected(tmp_path: Path) -> None:
    doc = yaml.safe_load(yaml.safe_dump(VALID_CATALOG))
    doc["services"][0]["customer_windows"] = [
        {
            "id": "w",
            "kind": "forbidden_after",
            "event": "customer_cancelled",
            "reference": {"event": "eligibility_approved"},
            "source": {"document": "004", "lines": "75"},
        }
    ]
    with pytest.raises(CatalogError, match="does not accept 'eligibility_approved'"):
        load_catalog(write(tmp_path, doc))


def with_window(tmp_path: Path, window: dict) -> Path:  # type: ignore[type-arg]
    doc = yaml.safe_load(yaml.safe_dump(VALID_CATALOG))
    doc["services"][0]["accepts"].append("eligibility_approved")
    doc["services"][0]["customer_windows"] = [
        {"id": "w", "event": "customer_cancelled", "source": {"document": "004", "lines": "75"}, **window}
    ]
    return write(tmp_path, doc)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (broken(per_occurrence=True, start=["materials_complete", "materials_incomplete"]), "exactly one event"),
        (broken(per_occurrence=True, start=["request_opened"]), "exactly one event"),
        (broken(per_occurrence=True, pause=["materials_incomplete"]), "no pause, resume or restart"),
        (broken(per_occurrence="yes"), "per_occurrence is true or false"),
        (broken(duration={"same_day": 2}), "same_day is 1"),
        (broken(duration={"calendar_months": 1}), "calendar_months duration is not allowed here"),
        (broken(exempt=["materials_complete"]), "exempts on its own start event"),
    ],
)
def test_bad_occurrence_and_unit_settings_are_rejected(tmp_path: Path, document: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(CatalogError, match=message):
        load_catalog(write(tmp_path, document))


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (
            {"kind": "lead_time", "reference": {"any_of": ["eligibility_approved"]}, "duration": {"working_days": 2}},
            "any_of references are for forbidden_after",
        ),
        (
            {
                "kind": "forbidden_after",
                "reference": {"event": "eligibility_approved", "any_of": ["hospital_confirmed"]},
            },
            "either an event or any_of",
        ),
        (
            {"kind": "forbidden_after", "reference": {"any_of": ["eligibility_approved", "report_issued"]}},
            "report_issued",
        ),
        (
            {"kind": "within_after", "reference": {"event": "eligibility_approved"}, "duration": {"same_day": 1}},
            "same_day",
        ),
        ({"kind": "forbidden_after", "reference": {"event": "eligibility_approved"}, "advisory": "no"}, "advisory is"),
    ],
)
def test_bad_windows_are_rejected(tmp_path: Path, window: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(CatalogError, match=message):
        load_catalog(with_window(tmp_path, window))


def test_a_forbidden_after_window_may_be_marked_by_any_of_several_events(tmp_path: Path) -> None:
    window = {"kind": "forbidden_after", "reference": {"any_of": ["eligibility_approved", "hospital_confirmed"]}}
    [parsed] = load_catalog(with_window(tmp_path, window)).get("test.svc").windows
    assert [e.value for e in parsed.reference.events] == ["eligibility_approved", "hospital_confirmed"]


def test_every_window_cites_its_lines_and_every_changed_entry_says_so_in_its_version() -> None:
    for entry in CATALOG:
        for window in entry.windows:
            assert window.source.lines and window.description, (entry.id, window.id)
    # Entries that changed against the manuals carry version 2 or later (requests keep the version they pinned).
    changed = {
        "axa.green_channel.inpatient",
        "pingan_health.cancer.admission",
        "zhongan.green_channel.inpatient",
        "zhongan.second_opinion.domestic",
        "zhongan.mdt",
        "unnamed.ci_inpatient.direct_pay",
    }
    assert all(CATALOG.get(service_id).version >= 2 for service_id in changed)
