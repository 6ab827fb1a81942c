"""``docs/sigma.md``: how Sigma rules run on the store, the field mappings, and every rule of a
rule folder converted or not with its reason (``python -m idwatch.sigma.docs RULES...``)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from idwatch.sigma.convert import SigmaConversion, convert_paths
from idwatch.sigma.fields import SOURCES
from idwatch.sigma.pipelines import DESCRIPTION, LOGSOURCES

INTRO = """# Sigma rules on the idwatch store

idwatch runs community [Sigma](https://sigmahq.io) rules next to its own detections. Rules are
converted with **pySigma 2** by idwatch's own backend (`idwatch.sigma.backend`) into SQL over the
stored rows: the canonical `events` and the kept records idwatch does not model (`other_events`:
admin, policy and risk events, Google's government-backed attack warning ...), both with the
vendor's record whole in `raw`.

```
idwatch sigma import rules/ more/rule.yml   # kept in the store (sigma/), run by detect / analyze
idwatch sigma list [--json]                  # each rule: converted, or not converted and why
```

Each alert is one (rule, account, tenant, UTC day) with its records (`event_ids`, at most 500):
`detection_id` `sigma_<rule id>`, the rule's title, `severity` from its level, ATT&CK
`techniques` from its `attack.tNNNN` tags, and a `detail` naming the rule id, level, **author and
licence** (SigmaHQ's rules are under the Detection Rule License 1.1, which asks for the authors'
attribution). Stage is `recon` for reconnaissance / discovery rules, else `credential`: a
community rule says that something happened to the account, idwatch's own chain decides whether it
was taken over. Scores by level: informational 20, low 35, medium 50, high 70, critical 85.
By default only rules of level **medium and above** raise alerts (a Sigma alert marks its account
attacked; Sigma's low level is "rarely an incident", informational is for enrichment): the others
are converted and listed as "converted, not run"; `idwatch sigma import --min-level low` (or
`informational`) makes a store run them too.

## Semantics

- Strings compare **case-insensitively** (`lower(x) = 'v'`), `*` and `?` become `LIKE` wildcards,
  and literal `%`, `_` and `\\` are escaped (`ESCAPE '\\'`); `|cased` compares exactly.
- `contains`, `startswith`, `endswith`, `|all` (every value), `re` (RE2, case-sensitive unless
  `re|i`; `m` / `s` flags), `cidr` (expanded to address prefixes, any prefix length), `exists`,
  `gt/gte/lt/lte`.
- Numbers compare as numbers against the stored text (`TRY_CAST`): `64500` matches `64500` and
  `"64500"`, a non-numeric value simply does not match.
- `null` matches an absent field or a JSON null, not an empty string.
- Every test is two-valued: `not filter` over a field the record lacks matches, as Sigma means it.
- Keywords (values bound to no field) search the whole stored record.
- A field the source does not document is no silent non-match: the rule is **not converted** and
  says which field. So are correlation rules, field references and unknown log sources.

## Log sources

| Sigma logsource (product / service) | idwatch rule source | reads |
|---|---|---|
"""


def _mapping_tables() -> str:
    out = []
    for source, table in SOURCES.items():
        out.append(
            f"\n### {DESCRIPTION[source]}\n\n| Sigma field (any case) | values | where |\n|---|---|---|"
        )
        for name, col in sorted(table.items()):
            where = col.note or "see `idwatch.sigma.fields`"
            out.append(f"| `{name}` | {'list (any element)' if col.many else 'one'} | {where} |")
    out.append(
        f"\n### {DESCRIPTION['okta']}\n\nA Sigma field is the LogEvent path itself (`eventType`, "
        "`actor.alternateId`, `debugContext.debugData.*`, `securityContext.isProxy`, ...); `target.*` "
        "is a list (any element). Top-level objects outside the documented LogEvent are not converted."
    )
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rules: list[SigmaConversion], root: Path | None = None) -> str:
    lines = [INTRO.rstrip("\n")]
    for (product, service), source in LOGSOURCES.items():
        lines.append(f"| `{product}` / `{service}` | `{source}` | {DESCRIPTION[source]} |")
    lines.append("\n## Field mappings\n\nEach Sigma field reads the same value in every export shape")
    lines.append("the connector accepts (see `docs/connectors/`).")
    lines.append(_mapping_tables())
    ok = [r for r in rules if r.converted]
    bad = [r for r in rules if not r.converted]
    lines.append(f"## The SigmaHQ identity rules ({len(rules)}: {len(ok)} converted, {len(bad)} not)\n")
    lines.append("Unmodified SigmaHQ rules (`shared/data/sigma`); regenerate this page with")
    lines.append("`python -m idwatch.sigma.docs ../shared/data/sigma > docs/sigma.md`.\n")
    if bad:
        lines.append("### Not converted, by reason\n\n| rules | reason |\n|---|---|")
        for reason, n in Counter(r.reason for r in bad).most_common():
            lines.append(f"| {n} | {_cell(reason or '')} |")
        lines.append("\n| rule | title | reason |\n|---|---|---|")
        for r in sorted(bad, key=lambda r: r.path):
            lines.append(f"| `{_rel(r.path, root)}` | {_cell(r.title)} | {_cell(r.reason or '')} |")
    lines.append(
        "\n### Converted\n\n| rule | title | level | source | fields | author |\n|---|---|---|---|---|---|"
    )
    for r in sorted(ok, key=lambda r: r.path):
        fields = ", ".join(f"`{f}`" for f in r.fields) + (" (keywords)" if r.keywords else "")
        cells = [f"`{_rel(r.path, root)}`", _cell(r.title), r.level, f"`{r.source}`", fields, _cell(r.author)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _rel(path: str, root: Path | None) -> str:
    p = Path(path)
    if root is not None:
        try:
            return str(p.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return p.name


def main(argv: list[str]) -> None:
    roots = [Path(a) for a in argv]
    sys.stdout.write(render(convert_paths(roots), roots[0] if len(roots) == 1 else None))


if __name__ == "__main__":
    main(sys.argv[1:])
