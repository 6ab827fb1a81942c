"""idwatch taxii: the STIX export round-trips through a TAXII 2.1 server and taxii2-client."""

from __future__ import annotations

import pytest
import requests
from taxii2client.v21 import Server, as_pages

from idwatch.share.stix import build_bundle
from idwatch.share.taxii import make_taxii_server


@pytest.fixture
def served(store):
    bundle = build_bundle(store, tlp="green")
    server = make_taxii_server({"idwatch-campaigns": bundle["objects"]}, {"analyst": "correct horse"}).start()
    try:
        yield server, bundle
    finally:
        server.stop()


def test_taxii2_client_reads_back_every_object(served):
    server, bundle = served
    api = Server(server.url, user="analyst", password="correct horse")
    (root,) = api.api_roots
    (collection,) = root.collections
    assert collection.title == "idwatch-campaigns" and collection.can_read and not collection.can_write
    got = [o for page in as_pages(collection.get_objects, per_request=7) for o in page.get("objects", [])]
    assert sorted(o["id"] for o in got) == sorted(o["id"] for o in bundle["objects"])
    assert {o["type"] for o in got} >= {"campaign", "indicator", "relationship", "report", "note", "sighting"}


def test_unauthenticated_and_wrong_password_requests_are_refused(served):
    server, _ = served
    assert requests.get(server.url, timeout=5).status_code == 401
    assert requests.get(server.url, auth=("analyst", "wrong"), timeout=5).status_code == 401
    assert requests.get(server.collection_url("idwatch-campaigns") + "objects/", timeout=5).status_code == 401


def test_a_server_without_a_password_does_not_start():
    with pytest.raises(ValueError):
        make_taxii_server({"c": []}, {"analyst": ""})
