"""Layering rules that keep the domain pure and workflows cheap to replay."""

from __future__ import annotations

import ast
import re
import sys
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


# -- the domain does no I/O ---------------------------------------------------------------------
# Standard-library modules that reach files, the OS, the network, package data or the clock. `sla`
# receives parsed documents (adapters/ reads them); workflows replay, so they may not either.
IO_MODULES = {
    "os",
    "io",
    "pathlib",
    "shutil",
    "glob",
    "fnmatch",
    "tempfile",
    "fileinput",
    "mmap",
    "importlib",
    "pkgutil",
    "zipimport",
    "sqlite3",
    "dbm",
    "shelve",
    "pickle",
    "socket",
    "ssl",
    "select",
    "selectors",
    "http",
    "urllib",
    "ftplib",
    "smtplib",
    "subprocess",
    "multiprocessing",
    "threading",
    "signal",
    "logging",
    "time",
    "random",
    "secrets",
    "uuid",
}
IO_CALLS = {"open", "print", "input", "__import__", "exec", "eval", "breakpoint"}
# Methods of pathlib paths and file objects that touch the file system, and the clock's "now".
IO_METHODS = {
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "iterdir",
    "glob",
    "rglob",
    "is_dir",
    "is_file",
    "mkdir",
    "unlink",
    "now",
    "utcnow",
    "today",
}
STANDARD_LIBRARY = frozenset(sys.stdlib_module_names)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "(...)"


def io_uses(source: str) -> list[str]:
    """Every import of an I/O module and every call that does I/O or reads the clock, by line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        found += [(node.lineno, f"import {m}") for m in modules if m.split(".")[0] in IO_MODULES]
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in IO_CALLS:
                found.append((node.lineno, f"{func.id}()"))
            elif isinstance(func, ast.Attribute) and func.attr in IO_METHODS:
                found.append((node.lineno, f"{_dotted(func)}()"))
    return [f"line {line}: {what}" for line, what in sorted(found)]


def _domain_files() -> list[Path]:
    return sorted((ROOT / "sla").rglob("*.py"))


def test_the_io_check_finds_files_packages_yaml_and_the_clock() -> None:
    source = (
        "import os\nfrom pathlib import Path\nfrom importlib.resources import files\nimport chinese_calendar\n"
        "with open('x') as f: pass\nPath('x').read_text()\ndatetime.now()\n"
    )
    assert io_uses(source) == [
        "line 1: import os",
        "line 2: import pathlib",
        "line 3: import importlib.resources",
        "line 5: open()",
        "line 6: (...).read_text()",
        "line 7: datetime.now()",
    ]  # chinese_calendar (line 4) is not standard library: the next test refuses it


def test_the_domain_imports_only_the_standard_library_and_itself() -> None:
    # No yaml, no chinese_calendar, no frameworks: third-party data and formats are adapters/' business.
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) - STANDARD_LIBRARY - {"sla"})
        for path in _domain_files()
        if imported_roots(path) - STANDARD_LIBRARY - {"sla"}
    }
    assert offenders == {}


def test_the_domain_does_no_io_and_reads_no_clock() -> None:
    offenders = {
        str(path.relative_to(ROOT)): io_uses(path.read_text(encoding="utf-8"))
        for path in _domain_files()
        if io_uses(path.read_text(encoding="utf-8"))
    }
    assert offenders == {}


def test_workflow_modules_import_only_temporalio_the_domain_and_their_messages() -> None:
    # ARCHITECTURE.md, Packages: a stray heavy import multiplies replay cost; settings, the database, files
    # or chinese_calendar in a workflow would change how it replays. Its clock is workflow.now(), replayed from history.
    allowed = {"temporalio", "sla", "workflows"}
    offenders = {}
    for path in sorted((ROOT / "workflows").rglob("*.py")):
        foreign = sorted(imported_roots(path) - STANDARD_LIBRARY - allowed)
        io = [use for use in io_uses(path.read_text(encoding="utf-8")) if not use.endswith(": workflow.now()")]
        if foreign or io:
            offenders[str(path.relative_to(ROOT))] = foreign + io
    assert offenders == {}


# -- the package table of ARCHITECTURE.md, as a whole ----------------------------------------------
def documented_imports() -> dict[str, set[str]]:
    """ARCHITECTURE.md's package table: package -> the packages of this repository it may import."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text[text.index("## Packages") :]
    rows = re.findall(r"^\| `([a-z_]+)/` \|.*\| ([^|]*) \|$", table, re.M)
    return {package: set(re.findall(r"`([a-z_]+)`", allowed)) for package, allowed in rows}


def repository_packages() -> set[str]:
    """The top-level folders that hold Python code."""
    return {
        path.name
        for path in ROOT.iterdir()
        if path.is_dir() and not path.name.startswith(".") and any(path.rglob("*.py"))
    }


def test_architecture_md_has_one_row_for_each_package_of_the_repository() -> None:
    assert set(documented_imports()) == repository_packages()


def test_every_module_imports_only_the_packages_its_row_in_architecture_md_allows() -> None:
    allowed, packages = documented_imports(), repository_packages()
    offenders = {}
    for package in sorted(packages):
        for path in sorted((ROOT / package).rglob("*.py")):
            foreign = (imported_roots(path) & packages) - {package} - allowed.get(package, set())
            if foreign:
                offenders[str(path.relative_to(ROOT))] = sorted(foreign)
    assert offenders == {}


def test_the_api_may_not_import_an_activity_to_validate_or_plan_an_event() -> None:
    # Planning is domain (sla/engine/plan.py): the API's dry run and the activity run the same code.
    assert "activities" not in documented_imports()["api"]


def test_the_pages_geometry_and_time_wording_are_pure() -> None:
    # web/timeline.py and web/timefmt.py lay out what the read side computed: the standard library and
    # the domain only, no I/O, so their unit tests (tests/domain/test_clock_chart.py) need nothing running.
    offenders = {}
    for path in (ROOT / "web" / "timeline.py", ROOT / "web" / "timefmt.py"):
        foreign = sorted(imported_roots(path) - STANDARD_LIBRARY - {"sla", "web"})
        io = io_uses(path.read_text(encoding="utf-8"))
        if foreign or io:
            offenders[str(path.relative_to(ROOT))] = foreign + io
    assert offenders == {}
