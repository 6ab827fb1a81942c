"""``idwatch taxii serve``: serve exported STIX bundles over TAXII 2.1, with authentication.

Built on the OASIS reference server, ``medallion`` (its memory backend, filled from the
bundles), but on a Flask app of our own rather than medallion's module-level one, so
that several servers can run in one process (tests) and nothing is configured through
files on disk: the credentials stay in memory. Every TAXII endpoint requires HTTP basic
authentication; unauthenticated requests get 401. Give a certificate and key to serve
HTTPS, as TAXII 2.1 requires outside loopback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from medallion import handle_backend_error, handle_error, handle_processing_error
from medallion.backends.memory_backend import MemoryBackend
from medallion.exceptions import BackendError, ProcessingError
from werkzeug.serving import BaseWSGIServer, make_server

from idwatch.share.stix import stable_id

TAXII_MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"
API_ROOT = "idwatch"


def collection_id(name: str) -> str:
    """A stable collection id (a UUID) for a collection name."""
    return stable_id("collection", name).split("--", 1)[1]


def backend_data(
    base_url: str, collections: dict[str, Iterable[dict[str, Any]]], *, title: str = "idwatch"
) -> dict[str, Any]:
    """The medallion memory-backend document: discovery, one API root, read-only collections."""
    added = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    root_url = f"{base_url.rstrip('/')}/{API_ROOT}/"
    colls = []
    for name, objects in collections.items():
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for obj in objects:
            version = obj.get("modified") or obj.get("created") or added
            latest[(obj["id"], version)] = obj
        objs = list(latest.values())
        colls.append(
            {
                "id": collection_id(name),
                "title": name,
                "description": f"{title} findings: {name}",
                "can_read": True,
                "can_write": False,
                "media_types": [STIX_MEDIA],
                "objects": objs,
                "manifest": [
                    {
                        "id": o["id"],
                        "date_added": added,
                        "version": o.get("modified") or o.get("created") or added,
                        "media_type": STIX_MEDIA,
                    }
                    for o in objs
                ],
            }
        )
    return {
        "/discovery": {
            "title": f"{title} TAXII 2.1",
            "description": "Campaigns, indicators and attribution shared by idwatch",
            "default": root_url,
            "api_roots": [root_url],
        },
        API_ROOT: {
            "information": {
                "title": f"{title} shared findings",
                "versions": [TAXII_MEDIA],
                "max_content_length": 10 * 1024 * 1024,
            },
            "status": [],
            "collections": colls,
        },
    }


def create_app(users: dict[str, str], *, page_size: int = 100) -> Flask:
    """A Flask app with medallion's TAXII 2.1 views; ``users`` maps user name -> password."""
    if not users or not all(users.values()):
        raise ValueError("a TAXII server needs at least one user with a non-empty password")
    from medallion.views import collections, discovery, manifest, objects

    app = Flask("idwatch.taxii")
    app.users_backend = dict(users)  # type: ignore[attr-defined]
    app.taxii_config = {"max_page_size": page_size}  # type: ignore[attr-defined]
    backend = MemoryBackend()
    backend.data = {}
    app.medallion_backend = backend  # type: ignore[attr-defined]
    for bp in (collections.collections_bp, discovery.discovery_bp, manifest.manifest_bp, objects.objects_bp):
        app.register_blueprint(bp)
    app.register_error_handler(500, handle_error)
    app.register_error_handler(ProcessingError, handle_processing_error)
    app.register_error_handler(BackendError, handle_backend_error)
    return app


@dataclass
class TaxiiServer:
    """A running (or ready-to-run) TAXII server; ``url`` is its discovery endpoint."""

    server: BaseWSGIServer
    app: Flask
    scheme: str = "http"
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/taxii2/"

    def collection_url(self, name: str) -> str:
        return f"{self.base_url}/{API_ROOT}/collections/{collection_id(name)}/"

    def start(self) -> TaxiiServer:
        """Serve in a background thread (tests, embedding)."""
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_taxii_server(
    collections: dict[str, list[dict[str, Any]]],
    users: dict[str, str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> TaxiiServer:
    """Bind a TAXII 2.1 server serving ``collections`` (name -> STIX objects); port 0 picks a free port."""
    app = create_app(users)
    ssl_context = (certfile, keyfile) if certfile and keyfile else None
    server = make_server(host, port, app, threaded=True, ssl_context=ssl_context)
    taxii = TaxiiServer(server=server, app=app, scheme="https" if ssl_context else "http")
    app.medallion_backend.data = backend_data(taxii.base_url, collections)  # type: ignore[attr-defined]
    return taxii
