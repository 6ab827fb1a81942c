"""The whole ingest: inputs -> format -> validation -> enrichment -> dedupe -> store.

Every record read ends in exactly one bucket (stored, duplicate, quarantined, skipped), so
``records == stored + duplicates + quarantined + skipped`` always holds. All per-event work
runs in DuckDB over whole chunks; Python touches only distinct IPs and user agents.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

import duckdb
import pyarrow as pa

from idwatch.enrich.ip import IpEnricher
from idwatch.enrich.useragent import parse_agents
from idwatch.schema import STORED_EVENT_SCHEMA
from idwatch.sources import available_formats, get_format, sniff_format
from idwatch.sources.base import (
    QUARANTINE_SCHEMA,
    Chunk,
    Reader,
    expand_paths,
    new_tmpdir,
    remove_tmpdir,
)
from idwatch.sources.validate import ip_reject_sql, validated_sql
from idwatch.store import Store

SNIFF_SAMPLE = 50  #: records per file the format sniffers look at


@dataclass
class IngestSummary:
    """What one ingest did. ``records == stored + duplicates + quarantined + skipped``."""

    records: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: int = 0
    skipped_by_kind: dict[str, int] = field(default_factory=dict)
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    files: int = 0
    formats: dict[str, int] = field(default_factory=dict)  # records per format
    quarantine_files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # wall seconds per step (tuning)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def balanced(self) -> bool:
        return self.records == self.stored + self.duplicates + self.quarantined + self.skipped


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    threads = os.environ.get("IDWATCH_THREADS")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _sample_records(con: duckdb.DuckDBPyConnection, view: str) -> list[dict]:
    """Up to SNIFF_SAMPLE decoded records (json.loads guarded: hostile input must not crash)."""
    rows = con.execute(f"SELECT _raw FROM {view} LIMIT {SNIFF_SAMPLE}").fetchall()
    out: list[dict] = []
    for (text,) in rows:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


class _Ingest:
    """State of one ingest run (one DuckDB connection, the ids seen so far)."""

    def __init__(self, store: Store, fmt: str, ip_enricher: IpEnricher | None) -> None:
        self.store = store
        self.fmt = fmt
        self.forced: ModuleType | None = None if fmt == "auto" else get_format(fmt)
        self.formats = available_formats()
        self.con = _connect()
        self.ips = ip_enricher or IpEnricher()
        self.summary = IngestSummary()
        store.clean_staging()
        self.quarantine_reasons: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.formats_seen: Counter[str] = Counter()
        self.con.register("_stored_ids", store.existing_event_ids(self.con))
        self.con.execute("CREATE TEMP TABLE _seen AS SELECT DISTINCT event_id FROM _stored_ids")
        self.con.unregister("_stored_ids")

    # ------------------------------------------------------------------ per chunk
    @contextlib.contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            stages = self.summary.stages
            stages[name] = round(stages.get(name, 0.0) + time.perf_counter() - start, 3)

    def chunk(self, chunk: Chunk, module: ModuleType) -> None:
        """Map, validate, enrich, dedupe and store one chunk (all in DuckDB)."""
        con = self.con
        self.summary.records += chunk.records + chunk.rejected
        self._quarantine(chunk.quarantine)
        if chunk.records == 0:
            return
        self.formats_seen[module.NAME] += chunk.records
        mapped = f"({module.select_sql(chunk.view)})"
        time_type = con.execute(
            f"SELECT column_type FROM (DESCRIBE SELECT * FROM {mapped}) WHERE column_name = 'time'"
        ).fetchall()
        with self._stage("map_validate"):
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _val AS "
                + validated_sql(mapped, time_type[0][0] if time_type else "VARCHAR")
            )
        with self._stage("enrich_ip"):
            self._ip_table()
        ip_reject = ip_reject_sql("i.ip", "v.src_ip")
        rejected = con.sql(
            f"""SELECT v._file AS file, v._line AS line, coalesce(v._reject, {ip_reject}) AS reason,
                   v._raw AS raw
            FROM _val v LEFT JOIN _ipcheck i ON i.src_ip = v.src_ip
            WHERE v._reject IS NOT NULL OR (v._skip IS NULL AND i.ip IS NULL)
            ORDER BY v._line"""
        ).to_arrow_table()
        self._quarantine(rejected.cast(QUARANTINE_SCHEMA))
        for kind, n in con.execute(
            "SELECT _skip, count(*) FROM _val WHERE _reject IS NULL AND _skip IS NOT NULL GROUP BY 1"
        ).fetchall():
            self.skipped[kind] += n
            self.summary.skipped += n
        self._store(chunk, module.NAME)

    def _ip_table(self) -> None:
        """``_ipcheck``: every distinct ``src_ip`` of the chunk, validated and enriched once."""
        distinct = self.con.sql(
            "SELECT DISTINCT src_ip FROM _val WHERE _reject IS NULL AND _skip IS NULL"
        ).to_arrow_table()
        self.con.register("_ipcheck", self.ips.lookup(distinct.column(0).to_pylist()))

    def _agents(self) -> None:
        agents = self.con.sql(
            "SELECT DISTINCT user_agent FROM _good WHERE user_agent IS NOT NULL"
        ).to_arrow_table()
        self.con.register("_uacheck", parse_agents(agents.column(0).to_pylist()))

    def _store(self, chunk: Chunk, source_name: str) -> None:
        """Dedupe the good rows (within the chunk and against the store) and append them."""
        con = self.con
        con.execute(
            """CREATE OR REPLACE TEMP VIEW _good AS
            SELECT v.* FROM _val v JOIN _ipcheck i ON i.src_ip = v.src_ip
            WHERE v._reject IS NULL AND v._skip IS NULL AND i.ip IS NOT NULL"""
        )
        good, distinct = con.execute("SELECT count(*), count(DISTINCT _eid) FROM _good").fetchall()[0]
        if good == 0:
            return
        seen = con.execute("SELECT count(*) FROM _good WHERE _eid IN (SELECT event_id FROM _seen)").fetchall()
        rows = "_good"
        if seen[0][0]:
            rows = f"(SELECT * FROM {rows} WHERE _eid NOT IN (SELECT event_id FROM _seen))"
        if distinct < good:
            rows = f"(SELECT * FROM {rows} QUALIFY row_number() OVER (PARTITION BY _eid ORDER BY _line) = 1)"
        with self._stage("enrich_ua"):
            self._agents()
        select = ", ".join(_final_columns(source_name))
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW _final AS
            SELECT {select}
            FROM {rows} g
            LEFT JOIN _ipcheck i ON i.src_ip = g.src_ip
            LEFT JOIN _uacheck u ON u.user_agent = g.user_agent"""
        )
        with self._stage("write"):
            stored = self.store.append_query(con, "_final")
        con.execute(f"INSERT INTO _seen SELECT DISTINCT _eid FROM {rows}")
        self.summary.stored += stored
        self.summary.duplicates += good - stored

    def _quarantine(self, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        self.summary.quarantined += rows.num_rows
        for reason in rows.column("reason").to_pylist():
            self.quarantine_reasons[str(reason).split(":", 1)[0]] += 1
        records = rows.to_pylist()
        digest = hashlib.sha256(
            json.dumps(records, ensure_ascii=False, sort_keys=True).encode("utf-8", "surrogatepass")
        ).hexdigest()[:32]
        path = self.store.quarantine(records, batch_name=digest)
        if path is not None:
            self.summary.quarantine_files.append(str(path))

    def finish(self) -> IngestSummary:
        self.summary.skipped_by_kind = dict(self.skipped)
        self.summary.quarantined_by_reason = dict(self.quarantine_reasons)
        self.summary.formats = dict(self.formats_seen)
        self.con.close()
        return self.summary


def _final_columns(source_name: str) -> list[str]:
    """The canonical SELECT list over ``g`` (validated rows), ``i`` (IP), ``u`` (UA)."""
    exprs = {
        "time": "g._ts",
        "event_id": "g._eid",
        "source": f"coalesce(g.source, '{source_name}')",
        "account": "lower(trim(g.account))",
        "src_ip": "i.ip",
        "country": "coalesce(upper(nullif(trim(g.country), '')), i.country)",
        "asn": "coalesce(g.asn, i.asn)",
        "asn_org": "coalesce(nullif(g.asn_org, ''), i.asn_org)",
        "network_type": "coalesce(g.network_type, i.network_type)",
        "raw": "g._raw",
        "ua_family": "u.ua_family",
        "ua_os": "u.ua_os",
        "ingested_at": "now()",
    }
    out = []
    for f in STORED_EVENT_SCHEMA:
        expr = exprs.get(f.name, f"g.{f.name}")
        sql_type = {"int64": "BIGINT", "bool": "BOOLEAN", "string": "VARCHAR"}.get(str(f.type), "TIMESTAMPTZ")
        out.append(f"CAST({expr} AS {sql_type}) AS {f.name}")
    return out


def ingest_paths(
    store: Store,
    paths: list[str],
    fmt: str = "auto",
    progress: bool = False,
    *,
    ip_enricher: IpEnricher | None = None,
) -> IngestSummary:
    """Ingest files / folders / ``-`` into ``store``; see :class:`IngestSummary`.

    ``fmt`` is ``auto`` (sniffed per file) or a format name (``native``, ``ocsf``, ...).
    Raises :class:`idwatch.sources.base.SourceError` when an input cannot be read at all.
    """
    started = time.perf_counter()
    inputs = expand_paths(paths)
    run = _Ingest(store, fmt, ip_enricher)
    tmpdir = new_tmpdir()
    reader = Reader(run.con, tmpdir)
    try:
        for inp in _progress(inputs, progress):
            run.summary.files += 1
            module: ModuleType | None = run.forced
            for chunk in _timed(reader.chunks(inp), run):
                if module is None:
                    module = sniff_format(_sample_records(run.con, chunk.view), run.formats)
                    module = module or run.formats.get("native") or get_format("native")
                run.chunk(chunk, module)
                reader.drop(chunk)
        summary = run.finish()
    finally:
        remove_tmpdir(tmpdir)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _timed(chunks: Iterator[Chunk], run: _Ingest) -> Iterator[Chunk]:
    """The reader's chunks, with the time spent reading / splitting them counted as ``read``."""
    while True:
        with run._stage("read"):
            chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk


def _progress(inputs: list, enabled: bool):  # noqa: ANN202 - a plain iterator either way
    if not enabled or len(inputs) < 2:
        return inputs
    from rich.progress import track

    return track(inputs, description="ingesting", transient=True)


__all__ = ["IngestSummary", "ingest_paths"]
