"""Glue's documented options: which ones work here, which are accepted as hints, which not.

An option that would change results and is not implemented raises :class:`UnsupportedOption`
(a ``NotImplementedError``) naming it; an option Glue does not document raises ``ValueError``.
Nothing is silently ignored: hints that only tune Glue's own engine (``groupFiles``,
``useGlueParquetWriter``…) are listed as such in docs/awsglue.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class UnsupportedOption(NotImplementedError):
    """A documented Glue option this implementation does not support."""


def check_options(
    given: Mapping[str, Any] | None,
    *,
    where: str,
    supported: Iterable[str] = (),
    hints: Iterable[str] = (),
    unsupported: Iterable[str] = (),
    rules: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, Any]:
    """The supported options of ``given`` (hints dropped); a clear error for any other.
    ``rules`` gives the three sets at once (``{"supported": …, "hints": …, "unsupported": …}``)."""
    if rules is not None:
        supported, hints, unsupported = rules["supported"], rules["hints"], rules["unsupported"]
    supported_set, hint_set, unsupported_set = set(supported), set(hints), set(unsupported)
    kept: dict[str, Any] = {}
    for key, value in (given or {}).items():
        if key in supported_set:
            kept[key] = value
        elif key in hint_set:
            continue
        elif key in unsupported_set:
            raise UnsupportedOption(
                f"{where}: option '{key}' is not supported by sparkglue's awsglue; remove it "
                "(docs/awsglue.md lists what is)"
            )
        else:
            known = ", ".join(sorted(supported_set | hint_set)) or "none"
            raise ValueError(f"{where}: unknown option '{key}'; known options: {known}")
    return kept


def flag(value: Any, default: bool = False) -> bool:
    """Glue's boolean option values: True/False or "true"/"false" in any case."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"'{value}' is not a boolean option value; use true or false")


# Format options (Glue's "format_options") per format.
FORMAT_OPTIONS: dict[str, dict[str, set[str]]] = {
    "csv": {
        "supported": {
            "separator",
            "quoteChar",
            "escaper",
            "withHeader",
            "multiLine",
            "multiline",
            "skipFirst",
            "writeHeader",
        },
        "hints": {"optimizePerformance", "strictCheckForQuoting"},
        "unsupported": set(),
    },
    "json": {
        "supported": {"jsonPath", "multiLine", "multiline"},
        "hints": {"optimizePerformance"},
        "unsupported": {"withSchema"},
    },
    "parquet": {
        "supported": {"compression"},
        "hints": {"useGlueParquetWriter", "blockSize", "pageSize"},
        "unsupported": set(),
    },
    "glueparquet": {
        "supported": {"compression"},
        "hints": {"blockSize", "pageSize"},
        "unsupported": set(),
    },
    "orc": {"supported": {"compression"}, "hints": set(), "unsupported": set()},
    "avro": {"supported": set(), "hints": set(), "unsupported": {"version"}},
    "xml": {
        "supported": {"rowTag", "encoding", "attributePrefix", "valueTag"},
        "hints": set(),
        "unsupported": {"withSchema", "treatEmptyValuesAsNulls"},
    },
}
FORMATS = tuple(FORMAT_OPTIONS)
UNSUPPORTED_FORMATS = ("ion", "grokLog", "hudi", "delta", "iceberg")

# Connection options of the s3 connection type (reading and writing).
S3_READ = {
    "supported": {"paths", "recurse", "exclusions", "compressionType"},
    "hints": {
        "groupFiles",
        "groupSize",
        "useS3ListImplementation",
        "maxBand",
        "maxFilesInBand",
    },
    "unsupported": {"boundedSize", "boundedFiles", "isFailFast", "excludeStorageClasses"},
}
S3_WRITE = {
    "supported": {"path", "partitionKeys", "compression"},
    "hints": {"groupFiles", "groupSize"},
    "unsupported": {"enableUpdateCatalog", "updateBehavior"},
}
JDBC = {
    "supported": {"url", "dbtable", "user", "password", "customJdbcDriverClassName", "query"},
    "hints": {"customJdbcDriverS3Path", "bulkSize"},
    "unsupported": {
        "hashfield",
        "hashexpression",
        "hashpartitions",
        "sampleQuery",
        "enablePartitioningForSampleQuery",
        "jobBookmarkKeys",
        "jobBookmarkKeysSortOrder",
        "redshiftTmpDir",
    },
}
CATALOG_READ = {
    "supported": {"catalogPartitionPredicate", "recurse", "exclusions"},
    "hints": {"groupFiles", "groupSize", "useS3ListImplementation", "mergeSchema"},
    "unsupported": {
        "boundedSize",
        "boundedFiles",
        "jobBookmarkKeys",
        "jobBookmarkKeysSortOrder",
        "hashfield",
        "hashexpression",
        "hashpartitions",
        "sampleQuery",
    },
}
CATALOG_WRITE = {
    "supported": {"partitionKeys"},
    "hints": {"groupFiles", "groupSize"},
    "unsupported": {"enableUpdateCatalog", "updateBehavior"},
}
# Glue's JDBC connection types and the driver class Spark is told to use for each.
JDBC_TYPES = {
    "postgresql": "org.postgresql.Driver",
    "mysql": "org.mariadb.jdbc.Driver",
    "mariadb": "org.mariadb.jdbc.Driver",
    "sqlserver": "com.microsoft.sqlserver.jdbc.SQLServerDriver",
    "oracle": "oracle.jdbc.OracleDriver",
    "redshift": "com.amazon.redshift.jdbc42.Driver",
}
UNSUPPORTED_CONNECTIONS = (
    "dynamodb",
    "kinesis",
    "kafka",
    "mongodb",
    "documentdb",
    "opensearch",
    "marketplace.jdbc",
    "marketplace.spark",
    "custom.jdbc",
    "custom.spark",
)
