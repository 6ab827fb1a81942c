"""Check a STIX 2.1 bundle with the OASIS ``stix2-validator``, object by object.

The validator checks a bundle by checking its envelope and then each object in it (JSON schema
and the custom checks). Doing the same steps here, one object at a time, gives the same
verdict and lets a caller show how many of the objects are done (the validator costs a few
milliseconds an object, so a large bundle takes a while).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stix2validator import ValidationOptions, validate_instance
from stix2validator.errors import SchemaInvalidError, ValidationError


def validate_bundle(
    bundle: dict[str, Any],
    *,
    on_object: Callable[[int], None] | None = None,
    options: ValidationOptions | None = None,
) -> list[str]:
    """Every error of the bundle (empty: valid), each prefixed by the object's id.

    ``on_object(done)`` is called after each object with the number checked so far.
    """
    options = options or ValidationOptions(strict=False)
    objects = bundle.get("objects") or []
    errors = _check({**bundle, "objects": []}, options)
    for done, obj in enumerate(objects, 1):
        errors += _check(obj, options)
        if on_object is not None:
            on_object(done)
    return errors


def _check(instance: Any, options: ValidationOptions) -> list[str]:
    ident = instance.get("id", "?") if isinstance(instance, dict) else "?"
    try:
        result = validate_instance(instance, options)
    except (SchemaInvalidError, ValidationError) as exc:
        return [f"{ident}: {exc}"]
    return [f"{ident}: {e}" for e in result.errors]
