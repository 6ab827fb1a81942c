"""POST /v1/decide latency (p50 / p99) and decisions/s at N accounts of in-memory state.

A real HTTP server (uvicorn, the app of ``idwatch serve``) runs in one process with a state of
N synthetic accounts (each with a home network and browser it signed in from, a population of
networks and clients around them); a separate load-generator process keeps C keep-alive HTTP/1.1
connections busy with raw requests (one in flight per connection) for D seconds on 127.0.0.1
and reports each request's round-trip time. Attempts mix the owner's usual login (80 %) and a
stranger's (20 %).

    python bench/decide.py --accounts 1000000 --seconds 20 --connections 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def synthetic_state(accounts: int, seed: int = 7):
    """A RiskState as a store of ``accounts`` people with 20 sign-ins each would give."""
    from idwatch.decide.state import RiskState

    rng = random.Random(seed)
    st = RiskState()
    nets = [("US", f"AS{64500 + i}") for i in range(2000)]
    oses = [
        ("Windows", "Chrome"),
        ("Mac OS X", "Safari"),
        ("iOS", "Mobile Safari"),
        ("Android", "Chrome Mobile"),
    ]
    for i in range(accounts):
        acct = ("example.org", f"user{i}@example.org")
        c, n = nets[i % len(nets)]
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        o, b = oses[i % len(oses)]
        ua = f"UA/{o}/{b}/{i % 50}"
        paths = {
            "country": (c,),
            "asn": (c, n),
            "ip": (c, n, ip),
            "os": (o,),
            "browser": (o, b),
            "ua": (o, b, ua),
        }
        for name, path in paths.items():
            st.u[(acct, name, path)] = 20
            st.g[(name, path)] = st.g.get((name, path), 0) + 20
        st.u_all[acct] = 20
        st.seen.add(acct)
        st.tenant_of[acct[1]] = acct[0]
        st.ip_info[ip] = (64500 + i % len(nets), None, c)
        st.ua_info[ua] = (b, o)
        st.typical[acct] = (20, -1.5, 2.0)
    st.g_all = 20 * accounts
    st.legit_llr = sorted(rng.gauss(-1.5, 1.0) for _ in range(100_000))
    return st


def serve(port: int, accounts: int, store_dir: str, token_file: str, ready, http: str) -> None:
    import uvicorn

    from idwatch.api.app import create_app
    from idwatch.api.users import add_user
    from idwatch.decide.policy import Policy
    from idwatch.store import Store

    store = Store(store_dir)
    Path(token_file).write_text(add_user(store, "bench", "viewer"))
    t0 = time.perf_counter()
    app = create_app(store)
    app.state.decide_state = synthetic_state(accounts)
    app.state.decide_policy = Policy({})
    import gc

    gc.freeze()  # as decide_routes.ensure_state does after building the state
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ready.put({"build_s": time.perf_counter() - t0, "server_rss_mb": rss})
    loop = "asyncio" if http == "h11" else "auto"  # auto: uvloop when installed
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http=http, loop=loop)


def bodies(accounts: int, n: int = 5000) -> list[bytes]:
    rng = random.Random(1)
    out = []
    for _ in range(n):
        i = rng.randrange(accounts)
        o, b = [
            ("Windows", "Chrome"),
            ("Mac OS X", "Safari"),
            ("iOS", "Mobile Safari"),
            ("Android", "Chrome Mobile"),
        ][i % 4]
        if rng.random() < 0.8:
            attempt = {
                "account": f"user{i}@example.org",
                "src_ip": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
                "user_agent": f"UA/{o}/{b}/{i % 50}",
                "asn": 64500 + i % 2000,
                "country": "US",
                "ua_family": b,
                "ua_os": o,
            }
        else:
            attempt = {
                "account": f"user{i}@example.org",
                "src_ip": f"192.0.2.{rng.randrange(256)}",
                "user_agent": "python-requests/2.31",
                "asn": 64666,
                "country": "IR",
                "ua_family": "Python Requests",
                "ua_os": "Other",
            }
        out.append(json.dumps(attempt).encode())
    return out


async def _worker(
    port: int, token: str, payloads: list[bytes], until: float, lat: list[float], errors: list[int]
):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST /v1/decide HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    head += "Content-Type: application/json\r\n"
    k = random.randrange(len(payloads))
    while time.perf_counter() < until:
        body = payloads[k % len(payloads)]
        k += 1
        t = time.perf_counter()
        writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        lat.append(time.perf_counter() - t)
        if b" 200 " not in status:
            errors.append(1)
    writer.close()


def load(port: int, token: str, accounts: int, seconds: float, connections: int, out) -> None:
    payloads = bodies(accounts)
    lat: list[float] = []
    errors: list[int] = []

    async def main() -> None:
        warm = time.perf_counter() + 1.0  # warm-up second, not in the latencies
        warm_lat: list[float] = []
        await asyncio.gather(
            *[_worker(port, token, payloads, warm, warm_lat, []) for _ in range(connections)]
        )
        until = time.perf_counter() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(
            *[_worker(port, token, payloads, until, lat, errors) for _ in range(connections)]
        )
        wall = time.perf_counter() - t0
        out.put({"wall": wall, "lat": lat, "errors": len(errors), "warm": len(warm_lat)})

    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument(
        "--http",
        choices=["auto", "h11", "httptools"],
        default="auto",
        help="uvicorn's HTTP parser (auto: httptools and uvloop when installed, as `idwatch serve`)",
    )
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="idwatch-bench-decide-") as tmp:
        ctx = mp.get_context("spawn")
        ready, result = ctx.Queue(), ctx.Queue()
        token_file = os.path.join(tmp, "token")
        server = ctx.Process(
            target=serve, args=(port, args.accounts, os.path.join(tmp, "store"), token_file, ready, args.http)
        )
        server.start()
        try:
            info = ready.get(timeout=1800)
            for _ in range(200):  # wait for the port
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            token = Path(token_file).read_text()
            client = ctx.Process(
                target=load, args=(port, token, args.accounts, args.seconds, args.connections, result)
            )
            client.start()
            cpu0 = cpu_seconds(server.pid)
            got = result.get(timeout=args.seconds + 120)
            # the client's measured phase ended just before it put the result: close enough
            server_cpu = cpu_seconds(server.pid) - cpu0
            client_cpu = cpu_seconds(client.pid)
            client.join()
        finally:
            server.terminate()
            server.join()
    lat = np.array(got["lat"]) * 1000.0
    parser = args.http
    if parser == "auto":
        parser = "httptools" if _has("httptools") else "h11"
    loop = "uvloop" if args.http != "h11" and _has("uvloop") else "asyncio"
    print(
        f"state: {args.accounts:,} accounts, built in {info['build_s']:.1f} s, "
        f"server RSS {info['server_rss_mb']:.0f} MB"
    )
    print(
        f"decide: {len(lat):,} requests in {got['wall']:.1f} s over {args.connections} connections: "
        f"{len(lat) / got['wall']:,.0f} decisions/s, p50 {np.percentile(lat, 50):.2f} ms, "
        f"p99 {np.percentile(lat, 99):.2f} ms, errors {got['errors']}"
    )
    print(
        f"server ({parser}, {loop}): {server_cpu / max(len(lat) + got['warm'], 1) * 1e6:.0f} us CPU "
        f"per decision, {server_cpu / (got['wall'] + 1.0):.0%} of a core; "
        f"load generator {client_cpu / (got['wall'] + 1.0):.0%} of a core; "
        f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
