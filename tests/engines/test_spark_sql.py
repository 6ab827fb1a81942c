"""DuckDB-dialect SQL turned into Spark SQL: the translations that need no Spark to check."""

from __future__ import annotations

import pytest

pytest.importorskip("sqlglot")

from idwatch.engines.spark import spark_datetime_pattern, to_spark_sql  # noqa: E402


def test_strftime_codes_become_spark_pattern_letters() -> None:
    assert spark_datetime_pattern("%Y-%m-%d") == "yyyy-MM-dd"
    assert spark_datetime_pattern("%H:%M:%S.%f") == "HH:mm:ss.SSSSSS"


def test_literal_letters_in_a_format_are_quoted_for_spark() -> None:
    """An unquoted T is an invalid pattern letter in Spark and a Z would print a zone offset."""
    assert spark_datetime_pattern("%Y-%m-%dT%H:%M:%SZ") == "yyyy-MM-dd'T'HH:mm:ss'Z'"


def test_an_untranslatable_strftime_code_is_refused_not_guessed() -> None:
    import sqlglot

    with pytest.raises(sqlglot.errors.UnsupportedError):
        spark_datetime_pattern("%A %Y")


def test_strftime_in_a_query_becomes_date_format() -> None:
    sql = to_spark_sql("SELECT strftime(min(time), '%Y-%m-%dT%H:%M:%SZ') FROM t")
    assert "DATE_FORMAT(MIN(time), 'yyyy-MM-dd\\'T\\'HH:mm:ss\\'Z\\'')" in sql
