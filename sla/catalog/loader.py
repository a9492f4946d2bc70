"""Load the catalog files: one YAML per insurer manual, services listed under `services`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from sla.catalog.model import ServiceEntry
from sla.catalog.parse import parse_service
from sla.errors import CatalogError, UnknownServiceError

DEFAULT_CATALOG_DIR = Path(__file__).resolve().parents[2] / "catalog"
_FILE_KEYS = ("insurer", "insurer_name", "vendor_hint")


@dataclass(frozen=True)
class PinnedService:
    """What a request pins at opening: the self-contained document and its digest."""

    document: dict[str, Any]
    digest: str


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

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self.entries.values(), key=lambda e: e.id))

    def __len__(self) -> int:
        return len(self.entries)


def _documents_of_file(path: Path) -> list[dict[str, Any]]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(content, dict) or not isinstance(content.get("services"), list):
        raise CatalogError(f"{path}: a catalog file has insurer, insurer_name and a list 'services'")
    shared = {k: content.get(k) for k in _FILE_KEYS}
    if not shared["insurer"]:
        raise CatalogError(f"{path}: 'insurer' is required")
    return [{**shared, **service} for service in content["services"] if isinstance(service, dict)]


def load_catalog(directory: Path = DEFAULT_CATALOG_DIR) -> Catalog:
    documents: dict[str, dict[str, Any]] = {}
    origins: dict[str, str] = {}
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise CatalogError(f"{directory}: no catalog files")
    for path in files:
        for doc in _documents_of_file(path):
            service_id = str(doc.get("id"))
            if service_id in documents:
                raise CatalogError(f"{path}: duplicate service id {service_id!r} (also in {origins[service_id]})")
            documents[service_id] = doc
            origins[service_id] = str(path.name)
    return Catalog(documents, origins)


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    return load_catalog()
