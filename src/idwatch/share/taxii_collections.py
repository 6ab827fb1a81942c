"""Read-only TAXII collections prepared once, so every request costs its page, not the collection.

medallion's memory backend re-filters the whole collection on each request: it deep-copies
every object, compares every object's spec version with every other's and matches each one
against the manifest in a nested loop, so an 8,000-object collection took minutes for its first
page. Here the objects are sorted by ``date_added`` once, with per-type and per-id position
lists and first/last-version flags computed up front; a request picks its candidates from
those lists and slices its page. Pagination is stateless: ``next`` encodes the offset and a
digest of the filters, so nothing is kept per client and a changed filter is refused as in
medallion.

The class implements medallion's backend interface (``medallion.backends.base.Backend``), so
medallion's own views (and their checks of the TAXII rules) answer the requests unchanged.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from medallion.backends.base import Backend
from medallion.exceptions import ProcessingError

STIX_MEDIA = "application/stix+json;version={}"
_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _instant(text: str) -> datetime:
    """A TAXII / STIX timestamp as an aware datetime; a bad one is the client's error (400)."""
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ProcessingError(f"not an RFC 3339 timestamp: {text!r}", 400) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Entry:
    obj: dict[str, Any]
    id: str
    type: str
    version: str
    version_at: datetime
    spec_version: str
    date_added: str
    added_at: datetime

    def manifest(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "date_added": self.date_added,
            "version": self.version,
            "media_type": STIX_MEDIA.format(self.spec_version),
        }


@dataclass
class PreparedCollection:
    """One collection's objects in ``date_added`` order with the indexes the TAXII filters use."""

    info: dict[str, Any]
    entries: list[_Entry]
    added: list[datetime] = field(init=False)
    by_type: dict[str, list[int]] = field(init=False)
    by_id: dict[str, list[int]] = field(init=False)
    first: list[bool] = field(init=False)
    last: list[bool] = field(init=False)
    newest_spec: list[bool] = field(init=False)

    def __post_init__(self) -> None:
        self.entries.sort(key=lambda e: (e.added_at, e.id, e.version_at))
        self.added = [e.added_at for e in self.entries]
        self.by_type, self.by_id = {}, {}
        for pos, e in enumerate(self.entries):
            self.by_type.setdefault(e.type, []).append(pos)
            self.by_id.setdefault(e.id, []).append(pos)
        self.first = [False] * len(self.entries)
        self.last = [False] * len(self.entries)
        self.newest_spec = [False] * len(self.entries)
        for positions in self.by_id.values():
            by_version = sorted(positions, key=lambda p: self.entries[p].version_at)
            self.first[by_version[0]] = True
            self.last[by_version[-1]] = True
            top = max(self.entries[p].spec_version for p in positions)
            for p in positions:
                self.newest_spec[p] = self.entries[p].spec_version == top

    def select(self, args: dict[str, str], allowed: Sequence[str], object_id: str | None = None) -> list[int]:
        """Positions (in ``date_added`` order) of the entries the TAXII 2.1 filters in ``args`` keep."""
        candidates: Iterable[int]
        if object_id is not None:
            candidates = self.by_id.get(object_id, [])
        elif "id" in allowed and args.get("match[id]"):
            candidates = sorted(p for i in set(args["match[id]"].split(",")) for p in self.by_id.get(i, []))
        else:
            candidates = range(len(self.entries))
        if "type" in allowed and args.get("match[type]"):
            types = set(args["match[type]"].split(","))
            if object_id is None and not args.get("match[id]"):
                candidates = sorted(p for t in types for p in self.by_type.get(t, []))
            else:
                candidates = [p for p in candidates if self.entries[p].type in types]
        if args.get("added_after"):
            after = _instant(args["added_after"])
            start = bisect.bisect_right(self.added, after)
            candidates = [p for p in candidates if p >= start]
        if "spec_version" in allowed:
            wanted = args.get("match[spec_version]")
            if wanted:
                specs = set(wanted.split(","))
                candidates = [p for p in candidates if self.entries[p].spec_version in specs]
            else:
                candidates = [p for p in candidates if self.newest_spec[p]]
        if "version" in allowed:
            candidates = self._versions(candidates, args.get("match[version]") or "last")
        return list(candidates)

    def _versions(self, candidates: Iterable[int], spec: str) -> list[int]:
        words = set(spec.split(","))
        if "all" in words:
            return list(candidates)
        instants = {_instant(w) for w in words - {"first", "last"}}
        return [
            p
            for p in candidates
            if ("first" in words and self.first[p])
            or ("last" in words and self.last[p])
            or self.entries[p].version_at in instants
        ]


def _entry(obj: dict[str, Any], added: datetime) -> _Entry:
    version = obj.get("modified") or obj.get("created") or added.strftime(_FORMAT)
    return _Entry(
        obj=obj,
        id=obj["id"],
        type=obj.get("type") or obj["id"].split("--", 1)[0],
        version=version,
        version_at=_instant(version),
        spec_version=obj.get("spec_version", "2.1"),
        date_added=added.strftime(_FORMAT),
        added_at=added,
    )


def prepare_collection(
    info: dict[str, Any], objects: Iterable[dict[str, Any]], added: datetime
) -> PreparedCollection:
    """A collection of ``objects`` (one entry per id and version; a repeated one is kept once)."""
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in objects:
        unique[(obj["id"], obj.get("modified") or obj.get("created") or "")] = obj
    return PreparedCollection(info=dict(info), entries=[_entry(o, added) for o in unique.values()])


def _page_token(offset: int, args: dict[str, str]) -> str:
    return f"{offset}.{_filter_digest(args)}"


def _filter_digest(args: dict[str, str]) -> str:
    kept = sorted((k, ",".join(sorted(v.split(",")))) for k, v in args.items() if k not in ("next", "limit"))
    return hashlib.sha256(repr(kept).encode()).hexdigest()[:16]


class PreparedBackend(Backend):  # type: ignore[misc]
    """medallion's backend interface over read-only prepared collections in one API root."""

    def __init__(
        self,
        discovery: dict[str, Any],
        api_root: str,
        information: dict[str, Any],
        collections: list[PreparedCollection],
    ) -> None:
        self.discovery = discovery
        self.api_root = api_root
        self.information = information
        self.collections = {c.info["id"]: c for c in collections}

    def server_discovery(self) -> dict[str, Any]:
        return self.discovery

    def get_api_root_information(self, api_root: str) -> dict[str, Any] | None:
        return self.information if api_root == self.api_root else None

    def get_collections(self, api_root: str) -> dict[str, Any] | None:
        if api_root != self.api_root:
            return None
        return {"collections": [dict(c.info) for c in self.collections.values()]}

    def get_collection(self, api_root: str, collection_id: str) -> dict[str, Any] | None:
        coll = self.collections.get(collection_id) if api_root == self.api_root else None
        return dict(coll.info) if coll else None

    def get_status(self, api_root: str, status_id: str) -> None:
        return None  # read-only collections: nothing is ever added, so there is no status

    def _page(
        self, coll: PreparedCollection, positions: list[int], args: dict[str, str], limit: int
    ) -> tuple[list[_Entry], bool, str | None, dict[str, str]]:
        offset = 0
        if args.get("next"):
            raw, _, digest = args["next"].partition(".")
            if not raw.isdigit() or digest != _filter_digest(args):
                raise ProcessingError(
                    "The server did not understand the request or filter parameters: 'next' not valid "
                    "for these filters",
                    400,
                )
            offset = int(raw)
        page = [coll.entries[p] for p in positions[offset : offset + limit]]
        more = offset + limit < len(positions)
        headers = {}
        if page:
            headers = {
                "X-TAXII-Date-Added-First": page[0].date_added,
                "X-TAXII-Date-Added-Last": page[-1].date_added,
            }
        return page, more, (_page_token(offset + limit, args) if more else None), headers

    def _envelope(self, key: str, items: list[Any], more: bool, token: str | None) -> dict[str, Any]:
        if not items:
            return {}
        out: dict[str, Any] = {key: items, "more": more}
        if token:
            out["next"] = token
        return out

    def _collection(self, api_root: str, collection_id: str) -> PreparedCollection:
        coll = self.collections.get(collection_id) if api_root == self.api_root else None
        if coll is None:
            raise ProcessingError(f"Collection '{collection_id}' not found", 404)
        return coll

    def get_objects(
        self,
        api_root: str,
        collection_id: str,
        filter_args: dict[str, str],
        allowed_filters: Sequence[str],
        limit: int,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        coll = self._collection(api_root, collection_id)
        page, more, token, headers = self._page(
            coll, coll.select(filter_args, allowed_filters), filter_args, limit
        )
        return self._envelope("objects", [e.obj for e in page], more, token), headers

    def get_object_manifest(
        self,
        api_root: str,
        collection_id: str,
        filter_args: dict[str, str],
        allowed_filters: Sequence[str],
        limit: int,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        coll = self._collection(api_root, collection_id)
        page, more, token, headers = self._page(
            coll, coll.select(filter_args, allowed_filters), filter_args, limit
        )
        return self._envelope("objects", [e.manifest() for e in page], more, token), headers

    def get_object(
        self,
        api_root: str,
        collection_id: str,
        object_id: str,
        filter_args: dict[str, str],
        allowed_filters: Sequence[str],
        limit: int,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        coll = self._collection(api_root, collection_id)
        if object_id not in coll.by_id:
            raise ProcessingError(f"Object '{object_id}' not found", 404)
        positions = coll.select(filter_args, allowed_filters, object_id=object_id)
        page, more, token, headers = self._page(coll, positions, filter_args, limit)
        return self._envelope("objects", [e.obj for e in page], more, token), headers

    def get_object_versions(
        self,
        api_root: str,
        collection_id: str,
        object_id: str,
        filter_args: dict[str, str],
        allowed_filters: Sequence[str],
        limit: int,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        coll = self._collection(api_root, collection_id)
        if object_id not in coll.by_id:
            raise ProcessingError(f"Object '{object_id}' not found", 404)
        positions = coll.select(
            {**filter_args, "match[version]": "all"}, allowed_filters, object_id=object_id
        )
        page, more, token, headers = self._page(coll, positions, filter_args, limit)
        return self._envelope("versions", [e.version for e in page], more, token), headers

    def add_objects(self, api_root: str, collection_id: str, objs: Any, request_time: Any) -> None:
        raise ProcessingError(f"Forbidden to write collection '{collection_id}'", 403)

    def delete_object(self, *args: Any, **kwargs: Any) -> None:
        raise ProcessingError("Forbidden to delete from a read-only collection", 403)
