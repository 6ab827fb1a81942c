"""A bundle checked object by object gets the stix2-validator's own verdict, with a count as it goes."""

from __future__ import annotations

import json

from stix2validator import ValidationOptions, validate_string

from idwatch.share.stix import build_bundle
from idwatch.share.validate import validate_bundle


def test_a_valid_bundle_has_no_errors_and_every_object_is_counted(store):
    bundle = build_bundle(store, tlp="amber")
    done: list[int] = []
    assert validate_bundle(bundle, on_object=done.append) == []
    assert done == list(range(1, len(bundle["objects"]) + 1))
    assert validate_string(json.dumps(bundle), ValidationOptions(strict=False)).is_valid


def test_a_broken_object_fails_as_it_does_in_the_whole_bundle_and_is_named(store):
    bundle = build_bundle(store, tlp="amber")
    broken = next(o for o in bundle["objects"] if o["type"] == "indicator")
    broken["pattern"] = "[ipv4-addr:value = '198.51.100.1'"  # unbalanced bracket
    errors = validate_bundle(bundle)
    assert errors and all(e.startswith(broken["id"]) for e in errors)
    assert not validate_string(json.dumps(bundle), ValidationOptions(strict=False)).is_valid
