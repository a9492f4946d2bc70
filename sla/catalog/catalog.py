"""The catalog: every service of the catalog files, parsed and validated, and what a request pins.

Pure: it receives the files' parsed YAML (`CatalogFile`); `adapters.catalog_files` reads them. A
catalog file is one insurer manual: insurer, insurer_name, vendor_hint, and its `services`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sla.catalog.model import ServiceEntry
from sla.catalog.parse import parse_service
from sla.errors import CatalogError, UnknownServiceError

_FILE_KEYS = ("insurer", "insurer_name", "vendor_hint")


@dataclass(frozen=True)
class PinnedService:
    """What a request pins at opening: the self-contained document and its digest."""

    document: dict[str, Any]
    digest: str


@dataclass(frozen=True)
class CatalogFile:
    """One catalog file as parsed: its name (each entry's origin), where it is (for errors), its content."""

    name: str
    location: str
    content: Any


class Catalog:
    def __init__(self, documents: dict[str, dict[str, Any]], origins: dict[str, str]) -> None:
        self._documents = documents
        self.entries: dict[str, ServiceEntry] = {
            sid: parse_service(doc, origins[sid]) for sid, doc in documents.items()
        }

    def get(self, service_id: str) -> ServiceEntry:
        try:
            return self.entries[service_id]
        except KeyError:
            raise UnknownServiceError(
                f"no service {service_id!r} in the catalog; GET /v1/services lists them", source="catalog/"
            ) from None

    def pin(self, service_id: str) -> PinnedService:
        self.get(service_id)
        document = self._documents[service_id]
        canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, default=str)
        return PinnedService(document, hashlib.sha256(canonical.encode()).hexdigest()[:16])

    def __iter__(self) -> Iterator[ServiceEntry]:
        return iter(sorted(self.entries.values(), key=lambda e: e.id))

    def __len__(self) -> int:
        return len(self.entries)


def _documents_of_file(file: CatalogFile) -> list[dict[str, Any]]:
    """The file's services, each made self-contained with the file's insurer fields."""
    content = file.content
    if not isinstance(content, dict) or not isinstance(content.get("services"), list):
        raise CatalogError(f"{file.location}: a catalog file has insurer, insurer_name and a list 'services'")
    shared = {k: content.get(k) for k in _FILE_KEYS}
    if not shared["insurer"]:
        raise CatalogError(f"{file.location}: 'insurer' is required")
    return [{**shared, **service} for service in content["services"] if isinstance(service, dict)]


def catalog_from_files(files: Iterable[CatalogFile]) -> Catalog:
    """The catalog of these files, in order; a service id may appear in one file only."""
    documents: dict[str, dict[str, Any]] = {}
    origins: dict[str, str] = {}
    for file in files:
        for doc in _documents_of_file(file):
            service_id = str(doc.get("id"))
            if service_id in documents:
                raise CatalogError(
                    f"{file.location}: duplicate service id {service_id!r} (also in {origins[service_id]})"
                )
            documents[service_id] = doc
            origins[service_id] = file.name
    return Catalog(documents, origins)
