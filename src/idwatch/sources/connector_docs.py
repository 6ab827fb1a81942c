"""Generate ``docs/connectors/<vendor>.md`` from the vendor mapping modules.

The mapping tables in ``<vendor>_map.py`` are the single source of truth: the connectors build
their SQL from them and this module renders them for users to check against their own logs.
``python -m idwatch.sources.connector_docs [--check] [DOCS_DIR]`` writes the pages, or with
``--check`` exits 1 when a committed page is out of date.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from idwatch.sources.vendor_sql import NO_ACCOUNT, render_markdown

VENDORS: tuple[str, ...] = ("entra", "okta", "gworkspace", "auth0", "m365")

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "docs" / "connectors"


def render(vendor: str) -> str:
    """The Markdown page of one vendor connector."""
    mapping = importlib.import_module(f"idwatch.sources.{vendor}_map")
    return render_markdown(mapping.TITLE, mapping.INTRO, mapping.doc_tables())


def render_index() -> str:
    """``README.md`` of docs/connectors: one line per connector."""
    lines = [
        "# Vendor connectors",
        "",
        "`idwatch ingest FILE` detects the format of each file; `--format NAME` forces one. Each page",
        "below is the mapping table of one connector (vendor event -> activity / step / method /",
        "outcome / reason), generated from `src/idwatch/sources/<name>_map.py`, the same tables the",
        "connector's SQL is built from. Regenerate with `python -m idwatch.sources.connector_docs`.",
        "",
    ]
    for vendor in VENDORS:
        mapping = importlib.import_module(f"idwatch.sources.{vendor}_map")
        lines.append(f"- [`{vendor}`]({vendor}.md): {mapping.TITLE}")
    lines += [
        "",
        "## Reserved values",
        "",
        f"- account `{NO_ACCOUNT}`: a failed attempt whose record names no identifier at all (Auth0",
        "  `f` / `fp` / `fu` / `limit_mu` without `user_name` and `user_id`) is still an attempt from its",
        "  address and is stored with this account (`idwatch.sources.vendor_sql.NO_ACCOUNT`). It is not",
        "  a valid identifier on any vendor (spaces, parentheses), so it never merges with a real",
        "  account; `account_exists` is null (false for `fu`). Such events are counted per address but",
        "  build no baseline, alert or campaign target.",
    ]
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    return {"README.md": render_index(), **{f"{vendor}.md": render(vendor) for vendor in VENDORS}}


def stale_pages(docs_dir: Path) -> list[str]:
    """Names of pages under ``docs_dir`` that are missing or differ from the mapping tables."""
    stale = []
    for name, text in pages().items():
        path = docs_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def write_pages(docs_dir: Path) -> list[Path]:
    docs_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in pages().items():
        path = docs_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="exit 1 when a page is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages(args.docs_dir)
        for name in stale:
            print(f"out of date: {args.docs_dir / name}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_pages(args.docs_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
