"""The detection engine: stage the store once, run every detection query, write alerts.

Incremental by a watermark (``state/detect_watermark.json``): a run looks at events newer
than the last run's end, or ingested after it, plus the longest look-back any selected detection
needs, and only keeps findings that end after the watermark. ``alert_id`` is a hash of the
detection id and the finding's key, and new rows replace old rows with the same id, so a
re-run never duplicates an alert.
"""

from __future__ import annotations

import logging
import os
import resource
import tempfile
import time as _time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from idwatch.detections import sessions_sql, sql, sql_reference
from idwatch.detections.indicators import indicator_rows
from idwatch.detections.known_state import stage_known
from idwatch.detections.model import OUTPUT_COLUMNS, Detection, load_library
from idwatch.engines.base import Engine
from idwatch.engines.staged import detection_rows, publish_staged, show_window, wrap_on_duckdb
from idwatch.schema import ALERT_SCHEMA
from idwatch.sigma.detect import PREFIX as SIGMA_PREFIX
from idwatch.sigma.detect import sigma_alert_tables
from idwatch.store import Store

log = logging.getLogger(__name__)

WATERMARK = "detect_watermark"
STATE_DIR = "detect"  # incremental baselines and risk counts (state/detect/), default runs only
#: Extra hours of risk scores kept beyond the longest look-back (a margin for clock skew).
KEEP_MARGIN_HOURS = 24
MAX_EVENT_IDS = 500  # evidence kept per alert; the rest is reachable through the key and time span
GEO_FILE = Path(__file__).parent / "data" / "country_centroids.txt"


@dataclass
class DetectSummary:
    """What one run did (the CLI prints it; ``--json`` dumps it)."""

    since: str | None = None
    until: str | None = None
    scan_start: str | None = None
    events_scanned: int = 0
    detections_run: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    alerts_by_detection: dict[str, int] = field(default_factory=dict)
    seconds_by_step: dict[str, float] = field(default_factory=dict)
    cpu_seconds_by_step: dict[str, float] = field(default_factory=dict)
    state: dict[str, str] = field(default_factory=dict)
    alerts_new: int = 0
    alerts_updated: int = 0
    alerts_total: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z") if ts else None


def _parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return (
            value.astimezone(UTC)
            if isinstance(value, datetime) and value.tzinfo
            else (value.replace(tzinfo=UTC) if isinstance(value, datetime) else None)
        )
    text = value.strip().replace("Z", "+00:00")
    ts = datetime.fromisoformat(text)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _detection_overrides(config: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return dict((config or {}).get("detections", {}) or {})


def select_detections(only: list[str] | None) -> list[Detection]:
    library = load_library()
    if not only:
        return library
    known = {d.id for d in library}
    unknown = [i for i in only if i not in known and not i.startswith(SIGMA_PREFIX)]
    if unknown:
        raise ValueError(f"unknown detection id(s): {', '.join(unknown)}")
    return [d for d in library if d.id in set(only)]


def _cpu() -> float:
    """CPU seconds of this process, all threads (wall time alone misleads on a shared machine)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class _Timer:
    """Wall and CPU seconds of one step, into the summary (``--json`` shows both)."""

    def __init__(self, summary: DetectSummary, name: str) -> None:
        self.summary, self.name = summary, name

    def __enter__(self) -> None:
        self.t0, self.c0 = _time.perf_counter(), _cpu()

    def __exit__(self, *exc: object) -> None:
        self.summary.seconds_by_step[self.name] = round(_time.perf_counter() - self.t0, 3)
        self.summary.cpu_seconds_by_step[self.name] = round(_cpu() - self.c0, 3)


def _scan_bounds(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    since: datetime | None,
    until: datetime | None,
    lookback: timedelta,
) -> tuple[datetime | None, datetime | None, datetime | None, datetime | None, dict[str, int]]:
    """(since_eff, until, scan_start, max_ingested, day_counts): the range whose findings are new.

    Events that arrived after the last run but belong before its end ("late") move the start
    back to them: found by ``ingested_at`` when set, and by comparing per-day event counts
    with the ones the last run saw (which also works when ``ingested_at`` is missing).
    """
    max_time, max_ing = con.execute("SELECT MAX(time), MAX(ingested_at) FROM events").fetchall()[0]
    if max_time is None:
        return None, None, None, None, {}
    until = until or max_time
    mark = (store.read_state_json(WATERMARK) or {}) if since is None else {}
    mark_until = _parse_time(mark["until"]) if mark.get("until") else until
    rows = con.execute(
        "SELECT CAST(CAST(time AS DATE) AS VARCHAR), count(*) FILTER (WHERE time <= ?), "
        "count(*) FILTER (WHERE time <= ?) FROM events WHERE time <= ? GROUP BY 1",
        [mark_until, until, max(mark_until, until)],
    ).fetchall()
    day_counts = {d: n for d, _, n in rows if n}
    since_eff = since
    if mark.get("until"):
        since_eff = mark_until
        if mark.get("ingested_at"):
            late = con.execute(
                "SELECT MIN(time) FROM events WHERE ingested_at > CAST(? AS TIMESTAMPTZ)",
                [mark["ingested_at"]],
            ).fetchall()[0][0]
            if late is not None and late < since_eff:
                since_eff = late
        seen = mark.get("day_counts")
        if isinstance(seen, dict):
            now = {d: n for d, n, _ in rows if n}
            changed = sorted(d for d in set(seen) | set(now) if seen.get(d, 0) != now.get(d, 0))
            if changed:
                since_eff = min(since_eff, datetime.fromisoformat(changed[0]).replace(tzinfo=UTC))
    scan_start = since_eff - lookback if since_eff else None
    return since_eff, until, scan_start, max_ing, day_counts


def _reference_wanted(reference: bool | None) -> bool:
    """The plain staging path (:mod:`sql_reference`): asked for, or ``IDWATCH_DETECT_REFERENCE=1``."""
    if reference is not None:
        return reference
    return os.environ.get("IDWATCH_DETECT_REFERENCE", "") not in ("", "0")


def _stage(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    scan_start: datetime | None,
    until: datetime | None,
    summary: DetectSummary,
    config: dict[str, Any] | None,
    keep_from: datetime | None = None,
    reference: bool = False,
) -> None:
    """Build the shared tables; ``keep_from`` set = a default run that reuses and updates the
    incremental state (``state/detect/``) and keeps risk scores from that instant on.
    ``reference``: the plain statements of :mod:`sql_reference` (same tables, slower)."""
    stage = sql_reference if reference else sql
    end = _iso(until)
    with _Timer(summary, "stage_events"):
        con.execute(stage.stage_events_sql("events", _iso(scan_start), end))
        sessions_sql.stage_sessions(con)  # a password step whose MFA failed is no sign-in
    with _Timer(summary, "stage_baseline"):
        if keep_from is not None and until is not None:
            summary.state["known"] = stage_known(
                con, store.state_dir / STATE_DIR, until=until, ev_from=scan_start
            )
        else:
            con.execute(stage.stage_known_sql(None if scan_start is None else "events", end))
        con.execute(stage.STAGE_ACCT_SQL)
    with _Timer(summary, "risk_model"):
        _stage_signin_risk(con, store, summary, config, scan_start, keep_from)
    with _Timer(summary, "stage_familiarity"):
        con.execute(stage.stage_evf_sql())
        if reference:
            con.execute(stage.UNFAMILIARITY_SQL)
        else:  # the tenant columns ride along the reputation rewrite: one copy of evf less
            con.execute(sessions_sql.TENANT_KNOWN_SQL)
            con.execute(sql.unfamiliarity_tenant_sql())
        con.execute("DROP TABLE IF EXISTS evf0")
        # tenant networks, MFA completions judged for relay
        sessions_sql.stage_relay(con, evf_tenant=reference)
    intel = indicator_rows(store.intel_bundles())
    con.register("__intel", intel)
    con.execute("CREATE OR REPLACE TEMP TABLE intel_indicators AS SELECT * FROM __intel")
    rows = [
        line.split()
        for line in GEO_FILE.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    geo = pa.table(
        {
            "country": [r[0] for r in rows],
            "lat": [float(r[1]) for r in rows],
            "lon": [float(r[2]) for r in rows],
        }
    )
    con.register("__geo", geo)
    con.execute("CREATE OR REPLACE TEMP TABLE geo_country AS SELECT * FROM __geo")


def _stage_signin_risk(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    summary: DetectSummary,
    config: dict[str, Any] | None,
    scan_start: datetime | None,
    keep_from: datetime | None,
) -> None:
    """Ask the risk model for ``signin_risk``; fall back to an empty table with a warning.

    Default runs score only the sign-ins new since the last run (``riskmodel_state``); others
    (``--since`` / ``--until`` / ``--only``) score the whole store and keep nothing.
    """
    try:
        from idwatch.detections import riskmodel

        params = (config or {}).get("riskmodel") or (config or {}).get("detections", {}).get("riskmodel")
        if keep_from is not None:
            from idwatch.detections.riskmodel_state import update_signin_risk

            update = update_signin_risk(
                con,
                store.state_dir / STATE_DIR / "riskmodel",
                params=params,
                need_from=scan_start,
                keep_from=keep_from,
            )
            summary.state["risk_model"] = update.reason or update.mode
        else:
            riskmodel.build_signin_risk(con, params=params, window=riskmodel.Window(narrow=True))
        con.execute("SELECT event_id, risk FROM signin_risk LIMIT 0")
    except Exception as exc:  # noqa: BLE001 - any failure of the model degrades, never aborts
        msg = f"login-risk model unavailable ({type(exc).__name__}: {exc}); risk-based checks skipped"
        summary.warnings.append(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
        con.execute(sql.EMPTY_SIGNIN_RISK_SQL)
        summary.skipped["signin_risk"] = msg


def limit_resources(con: duckdb.DuckDBPyConnection) -> None:
    """Bound DuckDB's memory (spilling to disk beyond it) on a machine shared with others.

    ``IDWATCH_MEMORY_LIMIT`` (e.g. ``8GB``; default 40 % of RAM) and ``IDWATCH_TEMP_DIR``
    (default: the system temporary folder) override the defaults.
    """
    con.execute("SET enable_progress_bar = false")  # the CLI prints its own summary
    limit = os.environ.get("IDWATCH_MEMORY_LIMIT")
    if not limit:
        try:
            ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            limit = f"{max(1, int(ram * 0.4) >> 20)}MB"
        except (ValueError, OSError, AttributeError):
            limit = None
    if limit:
        con.execute(f"SET memory_limit = '{limit}'")
    tmp = os.environ.get("IDWATCH_TEMP_DIR") or os.path.join(tempfile.gettempdir(), "idwatch-duckdb")
    con.execute(f"SET temp_directory = '{tmp.replace(chr(39), chr(39) * 2)}'")


_limit_resources = limit_resources


def _wrap(det: Detection, rendered: str) -> str:
    """Normalise one detection's rows into alert rows (DuckDB list clean-up lives here)."""

    def clean(col: str, cap: int | None = None) -> str:
        expr = f"list_sort(list_distinct(list_filter(q.{col}, lambda v: v IS NOT NULL)))"
        return f"list_slice({expr}, 1, {cap})" if cap else expr

    techniques = "[" + ", ".join(f"'{t}'" for t in det.techniques) + "]"
    title = det.title.replace("'", "''")
    return f"""
SELECT sha256('{det.id}|' || CAST(q.key AS VARCHAR)) AS alert_id,
       '{det.id}' AS detection_id, '{title}' AS title, '{det.stage}' AS stage,
       {techniques} AS techniques, '{det.severity}' AS severity,
       CAST(GREATEST(0, LEAST(100, ROUND(q.score))) AS INTEGER) AS score,
       CAST(q.first_seen AS TIMESTAMPTZ) AS first_seen, CAST(q.last_seen AS TIMESTAMPTZ) AS last_seen,
       q.tenant, {clean("accounts")} AS accounts, {clean("src_ips")} AS src_ips,
       CAST({clean("asns")} AS BIGINT[]) AS asns, {clean("user_agents")} AS user_agents,
       {clean("device_ids")} AS device_ids, {clean("contact_hashes")} AS contact_hashes,
       {clean("event_ids", MAX_EVENT_IDS)} AS event_ids, q.detail,
       CAST(now() AS TIMESTAMPTZ) AS created_at
FROM ({rendered}) q
"""


def _lookback(det: Detection, overrides: dict[str, dict[str, Any]]) -> timedelta:
    """How far before the new events ``det`` looks, with deployment overrides applied.

    The longest of its time parameters (``*_hours``, ``*_days``), ``lookback_hours`` included:
    a finding bucketed by a 72-hour window starts up to 72 hours before the first new event
    even if the file states a shorter look-back, and reading more never changes a result.
    """
    params, wl = det.effective_parameters(overrides.get(det.id))
    hours = [24.0]
    for name, value in [*params.items(), *wl.items()]:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if name.endswith("_hours"):
                hours.append(float(value))
            elif name.endswith("_days"):
                hours.append(24.0 * float(value))
    return timedelta(hours=max(hours))


class _LookbackViews:
    """Show each detection only the look-back it declares (``lookback_hours``).

    The staged ``ev`` / ``evf`` cover the longest look-back of the suite; on an incremental
    run most detections need a day, not a week. The staged tables are renamed ``*_all`` and
    ``ev`` / ``evf`` become views starting at ``since - lookback``, so a detection reads the
    same rows it would in a scan of its own (a first run, with no ``since``, sees everything).
    """

    TABLES = ("ev", "evf")

    def __init__(self, con: duckdb.DuckDBPyConnection, since: datetime | None, scan_start: datetime | None):
        self.con, self.since, self.scan_start = con, since, scan_start
        self.current: datetime | None = None
        if since is not None:
            for name in self.TABLES:
                con.execute(f"ALTER TABLE {name} RENAME TO {name}_all")

    def show(self, lookback: timedelta) -> bool:
        """True when the window moved (another engine must follow)."""
        if self.since is None:
            return False
        start = self.since - lookback
        if self.scan_start is not None and start < self.scan_start:
            start = self.scan_start
        if start == self.current:
            return False
        for name in self.TABLES:
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_all "
                f"WHERE time >= CAST('{start.isoformat()}' AS TIMESTAMPTZ)"
            )
        self.current = start
        return True


def run_detection(
    con: duckdb.DuckDBPyConnection,
    det: Detection,
    overrides: dict[str, Any] | None = None,
    engine: Engine | None = None,
) -> pa.Table:
    """Run one detection over already staged tables; returns ALERT_SCHEMA rows.
    ``engine``: run the detection's query there (its staged tables published), wrap it here."""
    rendered = det.render(overrides)
    cols = [c for c, *_ in con.execute(f"DESCRIBE SELECT * FROM ({rendered}) q").fetchall()]
    missing = [c for c in OUTPUT_COLUMNS if c not in cols]
    if missing:
        raise ValueError(f"{det.id}: query does not return {missing}")
    if engine is not None and engine.name != "duckdb":
        rows = detection_rows(engine, f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM ({rendered}) q")
        return wrap_on_duckdb(_wrap(det, "SELECT * FROM __rows"), rows).cast(ALERT_SCHEMA)
    return con.sql(_wrap(det, rendered)).to_arrow_table().cast(ALERT_SCHEMA)


def stage_store(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    *,
    scan_start: datetime | None = None,
    until: datetime | None = None,
    config: dict[str, Any] | None = None,
) -> DetectSummary:
    """Build the shared tables (``ev``, ``known``, ``acct``, ``evf``, ...) in ``con``."""
    summary = DetectSummary()
    con.execute("SET preserve_insertion_order = false")
    _stage(con, store, scan_start, until, summary, config)
    return summary


def _merge_alerts(store: Store, new: pa.Table, summary: DetectSummary) -> pa.Table:
    old = store.read_state_table("alerts")
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.register("new_", new)
    if old is None or old.num_rows == 0:
        merged = new
        summary.alerts_new = new.num_rows
    else:
        con.register("old_", old.cast(ALERT_SCHEMA))
        summary.alerts_updated = con.execute(
            "SELECT COUNT(*) FROM new_ WHERE alert_id IN (SELECT alert_id FROM old_)"
        ).fetchall()[0][0]
        summary.alerts_new = new.num_rows - summary.alerts_updated
        merged = con.sql(
            """
            SELECT n.* REPLACE (COALESCE(o.created_at, n.created_at) AS created_at)
            FROM new_ n LEFT JOIN old_ o USING (alert_id)
            UNION ALL
            SELECT * FROM old_ WHERE alert_id NOT IN (SELECT alert_id FROM new_)
            """
        ).to_arrow_table()
    con.register("merged_", merged)
    ordered = con.sql("SELECT * FROM merged_ ORDER BY first_seen, detection_id, alert_id")
    return ordered.to_arrow_table().cast(ALERT_SCHEMA)


def run_detections(
    store: Store,
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    only: list[str] | None = None,
    config: dict[str, Any] | None = None,
    threads: int | None = None,
    reference: bool | None = None,
    on_detection: Callable[[str, int, int], None] | None = None,
    engine: Engine | None = None,
) -> DetectSummary:
    """Run the detection suite over the store and write ``state/alerts.parquet``.

    ``reference``: stage the shared tables the plain way (:mod:`sql_reference`; default from
    ``IDWATCH_DETECT_REFERENCE``), which must give the very same alerts, only slower.
    ``on_detection(id, done, total)`` is called after each detection (the CLI's progress bar).
    ``engine``: run each detection's query on that engine (:mod:`idwatch.engines`); staging stays here.
    """
    t0 = _time.perf_counter()
    dets = select_detections(only)
    overrides = _detection_overrides(config)
    con = store.connect(threads=threads)
    _limit_resources(con)
    con.execute("SET preserve_insertion_order = false")
    lookback = max((_lookback(d, overrides) for d in dets), default=timedelta(hours=24))
    since_eff, until_eff, scan_start, max_ing, day_counts = _scan_bounds(
        con, store, _parse_time(since), _parse_time(until), lookback
    )
    summary = DetectSummary()
    if until_eff is None:
        summary.warnings.append("the store has no events")
        if store.read_state_table("alerts") is None:
            store.write_state_table("alerts", ALERT_SCHEMA.empty_table())
        summary.seconds = round(_time.perf_counter() - t0, 3)
        return summary
    summary.since, summary.until, summary.scan_start = _iso(since_eff), _iso(until_eff), _iso(scan_start)
    default_run = since is None and until is None and not only
    keep_from = until_eff - lookback - timedelta(hours=KEEP_MARGIN_HOURS) if default_run else None
    _stage(con, store, scan_start, until_eff, summary, config, keep_from, _reference_wanted(reference))
    summary.events_scanned = con.execute("SELECT COUNT(*) FROM ev").fetchall()[0][0]
    risk_ok = "signin_risk" not in summary.skipped
    tables: list[pa.Table] = []
    windows = _LookbackViews(con, since_eff, scan_start)
    if engine is not None and engine.name != "duckdb":
        with _Timer(summary, "publish_staged"):
            publish_staged(con, engine, store)
    for det in sorted(dets, key=lambda d: -_lookback(d, overrides)):
        if "signin_risk" in det.requires and not risk_ok:
            summary.skipped[det.id] = "needs the login-risk model (signin_risk), which is unavailable"
            continue
        if windows.show(_lookback(det, overrides)) and engine is not None and engine.name != "duckdb":
            show_window(engine, windows.TABLES, windows.current.isoformat())  # type: ignore[union-attr]
        with _Timer(summary, det.id):
            table = run_detection(con, det, overrides.get(det.id), engine)
        if since_eff is not None:
            table = table.filter(pc.greater_equal(table["last_seen"], pa.scalar(since_eff)))
        summary.detections_run.append(det.id)
        summary.alerts_by_detection[det.id] = table.num_rows
        tables.append(table)
        if on_detection is not None:
            on_detection(det.id, len(summary.detections_run) + len(summary.skipped), len(dets))
    tables += sigma_alert_tables(  # imported Sigma rules (kept records may be newer than until_eff)
        con, store, summary, since=since_eff, scan_from=scan_start, until=_parse_time(until), only=only
    )
    new = pa.concat_tables(tables) if tables else ALERT_SCHEMA.empty_table()
    merged = _merge_alerts(store, new, summary)
    store.write_state_table("alerts", merged)
    summary.alerts_total = merged.num_rows
    if default_run:
        store.write_state_json(
            WATERMARK, {"until": _iso(until_eff), "ingested_at": _iso(max_ing), "day_counts": day_counts}
        )
    summary.seconds = round(_time.perf_counter() - t0, 3)
    log.info("detect: %s", summary.to_dict())
    return summary
