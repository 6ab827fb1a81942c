"""A detection as code: one TOML file of metadata beside one portable SQL query.

The layout follows Elastic's detection-rules (metadata next to the query, validated on load).
Parameters are plain scalars with defaults in the file; a deployment overrides them in
``idwatch.toml`` (``[detections.<id>]``). ``watchlist`` holds lower thresholds for accounts
enrolled in the high-risk programme; a query reads them as ``{{ wl.name }}``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from idwatch.schema import Stage

LIBRARY_DIR = Path(__file__).parent
SEVERITIES = ("low", "medium", "high", "critical")

#: Columns every detection query returns (the engine turns each row into one alert).
OUTPUT_COLUMNS: tuple[str, ...] = (
    "key",  # what the finding is about, stable across runs (e.g. src ip + window start)
    "accounts",  # list of identifiers
    "tenant",  # one tenant or NULL
    "first_seen",
    "last_seen",
    "src_ips",  # list
    "asns",  # list of BIGINT
    "user_agents",  # list
    "device_ids",  # list
    "contact_hashes",  # list
    "event_ids",  # list: the supporting evidence
    "score",  # 0-100
    "detail",  # one human-readable line
)

_PLACEHOLDER = re.compile(r"\{\{\s*(wl\.)?([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")


class DetectionError(ValueError):
    """A detection file is malformed (wrong field, unknown parameter, bad value)."""


def sql_literal(value: Any) -> str:
    """Render one parameter value as a SQL literal (numbers as DOUBLE-safe text, strings quoted)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"CAST({value!r} AS DOUBLE)"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):
        if not value:
            return "(NULL)"
        return "(" + ", ".join(sql_literal(v) for v in value) + ")"
    raise DetectionError(f"unsupported parameter value {value!r}")


@dataclass(frozen=True)
class Detection:
    """One detection: metadata, parameters and the query template."""

    id: str
    title: str
    stage: str
    techniques: tuple[str, ...]
    severity: str
    description: str
    query: str
    false_positives: tuple[str, ...] = ()
    triage: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    watchlist: dict[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    path: Path | None = None

    @property
    def lookback_hours(self) -> float:
        """How far before the first new event this detection must look (``lookback_hours``)."""
        return float(self.parameters.get("lookback_hours", 24))

    def effective_parameters(self, overrides: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Defaults merged with deployment overrides; watchlist values default to the normal ones.

        An override key ``watchlist`` (a table) overrides the watchlist values.
        """
        overrides = dict(overrides or {})
        wl_over = overrides.pop("watchlist", {}) or {}
        for name in overrides:
            if name not in self.parameters:
                raise DetectionError(f"{self.id}: unknown parameter {name!r} in configuration")
        params = {**self.parameters, **overrides}
        for name in wl_over:
            if name not in self.parameters:
                raise DetectionError(f"{self.id}: unknown watchlist parameter {name!r}")
        wl = {**params, **self.watchlist, **wl_over}
        return params, wl

    def render(self, overrides: dict[str, Any] | None = None) -> str:
        """The query with every ``{{ name }}`` / ``{{ wl.name }}`` replaced by a SQL literal."""
        params, wl = self.effective_parameters(overrides)

        def sub(match: re.Match[str]) -> str:
            source = wl if match.group(1) else params
            name = match.group(2)
            if name not in source:
                raise DetectionError(f"{self.id}: query uses undefined parameter {name!r}")
            return sql_literal(source[name])

        return _PLACEHOLDER.sub(sub, self.query)


def _tuple_of_str(value: Any, what: str, det_id: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DetectionError(f"{det_id}: {what} must be a list of strings")
    return tuple(value)


def parse_detection(doc: dict[str, Any], path: Path | None = None) -> Detection:
    """Validate one decoded TOML document and build the Detection."""
    meta = doc.get("detection", doc)
    det_id = str(meta.get("id", "")).strip()
    if not re.fullmatch(r"[a-z][a-z0-9_]*", det_id):
        raise DetectionError(f"{path}: id {det_id!r} must be lower_snake_case")
    for key in ("title", "stage", "severity", "description", "query"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise DetectionError(f"{det_id}: missing or empty {key!r}")
    if meta["stage"] not in {s.value for s in Stage}:
        raise DetectionError(f"{det_id}: unknown stage {meta['stage']!r}")
    if meta["severity"] not in SEVERITIES:
        raise DetectionError(f"{det_id}: severity must be one of {SEVERITIES}")
    techniques = _tuple_of_str(meta.get("techniques"), "techniques", det_id)
    if not techniques or not all(_TECHNIQUE.match(t) for t in techniques):
        raise DetectionError(f"{det_id}: techniques must be ATT&CK ids like T1110.003")
    params = dict(meta.get("parameters", {}))
    watch = dict(meta.get("watchlist", {}))
    for name, value in {**params, **watch}.items():
        sql_literal(value)  # raises on unsupported types
        if name in watch and name not in params:
            raise DetectionError(f"{det_id}: watchlist parameter {name!r} has no default")
    det = Detection(
        id=det_id,
        title=meta["title"].strip(),
        stage=meta["stage"],
        techniques=techniques,
        severity=meta["severity"],
        description=meta["description"].strip(),
        query=meta["query"],
        false_positives=_tuple_of_str(meta.get("false_positives"), "false_positives", det_id),
        triage=str(meta.get("triage", "")).strip(),
        parameters=params,
        watchlist=watch,
        requires=_tuple_of_str(meta.get("requires"), "requires", det_id),
        path=path,
    )
    det.render()  # every placeholder must resolve
    return det


def load_detection(path: Path) -> Detection:
    with open(path, "rb") as fh:
        try:
            doc = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise DetectionError(f"{path}: {exc}") from exc
    det = parse_detection(doc, path)
    if path.parent.name != det.stage:
        raise DetectionError(f"{path}: stage {det.stage!r} does not match its folder")
    return det


def load_library(root: Path | None = None) -> list[Detection]:
    """Every detection under ``<root>/<stage>/*.toml``, in stage order then id."""
    root = root or LIBRARY_DIR
    order = {s.value: i for i, s in enumerate(Stage)}
    dets = [load_detection(p) for s in Stage for p in sorted((root / s.value).glob("*.toml"))]
    ids = [d.id for d in dets]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise DetectionError(f"duplicate detection ids: {sorted(dupes)}")
    return sorted(dets, key=lambda d: (order[d.stage], d.id))
