"""Ingest throughput per vendor format, against native JSON Lines of the same events.

    python bench/ingest_vendors.py [--n 100000] [--native events.jsonl] [--formats entra,okta,...]

Native events come from ``--native`` (e.g. ``idwatch simulate`` output) or a synthetic mix of
sign-ins, MFA, resets and mailbox rules. Entra records are the native events converted by
``tests/sources/entra_convert.py`` (Graph signIn / directoryAudit objects); the other vendors'
records are their test fixtures replicated with fresh ids and the native events' times and
accounts. Each file is ingested into a fresh store (parse, map, validate, enrich, dedupe,
write Parquet) and the wall time is reported as events/s and as a ratio to native. With
``--repeat N`` every format, native included, is ingested N times in turn (native, vendor, ...,
native, vendor, ...) and the fastest run of each counts: on a shared machine that filters other
processes' load the same way for all formats; the first round's ratio is printed beside it, and
the process CPU seconds (all threads, least of the runs) with their ratio per event to native,
which load disturbs less than wall time (a format that spreads its work over both cores gains
nothing there). ``paired`` is the median over rounds of the ratio vendor / native of the SAME round
(both ran back to back under the same load), the figure least moved by other processes. With
``--memory`` each format is also ingested once in a fresh child process, whose peak resident set
(interpreter and imports included, the ``baseline`` row) is printed in MB.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from idwatch.ingest import ingest_paths
from idwatch.store import Store

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "sources" / "fixtures"
VENDORS = ("entra", "okta", "gworkspace", "auth0", "m365")


def _load_convert() -> Any:
    spec = importlib.util.spec_from_file_location(
        "entra_convert", ROOT / "tests" / "sources" / "entra_convert.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthetic_native(n: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """A plausible mix of canonical events (mostly sign-ins), spread over 30 days."""
    rng = random.Random(seed)
    t0 = datetime(2026, 9, 1, tzinfo=UTC)
    ips = [".".join(str(rng.randrange(1, 223)) for _ in range(4)) for _ in range(max(10, n // 20))]
    kinds = [
        (70, "sign_in", None, "password", "success", None),
        (10, "sign_in", None, "password", "failure", "bad_password"),
        (4, "sign_in", None, "password", "failure", "unknown_account"),
        (5, "sign_in", None, "password", "pending", None),
        (3, "mfa_challenge", None, "push", "failure", "mfa_denied"),
        (2, "password_reset", "start", "sms", "pending", None),
        (2, "password_reset", "verify", "sms", "success", None),
        (1, "password_reset", "complete", None, "success", None),
        (1, "mfa_method_change", None, "totp", "success", None),
        (1, "recovery_info_change", None, "sms", "success", None),
        (1, "password_change", None, "password", "success", None),
    ]
    weights = [k[0] for k in kinds]
    for i in range(n):
        _, activity, step, method, outcome, reason = rng.choices(kinds, weights)[0]
        user = rng.randrange(20000)
        yield {
            "time": (t0 + timedelta(seconds=i * 2592000 / n)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "event_id": f"bench-{i:09d}",
            "source": "native",
            "tenant": f"org{user % 40}.example",
            "account": f"user{user}@org{user % 40}.example",
            "account_exists": reason != "unknown_account",
            "activity": activity,
            "step": step,
            "method": method,
            "outcome": outcome,
            "reason": reason,
            "src_ip": rng.choice(ips),
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/128.0",
            "device_id": f"d{user}",
            "session_id": f"s{i}",
            "country": None,
            "asn": None,
            "asn_org": None,
            "network_type": None,
            "contact_hash": None,
            "detail": None,
        }


#: Fixtures of one record = one event (the API shapes), so every format gets the same number of
#: events; envelopes and multi-event activities are checked by the tests, not timed here.
BENCH_FIXTURES = {
    "okta": ("system_log_page.json",),
    "gworkspace": ("activities.json",),
    "auth0": ("logs_api_page.json", "log_stream.jsonl"),
    "m365": ("management_activity.json", "sentinel_officeactivity.jsonl"),
}


def _fixture_records(vendor: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted(FIXTURES / vendor / name for name in BENCH_FIXTURES[vendor]):
        if path.suffix == ".jsonl":
            records += [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
            records += data if isinstance(data, list) else [data]
    return records


def _okta(rec: dict, e: dict, i: int) -> None:
    rec.update(uuid=f"bench-{i:09d}", published=e["time"])
    rec["actor"]["alternateId"] = e["account"]
    rec["client"]["ipAddress"] = e["src_ip"]


def _gworkspace(rec: dict, e: dict, i: int) -> None:
    rec["id"].update(uniqueQualifier=str(i), time=e["time"])
    rec["actor"]["email"] = e["account"]
    rec["ipAddress"] = e["src_ip"]


def _auth0(rec: dict, e: dict, i: int) -> None:
    body = rec.get("data", rec)
    body.update(log_id=f"bench{i:09d}", date=e["time"], user_name=e["account"], ip=e["src_ip"])
    rec["log_id"] = f"bench{i:09d}"


def _m365(rec: dict, e: dict, i: int) -> None:
    key = "OfficeId" if rec.get("Type") == "OfficeActivity" else "Id"
    rec[key] = f"bench-{i:09d}"
    rec["CreationTime" if key == "Id" else "TimeGenerated"] = e["time"]
    rec["UserId"] = e["account"]
    rec["ClientIP"] = e["src_ip"]


REPLICATORS: dict[str, Callable[[dict, dict, int], None]] = {
    "okta": _okta,
    "gworkspace": _gworkspace,
    "auth0": _auth0,
    "m365": _m365,
}


def write_inputs(native: list[dict[str, Any]], formats: list[str], out: Path) -> dict[str, Path]:
    """One JSON Lines file per format with as many records as native events."""
    files = {"native": out / "native.jsonl"}
    with open(files["native"], "w") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in native)
    convert = _load_convert() if "entra" in formats else None
    for vendor in formats:
        path = files[vendor] = out / f"{vendor}.jsonl"
        with open(path, "w") as fh:
            if vendor == "entra":
                # every native event has an Entra record: unsupported kinds fall back to a sign-in
                for e in native:
                    rec = convert.to_entra(e) or convert.to_entra(
                        {**e, "activity": "sign_in", "outcome": "success", "reason": None, "step": None}
                    )
                    fh.write(json.dumps(rec) + "\n")
                continue
            templates = [t for t in _fixture_records(vendor) if isinstance(t, dict)]
            for i, e in enumerate(native):
                rec = copy.deepcopy(templates[i % len(templates)])
                REPLICATORS[vendor](rec, e, i)
                fh.write(json.dumps(rec) + "\n")
    return files


COMPARED = (
    "time",
    "account",
    "activity",
    "step",
    "method",
    "outcome",
    "reason",
    "src_ip",
    "user_agent",
    "session_id",
    "account_exists",
    "contact_hash",
    "device_id",
    "tenant",
)


def compare_entra(native: list[dict[str, Any]], work: Path) -> dict[str, int]:
    """Columns where the Entra store differs from the native one, over the events Entra logs."""
    import duckdb

    convert = _load_convert()
    ids = [e["event_id"] for e in native if convert.convertible(e)]
    con = duckdb.connect()
    con.execute("CREATE TABLE ids AS SELECT unnest(?::VARCHAR[]) AS event_id", [ids])
    for fmt in ("native", "entra"):
        con.execute(
            f"CREATE VIEW {fmt} AS SELECT * FROM read_parquet('{work}/store-{fmt}/events/*/*.parquet')"
        )
    diffs = {
        "compared": con.execute("SELECT count(*) FROM native JOIN ids USING (event_id)").fetchall()[0][0]
    }
    for col in COMPARED:
        diffs[col] = con.execute(
            f"SELECT count(*) FROM native n JOIN ids USING (event_id) JOIN entra e USING (event_id) "
            f"WHERE n.{col} IS DISTINCT FROM e.{col}"
        ).fetchall()[0][0]
    return diffs


def _cpu_seconds() -> float:
    """User + system CPU of this process, all threads (DuckDB's, the parse and write threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(path: Path, fmt: str, work: Path) -> tuple[float, float, dict[str, Any]]:
    """(wall seconds, CPU seconds, summary) of one ingest into a fresh store."""
    store_dir = work / f"store-{fmt}"
    shutil.rmtree(store_dir, ignore_errors=True)
    start, cpu = time.perf_counter(), _cpu_seconds()
    summary = ingest_paths(Store(store_dir), [str(path)], fmt=fmt)
    return time.perf_counter() - start, _cpu_seconds() - cpu, summary.to_dict()


_PEAK_RSS = """
import sys
from pathlib import Path
from idwatch.ingest import ingest_paths
from idwatch.store import Store
if sys.argv[1] != "-":
    ingest_paths(Store(Path(sys.argv[3])), [sys.argv[1]], fmt=sys.argv[2])
print(next(x.split()[1] for x in open("/proc/self/status") if x.startswith("VmHWM:")))
"""


def peak_rss_mb(path: Path | None, fmt: str, work: Path) -> float:
    """Peak resident MB of a fresh process ingesting ``path`` (None: imports only, the baseline)."""
    store_dir = work / f"store-mem-{fmt}"
    shutil.rmtree(store_dir, ignore_errors=True)
    args = [sys.executable, "-c", _PEAK_RSS, str(path) if path else "-", fmt, str(store_dir)]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    shutil.rmtree(store_dir, ignore_errors=True)
    # VmHWM (KiB), not ru_maxrss: Linux carries ru_maxrss over fork + exec, so a child would
    # report the bench process's own peak; the high-water mark starts afresh with the new program
    return int(out.split()[-1]) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="events per format (default 100000)")
    parser.add_argument("--native", type=Path, help="native JSON Lines to use (first --n events)")
    parser.add_argument("--formats", default=",".join(VENDORS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per format, fastest counts (default 3)")
    parser.add_argument("--keep", type=Path, help="write the inputs and stores here and keep them")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also count canonical differences between the entra and native stores",
    )
    parser.add_argument("--memory", action="store_true", help="peak memory per format (child processes)")
    args = parser.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    if args.native:
        with open(args.native) as fh:
            native = [json.loads(line) for _, line in zip(range(args.n), fh, strict=False)]
    else:
        native = list(synthetic_native(args.n))
    work = args.keep or Path(tempfile.mkdtemp(prefix="idwatch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        files = write_inputs(native, formats, work)
        warm = work / "warmup.jsonl"
        warm.write_text("".join(json.dumps(e) + "\n" for e in native[:1000]))
        measure(warm, "native", work)  # first ingest pays one-off loading (enrichment data, imports)
        runs: dict[str, list[float]] = {fmt: [] for fmt in ["native", *formats]}
        cpus: dict[str, list[float]] = {fmt: [] for fmt in runs}
        summaries: dict[str, dict[str, Any]] = {}
        for _ in range(max(1, args.repeat)):
            for fmt in runs:
                seconds, cpu, summaries[fmt] = measure(files[fmt], fmt, work)
                runs[fmt].append(seconds)
                cpus[fmt].append(cpu)
        base = len(native) / min(runs["native"])  # native events/s, fastest run
        base_first = len(native) / runs["native"][0]
        base_cpu = min(cpus["native"]) / len(native)  # native CPU seconds per event
        print(
            f"{'format':<11} {'records':>9} {'stored':>9} {'skipped':>8} {'quarant.':>8} "
            f"{'seconds':>8} {'events/s':>10} {'vs native':>9} {'1st run':>8} {'paired':>7} "
            f"{'cpu s':>6} {'cpu vs':>7}" + (f" {'peak MB':>8}" if args.memory else "")
        )
        for fmt, seconds in runs.items():
            s = summaries[fmt]
            rate = s["records"] / min(seconds)
            cpu_ratio = min(cpus[fmt]) / s["records"] / base_cpu
            paired = statistics.median(
                (v / s["records"]) / (n / len(native)) for v, n in zip(seconds, runs["native"], strict=True)
            )
            peak = f" {peak_rss_mb(files[fmt], fmt, work):>8.0f}" if args.memory else ""
            print(
                f"{fmt:<11} {s['records']:>9} {s['stored']:>9} {s['skipped']:>8} {s['quarantined']:>8} "
                f"{min(seconds):>8.2f} {rate:>10.0f} {base / rate:>8.2f}x "
                f"{base_first / (s['records'] / seconds[0]):>7.2f}x {paired:>6.2f}x "
                f"{min(cpus[fmt]):>6.2f} {cpu_ratio:>6.2f}x{peak}"
            )
        if args.memory:
            print(f"baseline (imports only) peak MB: {peak_rss_mb(None, 'native', work):.0f}")
        if args.compare and "entra" in formats:
            print("entra vs native, events with a different value per column:", compare_entra(native, work))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
