"""Glue's type names, choice types and ``printSchema`` on top of Spark's types.

A DynamicFrame keeps its data in a Spark DataFrame. A *choice* (a field that holds different
types in different records) is a struct column with one member per type, named after Glue's type
names (``long``, ``string``, …), exactly one member set per record, and the field metadata
``{"glue.choice": true}`` so it travels with the DataFrame through selects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column
    from pyspark.sql.types import DataType, StructField, StructType

CHOICE_KEY = "glue.choice"

# Glue's names for Spark's simple types (and the Spark SQL type each Glue name casts to).
_GLUE_NAMES = {
    "bigint": "long",
    "int": "int",
    "smallint": "short",
    "tinyint": "byte",
    "double": "double",
    "float": "float",
    "string": "string",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp",
    "binary": "binary",
    "void": "null",
}
_SPARK_NAMES = {
    "long": "bigint",
    "int": "int",
    "integer": "int",
    "short": "smallint",
    "byte": "tinyint",
    "double": "double",
    "float": "float",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "binary": "binary",
    "null": "void",
}


def spark_type_name(glue_type: str) -> str:
    """A Glue type name (``long``, ``decimal(10,2)``, ``string``…) as a Spark SQL type."""
    name = glue_type.strip().lower()
    if name in _SPARK_NAMES:
        return _SPARK_NAMES[name]
    if name in _GLUE_NAMES:  # a Spark name (catalog types are Spark's)
        return name
    if name.startswith(("decimal", "array", "struct", "map", "varchar", "char")):
        return name
    raise ValueError(
        f"type '{glue_type}' is not a Glue type; use long, int, double, string, boolean, "
        "date, timestamp, decimal(p,s), …"
    )


def glue_name(spark_type: str) -> str:
    """Glue's name for a Spark SQL type name (``bigint`` → ``long``; others unchanged)."""
    return _GLUE_NAMES.get(spark_type.strip().lower(), spark_type)


def glue_type_name(data_type: DataType) -> str:
    """Glue's name for a Spark type (``bigint`` → ``long``; structs → ``struct``)."""
    simple = data_type.simpleString()
    if simple in _GLUE_NAMES:
        return glue_name(simple)
    for prefix in ("struct", "array", "map", "decimal"):
        if simple.startswith(prefix):
            return prefix if prefix != "decimal" else simple
    return simple


def is_choice(field: StructField) -> bool:
    """Whether a DataFrame field is a DynamicFrame choice."""
    return bool(field.metadata.get(CHOICE_KEY))


def choice_column(members: list[tuple[str, Column]], name: str) -> Column:
    """A choice column from (glue type name, value when the record has that type) pairs."""
    from pyspark.sql import functions as F

    return F.struct(*(value.alias(type_name) for type_name, value in members)).alias(
        name, metadata={CHOICE_KEY: True}
    )


def choices_of(schema: StructType) -> list[str]:
    """The paths of a schema's choice fields (``a.b`` inside structs; names holding a dot or
    a backtick quoted), at the top level and inside structs."""
    from pyspark.sql.types import StructType

    found: list[str] = []

    def walk(struct: StructType, prefix: str) -> None:
        for field in struct.fields:
            name = (
                field.name if "." not in field.name and "`" not in field.name else quote(field.name)
            )
            path = f"{prefix}{name}"
            if is_choice(field):
                found.append(path)
            elif isinstance(field.dataType, StructType):
                walk(field.dataType, f"{path}.")

    walk(schema, "")
    return found


def field_at(schema: StructType, parts: list[str]) -> StructField | None:
    """The field at a path of struct fields; None when there is none."""
    from pyspark.sql.types import StructType

    current: Any = schema
    field = None
    for part in parts:
        if not isinstance(current, StructType) or part not in current.names:
            return None
        field = current[part]
        current = field.dataType
    return field


def schema_lines(schema: StructType) -> list[str]:
    """Glue's ``printSchema`` text: choices list their member types."""
    from pyspark.sql.types import ArrayType, MapType, StructType

    lines = ["root"]

    def walk(data_type: Any, depth: int, field: Any = None) -> None:
        indent = "|    " * depth + "|-- "
        if field is not None and is_choice(field):
            lines.append(f"{indent}{field.name}: choice")
            for member in data_type.fields:
                lines.append("|    " * (depth + 1) + f"|-- {member.name}")
            return
        if isinstance(data_type, StructType):
            if field is not None:
                lines.append(f"{indent}{field.name}: struct")
            for sub in data_type.fields:
                walk(sub.dataType, depth + (1 if field is not None else 0), sub)
        elif isinstance(data_type, ArrayType):
            lines.append(f"{indent}{field.name}: array")
            element = data_type.elementType
            if isinstance(element, StructType):
                lines.append("|    " * (depth + 1) + "|-- element: struct")
                for sub in element.fields:
                    walk(sub.dataType, depth + 2, sub)
            else:
                lines.append("|    " * (depth + 1) + f"|-- element: {glue_type_name(element)}")
        elif isinstance(data_type, MapType):
            lines.append(f"{indent}{field.name}: map")
        else:
            lines.append(f"{indent}{field.name}: {glue_type_name(data_type)}")

    walk(schema, 0)
    return lines


def quote(name: str) -> str:
    """A column name quoted for Spark (backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def split_path(path: str) -> list[str]:
    """``a.b.`c.d``` → ['a', 'b', 'c.d'] (Glue's paths: dots nest, backticks quote)."""
    parts: list[str] = []
    current = ""
    quoted = False
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "`":
            if quoted and i + 1 < len(path) and path[i + 1] == "`":
                current += "`"
                i += 1
            else:
                quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
        i += 1
    parts.append(current)
    if quoted or any(p == "" for p in parts):
        raise ValueError(f"path '{path}' is not a field path; write a.b or `a.b` for a dotted name")
    return parts
