"""``idwatch sigma import|list``: community Sigma rules run by detect / analyze."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from idwatch.cli.app import JsonOpt, StoreOpt, app

sigma_app = typer.Typer(help="Import and list Sigma rules (run by detect / analyze).", no_args_is_help=True)
app.add_typer(sigma_app, name="sigma")
console = Console()


def _summary(rules: list) -> str:
    ok = sum(r.converted for r in rules)
    reasons = Counter(r.reason for r in rules if not r.converted)
    lines = [f"{len(rules)} rules: {ok} converted, {len(rules) - ok} not converted"]
    lines += [f"  {n} x {reason}" for reason, n in reasons.most_common()]
    return "\n".join(lines)


def _status(rule: Any, floor: str) -> str:
    from idwatch.sigma.registry import runs

    if not rule.converted:
        return f"not converted: {rule.reason}"
    return "converted" if runs(rule, floor) else f"converted, not run: level {rule.level} below {floor}"


def _table(rules: list, title: str, floor: str) -> Table:
    table = Table(title=title)
    for col in ("detection id", "title", "level", "source", "status", "ATT&CK", "author"):
        table.add_column(col, overflow="fold")
    for r in rules:
        status = _status(r, floor)
        table.add_row(
            r.detection_id, r.title, r.level, r.source or "-", status, " ".join(r.techniques), r.author
        )
    return table


@sigma_app.command("import")
def import_cmd(
    paths: Annotated[list[str], typer.Argument(help="Sigma rule files or folders (*.yml, *.yaml).")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    min_level: Annotated[
        Optional[str],  # noqa: UP045 - Typer needs Optional on 3.11
        typer.Option(
            "--min-level",
            help="Lowest rule level that raises alerts in this store (informational, low, medium, high, "
            "critical; default medium: Sigma's low rules are rarely an incident, informational ones "
            "are enrichment).",
        ),
    ] = None,
) -> None:
    """Keep rules in the store; every rule is reported converted or with why it is not."""
    from idwatch.sigma.registry import import_rules, set_min_level
    from idwatch.store import Store

    try:
        if min_level is not None:
            set_min_level(Store(store), min_level)
        rules = import_rules(Store(store), paths)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except (FileNotFoundError, UnicodeDecodeError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if json_out:
        print(json.dumps([r.to_dict() for r in rules]))
        return
    console.print(_summary(rules))


@sigma_app.command("list")
def list_cmd(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """The imported rules, each converted or not converted with its reason."""
    from idwatch.sigma.registry import load_rules, runs
    from idwatch.sigma.registry import min_level as store_min_level
    from idwatch.store import Store

    rules = load_rules(Store(store))
    floor = store_min_level(Store(store))
    if json_out:
        print(
            json.dumps(
                [
                    {**{k: v for k, v in r.to_dict().items() if k != "predicate"}, "runs": runs(r, floor)}
                    for r in rules
                ]
            )
        )
        return
    console.print(_table(rules, f"{len(rules)} Sigma rules (alerting from level {floor})", floor))
    console.print(_summary(rules))
