"""No function of the product is longer than MAX_LINES: one that is does several jobs, and a reader who
must change one of them has to hold all of them (issue 22).

Measured on every package of the repository, bench/, harness/ and tools/ included (they are code a
maintainer changes too), from the `def` line to the function's last line, decorators not counted.
Left out: tests/ (a test reads best as one scenario from top to bottom) and store/migrations/versions/
(the schema as alembic writes it: one statement per table, checked against the models by
tests/api/test_migrations.py, not by reading)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from tests.data import ROOT

MAX_LINES = 49  # "under 50 lines" (issue 22)
NOT_MEASURED = ("tests", "store/migrations/versions")


def product_files() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(".") or "/." in relative:  # .venv, .git, caches
            continue
        if any(relative == skipped or relative.startswith(f"{skipped}/") for skipped in NOT_MEASURED):
            continue
        yield path


def function_lengths(path: Path, root: Path = ROOT) -> dict[str, int]:
    """Every function and method of a file (nested ones too) by `file: Class.name`, with its lines."""
    lengths: dict[str, int] = {}
    relative = path.relative_to(root).as_posix()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                assert child.end_lineno is not None
                lengths[f"{relative}: {prefix}{child.name}"] = child.end_lineno - child.lineno + 1
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return lengths


@cache  # parsed once for the tests that read it
def all_function_lengths() -> dict[str, int]:
    lengths: dict[str, int] = {}
    for path in product_files():
        lengths |= function_lengths(path)
    return lengths


def test_every_function_outside_the_tests_is_under_fifty_lines() -> None:
    lengths = all_function_lengths()
    assert len(lengths) > 1000  # the walk found the packages
    too_long = {name: lines for name, lines in lengths.items() if lines > MAX_LINES}
    assert too_long == {}, "split these into helpers with one job each: " + ", ".join(
        f"{name} ({lines} lines)" for name, lines in sorted(too_long.items(), key=lambda item: -item[1])
    )


def test_a_function_is_measured_from_its_def_line_to_its_last_line_without_decorators(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "@decorated\n"
        "def short(a: int) -> int:\n"
        "    return a\n"
        "\n"
        "class Holder:\n"
        "    async def method(self) -> None:\n"
        "        def inner() -> None:\n"
        "            pass\n"
        "\n"
        "        inner()\n",
        encoding="utf-8",
    )
    assert function_lengths(source, tmp_path) == {
        "sample.py: short": 2,
        "sample.py: Holder.method": 5,
        "sample.py: Holder.method.inner": 2,
    }
