"""The Typer application and the options every command shares.

Command modules (``cli/*_cmds.py``) attach their commands to these apps; they stay thin:
parse, call the core, print.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

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
