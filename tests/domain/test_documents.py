"""The domain receives parsed documents, never files: the catalog from catalog files' content, a year's
calendar from an overlay document; adapters/ reads the files and the YAML and gives the same result."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from adapters.calendar_files import load_overlay_file
from adapters.catalog_files import load_catalog
from adapters.overlay_yaml import dump_overlay, load_overlay_text
from sla.calendar.overlay import overlay_document, parse_overlay
from sla.catalog.catalog import CatalogFile, catalog_from_files
from sla.errors import CatalogError
from tests.data import ROOT

SERVICE = {
    "id": "test.svc",
    "name": {"zh": "测试", "en": "Test"},
    "source": {"document": "004", "lines": "67"},
    "accepts": ["materials_complete", "hospital_confirmed"],
    "clocks": [
        {
            "id": "arrange",
            "name": {"zh": "安排", "en": "Arrange"},
            "duration": {"working_days": 10},
            "start": ["materials_complete"],
            "stop": ["hospital_confirmed"],
            "source": {"document": "004", "lines": "67"},
        }
    ],
}


def manual(*services: dict[str, Any]) -> dict[str, Any]:
    return {"insurer": "test_insurer", "insurer_name": "测试保险", "services": list(services)}


def test_a_catalog_is_built_from_parsed_files_each_entry_naming_its_file() -> None:
    catalog = catalog_from_files([CatalogFile("test.yaml", "catalog/test.yaml", manual(SERVICE))])
    entry = catalog.get("test.svc")
    assert entry.insurer == "test_insurer" and entry.origin == "test.yaml"
    assert catalog.pin("test.svc").document["insurer_name"] == "测试保险"


def test_a_service_in_two_files_is_refused_naming_both() -> None:
    files = [CatalogFile(name, f"catalog/{name}", manual(SERVICE)) for name in ("a.yaml", "b.yaml")]
    with pytest.raises(CatalogError, match=r"catalog/b.yaml: duplicate service id 'test.svc' \(also in a.yaml\)"):
        catalog_from_files(files)


def test_a_file_without_services_or_insurer_is_refused_where_it_is() -> None:
    with pytest.raises(CatalogError, match="catalog/x.yaml: a catalog file has insurer"):
        catalog_from_files([CatalogFile("x.yaml", "catalog/x.yaml", ["not", "a", "mapping"])])
    with pytest.raises(CatalogError, match="catalog/x.yaml: 'insurer' is required"):
        catalog_from_files([CatalogFile("x.yaml", "catalog/x.yaml", {"services": []})])


def test_the_catalog_files_read_by_the_adapter_are_the_catalog_of_their_content() -> None:
    paths = sorted((ROOT / "catalog").glob("*.yaml"))
    parsed = [CatalogFile(p.name, str(p), yaml.safe_load(p.read_text(encoding="utf-8"))) for p in paths]
    from_content, from_files = catalog_from_files(parsed), load_catalog()
    assert [e.id for e in from_content] == [e.id for e in from_files]
    assert all(from_content.pin(e.id) == from_files.pin(e.id) for e in from_files)


def test_an_overlay_document_reads_back_as_the_same_year() -> None:
    year = load_overlay_file(ROOT / "tests" / "data" / "calendars" / "2027.yaml")
    assert parse_overlay(overlay_document(year), year.origin) == year
    assert load_overlay_text(dump_overlay(year), year.origin) == year
