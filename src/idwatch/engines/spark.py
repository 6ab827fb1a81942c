"""The Apache Spark adapter: the same SQL over the same Parquet, on a cluster or ``local[N]``.

Queries are written in DuckDB's dialect and translated with sqlglot; tables handed over as Arrow
are written to Parquet in a scratch folder (on shared storage when the executors are remote) and
read back by Spark, so every table Spark sees is Parquet, as the store's own files are.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

INSTALL_HINT = (
    "the Spark engine needs the 'spark' extra (pip install 'idwatch[spark]') and a Java 17+ runtime "
    "(Debian: apt-get install openjdk-17-jre-headless)"
)
#: Driver memory: this driver only collects alert-sized results; 2g leaves a shared machine room.
DRIVER_MEMORY = os.environ.get("IDWATCH_SPARK_DRIVER_MEMORY", "2g")


def _null() -> Any:
    from pyspark.sql import functions as F

    return F.lit(None)


def spark_available() -> str | None:
    """None when pyspark and Java are both here, else what is missing (in :data:`INSTALL_HINT` words)."""
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed; {INSTALL_HINT}"
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and Path(java_home, "bin", "java").exists()):
        return f"no Java runtime found (java on PATH or JAVA_HOME); {INSTALL_HINT}"
    return None


def to_spark_sql(sql: Any, resolve: Any = None) -> str:
    """DuckDB-dialect text (or its sqlglot tree) to Spark SQL; refuses what sqlglot cannot translate
    rather than guess. ``resolve(tree)``: a query's column names, to write ``UNION BY NAME``."""
    import sqlglot
    from sqlglot import exp

    def slices(node: exp.Expression) -> exp.Expression:
        # DuckDB's list_slice(x, begin, end) is inclusive of end; Spark's slice takes a length
        if (
            isinstance(node, exp.Anonymous)
            and node.name.upper() == "LIST_SLICE"
            and len(node.expressions) == 3
        ):
            x, begin, end = node.expressions
            length = exp.paren(exp.Sub(this=exp.paren(end.copy()), expression=exp.paren(begin.copy())))
            return exp.Anonymous(
                this="SLICE", expressions=[x, begin, exp.Add(this=length, expression=exp.Literal.number(1))]
            )
        return node

    def ordered_distinct_concat(node: exp.Expression) -> exp.Expression:
        # STRING_AGG(DISTINCT x, sep ORDER BY x) becomes Spark's LISTAGG(DISTINCT ...) WITHIN GROUP,
        # which Spark 4's distinct-aggregate rewrite breaks on (ClassCastException: an
        # AttributeReference is no SortOrder) next to other DISTINCT aggregates; the same text
        # as a sorted array of the distinct values joined does not go through that rule
        if not isinstance(node, exp.GroupConcat) or not isinstance(node.this, exp.Order):
            return node
        order, distinct = node.this, node.this.this
        keys = order.expressions
        if (
            not isinstance(distinct, exp.Distinct)
            or len(distinct.expressions) != 1
            or len(keys) != 1
            or keys[0].args.get("desc")
            or keys[0].this != distinct.expressions[0]
        ):
            return node
        value = distinct.expressions[0].copy()
        sep = node.args.get("separator") or exp.Literal.string(",")
        agg = exp.ArrayAgg(this=exp.Distinct(expressions=[value]))
        return exp.ArrayToString(this=exp.ArraySort(this=agg), expression=sep.copy())

    def half_even(node: exp.Expression) -> exp.Expression:
        # DuckDB's round_even (banker's rounding, as its CAST of a DOUBLE to an integer) is
        # Spark's bround; Spark's CAST truncates, so the detections round explicitly
        if isinstance(node, exp.Anonymous) and node.name.upper() == "ROUND_EVEN":
            return exp.Anonymous(this="BROUND", expressions=[e.copy() for e in node.expressions])
        return node

    tree = sqlglot.parse_one(sql, read="duckdb") if isinstance(sql, str) else sql
    tree = _unique_ctes(tree.copy())
    tree = (
        tree.transform(slices)
        .transform(ordered_distinct_concat)
        .transform(half_even)
        .transform(_semi_anti)
        .transform(_iso_dow)
        .transform(_list_position)
        .transform(_ordered_list)
        .transform(_true_division)
        .transform(_explode_outside)
        .transform(_filter_of_aggregates)
        .transform(_datetime_pattern)
    )
    if resolve is not None:
        tree = _union_by_name(tree, resolve)
    return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)


def _unique_ctes(tree: Any) -> Any:
    """Nested WITHs' CTEs renamed where a name repeats: Spark lifts every CTE to the top, where
    DuckDB scopes a subquery's own ``WITH f AS ..`` apart from the outer query's ``f``."""
    from sqlglot import exp

    withs = list(tree.find_all(exp.With))
    seen: set[str] = set()
    for n, with_ in enumerate(withs):
        owner = with_.parent
        for cte in with_.expressions:
            name = cte.alias
            if name not in seen:
                seen.add(name)
                continue
            new_name = f"{name}__{n}"
            for table in owner.find_all(exp.Table):
                if table.name == name and not table.args.get("db"):
                    table.set("this", exp.to_identifier(new_name))
            for col in owner.find_all(exp.Column):
                if col.table == name:
                    col.set("table", exp.to_identifier(new_name))
            cte.set("alias", exp.TableAlias(this=exp.to_identifier(new_name)))
            seen.add(new_name)
    return tree


def _semi_anti(node: Any) -> Any:
    """DuckDB's ``SEMI JOIN`` / ``ANTI JOIN`` are Spark's ``LEFT SEMI`` / ``LEFT ANTI JOIN``."""
    from sqlglot import exp

    if isinstance(node, exp.Join) and (node.args.get("kind") or "").upper() in ("SEMI", "ANTI"):
        node = node.copy()
        node.set("side", "LEFT")
    return node


def _iso_dow(node: Any) -> Any:
    """``isodow`` (Monday 1 .. Sunday 7) is Spark's ``weekday`` (Monday 0) plus one (sqlglot's
    own translation, ``dayofweek % 7 + 1``, gives Sunday 2)."""
    from sqlglot import exp

    if isinstance(node, exp.DayOfWeekIso):
        return exp.paren(
            exp.Add(
                this=exp.Anonymous(this="WEEKDAY", expressions=[node.this.copy()]),
                expression=exp.Literal.number(1),
            )
        )
    return node


def _list_position(node: Any) -> Any:
    """``list_position`` is NULL where Spark's ``array_position`` is 0 (not found)."""
    from sqlglot import exp

    if isinstance(node, exp.Anonymous) and node.name.upper() in ("LIST_POSITION", "ARRAY_POSITION"):
        pos = exp.Anonymous(this="ARRAY_POSITION", expressions=[e.copy() for e in node.expressions])
        return exp.Nullif(this=pos, expression=exp.Literal.number(0))
    return node


def _ordered_list(node: Any) -> Any:
    """``list(x ORDER BY k..)``: Spark's ``collect_list`` has no order, so the values are collected
    with their keys as structs, sorted (ascending, as the keys of the queries here are) and
    unwrapped; ``list(DISTINCT x ORDER BY x)`` is the sorted distinct set."""
    import sqlglot
    from sqlglot import exp

    if not isinstance(node, exp.ArrayAgg) or not isinstance(node.this, exp.Order):
        return node
    order = node.this
    keys = order.expressions
    if any(k.args.get("desc") for k in keys):
        raise sqlglot.errors.UnsupportedError("list(.. ORDER BY .. DESC) is not translated for Spark")
    value = order.this
    if isinstance(value, exp.Distinct):
        if len(value.expressions) != 1 or len(keys) != 1 or keys[0].this != value.expressions[0]:
            raise sqlglot.errors.UnsupportedError("list(DISTINCT x ORDER BY y) is not translated for Spark")
        return exp.ArraySort(this=exp.ArrayAgg(this=exp.Distinct(expressions=[value.expressions[0].copy()])))
    fields = [
        exp.PropertyEQ(this=exp.to_identifier(f"k{i}"), expression=k.this.copy()) for i, k in enumerate(keys)
    ]
    fields.append(exp.PropertyEQ(this=exp.to_identifier("v"), expression=value.copy()))
    sorted_structs = exp.ArraySort(this=exp.ArrayAgg(this=exp.Struct(expressions=fields)))
    return exp.Transform(
        this=sorted_structs,
        expression=exp.Lambda(this=exp.column("v", table="s"), expressions=[exp.to_identifier("s")]),
    )


def _explode_outside(node: Any) -> Any:
    """``f(unnest(xs))`` in a select list (Spark allows a generator only at the top of a column)
    as ``explode(transform(xs, u -> f(u)))``: the same rows, the function applied per element."""
    from sqlglot import exp

    if not isinstance(node, exp.Select):
        return node
    changed = False
    columns = []
    for col in node.expressions:
        body = col.this if isinstance(col, exp.Alias) else col
        gens = list(body.find_all(exp.Explode))
        if len(gens) == 1 and gens[0] is not body:
            gen = gens[0]
            array = gen.this.copy()
            gen.replace(exp.column("_u"))
            lam = exp.Lambda(this=body.copy(), expressions=[exp.to_identifier("_u")])
            new_body = exp.Explode(this=exp.Transform(this=array, expression=lam))
            col = exp.alias_(new_body, col.alias) if isinstance(col, exp.Alias) else new_body
            changed = True
        columns.append(col)
    if changed:
        node = node.copy()
        node.set("expressions", columns)
    return node


def _filter_of_aggregates(node: Any) -> Any:
    """``max(x) FILTER (WHERE <aggregate> ..)`` (a window over grouped rows): Spark refuses an
    aggregate in a FILTER; ``max(CASE WHEN .. THEN x END)`` is the same value (NULLs ignored)."""
    from sqlglot import exp

    if not isinstance(node, exp.Filter) or not isinstance(node.this, exp.AggFunc):
        return node
    cond = node.expression.this
    if not any(isinstance(n, exp.AggFunc) for n in cond.find_all(exp.AggFunc)):
        return node
    agg = node.this
    if isinstance(agg, exp.Count) and isinstance(agg.this, exp.Star):
        value: exp.Expression = exp.Literal.number(1)
    elif isinstance(agg.this, exp.Distinct) or len(agg.args) > 1 and agg.args.get("expression"):
        return node  # (not met in idwatch's SQL: left for Spark to refuse)
    else:
        value = agg.this
    case = exp.Case(ifs=[exp.If(this=cond.copy(), true=value.copy())])
    new = agg.copy()
    new.set("this", case)
    return new


def _true_division(node: Any) -> Any:
    """DuckDB's ``/`` divides in DOUBLE whatever its operands (a DECIMAL literal such as ``1.0``
    too); Spark keeps DECIMAL / DECIMAL a DECIMAL of limited scale, so both sides are cast."""
    from sqlglot import exp

    if isinstance(node, exp.Div) and not node.args.get("typed"):
        double = exp.DataType.build("DOUBLE")
        return exp.Div(
            this=exp.cast(node.this.copy(), double), expression=exp.cast(node.expression.copy(), double)
        )
    return node


#: DuckDB's strftime codes as Spark datetime pattern letters (the ones idwatch's SQL may use).
_STRFTIME_TO_SPARK = {
    "Y": "yyyy",
    "y": "yy",
    "m": "MM",
    "d": "dd",
    "H": "HH",
    "M": "mm",
    "S": "ss",
    "f": "SSSSSS",
    "j": "DDD",
    "%": "%",
}


def spark_datetime_pattern(strftime_format: str) -> str:
    """A strftime format as a Spark datetime pattern: codes mapped, literal text quoted (Spark
    reads every unquoted letter as a pattern letter, so sqlglot's ``yyyy-MM-ddTHH..`` fails on the
    ``T`` and would print a zone offset for a literal ``Z``)."""
    import sqlglot

    out: list[str] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            text = "".join(literal).replace("'", "''")
            out.append(f"'{text}'" if any(c.isalpha() or c == "'" for c in text) else text)
            literal.clear()

    chars = iter(strftime_format)
    for c in chars:
        if c != "%":
            literal.append(c)
            continue
        code = next(chars, "")
        if code not in _STRFTIME_TO_SPARK:
            raise sqlglot.errors.UnsupportedError(f"strftime code %{code} is not translated for Spark")
        if code == "%":
            literal.append("%")
            continue
        flush()
        out.append(_STRFTIME_TO_SPARK[code])
    flush()
    return "".join(out)


def _datetime_pattern(node: Any) -> Any:
    """``strftime(t, '<literal format>')`` as ``date_format(t, '<Spark pattern>')``."""
    from sqlglot import exp

    if not isinstance(node, exp.TimeToStr):
        return node
    fmt = node.args.get("format")
    if not isinstance(fmt, exp.Literal) or not fmt.is_string:
        return node
    return exp.Anonymous(
        this="DATE_FORMAT",
        expressions=[node.this.copy(), exp.Literal.string(spark_datetime_pattern(fmt.this))],
    )


def _union_by_name(tree: Any, resolve: Any) -> Any:
    """``UNION [ALL] BY NAME`` (not in Spark SQL) as a positional union: ``resolve(select)`` gives
    a side's column names; the right side is reordered to the left's, columns either side lacks
    are NULL (as DuckDB fills them)."""
    from sqlglot import exp

    for union in reversed(list(tree.find_all(exp.Union))):
        if not union.args.get("by_name"):
            continue
        ctes = _ctes_before(union)
        left_cols = resolve(_standalone(union.this, ctes))
        right_cols = resolve(_standalone(union.expression, ctes))
        names = left_cols + [c for c in right_cols if c not in left_cols]

        def side(query: exp.Expression, have: list[str], names: list[str] = names) -> exp.Select:
            cols = [
                exp.column(n, quoted=True) if n in have else exp.alias_(exp.Null(), n, quoted=True)
                for n in names
            ]
            return exp.select(*cols).from_(exp.paren(query.copy()).as_("_by_name"))

        new = union.__class__(
            this=side(union.this, left_cols),
            expression=side(union.expression, right_cols),
            distinct=union.args.get("distinct"),
            with_=union.args.get("with_"),
        )
        union.replace(new)
    return tree


def _ctes_before(node: Any) -> list[Any]:
    """The CTEs visible to ``node``: its own WITH's, and each enclosing WITH's defined before the
    CTE that holds it (all of them for the main query)."""
    from sqlglot import exp

    own = node.args.get("with_")
    out: list[Any] = list(own.expressions) if own is not None else []
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            idx = next(i for i, c in enumerate(parent.expressions) if c is child)
            out = list(parent.expressions[:idx]) + out
        elif (
            isinstance(parent, exp.Query)
            and parent.args.get("with_") is not None
            and child is not parent.args["with_"]
        ):
            out = list(parent.args["with_"].expressions) + out
        child, parent = parent, parent.parent
    return out


def _standalone(query: Any, ctes: list[Any]) -> Any:
    from sqlglot import exp

    select = exp.select("*").from_(exp.paren(query.copy()).as_("_side"))
    for cte in ctes:
        select = select.with_(cte.alias, as_=cte.this.copy())
    return select


class SparkEngine:
    """A SparkSession (``master`` e.g. ``local[2]`` or ``spark://host:7077``), session time zone UTC."""

    name = "spark"

    def __init__(self, master: str = "local[2]", scratch: Path | None = None) -> None:
        missing = spark_available()
        if missing:
            from idwatch.engines.base import EngineUnavailable

            raise EngineUnavailable(missing)
        from pyspark.sql import SparkSession

        self.spark: Any = (
            SparkSession.builder.master(master)
            .appName("idwatch")
            .config("spark.driver.memory", DRIVER_MEMORY)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # small staged tables: a few shuffle partitions, not Spark's 200
            .config("spark.sql.shuffle.partitions", os.environ.get("IDWATCH_SPARK_PARTITIONS", "8"))
            .config("spark.sql.ansi.enabled", "false")  # DuckDB's NULL-on-bad-cast semantics
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")
        self._own_scratch = scratch is None
        self.scratch = Path(scratch or tempfile.mkdtemp(prefix="idwatch-spark-"))
        self.scratch.mkdir(parents=True, exist_ok=True)

    def register_parquet(self, name: str, paths: list[str]) -> None:
        self.spark.read.parquet(*paths).createOrReplaceTempView(name)

    def register_arrow(self, name: str, table: pa.Table) -> None:
        if table.num_rows == 0:  # Spark infers no schema from a row-less file: give it the schema
            from pyspark.sql.pandas.types import from_arrow_schema

            schema = from_arrow_schema(table.schema, prefer_timestamp_ntz=False)
            self.spark.createDataFrame([], schema).createOrReplaceTempView(name)
            return
        # (a file name starting with "_" would be hidden from Spark's reader)
        path = self.scratch / f"t-{name}-{uuid.uuid4().hex[:8]}.parquet"
        pq.write_table(table, path)
        self.register_parquet(name, [str(path)])

    def _columns(self, tree: Any) -> list[str]:
        """A query's column names (Spark analyses it; nothing runs)."""
        return list(self.spark.sql(to_spark_sql(tree, self._columns)).columns)

    def _frame(self, tree: Any) -> Any:
        import sqlglot
        from sqlglot import exp

        if isinstance(tree, str):
            tree = sqlglot.parse_one(tree, read="duckdb")
        for table in list(tree.find_all(exp.Table)):
            if table.db.lower() == "information_schema" and table.name.lower() == "tables":
                # the catalog's view names, as DuckDB's information_schema.tables lists its own
                names = [t.name for t in self.spark.catalog.listTables()]
                self.spark.createDataFrame(
                    [(n,) for n in names], "table_name STRING"
                ).createOrReplaceTempView("idwatch_information_schema_tables")
                table.replace(exp.to_table("idwatch_information_schema_tables"))
        return self.spark.sql(to_spark_sql(tree, self._columns))

    def query(self, sql: str) -> pa.Table:
        table = self._frame(sql).toArrow()
        # every column nullable, as DuckDB reports them (Spark marks count(*) and the like NOT
        # NULL), so a Parquet file written from either engine has the same schema
        return table.cast(pa.schema([f.with_nullable(True) for f in table.schema]))

    def _keep(self, name: str, frame: Any) -> None:
        """``frame`` computed once (a local checkpoint: later reads do not recompute its plan) as
        the view ``name``, as DuckDB's temp table holds its rows."""
        frame.localCheckpoint(eager=True).createOrReplaceTempView(name)

    def execute(self, sql: str) -> pa.Table | None:
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(sql, read="duckdb")
        if isinstance(tree, exp.Create) and tree.expression is not None:
            name = tree.this.name
            frame = self._frame(tree.expression)
            if (tree.args.get("kind") or "").upper() == "VIEW":
                frame.createOrReplaceTempView(name)
            else:
                self._keep(name, frame)
            return None
        if isinstance(tree, exp.Insert):
            name = tree.this.name if isinstance(tree.this, exp.Table) else tree.this.this.name
            old = self.spark.table(name)
            new = self._frame(tree.expression)
            if tree.args.get("by_name"):
                new = new.select(*[new[c] if c in new.columns else _null() for c in old.columns])
            new = new.toDF(*old.columns)
            new = new.select(*[new[f.name].cast(f.dataType) for f in old.schema.fields])
            self._keep(name, old.union(new))
            return None
        if isinstance(tree, exp.Delete):
            table = tree.this
            where = tree.args["where"].this
            alias = f" AS {table.alias}" if table.alias else ""
            keep_sql = (
                exp.select("*")
                .from_(f"{table.name}{alias}")
                .where(exp.not_(exp.func("COALESCE", where.copy(), exp.false())))
            )
            old = self.spark.table(table.name)
            before = old.count()
            kept = self._frame(keep_sql)
            self._keep(table.name, kept)
            return pa.table({"count": [before - self.spark.table(table.name).count()]})
        if isinstance(tree, exp.Drop):
            for table in tree.args.get("tables") or []:
                self.spark.catalog.dropTempView(table.name)
            return None
        raise ValueError(f"not a statement the Spark adapter runs: {sql[:80]!r}")

    def close(self) -> None:
        """Stops the session (so a test module can start its own) and removes own scratch files."""
        self.spark.stop()
        if self._own_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
