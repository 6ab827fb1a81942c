"""Commands that act on findings: notify, respond, export stix | misp, taxii serve.

Thin: parse options, call ``idwatch.respond`` / ``idwatch.share``, print. Anything that
acts on the world (sending mail, calling a provider) is explicit: ``notify --dry-run``
shows without sending, and ``respond`` only calls the provider with ``--execute``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from idwatch.cli.app import JsonOpt, StoreOpt, app, export_app, intel_app
from idwatch.report.jsonreport import json_default
from idwatch.store import Store, StoreError

console = Console()
err_console = Console(stderr=True)

taxii_app = typer.Typer(help="Serve shared findings over TAXII 2.1.", no_args_is_help=True)
app.add_typer(taxii_app, name="taxii")

AUTO_VALIDATE_MAX = 2000
TlpOpt = Annotated[str, typer.Option("--tlp", help="TLP marking: clear | green | amber | red.")]
CampaignOpt = Annotated[str | None, typer.Option("--campaign", help="Only this campaign id.")]


def _webhook_secret(value: str | None) -> str | None:
    from idwatch.respond.delivery import WebhookSecretError, webhook_key

    if value:
        try:
            webhook_key(value)
        except WebhookSecretError as exc:
            raise typer.BadParameter(str(exc)) from exc
    return value


SecretOpt = Annotated[
    str | None,
    typer.Option(
        "--webhook-secret",
        envvar="IDWATCH_WEBHOOK_SECRET",
        callback=_webhook_secret,
        help="Standard Webhooks secret (whsec_<base64>) that signs webhook posts.",
    ),
]


def _open_store(store: str | None) -> Store:
    try:
        st = Store(store, create=False)
    except StoreError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if not st.root.is_dir():
        err_console.print(f"[red]error:[/red] no store at {st.root}")
        raise typer.Exit(2)
    return st


def _config_section(store: Store, *names: str) -> dict[str, Any]:
    """``[respond.notify]``-style table from idwatch.toml when the config module is available."""
    try:
        from idwatch.config import load_config  # type: ignore[import-not-found]
    except ImportError:
        return {}
    try:
        section: Any = load_config(store)
    except Exception:  # noqa: BLE001 - a broken config is reported by the commands that own it
        return {}
    for name in names:
        section = section.get(name, {}) if isinstance(section, dict) else {}
    return section if isinstance(section, dict) else {}


#: How a notice's audit status reads in the table: an outbox file is not a delivered message.
_STATUS_WORDS = {"queued": "written to outbox (queued)"}


def _notify_counts(summary: Any, outbox: Path | None) -> str:
    """One line whose figures add up: new + earlier = sent (or written to outbox) + pending."""
    if summary.dry_run:
        return f"dry run: {summary.planned} new notice(s) would be sent; nothing was sent or recorded"
    head = f"{summary.planned} new + {summary.earlier} from earlier runs = "
    if outbox is not None:
        return (
            head + f"{summary.queued} written to outbox + {summary.pending} pending; nothing was sent: "
            f"the messages are files in {outbox}, queued until a run with --smtp HOST:PORT or "
            "--webhook URL delivers them"
        )
    return head + f"{summary.sent} sent + {summary.pending} pending"


@app.command()
def notify(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; send and record nothing.")
    ] = False,
    outbox: Annotated[Path | None, typer.Option("--outbox", help="Write messages to this folder.")] = None,
    smtp: Annotated[
        str | None, typer.Option("--smtp", help="SMTP relay HOST:PORT for email contacts.")
    ] = None,
    smtp_starttls: Annotated[bool, typer.Option("--smtp-starttls", help="Use STARTTLS.")] = False,
    smtp_user: Annotated[
        str | None, typer.Option("--smtp-user", help="SMTP login (password: $IDWATCH_SMTP_PASSWORD).")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST every notice as signed JSON to this URL.")
    ] = None,
    webhook_secret: SecretOpt = None,
    people: Annotated[
        str | None, typer.Option("--people", help="Also tell people: none | targeted | all (policy).")
    ] = None,
    min_confidence: Annotated[
        int | None, typer.Option("--min-confidence", help="Skip campaigns attributed below this confidence.")
    ] = None,
    sender: Annotated[str | None, typer.Option("--from", help="From: address of the mails.")] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="Provider name used in the messages.")
    ] = None,
    attempts: Annotated[int, typer.Option("--attempts", help="Delivery attempts per message per run.")] = 3,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Tell each tenant attacked by an attributed state actor (and people, by policy), exactly once."""
    from idwatch.respond.delivery import RetryPolicy, SmtpTransport
    from idwatch.respond.notify import NotifyOptions, run_notify
    from idwatch.respond.policy import NotifyPolicy

    st = _open_store(store)
    try:
        policy = NotifyPolicy.from_mapping(
            _config_section(st, "respond", "notify"),
            people=people,
            min_confidence=min_confidence,
            sender=sender,
            provider=provider,
        )
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if outbox is None and smtp is None and webhook is None:
        outbox = st.root / "outbox"
    relay = None
    if smtp:
        relay = SmtpTransport.parse(
            smtp, starttls=smtp_starttls, username=smtp_user, password=os.environ.get("IDWATCH_SMTP_PASSWORD")
        )
    options = NotifyOptions(
        policy=policy,
        dry_run=dry_run,
        outbox=outbox,
        smtp=relay,
        webhook_url=webhook,
        webhook_secret=webhook_secret,
        retry=RetryPolicy(attempts=max(1, attempts)),
    )
    summary = run_notify(st, options)
    data = summary.to_dict()
    if json_out:
        print(json.dumps(data, default=json_default))
    else:
        table = Table(title=f"notify{' (dry run)' if dry_run else ''}: {st.root}")
        for col in ("status", "audience", "tenant", "to", "why"):
            table.add_column(col, overflow="fold")  # tenants and addresses are copied: never cut
        for n in summary.notices:
            table.add_row(
                _STATUS_WORDS.get(n["status"], n["status"]),
                n["audience"],
                n["tenant"],
                n["to"],
                n["why"] + (f" [{n['error']}]" if n["error"] else ""),
            )
        console.print(table)
        console.print(_notify_counts(summary, outbox if not dry_run else None))
        for u in summary.unreachable:
            err_console.print(
                f"[yellow]unreachable:[/yellow] {u['tenant']}: {u['reason']} ({u['accounts']} account(s))"
            )
    if summary.pending:
        err_console.print(
            f"[yellow]{summary.pending} notification(s) pending; the next run retries them[/yellow]"
        )
        raise typer.Exit(1)


@app.command()
def respond(
    campaign: CampaignOpt = None,
    account: Annotated[str | None, typer.Option("--account", help="Only actions for this account.")] = None,
    execute: Annotated[
        bool,
        typer.Option("--execute", help="Call the provider webhook (default: dry run, nothing is called)."),
    ] = False,
    webhook: Annotated[
        str | None,
        typer.Option(
            "--webhook", envvar="IDWATCH_RESPOND_WEBHOOK", help="Provider webhook that carries out actions."
        ),
    ] = None,
    webhook_secret: SecretOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the actions JSON to this file.")
    ] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    limit: Annotated[int, typer.Option("--limit", help="Actions listed in the table view.")] = 30,
) -> None:
    """Protective actions per campaign / account (revoke, reset, MFA re-registration, blocks).

    Prints a summary per action type and the most urgent actions; --json (or --out) has all of them.
    """
    from idwatch.respond.actions import run_respond
    from idwatch.store import atomic_write_bytes

    st = _open_store(store)
    if execute and not webhook:
        err_console.print("[red]error:[/red] --execute needs --webhook URL (or $IDWATCH_RESPOND_WEBHOOK)")
        raise typer.Exit(2)
    summary = run_respond(
        st,
        campaign_id=campaign,
        account=account,
        execute=execute,
        webhook_url=webhook,
        webhook_secret=webhook_secret,
    )
    data = summary.to_dict()
    if out:
        atomic_write_bytes(out, json.dumps(data, indent=2).encode())
    if json_out:
        print(json.dumps(data, default=json_default))
    else:
        _print_actions(summary.actions, dry_run=summary.dry_run, limit=limit)
    if summary.pending:
        raise typer.Exit(1)


_PRIORITY = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def _print_actions(actions: list[dict[str, Any]], *, dry_run: bool, limit: int) -> None:
    """A count per type and status, then the first ``limit`` actions by priority (never silently cut)."""
    from collections import Counter

    counts = Counter((a["type"], a["priority"], a["status"]) for a in actions)
    summary = Table(title=f"respond{' (dry run)' if dry_run else ''}: {len(actions):,} action(s)")
    for col in ("type", "priority", "status", "actions"):
        summary.add_column(col, justify="right" if col == "actions" else "left")
    for (kind, priority, status), n in sorted(
        counts.items(), key=lambda kv: (_PRIORITY.get(kv[0][1], 9), kv[0])
    ):
        summary.add_row(kind, priority, status, f"{n:,}")
    console.print(summary)
    ordered = sorted(actions, key=lambda a: _PRIORITY.get(a["priority"], 9))
    table = Table(title=f"first {min(limit, len(actions))} by priority")
    for col in ("status", "priority", "type", "target", "campaign"):
        table.add_column(col, no_wrap=col == "campaign", overflow="fold")
    for a in ordered[:limit]:
        target = a["target"].get("account") or a["target"].get("ip") or f"AS{a['target'].get('asn')}"
        table.add_row(a["status"], a["priority"], a["type"], str(target), a["campaign"])
    console.print(table)
    if len(actions) > limit:
        console.print(
            f"... {len(actions) - limit:,} more: `idwatch respond --json` (or --out FILE) lists them all."
        )


def _write_or_print(out: Path | None, obj: Any) -> None:
    from idwatch.store import atomic_write_bytes

    text = json.dumps(obj, indent=2)
    if out is None:
        print(text)
    else:
        atomic_write_bytes(out, text.encode())


@export_app.command("stix")
def export_stix(
    campaign: CampaignOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Bundle file (default: stdout).")] = None,
    tlp: TlpOpt = "amber",
    producer: Annotated[
        str, typer.Option("--producer", help="Name of the sharing organisation.")
    ] = "idwatch",
    validate: Annotated[
        bool | None,
        typer.Option(
            help="Check the bundle with stix2-validator before writing "
            f"(default: when it has at most {AUTO_VALIDATE_MAX} objects; the validator is slow).",
        ),
    ] = None,
    store: StoreOpt = None,
) -> None:
    """A shareable STIX 2.1 bundle of the campaigns (no account, tenant or person in it)."""
    from idwatch.share.redact import LeakError
    from idwatch.share.stix import build_bundle

    st = _open_store(store)
    try:
        bundle = build_bundle(st, campaign_id=campaign, tlp=tlp.lower(), producer=producer)
    except (KeyError, ValueError, LeakError) as exc:
        err_console.print(f"[red]error:[/red] {exc.args[0] if exc.args else exc}")
        raise typer.Exit(2) from exc
    if validate is None:
        validate = len(bundle["objects"]) <= AUTO_VALIDATE_MAX
        if not validate:
            err_console.print(f"{len(bundle['objects'])} objects: not validated (use --validate to force)")
    if validate:
        from idwatch.cli.progress import counted, shows_progress
        from idwatch.share.validate import validate_bundle

        n = len(bundle["objects"])
        label = "validating STIX objects (stix2-validator)"
        with counted(label, n, console=err_console, enabled=shows_progress(err_console)) as bar:
            errors = validate_bundle(bundle, on_object=bar.update)
        if errors:
            err_console.print(
                f"[red]error:[/red] bundle failed validation ({len(errors)} error(s)): {errors[:5]}"
            )
            raise typer.Exit(2)
    _write_or_print(out, bundle)
    if out is not None:
        err_console.print(f"wrote {len(bundle['objects'])} STIX objects to {out}")


@export_app.command("misp")
def export_misp(
    campaign: CampaignOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="A .json file (one event, or an array of events), else a folder of one file per event "
            "(default: stdout).",
        ),
    ] = None,
    tlp: TlpOpt = "amber",
    store: StoreOpt = None,
) -> None:
    """MISP event JSON (one event per campaign) that PyMISP and MISP import."""
    from idwatch.share.misp import build_events
    from idwatch.share.redact import LeakError

    st = _open_store(store)
    try:
        events = build_events(st, campaign_id=campaign, tlp=tlp.lower())
    except (KeyError, ValueError, LeakError) as exc:
        err_console.print(f"[red]error:[/red] {exc.args[0] if exc.args else exc}")
        raise typer.Exit(2) from exc
    if out is None:
        _write_or_print(None, events[0] if len(events) == 1 else events)
        return
    if out.suffix.lower() == ".json" and not out.is_dir():
        _write_or_print(out, events[0] if len(events) == 1 else events)
    elif len(events) == 1 and not out.is_dir():
        _write_or_print(out, events[0])
    else:
        out.mkdir(parents=True, exist_ok=True)
        for ev in events:
            _write_or_print(out / f"{ev['Event']['uuid']}.json", ev)
    err_console.print(f"wrote {len(events)} MISP event(s) to {out}")


@taxii_app.command("serve")
def taxii_serve(
    bundle: Annotated[
        list[Path] | None,
        typer.Option("--bundle", help="STIX bundle(s) to serve (default: export the store now)."),
    ] = None,
    tlp: TlpOpt = "amber",
    collection: Annotated[str, typer.Option("--collection", help="Collection title.")] = "idwatch-campaigns",
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 9000,
    user: Annotated[str, typer.Option("--user", help="User name for HTTP basic auth.")] = "idwatch",
    password: Annotated[
        str | None, typer.Option("--password", envvar="IDWATCH_TAXII_PASSWORD", help="Password (required).")
    ] = None,
    cert: Annotated[Path | None, typer.Option("--cert", help="TLS certificate (PEM).")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="TLS private key (PEM).")] = None,
    store: StoreOpt = None,
) -> None:
    """Serve STIX bundles over TAXII 2.1 (discovery, API root, collections, objects), authenticated."""
    from idwatch.share.stix import build_bundle
    from idwatch.share.taxii import MissingExtra, make_taxii_server

    if not password:
        err_console.print("[red]error:[/red] set a password (--password or $IDWATCH_TAXII_PASSWORD)")
        raise typer.Exit(2)
    objects: list[dict[str, Any]] = []
    if bundle:
        for path in bundle:
            objects += json.loads(path.read_text("utf-8")).get("objects", [])
    else:
        objects = build_bundle(_open_store(store), tlp=tlp.lower())["objects"]
    try:
        server = make_taxii_server(
            {collection: objects},
            {user: password},
            host=host,
            port=port,
            certfile=str(cert) if cert else None,
            keyfile=str(key) if key else None,
        )
    except MissingExtra as exc:
        from rich.markup import escape

        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    err_console.print(f"TAXII 2.1 discovery at {server.url} ({len(objects)} objects in '{collection}')")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()


@intel_app.command("import-misp")
def intel_import_misp(
    paths: Annotated[list[Path], typer.Argument(help="MISP event JSON file(s).")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Import MISP events (IPs, domains, ASNs, threat-actor tags) as STIX 2.1 intel."""
    from idwatch.intel import IntelError
    from idwatch.share.stix_import import import_bundle, misp_to_stix

    st = _open_store(store)
    results = []
    for path in paths:
        try:
            doc = json.loads(path.read_text("utf-8"))
            events = (
                doc if isinstance(doc, list) else doc.get("response", [doc]) if isinstance(doc, dict) else []
            )
            for event in events:
                converted = misp_to_stix(event)
                n = import_bundle(st, converted.bundle)
                results.append(
                    {
                        "file": str(path),
                        "objects": n,
                        "indicators": converted.indicators,
                        "skipped": converted.skipped,
                    }
                )
        except (OSError, ValueError, IntelError) as exc:
            err_console.print(f"[red]error:[/red] {path}: {exc}")
            raise typer.Exit(2) from exc
    if json_out:
        print(json.dumps(results))
    else:
        for r in results:
            console.print(
                f"{r['file']}: {r['indicators']} indicator(s), {r['objects']} STIX object(s); "
                f"skipped {r['skipped']}"
            )


@intel_app.command("pull-taxii")
def intel_pull_taxii(
    url: Annotated[str, typer.Argument(help="TAXII 2.1 collection URL (.../collections/<id>/).")],
    user: Annotated[str, typer.Option("--user", help="User name.")],
    password: Annotated[
        str | None, typer.Option("--password", envvar="IDWATCH_TAXII_PASSWORD", help="Password.")
    ] = None,
    added_after: Annotated[
        str | None, typer.Option("--added-after", help="Only objects added after (RFC 3339).")
    ] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Fetch a TAXII 2.1 collection and import it as STIX 2.1 intel."""
    from idwatch.intel import IntelError
    from idwatch.share.stix_import import import_bundle, taxii_objects

    st = _open_store(store)
    try:
        bundle = taxii_objects(url, user=user, password=password or "", added_after=added_after)
        n = import_bundle(st, bundle)
    except (OSError, ValueError, IntelError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    result = {"url": url, "objects": n}
    print(json.dumps(result) if json_out else f"imported {n} STIX object(s) from {url}")
