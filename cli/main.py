"""`slatrack`: one command, sub-commands per concern."""

from __future__ import annotations

import typer

from cli.access_cmd import api, create, list_keys, revoke, vendors_app
from cli.calendar_cmd import calendar_app
from cli.catalog_cmd import catalog_app
from cli.ops_cmd import db_app, keys_app, up, worker
from cli.readmodel_cmd import rebuild, verify
from cli.simulate_cmd import simulate

app = typer.Typer(help="Durable SLA tracker for insurance health services.", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
app.add_typer(catalog_app, name="catalog")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.command()(worker)
app.command()(up)
app.command()(api)
app.command()(simulate)
app.add_typer(vendors_app, name="vendors")
keys_app.command("create")(create)
keys_app.command("revoke")(revoke)
keys_app.command("list")(list_keys)
db_app.command("rebuild")(rebuild)
db_app.command("verify")(verify)


if __name__ == "__main__":
    app()
