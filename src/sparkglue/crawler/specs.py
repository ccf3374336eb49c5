"""Crawler and classifier specs, with Glue's field names (``DatabaseName``, ``Targets``, …).

A spec file for ``sparkglue crawler create --spec FILE`` is the body of Glue's CreateCrawler
(``Role`` and ``Schedule`` are accepted and ignored: there is no IAM here, and schedules belong
to triggers). ``Configuration`` may be an object or, as in Glue, a JSON string.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sparkglue.catalog.models import check_name
from sparkglue.crawler.globs import compile_glob

__all__ = [
    "ClassifierSpec",
    "CrawlerSpec",
    "CsvClassifierSpec",
    "GrokClassifierSpec",
    "JsonClassifierSpec",
    "XmlClassifierSpec",
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _globs(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        compile_glob(pattern)
    return patterns


class S3Target(_Spec):
    """A folder of the lake (relative to it or absolute) or an ``s3://`` path."""

    Path: str
    Exclusions: list[str] = Field(default_factory=list)
    SampleSize: int | None = Field(default=None, ge=1, le=249)
    ConnectionName: str | None = None
    EventQueueArn: str | None = None
    DlqEventQueueArn: str | None = None

    @field_validator("Exclusions")
    @classmethod
    def _exclusions(cls, value: list[str]) -> list[str]:
        return _globs(value)


class JdbcTarget(_Spec):
    """Tables of a database: ``ConnectionName`` plus ``database/schema/table`` with ``%``."""

    ConnectionName: str
    Path: str
    Exclusions: list[str] = Field(default_factory=list)
    EnableAdditionalMetadata: list[str] = Field(default_factory=list)

    @field_validator("Exclusions")
    @classmethod
    def _exclusions(cls, value: list[str]) -> list[str]:
        return _globs(value)


class TargetsSpec(_Spec):
    S3Targets: list[S3Target] = Field(default_factory=list)
    JdbcTargets: list[JdbcTarget] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some(self) -> TargetsSpec:
        if not self.S3Targets and not self.JdbcTargets:
            raise ValueError("a crawler needs at least one target (S3Targets or JdbcTargets)")
        return self


class SchemaChangePolicySpec(_Spec):
    UpdateBehavior: Literal["LOG", "UPDATE_IN_DATABASE"] = "UPDATE_IN_DATABASE"
    DeleteBehavior: Literal["LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE"] = (
        "DEPRECATE_IN_DATABASE"
    )


class RecrawlPolicySpec(_Spec):
    RecrawlBehavior: Literal["CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY"] = "CRAWL_EVERYTHING"


class GroupingSpec(_Spec):
    TableGroupingPolicy: Literal["CombineCompatibleSchemas"] | None = None
    TableLevelConfiguration: int | None = Field(default=None, ge=1)


class ConfigurationSpec(_Spec):
    Version: float = 1.0
    Grouping: GroupingSpec | None = None
    CrawlerOutput: dict[str, Any] | None = None


class CrawlerSpec(_Spec):
    """Glue's CreateCrawler body."""

    Name: str
    DatabaseName: str
    Targets: TargetsSpec
    Description: str | None = None
    TablePrefix: str = ""
    Classifiers: list[str] = Field(default_factory=list)
    SchemaChangePolicy: SchemaChangePolicySpec = Field(default_factory=SchemaChangePolicySpec)
    RecrawlPolicy: RecrawlPolicySpec = Field(default_factory=RecrawlPolicySpec)
    Configuration: ConfigurationSpec = Field(default_factory=ConfigurationSpec)
    Role: str | None = None
    Schedule: str | None = None
    Tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("Name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value or len(value) > 255 or any(c in value for c in "/\\\n\t "):
            raise ValueError(
                f"crawler name '{value}' must be 1-255 characters without spaces or '/'"
            )
        return value

    @field_validator("DatabaseName")
    @classmethod
    def _database(cls, value: str) -> str:
        return check_name("database", value)

    @field_validator("TablePrefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not all(c.isalnum() or c == "_" for c in value.lower()):
            raise ValueError(f"TablePrefix '{value}' may hold letters, digits and '_' only")
        return value.lower()

    @field_validator("Configuration", mode="before")
    @classmethod
    def _configuration(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"Configuration is not valid JSON: {exc.msg}") from None
        return value

    @model_validator(mode="after")
    def _policies(self) -> CrawlerSpec:
        incremental = self.RecrawlPolicy.RecrawlBehavior == "CRAWL_NEW_FOLDERS_ONLY"
        policy = self.SchemaChangePolicy
        if incremental and (policy.UpdateBehavior != "LOG" or policy.DeleteBehavior != "LOG"):
            # Glue's rule: an incremental crawl only adds; it never updates or deletes.
            object.__setattr__(
                self,
                "SchemaChangePolicy",
                SchemaChangePolicySpec(UpdateBehavior="LOG", DeleteBehavior="LOG"),
            )
        return self

    @property
    def grouping(self) -> GroupingSpec:
        return self.Configuration.Grouping or GroupingSpec()


class GrokClassifierSpec(_Spec):
    Name: str
    Classification: str
    GrokPattern: str
    CustomPatterns: str | None = None


class CsvClassifierSpec(_Spec):
    Name: str
    Delimiter: str | None = None
    QuoteSymbol: str = '"'
    ContainsHeader: Literal["UNKNOWN", "PRESENT", "ABSENT"] = "UNKNOWN"
    Header: list[str] = Field(default_factory=list)
    DisableValueTrimming: bool = False
    AllowSingleColumn: bool = False
    Serde: Literal["OpenCSVSerDe", "LazySimpleSerDe", "None"] | None = None

    @field_validator("Delimiter", "QuoteSymbol")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError(f"'{value}' must be a single character")
        return value


class JsonClassifierSpec(_Spec):
    Name: str
    JsonPath: str


class XmlClassifierSpec(_Spec):
    Name: str
    Classification: str
    RowTag: str

    @field_validator("RowTag")
    @classmethod
    def _tag(cls, value: str) -> str:
        if not value or any(c in value for c in "<>/ "):
            raise ValueError(f"RowTag '{value}' must be an element name without < > / or spaces")
        return value


ClassifierSpec = GrokClassifierSpec | CsvClassifierSpec | JsonClassifierSpec | XmlClassifierSpec


def classifier_definition(spec: ClassifierSpec) -> tuple[str, dict[str, Any]]:
    """(kind, definition) as the classifier registry reads them."""
    if isinstance(spec, GrokClassifierSpec):
        return "grok", {
            "classification": spec.Classification,
            "grok_pattern": spec.GrokPattern,
            "custom_patterns": spec.CustomPatterns,
        }
    if isinstance(spec, CsvClassifierSpec):
        return "csv", {
            "classification": "csv",
            "delimiter": spec.Delimiter,
            "quote_symbol": spec.QuoteSymbol,
            "contains_header": spec.ContainsHeader,
            "header": list(spec.Header),
            "disable_value_trimming": spec.DisableValueTrimming,
            "allow_single_column": spec.AllowSingleColumn,
        }
    if isinstance(spec, JsonClassifierSpec):
        return "json", {"classification": "json", "json_path": spec.JsonPath}
    return "xml", {"classification": spec.Classification, "row_tag": spec.RowTag}
