"""Commands that move data in and look at it: ingest, stats, query, directory / intel import.

Thin on purpose: parse options, call the core (``idwatch.ingest`` ...), print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idwatch.cli.app import JsonOpt, StoreOpt, app, directory_app, existing_store, intel_app
from idwatch.report.jsonreport import json_default
from idwatch.sources import UnknownFormatError
from idwatch.sources.base import SourceError
from idwatch.store import Store, StoreError

console = Console()
err_console = Console(stderr=True)


def _open_store(store: str | None, *, create: bool = True) -> Store:
    try:
        return Store(store, create=create)
    except StoreError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _readable(file: str) -> str:
    """The file to import, checked before a store is made for it (a typo must leave nothing behind)."""
    if not Path(file).is_file():
        err_console.print(f"[red]error:[/red] {file}: no such file")
        raise typer.Exit(2)
    return file


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders, or - for stdin.")],
    format: Annotated[  # noqa: A002 - the option is called --format
        str,
        typer.Option(
            "--format", "-f", help="auto | native | ocsf | entra | okta | gworkspace | auth0 | m365"
        ),
    ] = "auto",
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    mmdb: Annotated[
        list[str] | None,
        typer.Option("--mmdb", help="MaxMind .mmdb file(s) (City/Country/ASN) to use for enrichment."),
    ] = None,
) -> None:
    """Read events (JSON Lines, JSON, CSV, Parquet; plain or .gz) into the store."""
    from idwatch.enrich.ip import IpEnricher
    from idwatch.ingest import ingest_paths

    st = _open_store(store)
    try:
        enricher = IpEnricher(mmdb_paths=mmdb or [])
    except (OSError, ValueError, RuntimeError) as exc:  # maxminddb: missing or not a database
        err_console.print(f"[red]error:[/red] cannot open MaxMind database: {exc}")
        raise typer.Exit(2) from exc
    try:
        summary = ingest_paths(st, paths, fmt=format, progress=not json_out, ip_enricher=enricher)
    except (SourceError, UnknownFormatError, StoreError, OSError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    data = summary.to_dict()
    if summary.files == 0:
        err_console.print(
            f"[yellow]warning:[/yellow] no data files in {', '.join(paths)}: nothing ingested "
            "(read: *.json, *.jsonl, *.ndjson, *.log, *.csv, *.tsv, *.parquet, plain or .gz; no dotfiles)"
        )
    for refused in summary.refused:
        err_console.print(f"[red]error:[/red] {escape(refused['file'])}: {escape(refused['reason'])}")
    if json_out:
        print(json.dumps(data))
    if summary.files == 0:
        raise typer.Exit(1)
    if json_out:
        if summary.refused:
            raise typer.Exit(1)
        return
    table = Table(title=f"ingest into {st.root}", show_header=False)
    for key in ("records", "stored", "duplicates", "quarantined", "skipped"):
        table.add_row(key, f"{data[key]:,}")
    for kind, n in sorted(summary.skipped_by_kind.items()):
        table.add_row(f"  skipped: {kind}", f"{n:,}")
    for reason, n in sorted(summary.quarantined_by_reason.items()):
        table.add_row(f"  quarantined: {reason}", f"{n:,}")
    table.add_row("seconds", f"{summary.seconds:.2f}")
    console.print(table)
    if summary.quarantine_files:
        console.print(f"quarantined records are in {st.quarantine_dir}")
    if summary.refused:
        err_console.print(f"{len(summary.refused)} file(s) refused, nothing of them stored (errors above)")
        raise typer.Exit(1)


@app.command()
def stats(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """Events per day, activity, outcome and source."""
    from idwatch.query import store_stats

    data = store_stats(existing_store(store))
    if json_out:
        print(json.dumps(data, default=json_default))
        return
    head = Table(title="store", show_header=False)
    head.add_row("events", f"{data['events']:,}")
    head.add_row("accounts", f"{data['accounts']:,}")
    head.add_row("first event", str(json_default(data["first"])) if data["first"] else "-")
    head.add_row("last event", str(json_default(data["last"])) if data["last"] else "-")
    head.add_row("quarantined records", f"{data['quarantined']:,}")
    console.print(head)
    for key, title in (
        ("by_day", "day"),
        ("by_activity", "activity"),
        ("by_outcome", "outcome"),
        ("by_source", "source"),
    ):
        table = Table(title=f"events per {title}")
        table.add_column(title)
        table.add_column("events", justify="right")
        for k, n in data[key]:
            table.add_row(str(k), f"{n:,}")
        console.print(table)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One SELECT over the views events, directory, alerts, ...")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV output.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows shown in the table view.")] = 100,
) -> None:
    """Read-only DuckDB SQL for hunting (anything but a SELECT is refused)."""
    import duckdb

    from idwatch.query import QueryRefused, run_query

    try:
        result = run_query(existing_store(store), sql)
    except QueryRefused as exc:
        err_console.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(2) from exc
    except duckdb.Error as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if json_out:
        print(json.dumps(result.to_pylist(), default=_json_default, ensure_ascii=False))
    elif csv_out:
        import csv
        import sys

        writer = csv.writer(sys.stdout)
        writer.writerow(result.column_names)
        for row in result.to_pylist():
            writer.writerow(["" if v is None else _json_default(v) for v in row.values()])
    else:
        table = Table()
        for name in result.column_names:
            table.add_column(name)
        for row in result.slice(0, limit).to_pylist():
            table.add_row(*("" if v is None else str(v) for v in row.values()))
        console.print(table)
        if result.num_rows > limit:
            console.print(f"({result.num_rows:,} rows, first {limit} shown; use --json or --csv for all)")


def _json_default(value: object) -> object:
    """JSON for what Arrow gives back: timestamps as RFC 3339 UTC, the rest as text."""
    import datetime as dt

    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
            return value.isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


@directory_app.command("import")
def directory_import(
    file: Annotated[str, typer.Argument(help="CSV or JSONL, one row per account (EVENTS.md section 2).")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Import (or update) the account directory."""
    from idwatch.directory import DirectoryError, read_directory, write_directory

    try:
        rows = read_directory(_readable(file))  # checked whole before a store is made for it
        n = write_directory(_open_store(store), rows)
    except DirectoryError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if json_out:
        print(json.dumps({"imported": n}))
    else:
        console.print(f"imported {n:,} directory rows")


@intel_app.command("import")
def intel_import(
    file: Annotated[str, typer.Argument(help="A STIX 2.1 bundle (JSON).")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Validate and import a STIX 2.1 bundle."""
    from idwatch.intel import IntelError, import_intel

    try:
        path = _readable(file)
        n = import_intel(_open_store(store), path)
    except IntelError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if json_out:
        print(json.dumps({"objects": n}))
    else:
        console.print(f"imported a STIX 2.1 bundle of {n:,} objects")
