"""Layering rules that keep the domain pure and workflows cheap to replay."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.data import ROOT

FORBIDDEN_IN_DOMAIN = {
    "temporalio",
    "fastapi",
    "sqlmodel",
    "sqlalchemy",
    "store",
    "api",
    "workflows",
    "activities",
    "worker",
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_domain_imports_no_infrastructure() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN_IN_DOMAIN)
        for path in (ROOT / "sla").rglob("*.py")
        if imported_roots(path) & FORBIDDEN_IN_DOMAIN
    }
    assert offenders == {}
