"""One pySigma processing pipeline per vendor rule source: Sigma field names -> field tokens.

A rule's ``logsource`` picks its source (:data:`LOGSOURCES`); the pipeline rewrites each field to
``one:<column>`` / ``many:<column>`` (the backend's field tokens), where ``<column>`` is a
field column of :mod:`fields` staged once per source by the runner. A field the source does not
document fails the conversion with that reason.
"""

from __future__ import annotations

import re

from sigma.exceptions import SigmaTransformationError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldFunctionTransformation

from idwatch.sigma.backend import MANY, ONE
from idwatch.sigma.fields import lookup

#: (product, service) of a Sigma logsource -> idwatch rule source.
LOGSOURCES: dict[tuple[str, str], str] = {
    ("azure", "signinlogs"): "entra_signin",
    ("azure", "auditlogs"): "entra_audit",
    ("azure", "riskdetection"): "entra_risk",
    ("gcp", "google_workspace.login"): "gworkspace_login",
    ("google_workspace", "login"): "gworkspace_login",
    ("m365", "audit"): "m365",
    ("m365", "exchange"): "m365",
    ("m365", "threat_management"): "m365",
    ("m365", "threat_detection"): "m365",
    ("okta", "okta"): "okta",
}

#: The store's ``source`` value of each rule source, and what the rule source reads.
VENDOR: dict[str, str] = {
    "entra_signin": "entra",
    "entra_audit": "entra",
    "entra_risk": "entra",
    "gworkspace_login": "gworkspace",
    "m365": "m365",
    "okta": "okta",
}
DESCRIPTION: dict[str, str] = {
    "entra_signin": "Entra ID sign-in logs (Graph signIn, SignInLogs diagnostic, Sentinel SigninLogs)",
    "entra_audit": "Entra ID audit logs (Graph directoryAudit, AuditLogs diagnostic, Sentinel AuditLogs)",
    "entra_risk": "Entra ID Protection risk detections (riskDetection, UserRiskEvents)",
    "gworkspace_login": "Google Workspace login audit (Reports API or Cloud Logging)",
    "m365": "Microsoft 365 unified audit log (Management Activity API)",
    "okta": "Okta System Log",
}


def column_name(source: str, field: str) -> str:
    """The staged column of a Sigma field of one rule source (lower-cased, a safe identifier)."""
    return f"f_{source}__" + re.sub(r"[^a-z0-9]+", "_", field.lower()).strip("_")


def source_of(product: str | None, service: str | None) -> str | None:
    return LOGSOURCES.get(((product or "").lower(), (service or "").lower()))


def pipeline_for(source: str) -> ProcessingPipeline:
    """The processing pipeline of one rule source."""

    def to_token(field: str | None) -> str | None:
        if field is None:
            return None
        col = lookup(source, field)
        if col is None:
            raise SigmaTransformationError(
                f"field {field!r} has no documented place in {DESCRIPTION[source]} records"
            )
        return (MANY if col.many else ONE) + column_name(source, field)

    return ProcessingPipeline(
        name=f"idwatch {source}",
        priority=20,
        items=[
            ProcessingItem(
                identifier=f"idwatch_{source}_fields",
                transformation=FieldFunctionTransformation(mapping={}, transform_func=to_token),
            )
        ],
    )
