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
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from idwatch.canonical import candidate_ips, canonical, conform, triage
from idwatch.enrich.ip import IpEnricher
from idwatch.enrich.useragent import parse_agents
from idwatch.ingest_progress import IngestProgress
from idwatch.seen_ids import SeenIds
from idwatch.sources import available_formats, get_format, sniff_format
from idwatch.sources.base import (
    MAX_RECORD_BYTES,
    QUARANTINE_SCHEMA,
    Chunk,
    Reader,
    expand_paths,
    new_block_dir,
    new_tmpdir,
    remove_tmpdir,
    row_json_sql,
)
from idwatch.sources.typed_json import TypedLines
from idwatch.sources.validate import validated_sql
from idwatch.store import DIRECTORY_SCHEMA, OTHER_SCHEMA, Store

#: What the parse thread hands back: the fast path's rows, the lines left for the careful path,
#: and the seconds it took.
_Parsed = tuple[pa.Table | None, pa.Table, float]

SNIFF_SAMPLE = 50  #: records per file the format sniffers look at
SNIFF_SCAN = 1_000  #: lines of a pending chunk decoded at most to find them (bad lines are skipped)


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
    #: files not read because their records are in no event format ({"file", "reason"})
    refused: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # wall seconds per step (tuning)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def balanced(self) -> bool:
        return self.records == self.stored + self.duplicates + self.quarantined + self.skipped


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    _session(con)
    # results come back in input order: the fast path pairs row i with line i. The setting is
    # global to the database (the parse thread's cursor shares it), so nothing switches it off
    con.execute("SET preserve_insertion_order = true")
    threads = os.environ.get("IDWATCH_THREADS")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _session(con: duckdb.DuckDBPyConnection) -> None:
    """The settings each connection (or cursor) of an ingest needs for itself."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")


def _sample_records(con: duckdb.DuckDBPyConnection, chunk: Chunk) -> list[dict]:
    """Up to SNIFF_SAMPLE decoded records (json.loads guarded: hostile input must not crash)."""
    if chunk.batch is not None:  # pending Parquet: the first rows (sniffers look at keys)
        return [dict(r) for r in chunk.batch.slice(0, SNIFF_SAMPLE).drop_columns(["_row"]).to_pylist()]
    texts: Iterable[Any]
    if chunk.lines is not None:  # pending JSON Lines: the first lines, decoded one by one
        head = chunk.lines.column("_bytes").slice(0, SNIFF_SCAN)
        texts = (b for b in (v.as_py() for v in head) if len(b) <= MAX_RECORD_BYTES + 2)
    else:
        texts = [r[0] for r in con.execute(f"SELECT _raw FROM {chunk.view} LIMIT {SNIFF_SAMPLE}").fetchall()]
    out: list[dict] = []
    for text in texts:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            out.append(value)
            if len(out) == SNIFF_SAMPLE:
                break
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
        self.typed: dict[str, TypedLines] = {}
        # the typed parse of the next chunk runs in this thread, on its own cursor, while the
        # main thread enriches and dedupes the current one (DuckDB and Arrow release the GIL)
        self._parse_con = self.con.cursor()
        _session(self._parse_con)
        self._parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="idwatch-parse")
        self._parse_seconds = 0.0
        self._blocks: Path | None = None  # the typed parser's block files (new_block_dir)
        self.seen = SeenIds(self.con)
        stored = store.existing_event_ids(self.con).column("event_id")
        if len(stored):  # distinct unless an older version stored one twice: keep the first
            self.seen.first_unseen(stored, np.arange(len(stored)))
        # skipped records are kept in the store's side table, idempotent like events
        self.seen_other = SeenIds(self.con)
        kept = store.existing_other_ids(self.con).column("event_id")
        if len(kept):
            self.seen_other.first_unseen(kept, np.arange(len(kept)))
        # one chunk's Parquet write runs in the background while the next chunk is parsed
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="idwatch-write")
        self._pending: Future[float] | None = None
        self._write_seconds = 0.0

    # ------------------------------------------------------------------ per chunk
    @contextlib.contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            stages = self.summary.stages
            stages[name] = round(stages.get(name, 0.0) + time.perf_counter() - start, 3)

    def parse_ahead(self, reader: Reader, chunk: Chunk, module: ModuleType) -> Future[_Parsed] | None:
        """Start the typed fast path of a pending chunk (JSON Lines or a Parquet batch) in the parse thread.

        None when the chunk has no such path (CSV, a format without one): :meth:`settle` then
        does all its work on the calling thread.
        """
        if chunk.batch is not None:
            if not hasattr(module, "arrow_select_sql"):
                return None

            def map_batch(batch: pa.Table = chunk.batch) -> _Parsed:
                start = time.perf_counter()
                return self._typed_batch(batch, module, self._parse_con), None, time.perf_counter() - start

            return self._parser.submit(map_batch)
        lines = chunk.lines
        fast = hasattr(module, "fast_select_sql") or hasattr(module, "fast_query_sql")
        if lines is None or not lines.num_rows or not fast:
            return None
        typed = self._typed_lines(module)

        expand = getattr(module, "fast_expand", None)  # rows a record adds (Entra's second factor)

        def parse(typed: TypedLines = typed, lines: pa.Table = lines) -> _Parsed:
            start = time.perf_counter()
            fast, rest = typed.read(lines)
            if fast is not None and expand is not None:
                fast = expand(fast)
            return fast, rest, time.perf_counter() - start

        return self._parser.submit(parse)

    def _typed_lines(self, module: ModuleType) -> TypedLines:
        """The format's typed JSON Lines reader, made once per run, on the parse thread's cursor."""
        typed = self.typed.get(module.NAME)
        if typed is None:

            def mapped_sql(src: str) -> str:
                if hasattr(module, "fast_query_sql"):  # a whole query (joins, skips of its own)
                    return f"({module.fast_query_sql(src)})"
                return f"(SELECT {module.fast_select_sql('r')}, NULL::VARCHAR AS _skip FROM {src} r)"

            def query(src: str) -> str:
                mapped = mapped_sql(src)
                # ``time`` and ``_error`` live on in ``_ts`` / ``_reject``: not worth converting.
                # A row the fast path rejects is re-read by the careful path, whose reasons
                # know the JSON type of every value (the fast path may have read it as text).
                return (
                    "SELECT * EXCLUDE (time, _error) "
                    "REPLACE (_careful OR _reject IS NOT NULL AS _careful) "
                    f"FROM ({validated_sql(mapped, 'VARCHAR')})"
                )

            columns = getattr(module, "FAST_TYPES", None) or module.FAST_COLUMNS
            if self._blocks is None:
                self._blocks = new_block_dir()
            careful = getattr(module, "CAREFUL_LINES", None)
            typed = TypedLines(self._parse_con, self._blocks, columns, query, careful)
            self.typed[module.NAME] = typed
        return typed

    def settle(
        self, reader: Reader, chunk: Chunk, module: ModuleType, parsing: Future[_Parsed] | None = None
    ) -> tuple[Chunk, pa.Table | None]:
        """A pending chunk's lines: the typed fast path where the format has one, the rest careful.

        ``parsing`` is the chunk's :meth:`parse_ahead`, started earlier (else it starts now).
        Returns the settled chunk (its view holds the lines the fast path left) and the fast
        path's rows, already validated (:data:`idwatch.canonical.VAL_SCHEMA`), or None.
        """
        if not chunk.pending:
            return chunk, None
        parsing = parsing or self.parse_ahead(reader, chunk, module)
        fast, rest = None, chunk.lines
        if parsing is not None:
            with self._stage("parse_wait"):
                fast, rest, seconds = parsing.result()
            self._parse_seconds += seconds
        if chunk.batch is not None:
            if fast is not None:
                return Chunk(chunk.file, "", 0, 0), fast
            with self._stage("read"):  # a column of another type: every row JSON, checked row by row
                return reader.settle(chunk), None
        with self._stage("read"):
            return reader.settle(chunk, rest), fast

    @staticmethod
    def _typed_batch(batch: pa.Table, module: ModuleType, con: duckdb.DuckDBPyConnection) -> pa.Table | None:
        """A Parquet batch mapped from its typed columns (no JSON parsing), validated; None if it can't."""
        mapped = module.arrow_select_sql("_batch", batch.schema, row_json_sql(batch.schema))
        if mapped is None:
            return None
        con.register("_batch", batch)
        try:
            time_type = con.execute(
                f"SELECT column_type FROM (DESCRIBE {mapped}) WHERE column_name = 'time'"
            ).fetchall()[0][0]
            return con.sql(validated_sql(f"({mapped})", time_type)).to_arrow_table()
        finally:
            con.unregister("_batch")

    def chunk(self, chunk: Chunk, module: ModuleType, fast: pa.Table | None = None) -> None:
        """Map and validate one chunk in DuckDB, then enrich, dedupe and store it in Arrow.

        ``fast`` holds rows the format's typed fast path already validated; they join the rows
        mapped from ``chunk.view``.
        """
        n_fast = fast.num_rows if fast is not None else 0
        self.summary.records += chunk.rejected
        self._quarantine(chunk.quarantine)
        if chunk.records + n_fast == 0:
            return
        parts = [conform(fast)] if fast is not None and n_fast else []
        if chunk.records:
            mapped = f"({module.select_sql(chunk.view)})"
            time_type = self.con.execute(
                f"SELECT column_type FROM (DESCRIBE SELECT * FROM {mapped}) WHERE column_name = 'time'"
            ).fetchall()
            with self._stage("map_validate"):
                sql = validated_sql(mapped, time_type[0][0] if time_type else "VARCHAR")
                parts.append(conform(self.con.sql(sql).to_arrow_table()))
        val = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
        # a record a format maps to several events (a Google activity's events, an envelope of
        # records, an Entra sign-in and its second factor) counts once per event: records are
        # what the format produced, each ending in exactly one bucket
        self.summary.records += val.num_rows
        self.formats_seen[module.NAME] += val.num_rows
        self._store(chunk.file, val, module.NAME)

    def _store(self, file: str, val: pa.Table, source_name: str) -> None:
        """Quarantine, count skips, enrich, dedupe (within the run and against the store), append."""
        with self._stage("enrich_ip"):
            rows = triage(val, self.ips.lookup_distinct(candidate_ips(val)))
        quarantine = rows.quarantine
        self._quarantine(
            pa.table(
                {
                    "file": pa.array([file] * quarantine.num_rows, pa.string()),
                    "line": quarantine.column("line"),
                    "reason": quarantine.column("reason"),
                    "raw": quarantine.column("raw").cast(pa.string()),
                },
                schema=QUARANTINE_SCHEMA,
            )
        )
        for kind, n in rows.skipped.items():
            self.skipped[kind] += n
            self.summary.skipped += n
        if rows.skipped:
            with self._stage("keep_skipped"):
                self._keep_skipped(val, source_name)
        good = rows.good.num_rows
        if good == 0:
            return
        with self._stage("dedupe"):
            eids = self._event_ids(rows.good)
            keep = self._first_unseen(eids, rows.good.column("_line"))
        table, info = rows.good, rows.ip_info
        if keep is not None:
            table, info, eids = table.filter(keep), info.filter(keep), pc.filter(eids, keep)
        if table.num_rows:
            with self._stage("enrich_ua"):
                agents = parse_agents(pc.unique(table.column("user_agent")).drop_null().to_pylist())
            with self._stage("canonical"):
                rows = canonical(table, info, eids, agents, source_name)
            self._append(rows)
            self.summary.stored += rows.num_rows
        self.summary.duplicates += good - table.num_rows

    def _keep_skipped(self, val: pa.Table, source_name: str) -> None:
        """Store the skipped rows of ``val`` in ``other/`` (each id once, across runs too).

        ``_skip`` reads ``<source>:<kind>``; the side table keeps the kind without its source.
        """
        mask = pc.and_(pc.is_valid(val.column("_skip")), pc.is_null(val.column("_reject")))
        rows = val.filter(mask)
        eids = self._event_ids(rows)
        keep = self.seen_other.first_unseen(eids, rows.column("_line").to_numpy())
        if not keep.any():
            return
        rows, eids = rows.filter(pa.array(keep)), pc.filter(eids, pa.array(keep))
        source = pc.coalesce(rows.column("source"), pa.scalar(source_name))
        skip = rows.column("_skip")
        prefixed = pc.starts_with(skip, pattern=source_name + ":")
        kind = pc.if_else(prefixed, pc.utf8_slice_codeunits(skip, len(source_name) + 1), skip)
        account = pc.utf8_lower(pc.utf8_trim(rows.column("account"), " "))
        stamp = int(time.time() * 1_000_000)
        table = pa.table(
            {
                "time": rows.column("_ts"),
                "event_id": eids,
                "source": source,
                "kind": kind,
                "tenant": rows.column("tenant"),
                "account": account,
                "src_ip": rows.column("src_ip"),
                "raw": rows.column("_raw"),
                "ingested_at": pa.array(np.full(rows.num_rows, stamp), pa.int64()),
            }
        )
        self.store.append_other(
            pa.Table.from_arrays(
                [pc.cast(table.column(f.name), f.type) for f in OTHER_SCHEMA], schema=OTHER_SCHEMA
            )
        )

    def _append(self, rows: pa.Table) -> None:
        """Write ``rows`` in the background (pyarrow releases the GIL) after the previous write.

        At most one write is in flight, so memory stays bounded by about two chunks; a write that
        fails raises here (or in :meth:`finish`), and the ingest stops with that error.
        """
        self._wait_write()

        def write() -> float:
            start = time.perf_counter()
            self.store.append_events(rows)
            return time.perf_counter() - start

        self._pending = self._writer.submit(write)

    def _wait_write(self) -> None:
        """Block until the write in flight (if any) is done; re-raise its error."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        with self._stage("write_wait"):
            self._write_seconds += pending.result()

    def close(self) -> None:
        """Let a parse and a write in flight finish (files are whole and renamed, or not there)."""
        self._parser.shutdown(wait=True)
        if self._blocks is not None:
            remove_tmpdir(self._blocks)
        try:
            self._wait_write()
        finally:
            self._writer.shutdown(wait=True)

    def _event_ids(self, good: pa.Table) -> pa.ChunkedArray:
        """Each row's event id; where the source has none, the SHA-256 of the record's text."""
        own = good.column("event_id")
        missing = pc.or_kleene(pc.is_null(own), pc.equal(own, ""))
        if not pc.any(missing).as_py():
            return own
        self.con.register("_noid", pa.table({"_raw": pc.filter(good.column("_raw"), missing)}))
        try:
            hashed = self.con.sql("SELECT sha256(_raw) AS h FROM _noid").to_arrow_table().column("h")
        finally:
            self.con.unregister("_noid")
        # ``replace_with_mask`` fills the masked slots in order with the hashes
        filled = pc.replace_with_mask(own.combine_chunks(), missing.combine_chunks(), hashed.combine_chunks())
        return pa.chunked_array([filled])

    def _first_unseen(self, eids: pa.ChunkedArray, lines: pa.ChunkedArray) -> pa.Array | None:
        """Mask of the rows to store (first occurrence of an id, not stored before); None = all."""
        keep = self.seen.first_unseen(eids, lines.to_numpy())
        return None if keep.all() else pa.array(keep)

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
        self.close()
        if self._write_seconds:
            self.summary.stages["write"] = round(self._write_seconds, 3)
        if self._parse_seconds:
            self.summary.stages["parse_validate"] = round(self._parse_seconds, 3)
        self.summary.skipped_by_kind = dict(self.skipped)
        self.summary.quarantined_by_reason = dict(self.quarantine_reasons)
        self.summary.formats = dict(self.formats_seen)
        self._parse_con.close()
        self.con.close()
        return self.summary


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
    shown = IngestProgress(inputs, progress)
    try:
        for inp in inputs:
            shown.start_file(inp)
            run.summary.files += 1
            module: ModuleType | None = run.forced
            # one chunk parses in the parse thread while the one before it is stored
            previous: tuple[Chunk, ModuleType, Future[_Parsed] | None] | None = None
            for chunk in _timed(reader.chunks(inp), run):
                shown.advance(chunk)
                if module is None:
                    sample = _sample_records(run.con, chunk)
                    module = sniff_format(sample, run.formats)
                    if module is None and sample:  # records, but of no event format: wrong file
                        run.summary.refused.append({"file": inp.name, "reason": not_events_reason(sample)})
                        reader.drop(chunk)
                        break
                    module = module or run.formats.get("native") or get_format("native")
                parsing = run.parse_ahead(reader, chunk, module)
                if previous is not None:
                    _settle_and_store(run, reader, *previous)
                previous = (chunk, module, parsing)
            if previous is not None:
                _settle_and_store(run, reader, *previous)
        summary = run.finish()
    finally:
        shown.stop()
        with contextlib.suppress(Exception):  # after an error: only wait for a write in flight
            run.close()
        remove_tmpdir(tmpdir)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def not_events_reason(sample: list[dict]) -> str:
    """Why a file whose records no format recognises is refused whole, not quarantined per record.

    Its records parse, so it is another kind of file (an account directory, labels, a STIX
    bundle, a report); quarantining each record as "missing required field" would hide that.
    """
    keys = sorted({k for r in sample for k in r})
    shown = ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "")
    if any(r.get("type") == "bundle" for r in sample):
        hint = "; it is a STIX bundle (use `idwatch intel import`)"
    elif "account" in keys and set(keys) <= set(DIRECTORY_SCHEMA.names) | {"contact"}:
        hint = "; it is an account directory (use `idwatch directory import`)"
    else:
        hint = ""
    return (
        f"not an events file: no record of it ({len(sample):,} read) is in an event format idwatch "
        f"reads (keys: {shown}); native events carry time, account, activity, outcome, src_ip "
        f"(docs/EVENTS.md section 1){hint}; --format FORMAT reads it anyway"
    )


def _settle_and_store(
    run: _Ingest, reader: Reader, chunk: Chunk, module: ModuleType, parsing: Future[_Parsed] | None
) -> None:
    settled, fast = run.settle(reader, chunk, module, parsing)
    run.chunk(settled, module, fast)
    reader.drop(settled)


def _timed(chunks: Iterator[Chunk], run: _Ingest) -> Iterator[Chunk]:
    """The reader's chunks, with the time spent reading / splitting them counted as ``read``."""
    while True:
        with run._stage("read"):
            chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk


__all__ = ["IngestSummary", "ingest_paths"]
