"""Threat intelligence import (EVENTS.md section 3): STIX 2.1 bundles, validated, kept as imported.

Validation is the ``stix2`` library's (``parse(..., allow_custom=True)``: custom ``x_*``
properties such as ATT&CK's are fine, a malformed object is not). The bundle is stored
byte-for-byte under ``intel/<sha256>.json``, so importing the same bundle twice is a no-op.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from idwatch.store import Store, atomic_write_bytes


class IntelError(ValueError):
    """The file is not a valid STIX 2.1 bundle (the message says why)."""


def validate_bundle(data: bytes, name: str = "bundle") -> int:
    """Number of objects in a valid STIX 2.1 bundle; raises :class:`IntelError` otherwise."""
    import stix2
    import stix2.exceptions

    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise IntelError(f"{name}: not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        kind = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise IntelError(f"{name}: not a STIX 2.1 bundle (top-level type is {kind!r}, expected 'bundle')")
    objects = doc.get("objects", [])
    if not isinstance(objects, list):
        raise IntelError(f"{name}: 'objects' must be a list")
    versions = {o.get("spec_version") for o in objects if isinstance(o, dict) and o.get("type") != "bundle"}
    if versions - {"2.1", None}:
        raise IntelError(f"{name}: not STIX 2.1 (spec_version {sorted(v for v in versions if v)})")
    try:
        bundle = stix2.parse(doc, allow_custom=True, version="2.1")
    except (stix2.exceptions.STIXError, ValueError, TypeError, KeyError) as exc:
        raise IntelError(f"{name}: invalid STIX 2.1: {exc}") from exc
    return len(getattr(bundle, "objects", []) or [])


def import_intel(store: Store, path: str) -> int:
    """Validate and store one STIX 2.1 bundle; returns the number of STIX objects in it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise IntelError(f"{path}: {exc.strerror or exc}") from exc
    count = validate_bundle(data, path)
    digest = hashlib.sha256(data).hexdigest()
    target = store.intel_dir / f"{digest}.json"
    if not target.exists():
        atomic_write_bytes(target, data)
    return count
