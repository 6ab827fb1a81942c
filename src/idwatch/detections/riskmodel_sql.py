"""SQL building blocks of the login-risk model (see ``riskmodel.py`` for the model itself).

Kept apart from the model so that the batch path (every successful sign-in in the store,
window counts) and the point path (one attempt, aggregate counts) share the very same
feature keys and likelihood-ratio expressions: one place owns each formula.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Events that form an account's history and that get a risk score.
SUCCESSFUL_SIGNIN = "activity = 'sign_in' AND outcome = 'success'"
#: Events whose network / client feed the reputation term (attack traffic without labels).
FAILED_SIGNIN = "activity = 'sign_in' AND outcome = 'failure'"


@dataclass(frozen=True)
class Level:
    """One level of a feature hierarchy: its name, its parent level (None at the top)."""

    name: str
    parent: str | None
    #: SQL (over canonical event columns) of this level's own value, for explanations.
    value_sql: str


def network_sql(src_ip: str = "src_ip", asn: str = "asn", asn_org: str = "asn_org") -> str:
    """The network an address belongs to: its ASN, else its AS organization, else its /24 or /64.

    Enrichment leaves ``asn`` null where its database has no number; keying such rows on
    the organization name (or, failing that, the address block) keeps "same network" a
    meaningful notion instead of lumping every unknown network into one value.
    """
    return (
        f"CASE WHEN {asn} IS NOT NULL THEN 'AS' || CAST({asn} AS VARCHAR) "
        f"WHEN {asn_org} IS NOT NULL AND trim({asn_org}) <> '' THEN 'ORG:' || upper(trim({asn_org})) "
        f"ELSE 'NET:' || {ip_prefix_sql(src_ip)} END"
    )


def ip_prefix_sql(ip: str) -> str:
    """The /24 of an IPv4 address or the /64 of an IPv6 address (``::`` expanded), as text."""
    left = f"list_filter(string_split(split_part({ip}, '::', 1), ':'), lambda g: g <> '')"
    right = f"list_filter(string_split(split_part({ip}, '::', 2), ':'), lambda g: g <> '')"
    groups = (
        f"CASE WHEN contains({ip}, '::') THEN list_concat({left}, "
        f"list_resize([]::VARCHAR[], 8 - len({left}) - len({right}), '0'), {right}) "
        f"ELSE string_split({ip}, ':') END"
    )
    v6 = (
        f"array_to_string(list_transform(({groups})[1:4], "
        f"lambda g: coalesce(nullif(ltrim(lower(g), '0'), ''), '0')), ':') || '::/64'"
    )
    v4 = f"regexp_replace({ip}, '\\.[0-9]+$', '.0/24')"
    return f"(CASE WHEN contains({ip}, ':') THEN {v6} ELSE {v4} END)"


#: The two hierarchies, top level first. A child's key includes its parents' values, so each
#: hierarchy is a proper tree and the per-level ratios multiply to the leaf's ratio.
LEVELS: tuple[Level, ...] = (
    Level("country", None, "coalesce(country, '?')"),
    Level("asn", "country", network_sql()),
    Level("ip", "asn", "src_ip"),
    Level("os", None, "coalesce(ua_os, '?')"),
    Level("browser", "os", "coalesce(ua_family, '?')"),
    Level("ua", "browser", "coalesce(user_agent, '')"),
)
LEVEL_NAMES: tuple[str, ...] = tuple(lv.name for lv in LEVELS)


def key_columns_sql(inner: str, *, account_keys: bool = True) -> str:
    """A SELECT over relation ``inner`` (canonical columns) adding the hashed keys.

    ``acct`` is the account; ``k_<level>`` the population key of a level (its parent's key
    hashed with its own value, so the hierarchy is a tree); ``uk_<level>`` the account's key
    for that value, one 64-bit integer so that a window partitions on a single column.
    """
    inner_items = ["*", "hash(coalesce(tenant, ''), account) AS acct"]
    outer_items = ["*"]
    for level in LEVELS:
        if level.parent is None:
            inner_items.append(f"hash({level.value_sql}) AS k_{level.name}")
        if account_keys:
            outer_items.append(f"hash(acct, k_{level.name}) AS uk_{level.name}")
    # children need their parent's key: one nesting per hierarchy depth
    sql = f"SELECT {', '.join(inner_items)} FROM {inner}"
    done = {lv.name for lv in LEVELS if lv.parent is None}
    while len(done) < len(LEVELS):
        ready = [lv for lv in LEVELS if lv.name not in done and lv.parent in done]
        items = ", ".join(f"hash(k_{lv.parent}, {lv.value_sql}) AS k_{lv.name}" for lv in ready)
        sql = f"SELECT *, {items} FROM ({sql})"
        done.update(lv.name for lv in ready)
    return f"SELECT {', '.join(outer_items)} FROM ({sql})"


def key_names() -> list[str]:
    """Names of the columns :func:`key_columns_sql` adds."""
    return ["acct"] + [f"{p}_{n}" for n in LEVEL_NAMES for p in ("k", "uk")]


def parent_count(prefix: str, level: Level) -> str:
    """Column holding the count of the level's parent (``<prefix>_all`` at the top)."""
    return f"{prefix}_{level.parent or 'all'}"


def llr_sql(level: Level, alpha: float) -> str:
    """Log of P(value | parent) / P(value | parent, account), smoothed toward the population.

    With n = the account's earlier sign-ins with this value, m = those with the parent's
    value and p = the population's share of this value within the parent, the account's
    estimate is (n + alpha * p) / (m + alpha): an unseen value gets the population's share
    scaled down by how much history the account has, i.e. it backs off to the parent level.
    Expects columns ``u_<level>``/``g_<level>`` (account/population counts before the event).
    """
    n, m = f"u_{level.name}", parent_count("u", level)
    g, gp = f"g_{level.name}", parent_count("g", level)
    a = repr(float(alpha))
    p = f"(CAST({g} AS DOUBLE) / GREATEST({gp}, 1))"
    return (
        f"CASE WHEN {n} = 0 THEN ln({m} + {a}) - ln({a}) "
        f"ELSE ln(GREATEST({p}, 1e-300)) + ln({m} + {a}) - ln({n} + {a} * {p}) END"
    )


def reputation_sql(level: Level, weight: float, smoothing: float) -> str:
    """Log of the factor by which the attacker's distribution favours this value: abuse reputation.

    The paper's framework estimates p(value | attack) from reputation systems where labels
    exist; without labels, failed sign-ins are the abuse signal every identity log has. With
    f, s = failed / successful sign-ins with this value before the event and q = the parent's
    failure rate f_parent / (f_parent + s_parent), the value's failures against
    those its parent's rate predicts are r = (f + b) / ((f + s) * q + b): 1 for a value never
    seen or behaving like its parent, large for a network or client that fails far more than
    its parent, below 1 for one that fails clearly less. Comparing with the parent keeps one
    abusive network from being counted again at every level below it. The attacker's
    distribution is the population's tilted by (1 - weight) + weight * r, so weight 0 is the
    paper's baseline p(x | attack) = p(x).
    Expects ``f_<level>`` / ``g_<level>`` and the parent's (``_all`` at the top).
    """
    f, fp = f"f_{level.name}", parent_count("f", level)
    g, gp = f"g_{level.name}", parent_count("g", level)
    w, b = float(weight), float(smoothing)
    q = f"(CAST({fp} AS DOUBLE) / GREATEST({fp} + {gp}, 1))"
    r = f"(({f} + {b!r}) / (({f} + {g}) * {q} + {b!r}))"
    return f"ln({1.0 - w!r} + {w!r} * {r})"


def user_prior_sql() -> str:
    """Log of p(account | attack) / p(account | legitimate).

    Attacks are assumed to pick any known account alike (1 / users); legitimate sign-ins
    come from an account in proportion to its add-one-smoothed share of earlier successful
    sign-ins, (n + 1) / (N + users). An account with little history is thus a priori a
    likelier victim than a busy one. Expects ``u_all``, ``g_all`` and ``users`` (>= 1).
    """
    return "ln(CAST(g_all + users AS DOUBLE)) - ln(CAST(users AS DOUBLE)) - ln(u_all + 1.0)"


def risk_sql(llr: str, midpoint: float, temperature: float) -> str:
    """Calibrated 0-100 risk: a logistic curve of the total log-likelihood ratio (monotone)."""
    return f"100.0 / (1.0 + exp(-(({llr}) - {float(midpoint)!r}) / {float(temperature)!r}))"


# ------------------------------------------------ counts carried from one run to the next

#: Per-key counts a run can carry over instead of re-reading history (see riskmodel_state):
#: ``u_*`` per account (and value), ``g_*`` successes and ``a_*`` attempts per population
#: value; ``s_all`` every successful sign-in per account (``u_*`` count only the learned ones,
#: see ``RiskParams.learn_risk``). The persisted table stores each count's index here as ``level``.
KEYED_COUNTS: tuple[str, ...] = (
    ("u_all",) + tuple(f"{prefix}_{n}" for n in LEVEL_NAMES for prefix in ("u", "g", "a")) + ("s_all",)
)
#: Population totals (one row each, key 0): successes, attempts, accounts with a success.
GLOBAL_COUNTS: tuple[str, ...] = ("g_all", "a_all", "users")
COUNT_NAMES: tuple[str, ...] = KEYED_COUNTS + GLOBAL_COUNTS


def count_key(name: str) -> str:
    """The key column (of :func:`key_columns_sql`) a keyed count is grouped by."""
    prefix, level = name.split("_", 1)
    if level == "all":
        return "acct"
    return f"uk_{level}" if prefix == "u" else f"k_{level}"


def base_offsets_sql(keys: str, base: str, score_after: str | None = None) -> str:
    """One row per row of ``keys`` (in ``rid`` order): ``b_<count>`` from table ``base``.

    ``base`` holds (level, key, n) for rows before the window; the keys are unpivoted so that
    one hash join (built on the window's few rows) replaces one join per count. With
    ``score_after`` (a timestamp literal) only later rows get every count; earlier ones (kept
    in the window as history for the later ones, never scored) only ``b_s_all``, which decides
    whether a sign-in is its account's first.
    """
    later = f" WHERE time > {score_after}" if score_after else ""
    probes = " UNION ALL ".join(
        f"SELECT rid, CAST({i} AS UTINYINT) AS level, {count_key(name)} AS key FROM {keys}"
        + ("" if name == "s_all" else later)
        for i, name in enumerate(KEYED_COUNTS)
    )
    picks = ", ".join(
        f"CAST(coalesce(SUM(b.n) FILTER (WHERE p.level = {i}), 0) AS BIGINT) AS b_{name}"
        for i, name in enumerate(KEYED_COUNTS)
    )
    return (
        f"SELECT {picks} FROM ({probes}) p "
        f"LEFT JOIN {base} b ON b.level = p.level AND b.key = p.key GROUP BY p.rid ORDER BY p.rid"
    )


def new_counts_sql(successes: str, attempts: str, before: str) -> str:
    """(level, key, n) of the rows of ``successes`` / ``attempts`` earlier than ``before``.

    ``attempts`` holds successes and failures (population keys only), as the ``a_*`` counts.
    The account counts ``u_*`` take only the rows of ``successes`` whose ``learn`` is true.
    ``users`` is not summable across runs; the caller derives it from the merged ``s_all``.
    """
    cond = f"time < {before}"
    parts = []
    for i, name in enumerate(COUNT_NAMES):
        if name == "users":
            continue
        source = attempts if name.startswith("a_") else successes
        key = "CAST(0 AS UBIGINT)" if name in GLOBAL_COUNTS else count_key(name)
        learned = " AND learn" if name.startswith("u_") else ""
        where = f"{cond}{learned}"
        parts.append(f"SELECT CAST({i} AS UTINYINT) AS level, {key} AS key FROM {source} WHERE {where}")
    return f"SELECT level, key, count(*) AS n FROM ({' UNION ALL '.join(parts)}) GROUP BY level, key"
