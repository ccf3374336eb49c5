"""Trigger and workflow specs with Glue's field names (``Type``, ``Schedule``, ``Predicate``,
``Actions``, ``EventBatchingCondition``, ``DefaultRunProperties``, ``MaxConcurrentRuns``).

A spec file for ``sparkglue trigger create --spec FILE`` is the body of Glue's CreateTrigger
(``Tags`` accepted and ignored). ``EventPath`` is sparkglue's own: the lake folder whose new
files an EVENT trigger watches (Glue takes those events from EventBridge).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sparkglue.scheduler.schedule import parse_schedule

__all__ = [
    "CRAWL_CONDITION_STATES",
    "JOB_CONDITION_STATES",
    "TRIGGER_TYPES",
    "ActionSpec",
    "ConditionSpec",
    "EventBatchingSpec",
    "PredicateSpec",
    "TriggerSpec",
    "WorkflowSpec",
]

TRIGGER_TYPES = ("SCHEDULED", "CONDITIONAL", "ON_DEMAND", "EVENT")
JOB_CONDITION_STATES = ("SUCCEEDED", "STOPPED", "FAILED", "TIMEOUT")
CRAWL_CONDITION_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")


def _check_name(kind: str, value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"{kind} name '{value}' must be 1-255 letters, digits, '_', '-' or '.'")
    return value


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConditionSpec(_Spec):
    """A job in ``State`` or a crawler in ``CrawlState`` (``LogicalOperator`` EQUALS)."""

    LogicalOperator: Literal["EQUALS"] = "EQUALS"
    JobName: str | None = None
    State: Literal["SUCCEEDED", "STOPPED", "FAILED", "TIMEOUT"] | None = None
    CrawlerName: str | None = None
    CrawlState: Literal["SUCCEEDED", "FAILED", "CANCELLED"] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ConditionSpec:
        job = self.JobName is not None or self.State is not None
        crawl = self.CrawlerName is not None or self.CrawlState is not None
        if job == crawl:
            raise ValueError(
                "a condition watches either a job (JobName and State) or a crawler "
                "(CrawlerName and CrawlState)"
            )
        if job and (self.JobName is None or self.State is None):
            raise ValueError("a job condition needs both JobName and State")
        if crawl and (self.CrawlerName is None or self.CrawlState is None):
            raise ValueError("a crawler condition needs both CrawlerName and CrawlState")
        return self

    @property
    def kind(self) -> str:
        return "JOB" if self.JobName is not None else "CRAWLER"

    @property
    def target(self) -> str:
        return self.JobName or self.CrawlerName or ""

    @property
    def wanted(self) -> str:
        return self.State or self.CrawlState or ""


class PredicateSpec(_Spec):
    """``Logical`` AND (all conditions) or ANY (one of them)."""

    Logical: Literal["AND", "ANY"] = "AND"
    Conditions: list[ConditionSpec] = Field(min_length=1)


class ActionSpec(_Spec):
    """Start a job (with ``Arguments`` and a ``Timeout`` in minutes) or a crawler."""

    JobName: str | None = None
    CrawlerName: str | None = None
    Arguments: dict[str, str] = Field(default_factory=dict)
    Timeout: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_target(self) -> ActionSpec:
        if (self.JobName is None) == (self.CrawlerName is None):
            raise ValueError("an action starts either a job (JobName) or a crawler (CrawlerName)")
        if self.CrawlerName is not None and (self.Arguments or self.Timeout):
            raise ValueError("Arguments and Timeout apply to job actions only")
        return self

    @property
    def kind(self) -> str:
        return "JOB" if self.JobName is not None else "CRAWLER"

    @property
    def target(self) -> str:
        return self.JobName or self.CrawlerName or ""


class EventBatchingSpec(_Spec):
    """Fire after ``BatchSize`` new files, or ``BatchWindow`` seconds after the first one."""

    BatchSize: int = Field(default=1, ge=1, le=100)
    BatchWindow: int = Field(default=900, ge=1, le=900)


class TriggerSpec(_Spec):
    """Glue's CreateTrigger body."""

    Name: str
    Type: Literal["SCHEDULED", "CONDITIONAL", "ON_DEMAND", "EVENT"]
    WorkflowName: str | None = None
    Schedule: str | None = None
    Predicate: PredicateSpec | None = None
    Actions: list[ActionSpec] = Field(min_length=1)
    Description: str | None = None
    StartOnCreation: bool = False
    EventBatchingCondition: EventBatchingSpec | None = None
    EventPath: str | None = None
    Tags: dict[str, str] | None = None

    @field_validator("Name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name("trigger", value)

    @field_validator("Schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else parse_schedule(value).text

    @model_validator(mode="after")
    def _fits_type(self) -> TriggerSpec:
        needs = {"SCHEDULED": "Schedule", "CONDITIONAL": "Predicate", "EVENT": "EventPath"}
        for kind, key in needs.items():
            given = getattr(self, key) is not None
            if self.Type == kind and not given:
                raise ValueError(f"a {kind} trigger needs {key}")
            if self.Type != kind and given:
                raise ValueError(f"{key} belongs to {kind} triggers, not {self.Type}")
        if self.EventBatchingCondition is not None and self.Type != "EVENT":
            raise ValueError(f"EventBatchingCondition belongs to EVENT triggers, not {self.Type}")
        if self.Type == "ON_DEMAND" and self.StartOnCreation:
            raise ValueError("an ON_DEMAND trigger cannot StartOnCreation; start it instead")
        return self

    @property
    def batching(self) -> EventBatchingSpec:
        return self.EventBatchingCondition or EventBatchingSpec()


class WorkflowSpec(_Spec):
    """Glue's CreateWorkflow body."""

    Name: str
    Description: str | None = None
    DefaultRunProperties: dict[str, str] = Field(default_factory=dict)
    MaxConcurrentRuns: int | None = Field(default=None, ge=1)
    Tags: dict[str, str] | None = None

    @field_validator("Name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name("workflow", value)
