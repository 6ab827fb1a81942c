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


def to_spark_sql(sql: str) -> str:
    """DuckDB-dialect text to Spark SQL; refuses what sqlglot cannot translate rather than guess."""
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

    tree = (
        sqlglot.parse_one(sql, read="duckdb")
        .transform(slices)
        .transform(ordered_distinct_concat)
        .transform(half_even)
    )
    return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)


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
        path = self.scratch / f"{name}-{uuid.uuid4().hex[:8]}.parquet"
        pq.write_table(table, path)
        self.register_parquet(name, [str(path)])

    def query(self, sql: str) -> pa.Table:
        return self.spark.sql(to_spark_sql(sql)).toArrow()

    def close(self) -> None:
        """Stops the session (so a test module can start its own) and removes own scratch files."""
        self.spark.stop()
        if self._own_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
