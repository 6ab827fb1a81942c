"""A pySigma 2 backend that turns one Sigma rule into a SQL predicate over a source's rows.

The field names it receives are already rewritten by a vendor pipeline (:mod:`pipelines`) to
*field tokens*: ``one:<sql>`` (one text value per row, NULL when absent) or ``many:<sql>`` (a
list of text values, e.g. every ``targetResources[*].type``; the condition holds when any element
matches). Every comparison is two-valued (``COALESCE(..., FALSE)``), so ``not`` over an absent
field matches, as Sigma means it. Strings compare case-insensitively with ``*`` / ``?`` turned
into ``LIKE`` wildcards and literal ``%``, ``_`` and ``\\`` escaped; numbers compare against the
text as numbers (``TRY_CAST``, a non-numeric value never matches). The SQL is plain (``LIKE ...
ESCAPE``, ``regexp_matches``, ``TRY_CAST``, lambdas) so it runs on DuckDB and maps to Spark SQL.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

ONE, MANY = "one:", "many:"
#: The whole stored record as text: what a keyword (a value bound to no field) searches.
KEYWORD_FIELD = ONE + "raw"
_ELEMENT = "_v"  # lambda variable for an element of a many-valued field
X = "\x00"  # where a test template takes its value (never in a rule's text, unlike "{x}")


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def like_pattern(value: SigmaString) -> tuple[str, bool]:
    """(lower-cased LIKE pattern, has wildcards) with ``%``, ``_`` and ``\\`` escaped by ``\\``."""
    parts: list[str] = []
    wild = False
    for part in value.s:
        if part == SpecialChars.WILDCARD_MULTI:
            parts.append("%")
            wild = True
        elif part == SpecialChars.WILDCARD_SINGLE:
            parts.append("_")
            wild = True
        elif isinstance(part, str):
            parts.append(part.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
        else:
            raise SigmaFeatureNotSupportedByBackendError(f"placeholder {part} is not expanded")
    return "".join(parts), wild


def plain_text(value: SigmaString) -> str:
    """The string without wildcards (equality); only called when it has none."""
    return "".join(p for p in value.s if isinstance(p, str))


class IdwatchSqlBackend(Backend):
    """Sigma rule -> SQL boolean expression (the ``WHERE`` of one rule)."""

    name: ClassVar[str] = "idwatch SQL"
    formats: ClassVar[dict[str, str]] = {"default": "SQL predicate over a source's rows"}
    requires_pipeline: ClassVar[bool] = True

    # -- fields -----------------------------------------------------------------------------
    @staticmethod
    def _field(field: str | None) -> tuple[str, bool]:
        """(SQL expression, many-valued) of a field token from the pipeline."""
        if field is None:
            return KEYWORD_FIELD[len(ONE) :], False
        if field.startswith(ONE):
            return field[len(ONE) :], False
        if field.startswith(MANY):
            return field[len(MANY) :], True
        raise SigmaFeatureNotSupportedByBackendError(
            f"field {field!r} is not mapped by the source's pipeline"
        )

    def _match(self, field: str | None, test: str) -> str:
        """``test`` (a template over ``X``) applied to the field, two-valued, any element of a list."""
        expr, many = self._field(field)
        if many:
            inner = test.replace(X, _ELEMENT)
            return f"COALESCE(array_length(list_filter({expr}, lambda {_ELEMENT}: {inner})) > 0, FALSE)"
        return f"COALESCE({test.replace(X, f'({expr})')}, FALSE)"

    # -- boolean structure ------------------------------------------------------------------
    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> Any:
        return "(" + " OR ".join(self.convert_condition(a, state) for a in cond.args) + ")"

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> Any:
        return "(" + " AND ".join(self.convert_condition(a, state) for a in cond.args) + ")"

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Any:
        return f"(NOT {self.convert_condition(cond.args[0], state)})"

    # -- field = value ----------------------------------------------------------------------
    def _str_test(self, value: SigmaString, cased: bool) -> str:
        pattern, wild = like_pattern(value)
        if cased:
            raw_pattern = "".join(
                "%"
                if p == SpecialChars.WILDCARD_MULTI
                else "_"
                if p == SpecialChars.WILDCARD_SINGLE
                else p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                for p in value.s
            )
            if wild:
                return f"{X} LIKE {quote(raw_pattern)} ESCAPE '\\'"
            return f"{X} = {quote(plain_text(value))}"
        if wild:
            return f"lower({X}) LIKE {quote(pattern)} ESCAPE '\\'"
        return f"lower({X}) = {quote(plain_text(value).lower())}"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return self._match(cond.field, self._str_test(cond.value, cased=False))

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return self._match(cond.field, self._str_test(cond.value, cased=True))

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        number: SigmaNumber = cond.value
        return self._match(cond.field, f"TRY_CAST({X} AS DOUBLE) = {float(number.number)!r}")

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        word = "true" if cond.value.boolean else "false"
        return self._match(cond.field, f"lower({X}) = '{word}'")

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        regex: SigmaRegularExpression = cond.value
        flags = {
            SigmaRegularExpressionFlag.IGNORECASE: "i",
            SigmaRegularExpressionFlag.MULTILINE: "m",
            SigmaRegularExpressionFlag.DOTALL: "s",
        }
        prefix = "".join(flags[f] for f in sorted(regex.flags, key=lambda f: f.name))
        pattern = (f"(?{prefix})" if prefix else "") + regex.regexp.original
        return self._match(cond.field, f"regexp_matches({X}, {quote(pattern)})")

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        cidr: SigmaCIDRExpression = cond.value
        prefixes = cidr.expand(wildcard="*")
        tests = []
        for prefix in prefixes:
            pattern = like_pattern(SigmaString(prefix))[0]
            tests.append(f"lower({X}) LIKE {quote(pattern)} ESCAPE '\\'")
        return self._match(cond.field, "(" + " OR ".join(tests) + ")")

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        cmp: SigmaCompareExpression = cond.value
        ops = {
            CompareOperators.LT: "<",
            CompareOperators.LTE: "<=",
            CompareOperators.GT: ">",
            CompareOperators.GTE: ">=",
        }
        return self._match(cond.field, f"TRY_CAST({X} AS DOUBLE) {ops[cmp.op]} {float(cmp.number.number)!r}")

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        expr, many = self._field(cond.field)
        if many:
            return f"COALESCE(array_length({expr}) = 0, TRUE)"
        return f"(({expr}) IS NULL)"

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        expr, many = self._field(cond.field)
        return f"COALESCE(array_length({expr}) > 0, FALSE)" if many else f"(({expr}) IS NOT NULL)"

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return f"(NOT {self.convert_condition_field_exists(cond, state)})"

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        raise SigmaFeatureNotSupportedByBackendError("field references (fieldref) are not supported")

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        raise SigmaFeatureNotSupportedByBackendError("timestamp-part modifiers are not supported")

    def convert_condition_field_eq_query_expr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        raise SigmaFeatureNotSupportedByBackendError("query expressions are not supported")

    # -- keywords (values bound to no field): search the whole stored record ---------------
    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        pattern, _ = like_pattern(cond.value)
        if not pattern.startswith("%"):
            pattern = "%" + pattern
        if not pattern.endswith("%") or pattern.endswith("\\%"):
            pattern += "%"
        return self._match(None, f"lower({X}) LIKE {quote(pattern)} ESCAPE '\\'")

    def convert_condition_val_num(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        text = str(cond.value.number)
        return self._match(None, f"lower({X}) LIKE {quote('%' + text + '%')}")

    def convert_condition_val_re(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        return self._match(None, f"regexp_matches({X}, {quote(cond.value.regexp.original)})")

    def convert_condition_query_expr(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        raise SigmaFeatureNotSupportedByBackendError("query expressions are not supported")

    def convert_condition_as_in_expression(self, cond: Any, state: ConversionState) -> Any:
        raise SigmaFeatureNotSupportedByBackendError("in-expressions are not used by this backend")

    def _no_correlation(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaFeatureNotSupportedByBackendError("correlation rules are not supported")

    convert_correlation_event_count_rule = _no_correlation
    convert_correlation_value_count_rule = _no_correlation
    convert_correlation_temporal_rule = _no_correlation
    convert_correlation_temporal_ordered_rule = _no_correlation
    convert_correlation_extended_temporal_rule = _no_correlation
    convert_correlation_extended_temporal_ordered_rule = _no_correlation
    convert_correlation_value_sum_rule = _no_correlation
    convert_correlation_value_avg_rule = _no_correlation
    convert_correlation_value_percentile_rule = _no_correlation
    convert_correlation_value_median_rule = _no_correlation

    def finalize_query_default(self, rule: SigmaRule, query: Any, index: int, state: ConversionState) -> Any:
        return query

    def finalize_output_default(self, queries: list[Any]) -> Any:
        return queries
