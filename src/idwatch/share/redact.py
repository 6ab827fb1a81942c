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
_TOKEN = re.compile(r"[\w.@+-]+")
PHONE = re.compile(r"(?<![\w.])\+\d[\d \-]{6,17}\d(?![\w.])")


class LeakError(RuntimeError):
    """A shared export would name a customer; nothing was written."""


class Redactor:
    """Replaces and detects the names of the accounts, tenants and people a campaign touched.

    Matching is by token, not by one regex of every name: a campaign can touch tens of
    thousands of accounts, and a set lookup per token keeps the scan linear in the text.
    Tokens are runs of word characters, dots, ``@``, ``+`` and ``-``; names of several words
    (display names) are matched as runs of up to ``MAX_WORDS`` tokens separated by spaces.
    """

    MAX_WORDS = 5

    def __init__(self, names: Iterable[str]) -> None:
        self.names = {" ".join(n.split()).lower() for n in names if n and len(n.strip()) >= 3}
        self._first_words = {n.split(" ", 1)[0] for n in self.names if " " in n}

    @classmethod
    def for_campaigns(cls, store: Store, campaigns: list[dict[str, Any]]) -> Redactor:
        """The campaigns' accounts and tenants, their directory rows, and the tenants' contacts."""
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
                WHERE lower(account) IN (SELECT a FROM acc)
                UNION ALL
                SELECT DISTINCT NULL, tenant, NULL, notify FROM directory WHERE tenant IN (SELECT t FROM ten)
                """
            ).fetchall()
            con.close()
            for row in rows:
                names.update(v for v in row if v)
        return cls(names)

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of ``text`` that are a known name (longest match first)."""
        tokens = [(m.start(), m.end(), m.group(0).lower()) for m in _TOKEN.finditer(text)]
        spans: list[tuple[int, int]] = []
        i = 0
        while i < len(tokens):
            hit = self._hit_at(text, tokens, i)
            if hit:
                spans.append((hit[0], hit[1]))
                i += hit[2]
            else:
                i += 1
        return spans

    def _hit_at(self, text: str, tokens: list[tuple[int, int, str]], i: int) -> tuple[int, int, int] | None:
        """(start, end, tokens used) of a name starting at token ``i``, or None."""
        first = tokens[i][2]
        if first in self._first_words:
            for n in range(min(self.MAX_WORDS, len(tokens) - i), 1, -1):
                window = tokens[i : i + n]
                if any(text[a[1] : b[0]].strip() for a, b in zip(window, window[1:], strict=False)):
                    continue  # only whitespace may separate the words of one name
                phrase = " ".join(t[2] for t in window)
                for cand in (phrase, phrase.rstrip(".-")):
                    if cand in self.names:
                        return window[0][0], window[-1][1] - (len(phrase) - len(cand)), n
        for cand in (first, first.rstrip(".-")):
            if cand in self.names:
                return tokens[i][0], tokens[i][0] + len(cand), 1
        if "@" in first and first.rsplit("@", 1)[1].rstrip(".-") in self.names:
            return tokens[i][0], tokens[i][1], 1
        return None

    def redact(self, text: str) -> str:
        """Free text with every known name, email address and phone number replaced."""
        for start, end in reversed(self._spans(text)):
            text = text[:start] + "[redacted]" + text[end:]
        text = EMAIL.sub("[email]", text)
        return PHONE.sub("[phone]", text)

    def leaks(self, text: str) -> list[str]:
        """What in ``text`` names a customer or a contact (empty list: safe to share)."""
        found = [text[a:b] for a, b in self._spans(text)]
        found += EMAIL.findall(text)
        found += PHONE.findall(text)
        return sorted(set(found))

    def check(self, text: str, what: str) -> None:
        leaks = self.leaks(text)
        if leaks:
            raise LeakError(f"{what} would disclose {len(leaks)} customer identifier(s); not written")
