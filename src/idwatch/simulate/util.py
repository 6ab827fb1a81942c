"""Small deterministic helpers shared by the simulator's generators."""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo

import numpy as np


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of a text (recovery contacts are only ever stored like this)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tz_offset_seconds(tz: str, day: dt.date) -> int:
    """UTC offset of ``tz`` at noon on ``day`` (DST included)."""
    moment = dt.datetime(day.year, day.month, day.day, 12, tzinfo=zoneinfo.ZoneInfo(tz))
    off = moment.utcoffset()
    return int(off.total_seconds()) if off else 0


def hex_ids(rng: np.random.Generator, n: int, nbytes: int = 16) -> np.ndarray:
    """``n`` random lower-case hex strings of ``2*nbytes`` characters (vectorized)."""
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    table = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    out = np.empty((n, nbytes * 2), dtype=np.uint8)
    out[:, 0::2] = table[raw >> 4]
    out[:, 1::2] = table[raw & 15]
    return out.view(f"S{nbytes * 2}").ravel().astype(str)


def choice(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    """``n`` keys of ``weights`` drawn with probabilities proportional to the values."""
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys], dtype=float)
    return np.asarray(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]
