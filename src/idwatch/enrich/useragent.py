"""User agents -> browser family and OS family, parsed once per DISTINCT agent string.

``ua-parser`` with its Rust accelerator (``ua-parser[regex]``) parses ~20 k agents/s; a batch
of events repeats few distinct agents, and a process-wide cache makes repeats free across
batches.
"""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa

UA_TABLE_SCHEMA = pa.schema(
    [
        pa.field("user_agent", pa.string()),
        pa.field("ua_family", pa.string()),
        pa.field("ua_os", pa.string()),
    ]
)


@lru_cache(maxsize=1)
def _parser():  # noqa: ANN202 - ua_parser's own type
    from ua_parser import parse  # imported lazily: loading the regexes takes a moment

    return parse


@lru_cache(maxsize=200_000)
def parse_agent(agent: str) -> tuple[str | None, str | None]:
    """(browser family, OS family) of one agent; None where ua-parser only answers "Other"."""
    result = _parser()(agent)
    family = result.user_agent.family if result.user_agent else None
    os_family = result.os.family if result.os else None
    return (family if family != "Other" else None, os_family if os_family != "Other" else None)


def parse_agents(agents: list[str]) -> pa.Table:
    """One row per agent string given (call with the DISTINCT agents of a batch)."""
    parsed = [parse_agent(a) for a in agents]
    return pa.table(
        {
            "user_agent": pa.array(agents, pa.string()),
            "ua_family": pa.array([p[0] for p in parsed], pa.string()),
            "ua_os": pa.array([p[1] for p in parsed], pa.string()),
        },
        schema=UA_TABLE_SCHEMA,
    )
