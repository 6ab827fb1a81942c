"""plevin databases as sorted range tables, so a batch of addresses is looked up with numpy.

plevin answers one address at a time (decompressing and decoding blocks in Python, ~2-10 k
lookups/s on a cold cache). For large batches idwatch instead decodes each database once into
arrays: the start address of every range ("spine") with the row links of each range, and the
per-host overrides ("hosts"). A batch is then a ``searchsorted`` (the same "last start <=
address" rule plevin applies) and a gather; only the distinct linked rows (networks, abuse
entries, places) are turned into values, once each.

The arrays are cached on disk (``$IDWATCH_CACHE`` or ``~/.cache/idwatch``) per database build,
so the one-time decode (seconds) is paid once per machine and database version.

This reads plevin's file sections directly (format 2); :func:`load_ranges` returns None when
the installed plevin does not look like that, and the caller falls back to per-address lookups.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Bumped whenever the cached arrays change shape (old caches are then ignored, not misread).
CACHE_FORMAT = 2
#: Arrays every cache must hold.
REQUIRED_ARRAYS = ("v4.start", "v4h.addr", "v4h.abuse", "v6.hi", "v6.lo", "v6h.hi", "v6h.lo", "v6h.abuse")

#: Columns of the spine that link to rows (network, abuse, place) or hold a coded value (country).
SPINE_COLUMNS = ("network", "abuse", "place", "country")


def cache_root() -> Path:
    base = os.environ.get("IDWATCH_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "idwatch" if base else Path.home() / ".cache" / "idwatch"


def _index_values(index: Any) -> list[int]:
    groups = -(-index.count // index.per_group)
    out: list[int] = []
    for g in range(groups):
        out.extend(index.groups[g])
    return out


def _column_values(column: Any) -> np.ndarray:
    return np.concatenate([np.asarray(column.whole(b), dtype=np.int64) for b in range(column.blocks)])[
        : column.count
    ]


class PlevinRanges:
    """Range tables of one plevin database (one ``plevin.Plevin``), IPv4 and IPv6."""

    def __init__(self, db: Any, arrays: dict[str, np.ndarray]) -> None:
        self.db = db
        self.file = db.file
        self.a = arrays
        self._v6: tuple[list[int], dict[int, int]] | None = None
        self.countries: list[str] = self.file.head.get("vocabularies", {}).get("countries", [])

    def _v6_tables(self) -> tuple[list[int], dict[int, int]]:
        """IPv6 starts and host overrides as Python ints (128 bits), built on first use."""
        if self._v6 is None:
            a = self.a
            hi, lo = a["v6.hi"].tolist(), a["v6.lo"].tolist()
            starts = [h << 64 | low for h, low in zip(hi, lo, strict=True)]
            hhi, hlo, hab = a["v6h.hi"].tolist(), a["v6h.lo"].tolist(), a["v6h.abuse"].tolist()
            hosts = {h << 64 | low: v for h, low, v in zip(hhi, hlo, hab, strict=True)}
            self._v6 = (starts, hosts)
        return self._v6

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, db: Any) -> PlevinRanges:
        """Decode the spine and host sections of ``db`` into arrays (seconds, once)."""
        f = db.file
        arrays: dict[str, np.ndarray] = {}
        for version in (4, 6):
            spine = f.sections.get(f"spine.v{version}")
            starts = _index_values(spine) if spine is not None else []
            if version == 4:
                arrays["v4.start"] = np.asarray(starts, dtype=np.uint64)
            else:
                arrays["v6.hi"] = np.asarray([s >> 64 for s in starts], dtype=np.uint64)
                arrays["v6.lo"] = np.asarray([s & 0xFFFFFFFFFFFFFFFF for s in starts], dtype=np.uint64)
            for name in SPINE_COLUMNS:
                col = f.sections.get(f"spine.v{version}.{name}")
                if col is not None:
                    arrays[f"v{version}.{name}"] = _column_values(col)
            hosts = f.sections.get(f"hosts.v{version}")
            records = f.sections.get(f"hosts.v{version}.abuse")
            addrs = _index_values(hosts) if hosts is not None and records is not None else []
            overrides = _column_values(records) if addrs else np.zeros(0, dtype=np.int64)
            if version == 4:
                arrays["v4h.addr"] = np.asarray(addrs, dtype=np.uint64)
                arrays["v4h.abuse"] = overrides
            else:
                arrays["v6h.hi"] = np.asarray([a >> 64 for a in addrs], dtype=np.uint64)
                arrays["v6h.lo"] = np.asarray([a & 0xFFFFFFFFFFFFFFFF for a in addrs], dtype=np.uint64)
                arrays["v6h.abuse"] = overrides
        return cls(db, arrays)

    # ------------------------------------------------------------------ lookups
    def links_v4(self, numbers: np.ndarray) -> dict[str, np.ndarray]:
        """Per address: the spine row's links (0 = none), the abuse link after host overrides."""
        starts = self.a["v4.start"]
        rows = np.searchsorted(starts, numbers, side="right").astype(np.int64) - 1
        found = rows >= 0
        safe = np.where(found, rows, 0)
        out: dict[str, np.ndarray] = {}
        for name in SPINE_COLUMNS:
            col = self.a.get(f"v4.{name}")
            if col is not None and len(col):
                out[name] = np.where(found, col[safe], 0)
        hosts = self.a["v4h.addr"]
        if len(hosts) and "abuse" in out:
            at = np.searchsorted(hosts, numbers, side="left")
            at_safe = np.minimum(at, len(hosts) - 1)
            exact = (at < len(hosts)) & (hosts[at_safe] == numbers) & found
            out["abuse"] = np.where(exact, self.a["v4h.abuse"][at_safe] + 1, out["abuse"])
        return out

    def links_v6(self, number: int) -> dict[str, int]:
        starts, hosts = self._v6_tables()
        row = bisect.bisect_right(starts, number) - 1
        out: dict[str, int] = {}
        for name in SPINE_COLUMNS:
            col = self.a.get(f"v6.{name}")
            if col is not None and len(col):
                out[name] = int(col[row]) if row >= 0 else 0
        if "abuse" in out and row >= 0 and number in hosts:
            out["abuse"] = hosts[number] + 1
        return out

    def links_v6_many(self, numbers: list[int]) -> dict[str, np.ndarray]:
        """:meth:`links_v6` of many addresses at once, with numpy instead of Python big ints.

        Addresses are split into 64-bit halves; the spine and the host overrides are sorted by
        (hi, lo), so each lookup is a ``searchsorted`` on hi plus a short scan of lo.
        """
        qhi = np.asarray([n >> 64 for n in numbers], dtype=np.uint64)
        qlo = np.asarray([n & _LOW64 for n in numbers], dtype=np.uint64)
        rows = _count_le(self.a["v6.hi"], self.a["v6.lo"], qhi, qlo, inclusive=True) - 1
        found = rows >= 0
        safe = np.where(found, rows, 0)
        out: dict[str, np.ndarray] = {}
        for name in SPINE_COLUMNS:
            col = self.a.get(f"v6.{name}")
            if col is not None and len(col):
                out[name] = np.where(found, np.asarray(col)[safe], 0)
        hhi, hlo = self.a["v6h.hi"], self.a["v6h.lo"]
        if len(hhi) and "abuse" in out:
            at = _count_le(hhi, hlo, qhi, qlo, inclusive=False)
            at_safe = np.minimum(at, len(hhi) - 1)
            exact = (at < len(hhi)) & (hhi[at_safe] == qhi) & (hlo[at_safe] == qlo) & found
            out["abuse"] = np.where(exact, np.asarray(self.a["v6h.abuse"])[at_safe] + 1, out["abuse"])
        return out

    def _network_columns(self) -> dict[str, np.ndarray] | None:
        """The network table's columns idwatch reads, decoded whole (cheaper than row by row)."""
        if not hasattr(self, "_net"):
            sec = self.file.sections
            names = {
                "asn": "col.network.asn",
                "handle": "col.network.handle",
                "carrier": "link.network.carrier",
                "operator": "link.network.operator",
                "mcc": "col.carrier.mcc",
                "category": "col.operator.category",
                "company": "col.operator.company",
            }
            self._net = (
                {k: _column_values(sec[v]) for k, v in names.items()}
                if all(v in sec for v in names.values())
                else None
            )
        return self._net

    def _network(self, row: int) -> dict[str, Any]:
        """``{asn, handle, carrier: {mcc}, operator: {category, company}}`` of one network row."""
        cols = self._network_columns()
        if cols is None:
            return dict(self.file.rows[("network", row)])
        pool = self.file.sections["strings"]
        read_category = self.file.reads.get("operator.category")
        out: dict[str, Any] = {"asn": int(cols["asn"][row]), "handle": pool[int(cols["handle"][row])]}
        carrier = int(cols["carrier"][row])
        if carrier:
            out["carrier"] = {"mcc": int(cols["mcc"][carrier - 1])}
        operator = int(cols["operator"][row])
        if operator:
            code = int(cols["category"][operator - 1])
            out["operator"] = {
                "category": read_category(code) if read_category else code,
                "company": pool[int(cols["company"][operator - 1])],
            }
        return out

    def answer(self, links: dict[str, int]) -> dict[str, Any]:
        """What idwatch reads of ``plevin`` File.row(), from one address's links."""
        out: dict[str, Any] = {}
        for name in ("network", "abuse", "place"):
            link = links.get(name, 0)
            if link:
                out[name] = (
                    self._network(link - 1) if name == "network" else dict(self.file.rows[(name, link - 1)])
                )
        code = links.get("country", 0)
        if code and self.countries and code < len(self.countries):
            out.setdefault("network", {})["country"] = self.countries[code]
        return out


_LOW64 = (1 << 64) - 1


def _count_le(
    hi: np.ndarray, lo: np.ndarray, qhi: np.ndarray, qlo: np.ndarray, *, inclusive: bool
) -> np.ndarray:
    """Per query, how many (hi, lo) keys (sorted) are <= it (``inclusive``) or < it.

    Keys with a smaller hi all count; among the keys with the same hi (a short run: ranges
    rarely split one /64) the lo halves are compared in a few vectorized steps.
    """
    start = np.searchsorted(hi, qhi, side="left").astype(np.int64)
    stop = np.searchsorted(hi, qhi, side="right").astype(np.int64)
    count = start.copy()
    if len(lo) == 0:
        return count
    for k in range(int((stop - start).max(initial=0))):
        at = start + k
        inside = at < stop
        val = lo[np.minimum(at, len(lo) - 1)]
        count += inside & ((val <= qlo) if inclusive else (val < qlo))
    return count


def _cache_dir(db: Any, package: str) -> Path:
    head = db.file.head
    return cache_root() / "plevin" / f"v{CACHE_FORMAT}-{package}-{head.get('built')}-{head.get('length')}"


def load_ranges(db: Any, package: str) -> PlevinRanges | None:
    """Range tables of ``db``: memory-mapped from the disk cache, else decoded now and cached.

    Memory-mapped arrays cost nothing to open; a binary search touches a few pages only.
    """
    folder = _cache_dir(db, package)
    try:
        if (folder / "done").exists():
            arrays = {p.stem: np.load(p, mmap_mode="r") for p in folder.glob("*.npy")}
            if all(k in arrays for k in REQUIRED_ARRAYS):
                return PlevinRanges(db, arrays)
            log.debug("plevin range cache %s incomplete; rebuilding", folder)
    except (OSError, ValueError) as exc:
        log.debug("plevin range cache %s unreadable: %s", folder, exc)
    try:
        ranges = PlevinRanges.build(db)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        log.debug("plevin %s cannot be decoded into ranges: %s", package, exc)
        return None
    with contextlib.suppress(OSError):
        tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        for name, values in ranges.a.items():
            np.save(tmp / f"{name}.npy", values)
        (tmp / "done").write_text("ok\n")
        os.replace(tmp, folder)  # the whole folder appears at once
    return ranges
