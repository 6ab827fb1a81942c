"""Command: ``idwatch score`` -- the login-risk of one sign-in attempt, with its explanation."""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from idwatch.cli.app import JsonOpt, StoreOpt, app, existing_store
from idwatch.report.jsonreport import json_default


def read_attempt(source: str | None) -> dict[str, Any]:
    """The attempt from an inline JSON object, a file path, or stdin (``-`` or nothing)."""
    if source is None or source == "-":
        text = sys.stdin.read()
    elif source.lstrip().startswith("{"):
        text = source
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"{source}: neither a JSON object nor a readable file")
        text = path.read_text("utf-8-sig")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"attempt is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError("attempt must be one JSON object")
    return obj


def _print_human(result: dict[str, Any]) -> None:
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]risk {result['risk']:.1f}[/bold] / 100  account {result['account']}  "
        f"from {result['src_ip']}  at {result['time']}  "
        f"(history: {result['history_signins']} successful sign-ins)"
    )
    table = Table("feature", "value", "account uses", "population share", "new", "likelihood ratio")
    for f in result["features"]:
        table.add_row(
            f["feature"],
            str(f["value"]),
            f"{f['account_count']}/{f['account_parent_count']}",
            f"{f['population_share']:.4f}",
            "yes" if f["new_for_account"] else "",
            f"{f['likelihood_ratio']:.3g}",
        )
    prior = result["user_prior"]
    table.add_row("account prior", "", "", "", "", f"{prior['likelihood_ratio']:.3g}")
    console.print(table)


def _score_on_state(st: Any, obj: dict[str, Any], *, rebuild: bool) -> dict[str, Any]:
    """Score on the saved decide state (the decision endpoint's), building it when stale."""
    from idwatch.config import load_config
    from idwatch.decide import state as dstate
    from idwatch.decide.engine import decide
    from idwatch.decide.policy import Policy

    path = dstate.state_path(st)
    newest = max((f.stat().st_mtime for f in st.event_files()), default=0.0)
    state = None if rebuild or not path.is_file() or path.stat().st_mtime < newest else dstate.load(st)
    if state is None:
        state = dstate.build(st)
        state.save(path)
    return decide(state, Policy(load_config(st)), obj)


@app.command("score")
def score(
    attempt: Annotated[
        Optional[str],  # noqa: UP045 - Typer needs Optional on 3.11
        typer.Argument(help="The attempt: a JSON object, a file holding one, or '-' (default) for stdin."),
    ] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact", help="Replay the batch model over the store (seconds) instead of the state file."
        ),
    ] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Rebuild the decide state file from the store first.")
    ] = False,
) -> None:
    """Score one sign-in attempt against the store's history (Freeman et al. likelihood ratio).

    The attempt uses canonical event fields: account and src_ip are required; time (default
    now), tenant, user_agent, country, asn, asn_org, ua_family, ua_os are optional and are
    looked up from the store when missing.

    By default the attempt is scored on the decide state file (``state/decide_state.pkl``, the
    one ``POST /v1/decide`` uses; built when missing or older than the store's newest events)
    in milliseconds; ``risk`` is then the calibrated percentile among the store's legitimate
    sign-ins and ``model_risk`` the model's own scale. ``--exact`` replays the batch model.
    """
    from idwatch.cli.progress import MeteredStore, metered, shows_progress
    from idwatch.detections.riskmodel import score_attempt
    from idwatch.store import StoreError

    err = Console(stderr=True)
    try:
        obj = read_attempt(attempt)
        shown = shows_progress(err, json_out)
        st = existing_store(store, partial(MeteredStore, track=shown))
        label = "scoring (events read)"
        if exact:
            with metered(st, label, st.event_count() if shown else 0, console=err, enabled=shown):
                result = score_attempt(st, obj)
        else:
            result = _score_on_state(st, obj, rebuild=rebuild)
    except (ValueError, StoreError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if json_out:
        typer.echo(json.dumps(result, default=json_default))
    else:
        _print_human(result)
