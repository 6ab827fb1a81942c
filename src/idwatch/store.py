"""The event store: an append-only, day-partitioned Parquet dataset plus analysis state.

Layout of a store directory::

    events/day=YYYY-MM-DD/part-*.parquet   canonical events (STORED_EVENT_SCHEMA)
    other/day=YYYY-MM-DD/part-*.parquet    valid records of kinds idwatch does not model (OTHER_SCHEMA)
    quarantine/*.jsonl                    rejected records with their reason
    state/<name>.parquet | <name>.json     alerts, incidents, campaigns, watermarks ...
    directory.parquet                      EVENTS.md section 2
    intel/*.json                           imported STIX 2.1 bundles

Every file is written under a temporary name and renamed into place, so a process killed
at any moment leaves only whole files behind; readers never see ``.tmp`` files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from idwatch.schema import ALERT_SCHEMA, STORED_EVENT_SCHEMA, TIME_TYPE

DEFAULT_STORE = "./idwatch-data"

#: Skipped records, kept (view ``other_events``): a vendor record of a kind with no canonical
#: activity (a Google government-backed attack warning, a Drive edit, a sign-up) is not lost,
#: and later stages can read it by ``kind``. ``time`` is null when the record's time did not parse.
OTHER_SCHEMA = pa.schema(
    [
        pa.field("time", TIME_TYPE),
        pa.field("event_id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("tenant", pa.string()),
        pa.field("account", pa.string()),
        pa.field("src_ip", pa.string()),
        pa.field("raw", pa.large_string()),
        pa.field("ingested_at", TIME_TYPE),
    ]
)


class StoreError(RuntimeError):
    """The store cannot be opened or written (not a bad record: a broken store)."""


def resolve_store_path(store: str | os.PathLike[str] | None) -> Path:
    """``--store``, else ``$IDWATCH_STORE``, else ``./idwatch-data`` (EVENTS.md section 6)."""
    if store:
        return Path(store)
    return Path(os.environ.get("IDWATCH_STORE") or DEFAULT_STORE)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _event_ids_of(files: list[Path], con: duckdb.DuckDBPyConnection | None) -> pa.Table:
    """The ``event_id`` column of these Parquet files (empty table when there are none)."""
    if not files:
        return pa.table({"event_id": pa.array([], pa.string())})
    own = con or duckdb.connect(":memory:")
    listing = ", ".join(_sql_str(str(p)) for p in files)
    return own.sql(f"SELECT event_id FROM read_parquet([{listing}])").to_arrow_table()


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_MICROS_PER_DAY = 86_400_000_000
#: A day file being written: hidden, and not ``*.parquet``, so no reader lists it.
_STAGED_PREFIX, _STAGED_SUFFIX = ".part-", ".parquet.tmp"
_UNIQUE_PER_EVENT = ("time", "event_id", "raw", "ingested_at", "account", "device_id", "session_id")
_UNIQUE_PER_EVENT += ("contact_hash", "detail")
#: Event columns with few distinct values: dictionary-encoded. The others (ids, raw text,
#: times) are unique per event, where a dictionary is wasted work.
_EVENT_DICT_COLUMNS = [f.name for f in STORED_EVENT_SCHEMA if f.name not in _UNIQUE_PER_EVENT]


#: Columns whose min / max can prune a scan; the statistics of long unique text are wasted work.
_EVENT_STATS_COLUMNS = [
    f.name
    for f in STORED_EVENT_SCHEMA
    if f.name not in ("raw", "event_id", "user_agent", "device_id", "session_id", "detail", "contact_hash")
]


def _write_events_file(path: Path, table: pa.Table) -> None:
    """One day's events as a Parquet file (zstd level 1: cheap to write, small), fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=1,
        use_dictionary=_EVENT_DICT_COLUMNS,
        write_statistics=_EVENT_STATS_COLUMNS,
    )
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _day_slices(table: pa.Table, days: np.ndarray) -> list[tuple[np.int64, pa.Table]]:
    """``(day number, rows of that day)`` for each day in ``table``.

    Logs in time order hold one day or a few runs of days: those are sliced without a copy.
    Rows of many days mixed together are put in day order with one ``take`` (one copy of the
    table) and sliced, instead of one filter per day scanning the whole table each time.
    """
    if len(days) and (days[0] == days).all():  # one day (logs in time order): no copy
        return [(days[0], table)]
    if not (np.diff(days) >= 0).all():
        order = np.argsort(days, kind="stable")
        table, days = table.take(pa.array(order)), days[order]
    starts = np.flatnonzero(np.concatenate(([True], days[1:] != days[:-1])))
    ends = np.append(starts[1:], len(days))
    return [(days[a], table.slice(int(a), int(b - a))) for a, b in zip(starts, ends, strict=True)]


class Store:
    """A store directory. Cheap to create; opens DuckDB connections on demand."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        self.root = resolve_store_path(root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"store path {self.root} exists and is not a directory")
        if create:
            try:
                for sub in ("events", "quarantine", "state", "intel"):
                    (self.root / sub).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create store at {self.root}: {exc}") from exc

    # ---------------------------------------------------------------- paths
    @property
    def events_dir(self) -> Path:
        return self.root / "events"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def other_dir(self) -> Path:
        return self.root / "other"

    def other_files(self) -> list[Path]:
        return sorted(self.other_dir.glob("day=*/*.parquet"))

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def intel_dir(self) -> Path:
        return self.root / "intel"

    @property
    def directory_path(self) -> Path:
        return self.root / "directory.parquet"

    def event_files(self) -> list[Path]:
        return sorted(self.events_dir.glob("day=*/*.parquet"))

    def has_events(self) -> bool:
        return any(True for _ in self.events_dir.glob("day=*/*.parquet"))

    # ---------------------------------------------------------------- reading
    def connect(self, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with the store's views registered.

        Views: ``events``, ``directory``, ``alerts`` and every other ``state/*.parquet``
        table by its file name. A view over data that does not exist yet is an empty
        table with the right columns, so queries never fail on a fresh store.
        """
        con = duckdb.connect(":memory:")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.execute("SET TimeZone = 'UTC'")
        self._register_parquet_view(con, "events", self.event_files(), STORED_EVENT_SCHEMA)
        self._register_parquet_view(con, "other_events", self.other_files(), OTHER_SCHEMA)
        directory = [self.directory_path] if self.directory_path.exists() else []
        self._register_parquet_view(con, "directory", directory, DIRECTORY_SCHEMA)
        for path in sorted(self.state_dir.glob("*.parquet")):
            self._register_parquet_view(con, path.stem, [path], None)
        if not (self.state_dir / "alerts.parquet").exists():
            self._register_parquet_view(con, "alerts", [], ALERT_SCHEMA)
        return con

    @staticmethod
    def _register_parquet_view(
        con: duckdb.DuckDBPyConnection, name: str, files: list[Path], schema: pa.Schema | None
    ) -> None:
        if files:
            listing = ", ".join(_sql_str(str(p)) for p in files)
            con.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT * EXCLUDE (day) "
                f"FROM read_parquet([{listing}], hive_partitioning = true, union_by_name = true)"
                if name in ("events", "other_events")
                else f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet([{listing}])"
            )
        elif schema is not None:
            con.register(f"__empty_{name}", schema.empty_table())
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM __empty_{name}")

    # ---------------------------------------------------------------- events
    def existing_event_ids(self, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        """All stored event ids (one column ``event_id``)."""
        return _event_ids_of(self.event_files(), con)

    def append_events(self, table: pa.Table) -> int:
        """Write already-deduplicated canonical events, one new file per day, atomically.

        Each day's rows are written by pyarrow, days in parallel threads (pyarrow releases the
        GIL), to a hidden temporary file in its day folder (readers only list ``*.parquet``),
        fsynced, and renamed once every day of the batch is written. A crash leaves whole files
        only: re-running the ingest stores exactly what is missing, because it skips the event
        ids already stored; :meth:`clean_staging` removes the temporary files of a killed run.
        """
        if table.num_rows == 0:
            return 0
        table = table.select(STORED_EVENT_SCHEMA.names).cast(STORED_EVENT_SCHEMA)
        micros = table.column("time").combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
        days = micros // _MICROS_PER_DAY
        stamp = uuid.uuid4().hex
        parts = _day_slices(table, days)
        written: list[tuple[Path, Path]] = []

        def write_day(part: tuple[np.int64, pa.Table]) -> None:
            folder = self.events_dir / f"day={np.datetime64(int(part[0]), 'D')}"
            tmp = folder / f"{_STAGED_PREFIX}{stamp}{_STAGED_SUFFIX}"
            written.append((tmp, folder / f"part-{stamp}-part-0.parquet"))
            _write_events_file(tmp, part[1])

        try:
            with ThreadPoolExecutor(max_workers=min(len(parts), os.cpu_count() or 1)) as pool:
                list(pool.map(write_day, parts))
            for tmp, target in written:
                os.replace(tmp, target)
        except BaseException:
            for tmp, _ in written:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            raise
        return table.num_rows

    # ---------------------------------------------------------------- skipped records, kept
    def existing_other_ids(self, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        """The ids of the kept skipped records (one column ``event_id``)."""
        return _event_ids_of(self.other_files(), con)

    def append_other(self, table: pa.Table) -> int:
        """Write already-deduplicated skipped records (OTHER_SCHEMA), one file per day, atomically.

        Records whose time did not parse go to ``day=undated``.
        """
        if table.num_rows == 0:
            return 0
        table = table.select(OTHER_SCHEMA.names).cast(OTHER_SCHEMA)
        micros = table.column("time").combine_chunks().cast(pa.int64()).fill_null(-(1 << 62))
        days = micros.to_numpy(zero_copy_only=False) // _MICROS_PER_DAY
        stamp = uuid.uuid4().hex
        written: list[tuple[Path, Path]] = []
        try:
            for day, part in _day_slices(table, days):
                name = "undated" if day < -(1 << 40) else str(np.datetime64(int(day), "D"))
                folder = self.other_dir / f"day={name}"
                tmp = folder / f"{_STAGED_PREFIX}{stamp}{_STAGED_SUFFIX}"
                written.append((tmp, folder / f"part-{stamp}-part-0.parquet"))
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(part, tmp, compression="zstd", compression_level=1)
            for tmp, target in written:
                os.replace(tmp, target)
        except BaseException:
            for tmp, _ in written:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            raise
        return table.num_rows

    def clean_staging(self, older_than_s: float = 3600.0) -> None:
        """Remove the temporary day files a killed ingest left behind (never visible to readers).

        Only old ones: a young file may belong to an ingest still running.
        """
        now = time.time()
        for path in self.events_dir.glob(".staging-*"):  # left by versions that staged in a folder
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > older_than_s:
                    shutil.rmtree(path, ignore_errors=True)
        staged = [
            *self.events_dir.glob(f"day=*/{_STAGED_PREFIX}*{_STAGED_SUFFIX}"),
            *self.other_dir.glob(f"day=*/{_STAGED_PREFIX}*{_STAGED_SUFFIX}"),
        ]
        for path in staged:
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > older_than_s:
                    path.unlink()

    # ---------------------------------------------------------------- quarantine
    def quarantine(self, records: Iterable[dict[str, Any]], *, batch_name: str | None = None) -> Path | None:
        """Write rejected records (source, line, reason, raw) to one JSONL file."""
        lines = [json.dumps(r, ensure_ascii=False, default=str) for r in records]
        if not lines:
            return None
        path = self.quarantine_dir / f"{batch_name or uuid.uuid4().hex}.jsonl"
        atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
        return path

    # ---------------------------------------------------------------- state
    def write_state_table(self, name: str, table: pa.Table) -> Path:
        path = self.state_dir / f"{name}.parquet"
        atomic_write_parquet(path, table)
        return path

    def read_state_table(self, name: str) -> pa.Table | None:
        path = self.state_dir / f"{name}.parquet"
        return pq.read_table(path) if path.exists() else None

    def write_state_json(self, name: str, obj: Any) -> Path:
        path = self.state_dir / f"{name}.json"
        atomic_write_bytes(path, json.dumps(obj, indent=2, default=str).encode("utf-8"))
        return path

    def read_state_json(self, name: str, default: Any = None) -> Any:
        path = self.state_dir / f"{name}.json"
        if not path.exists():
            return default
        return json.loads(path.read_text("utf-8"))

    # ---------------------------------------------------------------- directory / intel
    def write_directory(self, table: pa.Table) -> None:
        atomic_write_parquet(self.directory_path, table.cast(DIRECTORY_SCHEMA))

    def intel_bundles(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text("utf-8")) for p in sorted(self.intel_dir.glob("*.json"))]


DIRECTORY_SCHEMA = pa.schema(
    [
        pa.field("account", pa.string()),
        pa.field("tenant", pa.string()),
        pa.field("display_name", pa.string()),
        pa.field("category", pa.string()),
        pa.field("watchlist", pa.bool_()),
        pa.field("home_country", pa.string()),
        pa.field("contact_hash", pa.string()),
        pa.field("notify", pa.string()),
    ]
)
