"""Keep customers out of anything that leaves the provider.

A shared export may carry infrastructure, techniques and aggregate counts, never a
targeted account, a tenant, a person's name, a contact address or a phone number. The
exporters build their text from aggregates, and free text that comes from the analysis
(evidence details) goes through :meth:`Redactor.redact`. Before anything is written,
:meth:`Redactor.leaks` scans the whole serialized output; any hit aborts the export.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from idwatch.store import Store

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w.])\+\d[\d \-]{6,17}\d(?![\w.])")


class LeakError(RuntimeError):
    """A shared export would name a customer; nothing was written."""


class Redactor:
    """Replaces and detects the names of the accounts, tenants and people a campaign touched."""

    def __init__(self, names: Iterable[str]) -> None:
        unique = sorted({n.strip() for n in names if n and len(n.strip()) >= 3}, key=len, reverse=True)
        self.names = unique
        self._pattern = (
            re.compile(
                r"(?<![\w-])(?:" + "|".join(re.escape(n) for n in unique) + r")(?![\w-])", re.IGNORECASE
            )
            if unique
            else None
        )

    @classmethod
    def for_campaigns(cls, store: Store, campaigns: list[dict[str, Any]]) -> Redactor:
        """Names from the campaigns and from the directory rows of their accounts and tenants."""
        accounts = {str(a.get("account", "")).lower() for c in campaigns for a in c.get("accounts") or []}
        tenants = {
            str(a.get("tenant")) for c in campaigns for a in c.get("accounts") or [] if a.get("tenant")
        }
        tenants |= {str(t) for c in campaigns for t in c.get("tenants") or []}
        names = set(accounts) | tenants
        if accounts or tenants:
            con = store.connect()
            con.register("acc", pa.table({"a": pa.array(sorted(accounts), pa.string())}))
            con.register("ten", pa.table({"t": pa.array(sorted(tenants), pa.string())}))
            rows = con.execute(
                """
                SELECT account, tenant, display_name, notify FROM directory
                WHERE lower(account) IN (SELECT a FROM acc) OR tenant IN (SELECT t FROM ten)
                """
            ).fetchall()
            con.close()
            for row in rows:
                names.update(v for v in row if v)
        return cls(names)

    def redact(self, text: str) -> str:
        """Free text with every known name, email address and phone number replaced."""
        if self._pattern is not None:
            text = self._pattern.sub("[redacted]", text)
        text = EMAIL.sub("[email]", text)
        return PHONE.sub("[phone]", text)

    def leaks(self, text: str) -> list[str]:
        """What in ``text`` names a customer or a contact (empty list: safe to share)."""
        found: list[str] = []
        if self._pattern is not None:
            found += [m.group(0) for m in self._pattern.finditer(text)]
        found += EMAIL.findall(text)
        found += PHONE.findall(text)
        return sorted(set(found))

    def check(self, text: str, what: str) -> None:
        leaks = self.leaks(text)
        if leaks:
            raise LeakError(f"{what} would disclose {len(leaks)} customer identifier(s); not written")
