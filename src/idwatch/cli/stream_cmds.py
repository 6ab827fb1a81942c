"""``idwatch stream``: consume a Kafka topic into the store, detect incrementally, publish alerts."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from idwatch.cli.app import StoreOpt, app
from idwatch.store import Store

err_console = Console(stderr=True)


@app.command("stream")
def stream(
    kafka: Annotated[str, typer.Option("--kafka", help="Bootstrap brokers, host:port[,host:port].")],
    topic: Annotated[str, typer.Option("--topic", help="Topic of events (one JSON record per message).")],
    fmt: Annotated[str, typer.Option("--format", help="auto or a format name (native, ocsf, ...).")] = "auto",
    group: Annotated[
        str, typer.Option("--group", help="Consumer group whose offsets are committed.")
    ] = "idwatch",
    partitions: Annotated[
        str | None,
        typer.Option(
            "--partitions", help="Assign these partitions (e.g. 0,1, or 'all') instead of joining the group."
        ),
    ] = None,
    max_events: Annotated[
        int, typer.Option("--batch-events", help="A micro-batch closes at M records ...")
    ] = 50_000,
    max_seconds: Annotated[
        float, typer.Option("--batch-seconds", help="... or N seconds after its first.")
    ] = 5.0,
    queue_events: Annotated[
        int, typer.Option("--queue-events", help="Records fetched ahead before the consumer pauses.")
    ] = 100_000,
    alerts_topic: Annotated[
        str | None, typer.Option("--alerts-topic", help="Publish new alerts to this topic.")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST each new alert (JSON) to this URL.")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Micro-batch a topic into the store; offsets are committed only after a batch is stored."""
    from idwatch.stream.kafka import ALL, StreamConfig, consume
    from idwatch.stream.publish import Publisher

    chosen: list[int] | str | None = None
    if partitions:
        chosen = ALL if partitions.strip() == ALL else [int(p) for p in partitions.split(",")]
    cfg = StreamConfig(kafka, topic, group, fmt, max_events, max_seconds, chosen, queue_events)
    publisher = Publisher(kafka, alerts_topic, webhook) if (alerts_topic or webhook) else None

    def shown(result, batch) -> None:  # noqa: ANN001
        s = result.ingest
        err_console.print(
            f"batch: {s.records:,} records = {s.stored:,} stored + {s.duplicates:,} duplicate + "
            f"{s.quarantined:,} quarantined + {s.skipped:,} skipped; {len(result.new_alerts):,} new alerts"
        )

    try:
        consume(Store(store), cfg, publisher, on_batch=shown)
    except KeyboardInterrupt:
        err_console.print("stopped")
