"""Commands: ``detect`` (run the library), ``alerts`` (list findings), ``detections list``.

Thin on purpose: parse options, call ``idwatch.detections.engine``, print.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from idwatch.cli.app import (
    WHEN_HELP,
    JsonOpt,
    StoreOpt,
    app,
    detections_app,
    existing_store,
    id_width,
    parse_when,
)
from idwatch.report.jsonreport import json_default
from idwatch.store import Store

console = Console()
err_console = Console(stderr=True)


def _open_store(store: str | None) -> Store:
    return existing_store(store)


def _load_config(st: Store | None, path: str | None) -> dict[str, Any] | None:
    """Deployment overrides from idwatch.toml (foundation's loader when present)."""
    try:
        from idwatch.config import load_config
    except ImportError:
        if not path:
            return None
        import tomllib

        with open(path, "rb") as fh:
            return tomllib.load(fh)
    return load_config(st, path)


@app.command()
def detect(
    store: StoreOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", help=f"Only findings from this time: {WHEN_HELP}")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help=f"Ignore events after this time: {WHEN_HELP}")
    ] = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Run only these detection ids.")] = None,
    config: Annotated[str | None, typer.Option("--config", help="idwatch.toml with overrides.")] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="Where detection queries run: duckdb or spark.")
    ] = "duckdb",
    master: Annotated[
        str | None, typer.Option("--master", help="Spark master URL (default local[2]).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run the detection library over the store and write alerts (incremental, no duplicates)."""
    from idwatch.detections.engine import run_detections

    try:
        since_ts = parse_when(since) if since else None
        until_ts = parse_when(until) if until else None
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] --since / --until: {exc}")
        raise typer.Exit(2) from exc
    st = _open_store(store)
    from idwatch.engines import EngineUnavailable, open_engine

    try:
        eng = None if engine == "duckdb" else open_engine(engine, master=master)
    except (ValueError, EngineUnavailable) as exc:
        err_console.print(f"[red]error:[/red] --engine {engine}: {exc}")
        raise typer.Exit(2) from exc
    try:
        cfg = _load_config(st, config)
        summary = run_detections(
            st, since=since_ts, until=until_ts, only=only or None, config=cfg, engine=eng
        )
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        if eng is not None:
            eng.close()
    data = summary.to_dict()
    if json_out:
        print(json.dumps(data, default=json_default))
        return
    table = Table(title=f"detect over {st.root}", show_header=True)
    table.add_column("detection", no_wrap=True, min_width=id_width(summary.detections_run))
    table.add_column("alerts", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("CPU s", justify="right")
    for det_id in summary.detections_run:
        table.add_row(
            det_id,
            str(summary.alerts_by_detection.get(det_id, 0)),
            f"{summary.seconds_by_step.get(det_id, 0):.2f}",
            f"{summary.cpu_seconds_by_step.get(det_id, 0):.2f}",
        )
    console.print(table)
    console.print(
        f"events scanned {summary.events_scanned:,}; alerts new {summary.alerts_new}, updated "
        f"{summary.alerts_updated}, total {summary.alerts_total}; {summary.seconds:.1f} s"
    )
    stages = [k for k in summary.seconds_by_step if k not in summary.alerts_by_detection]
    console.print(
        "stages: "
        + ", ".join(
            f"{k} {summary.seconds_by_step[k]:.2f} s (CPU {summary.cpu_seconds_by_step.get(k, 0):.2f})"
            for k in stages
        )
    )
    if summary.state:
        console.print("state: " + ", ".join(f"{k} {v}" for k, v in summary.state.items()))
    for det_id, why in summary.skipped.items():
        console.print(f"[yellow]skipped[/yellow] {det_id}: {why}")


@app.command()
def alerts(
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    stage: Annotated[str | None, typer.Option("--stage", help="Only this stage.")] = None,
    detection: Annotated[str | None, typer.Option("--detection", help="Only this detection id.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows to show in the table view.")] = 50,
) -> None:
    """List alerts (newest first)."""
    st = _open_store(store)
    table_ = st.read_state_table("alerts")
    rows = table_.to_pylist() if table_ is not None else []
    rows = [
        r
        for r in rows
        if (not stage or r["stage"] == stage) and (not detection or r["detection_id"] == detection)
    ]
    rows.sort(key=lambda r: (r["last_seen"] is None, r["last_seen"]), reverse=True)
    if json_out:
        print(json.dumps(rows, default=json_default))
        return
    table = Table(title=f"{len(rows)} alerts", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    shown = rows[:limit]
    wide = console.width >= 120  # the sources column only where there is room for it
    # below 100 columns time, stage, id and score fill the line: the detail would cut them
    with_detail = console.width >= 100
    table.add_column("last seen (UTC)", no_wrap=True, min_width=16)
    table.add_column("stage", no_wrap=True, min_width=max((len(r["stage"]) for r in shown), default=5))
    table.add_column("detection", no_wrap=True, min_width=id_width(r["detection_id"] for r in shown))
    table.add_column("score", justify="right", no_wrap=True, min_width=5)
    if wide:
        table.add_column("accounts", overflow="fold")
        table.add_column("sources", overflow="fold")
    if with_detail:
        table.add_column("detail", overflow="fold", min_width=10)
    for r in shown:
        accounts = r["accounts"] or []
        cells = [
            str(r["last_seen"])[:16],
            r["stage"],
            r["detection_id"],
            str(r["score"]),
        ]
        if wide:
            cells.append(", ".join(accounts[:2]) + (f" +{len(accounts) - 2}" if len(accounts) > 2 else ""))
            cells.append(", ".join((r["src_ips"] or [])[:2]))
        if with_detail:
            cells.append(r["detail"] or "")
        table.add_row(*cells)
    console.print(table)
    if not with_detail and shown:
        console.print("(each alert's detail: a terminal of 100+ columns, or --json)")


@detections_app.command("list")
def list_detections(json_out: JsonOpt = False) -> None:
    """Every detection with its stage, ATT&CK mapping, severity and parameters."""
    from idwatch.detections.model import load_library

    lib = load_library()
    if json_out:
        print(
            json.dumps(
                [
                    {
                        "id": d.id,
                        "title": d.title,
                        "stage": d.stage,
                        "techniques": list(d.techniques),
                        "severity": d.severity,
                        "parameters": d.parameters,
                        "watchlist": d.watchlist,
                        "description": d.description,
                        "false_positives": list(d.false_positives),
                    }
                    for d in lib
                ]
            )
        )
        return
    table = Table(title=f"{len(lib)} detections")
    wide = console.width >= 120  # parameters only where there is room for them
    table.add_column("id", no_wrap=True, min_width=id_width(d.id for d in lib))
    for col in ("stage", "techniques", "severity", *(["parameters"] if wide else [])):
        table.add_column(col, overflow="fold")
    for d in lib:
        params = ", ".join(f"{k}={v}" for k, v in d.parameters.items())
        if d.watchlist:
            params += " | watchlist: " + ", ".join(f"{k}={v}" for k, v in d.watchlist.items())
        table.add_row(d.id, d.stage, " ".join(d.techniques), d.severity, *([params] if wide else []))
    console.print(table)
    if not wide:
        console.print("parameters: `idwatch detections list --json` (or a terminal of 120 columns)")
