"""Sigma rule files -> converted rules (a SQL predicate per rule) or the reason they are not.

Every rule read is returned, converted or not: nothing is dropped silently. The rule's id,
title, level, ATT&CK tags, author and licence travel with it into every alert (the SigmaHQ rules
are under the Detection Rule License 1.1, which asks for the authors' attribution).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetectionItem, SigmaRule
from sigma.types import SigmaString

from idwatch.sigma.backend import IdwatchSqlBackend
from idwatch.sigma.fields import lookup
from idwatch.sigma.pipelines import pipeline_for, source_of

_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$")
_DRL = "DRL-1.1"


@dataclass
class SigmaConversion:
    """One Sigma rule: its metadata, and its predicate or why there is none."""

    rule_id: str
    title: str
    path: str
    level: str = "medium"
    status: str = ""
    author: str = ""
    license: str = ""
    tags: list[str] = field(default_factory=list)
    techniques: list[str] = field(default_factory=list)
    product: str = ""
    service: str = ""
    source: str | None = None
    predicate: str | None = None
    fields: list[str] = field(default_factory=list)
    keywords: bool = False  # values bound to no field: the rule searches the whole record
    reason: str | None = None
    seconds: float = 0.0

    @property
    def converted(self) -> bool:
        return self.predicate is not None

    @property
    def detection_id(self) -> str:
        """The alerts' ``detection_id``: ``sigma_`` and the rule's id (stable across versions)."""
        return "sigma_" + re.sub(r"[^a-z0-9]+", "_", self.rule_id.lower()).strip("_")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "converted": self.converted, "detection_id": self.detection_id}


def _licence_near(path: Path) -> str:
    """The licence a rule inherits from a LICENSE file in its folder or above (SigmaHQ's DRL)."""
    for parent in [path.parent, *path.parents]:
        for name in ("LICENSE", "LICENSE.md", "LICENSE.txt"):
            lic = parent / name
            if lic.is_file():
                head = lic.read_text("utf-8", errors="replace")[:400]
                return _DRL if "Detection Rule License" in head else head.splitlines()[0].strip()
    return ""


def rule_files(paths: list[str | Path]) -> list[Path]:
    """Every ``*.yml`` / ``*.yaml`` under the given files and folders, sorted, each once."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix in (".yml", ".yaml") and q.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"no such rule file or folder: {p}")
    seen: set[Path] = set()
    return [p for p in out if not (p.resolve() in seen or seen.add(p.resolve()))]


def _meta(rule: SigmaRule, path: Path) -> SigmaConversion:
    tags = [str(t) for t in rule.tags]
    techniques = sorted({m.group(1).upper() for t in tags if (m := _TECHNIQUE.match(t.lower()))})
    return SigmaConversion(
        rule_id=str(rule.id or path.stem),
        title=rule.title or path.stem,
        path=str(path),
        level=rule.level.name.lower() if rule.level else "medium",
        status=rule.status.name.lower() if rule.status else "",
        author=rule.author or "",
        license=getattr(rule, "license", None) or _licence_near(path),
        tags=tags,
        techniques=techniques,
        product=rule.logsource.product or "",
        service=rule.logsource.service or "",
    )


def _fields_of(rule: SigmaRule) -> list[str]:
    """The Sigma field names a rule tests (before the pipeline rewrites them)."""
    names: set[str] = set()

    def walk(item: Any) -> None:
        for sub in getattr(item, "detection_items", []) or []:
            walk(sub)
        if isinstance(item, SigmaDetectionItem):
            names.add(item.field if isinstance(item.field, str) else "")

    for det in rule.detection.detections.values():
        walk(det)
    return sorted(names)


def _contradiction(rule: SigmaRule, source: str) -> str | None:
    """Why a rule can never match here: one map asks two of its fields, which are the same
    record field for this source, for two different exact values."""
    for name, det in rule.detection.detections.items():
        wanted: dict[str, dict[str, str]] = {}
        for item in det.detection_items:
            value = item.value[0] if len(getattr(item, "value", []) or []) == 1 else None
            if not isinstance(item, SigmaDetectionItem) or item.field is None or item.modifiers:
                continue
            if not isinstance(value, SigmaString) or value.contains_special():
                continue
            col = lookup(source, item.field)
            if col is not None and not col.many:
                wanted.setdefault(col.sql, {})[item.field] = str(value).lower()
        for fields in wanted.values():
            if len(set(fields.values())) > 1:
                names = " and ".join(repr(f) for f in fields)
                return (
                    f"{name}: {names} are one field of {source} records and the rule wants two "
                    "different exact values: it can never match"
                )
    return None


def convert_text(text: str, path: Path) -> list[SigmaConversion]:
    """Convert the rules of one YAML text (a file may hold several documents)."""
    t0 = time.perf_counter()
    try:
        collection = SigmaCollection.from_yaml(text, collect_errors=True)
    except (SigmaError, yaml.YAMLError) as exc:
        return [
            SigmaConversion(
                rule_id=path.stem, title=path.stem, path=str(path), reason=f"not a Sigma rule: {exc}"
            )
        ]
    out: list[SigmaConversion] = []
    for rule in collection.rules:
        if not isinstance(rule, SigmaRule):
            out.append(
                SigmaConversion(
                    rule_id=str(getattr(rule, "id", None) or path.stem),
                    title=getattr(rule, "title", "") or path.stem,
                    path=str(path),
                    reason="correlation / filter rules are not supported (single-record rules only)",
                )
            )
            continue
        conv = _meta(rule, path)
        if rule.errors:
            conv.reason = "invalid rule: " + "; ".join(str(e) for e in rule.errors)
            out.append(conv)
            continue
        conv.source = source_of(conv.product, conv.service)
        if conv.source is None:
            conv.reason = f"logsource {conv.product or '-'}/{conv.service or '-'} is no source idwatch stores"
            out.append(conv)
            continue
        sigma_fields = _fields_of(rule)  # "" stands for a keyword
        conv.reason = _contradiction(rule, conv.source)
        if conv.reason:
            out.append(conv)
            continue
        try:
            backend = IdwatchSqlBackend(processing_pipeline=pipeline_for(conv.source))
            queries = backend.convert_rule(rule)
        except SigmaError as exc:
            conv.reason = str(exc).split(" (while ")[0].strip()
            out.append(conv)
            continue
        conv.predicate = queries[0] if len(queries) == 1 else "(" + " OR ".join(queries) + ")"
        conv.fields = [f for f in sigma_fields if f]
        conv.keywords = "" in sigma_fields
        conv.seconds = round(time.perf_counter() - t0, 4)
        out.append(conv)
    if collection.errors and not collection.rules:
        out.append(
            SigmaConversion(
                rule_id=path.stem,
                title=path.stem,
                path=str(path),
                reason="not a Sigma rule: " + "; ".join(str(e) for e in collection.errors),
            )
        )
    return out


def convert_paths(paths: list[str | Path]) -> list[SigmaConversion]:
    """Convert every rule file under ``paths``."""
    out: list[SigmaConversion] = []
    for p in rule_files(paths):
        out += convert_text(p.read_text("utf-8"), p)
    return out
