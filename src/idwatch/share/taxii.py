"""``idwatch taxii serve``: serve exported STIX bundles over TAXII 2.1, with authentication.

Built on the OASIS reference server, ``medallion``: its views (and their checks of the
TAXII rules) over collections prepared once and indexed (``taxii_collections``; medallion's
memory backend re-filtered every object per request and took minutes for the first page of
an 8,000-object collection), on a Flask app of our own rather than medallion's module-level
one, so that several servers can run in one process (tests) and nothing is configured
through files on disk: the credentials stay in memory. medallion and Flask come with the
``taxii`` extra (``pip install 'idwatch[taxii]'``); without it :func:`make_taxii_server`
raises :class:`MissingExtra` naming it. Every TAXII endpoint requires HTTP basic
authentication; unauthenticated requests get 401. Give a certificate and key to serve
HTTPS, as TAXII 2.1 requires outside loopback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from idwatch.share.stix import stable_id

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.serving import BaseWSGIServer

TAXII_MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"
API_ROOT = "idwatch"


def collection_id(name: str) -> str:
    """A stable collection id (a UUID) for a collection name."""
    return stable_id("collection", name).split("--", 1)[1]


class MissingExtra(ImportError):
    """An optional dependency group is not installed; the message names the extra to install."""


def _require_taxii_extra() -> None:
    try:
        import flask  # noqa: F401
        import medallion  # noqa: F401
    except ImportError as exc:
        raise MissingExtra(
            f"the TAXII server needs the 'taxii' extra ({exc.name} is missing): pip install 'idwatch[taxii]'"
        ) from exc


def prepared_backend(
    base_url: str, collections: dict[str, Iterable[dict[str, Any]]], *, title: str = "idwatch"
) -> Any:
    """Discovery, one API root and read-only collections, each prepared once for paging."""
    from idwatch.share.taxii_collections import PreparedBackend, prepare_collection

    added = datetime.now(UTC)
    root_url = f"{base_url.rstrip('/')}/{API_ROOT}/"
    prepared = [
        prepare_collection(
            {
                "id": collection_id(name),
                "title": name,
                "description": f"{title} findings: {name}",
                "can_read": True,
                "can_write": False,
                "media_types": [STIX_MEDIA],
            },
            objects,
            added,
        )
        for name, objects in collections.items()
    ]
    discovery = {
        "title": f"{title} TAXII 2.1",
        "description": "Campaigns, indicators and attribution shared by idwatch",
        "default": root_url,
        "api_roots": [root_url],
    }
    information = {
        "title": f"{title} shared findings",
        "versions": [TAXII_MEDIA],
        "max_content_length": 10 * 1024 * 1024,
    }
    return PreparedBackend(discovery, API_ROOT, information, prepared)


def create_app(users: dict[str, str], *, page_size: int = 100) -> Flask:
    """A Flask app with medallion's TAXII 2.1 views; ``users`` maps user name -> password."""
    if not users or not all(users.values()):
        raise ValueError("a TAXII server needs at least one user with a non-empty password")
    _require_taxii_extra()
    from flask import Flask
    from medallion import handle_backend_error, handle_error, handle_processing_error
    from medallion.exceptions import BackendError, ProcessingError
    from medallion.views import collections, discovery, manifest, objects

    app = Flask("idwatch.taxii")
    app.users_backend = dict(users)  # type: ignore[attr-defined]
    app.taxii_config = {"max_page_size": page_size}  # type: ignore[attr-defined]
    app.medallion_backend = None  # type: ignore[attr-defined]  # set once the address is known
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
    from werkzeug.serving import make_server

    app = create_app(users)
    ssl_context = (certfile, keyfile) if certfile and keyfile else None
    server = make_server(host, port, app, threaded=True, ssl_context=ssl_context)
    taxii = TaxiiServer(server=server, app=app, scheme="https" if ssl_context else "http")
    app.medallion_backend = prepared_backend(taxii.base_url, collections)  # type: ignore[attr-defined]
    return taxii
