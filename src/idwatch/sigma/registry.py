"""Imported Sigma rules, kept in the store (``sigma/``) so ``detect`` / ``analyze`` run them.

Each imported file is copied whole (``sigma/<rule id or name>.yml``) beside ``sigma/index.json``,
which records where it came from and the licence it was found under (a SigmaHQ rule carries no
licence of its own; the repository's LICENSE is the Detection Rule License 1.1).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from idwatch.sigma.convert import SigmaConversion, _licence_near, convert_text, rule_files
from idwatch.store import Store, atomic_write_bytes

RULES_DIR = "sigma"
INDEX = "index.json"
SETTINGS = "settings.json"
LEVELS = ("informational", "low", "medium", "high", "critical")
#: A Sigma alert marks its account attacked in idwatch's correlation. Sigma's levels: informational
#: is for enrichment ("no case or alerting should be triggered"), low is "notable but rarely an
#: incident" (e.g. every single-factor sign-in); so by default medium and above raise alerts, and
#: a store that wants the rest for review says so (``sigma import --min-level low``).
DEFAULT_MIN_LEVEL = "medium"


def rules_dir(store: Store) -> Path:
    return store.root / RULES_DIR


def min_level(store: Store) -> str:
    """The lowest Sigma level whose rules raise alerts in this store (``sigma import --min-level``)."""
    path = rules_dir(store) / SETTINGS
    level = json.loads(path.read_text("utf-8")).get("min_level") if path.is_file() else None
    return level if level in LEVELS else DEFAULT_MIN_LEVEL


def set_min_level(store: Store, level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown Sigma level {level!r}; one of {', '.join(LEVELS)}")
    atomic_write_bytes(rules_dir(store) / SETTINGS, json.dumps({"min_level": level}).encode())


def runs(rule: SigmaConversion, floor: str) -> bool:
    """Whether a converted rule raises alerts at this minimum level."""
    level = rule.level if rule.level in LEVELS else "medium"
    return rule.converted and LEVELS.index(level) >= LEVELS.index(floor)


def _index(store: Store) -> dict[str, dict[str, Any]]:
    path = rules_dir(store) / INDEX
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def import_rules(store: Store, paths: list[str | Path]) -> list[SigmaConversion]:
    """Copy every rule file under ``paths`` into the store; returns each rule's conversion.

    A file whose rules do not convert is kept too (``sigma list`` shows why), so fixing the
    pipeline later makes it run without importing again. Re-importing a file replaces it.
    """
    index = _index(store)
    out: list[SigmaConversion] = []
    for path in rule_files(paths):
        data = path.read_bytes()
        text = data.decode("utf-8")
        licence = _licence_near(path)
        convs = convert_text(text, path)
        ident = convs[0].rule_id if convs else path.stem
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", ident)[:80] + ".yml"
        known = index.get(name, {})
        if (
            known
            and known.get("sha256") != hashlib.sha256(data).hexdigest()
            and (known.get("source") != str(path.resolve()))
        ):
            name = f"{name[:-4]}-{hashlib.sha256(data).hexdigest()[:8]}.yml"
        atomic_write_bytes(rules_dir(store) / name, data)
        index[name] = {
            "source": str(path.resolve()),
            "license": licence,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        for c in convs:
            c.license = c.license or licence
        out += convs
    atomic_write_bytes(rules_dir(store) / INDEX, json.dumps(index, indent=1, sort_keys=True).encode())
    return out


def load_rules(store: Store) -> list[SigmaConversion]:
    """Every imported rule, converted now (conversion takes milliseconds), with its licence."""
    folder = rules_dir(store)
    if not folder.is_dir():
        return []
    index = _index(store)
    out: list[SigmaConversion] = []
    for path in sorted(folder.glob("*.yml")):
        meta = index.get(path.name, {})
        for c in convert_text(path.read_text("utf-8"), path):
            c.license = (
                c.license if c.license and c.license != _licence_near(path) else meta.get("license", "")
            )
            c.path = meta.get("source", str(path))
            out.append(c)
    return out
