"""The Typer application and the options every command shares.

Command modules (``cli/*_cmds.py``) attach their commands to these apps; they stay thin:
parse, call the core, print.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Optional

import typer

from idwatch.store import Store, StoreError

app = typer.Typer(
    name="idwatch",
    help="Find targeted account takeover by state-backed actors in identity-provider logs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
directory_app = typer.Typer(help="Import the account directory (who the accounts are).", no_args_is_help=True)
intel_app = typer.Typer(help="Import threat intelligence (STIX 2.1 bundles).", no_args_is_help=True)
detections_app = typer.Typer(help="Inspect the detection library.", no_args_is_help=True)
export_app = typer.Typer(help="Share findings: STIX 2.1, MISP.", no_args_is_help=True)
app.add_typer(directory_app, name="directory")
app.add_typer(intel_app, name="intel")
app.add_typer(detections_app, name="detections")
app.add_typer(export_app, name="export")

StoreOpt = Annotated[
    Optional[str],  # noqa: UP045 - Typer needs Optional on 3.11
    typer.Option("--store", help="Store directory (default: $IDWATCH_STORE, else ./idwatch-data)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]

WHEN_HELP = (
    "RFC 3339 (2019-09-30T14:00:00Z, or a date 2019-09-30), or relative to now: 30m, 24h, 7d, 2w, "
    "today, yesterday."
)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """A point in time from an option: RFC 3339 (UTC when no offset) or a relative form.

    Raises ValueError with a message that lists the forms accepted.
    """
    now = now or datetime.now(UTC)
    value = text.strip().lower()
    if value in ("today", "yesterday"):
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=1 if value == "yesterday" else 0)
    match = re.fullmatch(r"(\d+)\s*([mhdw])", value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        ts = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read the time {text!r}; expected {WHEN_HELP}") from None
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)


def existing_store(path: str | None, factory: Callable[..., Store] = Store) -> Store:
    """The store a reading command works on: it must exist (nothing is created on the way).

    A mistyped ``--store`` or a command run in the wrong folder is a clear error (exit 2),
    never an empty ``./idwatch-data`` with a successful, empty answer.
    """
    from rich.console import Console

    err = Console(stderr=True)
    try:
        st = factory(path, create=False)
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if not st.root.is_dir():
        err.print(
            f"[red]error:[/red] no store at {st.root}: ingest events first (`idwatch ingest FILE "
            "--store DIR`), or name the store with --store / $IDWATCH_STORE."
        )
        raise typer.Exit(2)
    return st


def id_width(ids: Iterable[str]) -> int:
    """The width an id column needs so that no id is cut (ids are what users copy from tables)."""
    return max((len(i) for i in ids), default=4)
