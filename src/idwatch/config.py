"""``idwatch.toml``: per-deployment settings, mostly detection parameter overrides.

Looked up in the store directory first, then the current directory (or an explicit path)::

    [detections.enum_burst]        # parameters of one detection, by its id
    threshold = 25
    window = "10m"

The file is parsed as TOML; unknown sections are kept for their consumers.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from idwatch.store import Store

CONFIG_NAME = "idwatch.toml"


class ConfigError(ValueError):
    """The configuration file exists but is not valid."""


def config_path(store: Store | None = None, path: str | None = None) -> Path | None:
    """The config file that applies: ``path``, else ``<store>/idwatch.toml``, else ``./idwatch.toml``."""
    if path:
        return Path(path)
    candidates = ([store.root / CONFIG_NAME] if store is not None else []) + [Path.cwd() / CONFIG_NAME]
    return next((c for c in candidates if c.is_file()), None)


def load_config(store: Store | None = None, path: str | None = None) -> dict[str, Any]:
    """The parsed configuration ({} when there is none); ``detections`` is always a dict."""
    found = config_path(store, path)
    if found is None:
        return {"detections": {}}
    try:
        data = tomllib.loads(found.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{found}: no such file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{found}: not valid TOML: {exc}") from exc
    detections = data.setdefault("detections", {})
    if not isinstance(detections, dict) or not all(isinstance(v, dict) for v in detections.values()):
        raise ConfigError(f"{found}: [detections.<id>] sections must be tables of parameters")
    data["_path"] = str(found)
    return data


def detection_params(config: dict[str, Any], detection_id: str) -> dict[str, Any]:
    """Parameter overrides of one detection (empty when none are configured)."""
    return dict(config.get("detections", {}).get(detection_id, {}))
