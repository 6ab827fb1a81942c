"""``idwatch serve`` (the console and REST API) and ``idwatch users`` (who may use it)."""

from __future__ import annotations

import ipaddress
import json
from typing import Annotated

import typer
from rich.console import Console

from idwatch.cli.app import JsonOpt, StoreOpt, app
from idwatch.store import Store, StoreError

users_app = typer.Typer(help="API and console users (tokens are stored hashed).", no_args_is_help=True)
app.add_typer(users_app, name="users")
console = Console()
err_console = Console(stderr=True)


def _existing_store(store: str | None) -> Store:
    st = Store(store, create=False)
    if not st.root.is_dir():
        err_console.print(
            f"[red]error:[/red] no store at {st.root} (run `idwatch ingest` / `idwatch run` first)"
        )
        raise typer.Exit(2)
    return st


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ - @).")],
    role: Annotated[str, typer.Option("--role", help="viewer (reads) or analyst (also marks).")] = "viewer",
    store: StoreOpt = None,
) -> None:
    """Add a user and print its API token, once: it is stored only as a hash."""
    from idwatch.api.users import UserError, add_user

    st = _existing_store(store)
    try:
        token = add_user(st, name, role)
    except UserError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    err_console.print(f"user {name} ({role}) added; its token, shown only now:")
    print(token)


@users_app.command("list")
def users_list(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """Users, their roles and when they were added (never their tokens)."""
    from idwatch.api.users import list_users

    rows = list_users(_existing_store(store))
    if json_out:
        print(json.dumps(rows))
        return
    for u in rows:
        console.print(f"{u['name']}\t{u['role']}\t{u['created_at']}")
    if not rows:
        console.print("no users: add one with `idwatch users add NAME --role analyst`")


@users_app.command("remove")
def users_remove(name: str, store: StoreOpt = None) -> None:
    """Remove a user; its token stops working at once."""
    from idwatch.api.users import remove_user

    if not remove_user(_existing_store(store), name):
        err_console.print(f"[red]error:[/red] no user {name!r}")
        raise typer.Exit(1)
    console.print(f"removed {name}")


@app.command()
def serve(
    store: StoreOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; 127.0.0.1 unless you mean it.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8765,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Mark session cookies Secure (behind an HTTPS proxy).")
    ] = False,
) -> None:
    """The analyst console and REST API (FastAPI on uvicorn); every request needs a user's token."""
    try:
        import uvicorn

        from idwatch.api.app import create_app
        from idwatch.api.users import list_users
    except ImportError as exc:  # pragma: no cover - fastapi/uvicorn are base dependencies
        err_console.print(f"[red]error:[/red] {exc}; `pip install -e .` installs fastapi and uvicorn")
        raise typer.Exit(2) from exc
    try:
        st = _existing_store(store)
    except StoreError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if not list_users(st):
        err_console.print(
            "[yellow]no users yet[/yellow]: nobody can log in; `idwatch users add NAME --role analyst`"
        )
    try:
        public = not ipaddress.ip_address(host).is_loopback
    except ValueError:
        public = host != "localhost"
    if public:
        err_console.print(
            f"[yellow]warning:[/yellow] listening on {host}, reachable from other machines; plain HTTP"
        )
    api = create_app(st, secure_cookies=secure_cookies)
    api.state.catalog.warm()
    from idwatch.api.decide_routes import start_loading

    start_loading(api)  # the decide state loads / builds off the event loop; 503 until ready
    err_console.print(f"idwatch console on http://{host}:{port}/ (store {st.root})")
    uvicorn.run(api, host=host, port=port, log_level="info")
