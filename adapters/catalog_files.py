"""Read the catalog files: one YAML per insurer manual under `catalog/`, handed to `sla` parsed."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from sla.catalog.catalog import Catalog, CatalogFile, catalog_from_files
from sla.errors import CatalogError

DEFAULT_CATALOG_DIR = Path(__file__).resolve().parents[1] / "catalog"


def read_catalog_file(path: Path) -> CatalogFile:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from None
    return CatalogFile(path.name, str(path), content)


def load_catalog(directory: Path = DEFAULT_CATALOG_DIR) -> Catalog:
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise CatalogError(f"{directory}: no catalog files")
    # Read lazily, in order: the first broken file is the one reported.
    return catalog_from_files(read_catalog_file(path) for path in files)


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    return load_catalog()
