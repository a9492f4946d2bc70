"""month_tally and month_percentile WITHOUT ROWID on SQLite: their rows stored in their key's order,
so a month's series are read from one B-tree range instead of looked up row by row (issue 25 item 3:
the month report at 100k requests against 1k, bench/README.md). SQLite cannot change a table's storage
in place: each table is copied into a new one and renamed (alembic's batch mode), rows and all.
PostgreSQL has no such option; nothing changes there.

Revision ID: 0002_month_tables_without_rowid
Revises: 0001_initial_schema
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_month_tables_without_rowid"
down_revision: str | None = "0001_initial_schema"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("month_tally", "month_percentile")


def _recreate(with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}):
            pass


def upgrade() -> None:
    _recreate(with_rowid=False)


def downgrade() -> None:
    _recreate(with_rowid=True)
