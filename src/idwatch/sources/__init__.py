"""Source formats: one module per format, found by name (docs/INTERNALS.md "Source formats").

A format module exposes ``NAME``, ``sniff(record) -> bool`` and ``select_sql(view) -> str``.
Modules are imported lazily by name so that a vendor connector that is missing (or not yet
written) does not break the others.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Sniff order: specific vendor formats first, the generic native format last.
FORMAT_NAMES: tuple[str, ...] = ("entra", "okta", "gworkspace", "auth0", "m365", "ocsf", "native")


class UnknownFormatError(ValueError):
    """``--format`` names a format idwatch does not have."""


def load_format(name: str) -> ModuleType | None:
    """The module ``idwatch.sources.<name>``, or None when it does not exist.

    Only the absence of that very module is tolerated; an import error *inside* an existing
    module is a bug and propagates.
    """
    modname = f"{__name__}.{name}"
    try:
        module = importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name == modname:
            return None
        raise
    if not all(hasattr(module, attr) for attr in ("NAME", "sniff", "select_sql")):
        return None
    return module


def available_formats() -> dict[str, ModuleType]:
    """Every format that can be loaded, in sniff order."""
    found: dict[str, ModuleType] = {}
    for name in FORMAT_NAMES:
        module = load_format(name)
        if module is not None:
            found[module.NAME] = module
    return found


def get_format(name: str) -> ModuleType:
    module = load_format(name) if name.isidentifier() else None
    if module is None:
        known = ", ".join(available_formats())
        raise UnknownFormatError(f"unknown format {name!r} (known: auto, {known})")
    return module


def sniff_format(records: list[dict], formats: dict[str, ModuleType] | None = None) -> ModuleType | None:
    """The format most of ``records`` look like (ties go to the earlier one in sniff order)."""
    formats = formats if formats is not None else available_formats()
    best: ModuleType | None = None
    best_hits = 0
    for module in formats.values():
        hits = 0
        for record in records:
            try:
                hits += bool(module.sniff(record))
            except Exception:  # noqa: BLE001 - a sniffer must never break the ingest
                continue
        if hits > best_hits:
            best, best_hits = module, hits
    return best
