"""The two SQL expressions whose spelling differs between SQLite and PostgreSQL.

Every stats query is one SQLAlchemy Core statement for both databases; these
constructs compile to each dialect's own spelling, so the queries never branch.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class epoch_seconds(FunctionElement[float]):
    """Seconds since 1970-01-01 UTC of a stored timestamp, as a float."""

    type = Float()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return (
        f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"
    )


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps timestamps as UTC text. Whole seconds from %s plus the fraction of
    # %f ("SS.SSS") stay exact, where julianday() arithmetic drifts by microseconds
    # and would blur thresholds such as "exactly eight weeks".
    moment = compiler.process(element.clauses, **kw)
    whole = f"CAST(strftime('%s', {moment}) AS INTEGER)"
    fraction = (
        f"(CAST(strftime('%f', {moment}) AS REAL) - CAST(strftime('%S', {moment}) AS INTEGER))"
    )
    return f"({whole} + {fraction})"


class json_array_strings(FunctionElement[str]):
    """The elements of a JSON array column as rows of text (use with `.table_valued("value")`).

    Anything that is not an array (SQL NULL, JSON null, a string) gives no rows.
    """

    type = Text()
    name = "json_array_strings"
    inherit_cache = True


@compiles(json_array_strings, "postgresql")
def _strings_postgresql(element: json_array_strings, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    array = f"CASE WHEN json_typeof({column}) = 'array' THEN {column} ELSE '[]'::json END"
    return f"json_array_elements_text({array})"


@compiles(json_array_strings, "sqlite")
def _strings_sqlite(element: json_array_strings, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"json_each(CASE WHEN json_type({column}) = 'array' THEN {column} ELSE '[]' END)"
