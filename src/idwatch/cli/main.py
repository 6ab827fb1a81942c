"""Entry point: import every command module so its commands register, then run."""

from __future__ import annotations

from idwatch.cli import (  # noqa: F401 - imported for their command registrations
    analysis_cmds,
    data_cmds,
    detect_cmds,
    respond_cmds,
    score_cmds,
    serve_cmds,
    sigma_cmds,
    simulate_cmds,
    stream_cmds,
)
from idwatch.cli.app import app


def main() -> None:
    app()


if __name__ == "__main__":
    main()
