"""Triggers, workflows and the scheduler daemon."""

from sparkglue.scheduler.daemon import Scheduler
from sparkglue.scheduler.schedule import parse_schedule
from sparkglue.scheduler.service import SchedulerService, TriggerRecord, WorkflowRun
from sparkglue.scheduler.specs import TriggerSpec, WorkflowSpec

__all__ = [
    "Scheduler",
    "SchedulerService",
    "TriggerRecord",
    "TriggerSpec",
    "WorkflowRun",
    "WorkflowSpec",
    "parse_schedule",
]
