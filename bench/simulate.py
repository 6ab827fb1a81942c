"""Benchmark the simulator: events per second and peak memory, one fresh process per run.

    python bench/simulate.py                          # demo and phosphorus-2019 at scale 1
    python bench/simulate.py phosphorus-2019:6        # ~10 M events: checks the 2 GB bound
    python bench/simulate.py demo:1:parquet --keep DIR

Each run is ``scenario[:scale[:format]]``. Prints one JSON line per run (wall and CPU seconds,
events, events/s over wall time, peak RSS in MiB) and a summary table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
from idwatch.simulate import simulate
scenario, scale, fmt, out = sys.argv[1], float(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
t0, c0 = time.perf_counter(), time.process_time()
truth = simulate(scenario, seed=1, scale=scale, out=out, fmt=fmt)
print(json.dumps({"events": truth["events"], "wall": time.perf_counter() - t0,
                  "cpu": time.process_time() - c0,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "bytes": (out / f"events.{fmt}").stat().st_size,
                  "counts": {c["id"]: c["counts"] for c in truth["campaigns"]}}))
"""


def run(spec: str, keep: Path | None) -> dict:
    scenario, *rest = spec.split(":")
    scale = float(rest[0]) if rest else 1.0
    fmt = rest[1] if len(rest) > 1 else "jsonl"
    out = Path(tempfile.mkdtemp(prefix="idwatch-bench-")) if keep is None else keep / spec.replace(":", "_")
    try:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, scenario, str(scale), fmt, str(out)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result.update(
            run=spec,
            process_wall=time.perf_counter() - started,
            events_per_s=result["events"] / result["wall"],
            events_per_cpu_s=result["events"] / result["cpu"],
        )
        return result
    finally:
        if keep is None:
            shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="*", default=["demo", "phosphorus-2019"])
    parser.add_argument("--keep", type=Path, help="keep the generated files under this folder")
    args = parser.parse_args()
    rows = []
    for spec in args.runs:
        r = run(spec, args.keep)
        print(json.dumps(r), flush=True)
        rows.append(r)
    head = ("run", "events", "wall s", "cpu s", "ev/s", "ev/cpu-s", "peak MiB")
    print("\n" + " ".join(f"{h:>12}" for h in head))
    for r in rows:
        cells = (
            r["run"],
            f"{r['events']:,}",
            f"{r['wall']:.1f}",
            f"{r['cpu']:.1f}",
            f"{r['events_per_s']:,.0f}",
            f"{r['events_per_cpu_s']:,.0f}",
            f"{r['peak_mib']:,.0f}",
        )
        print(" ".join(f"{c:>12}" for c in cells))


if __name__ == "__main__":
    main()
