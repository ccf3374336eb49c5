"""Crawlers: classify files and database tables, and keep catalog tables in step with them."""

from __future__ import annotations

from sparkglue.crawler.service import CrawlerRecord, CrawlerRunning, CrawlerService, CrawlRun
from sparkglue.crawler.specs import (
    CrawlerSpec,
    CsvClassifierSpec,
    GrokClassifierSpec,
    JsonClassifierSpec,
    XmlClassifierSpec,
)

__all__ = [
    "CrawlRun",
    "CrawlerRecord",
    "CrawlerRunning",
    "CrawlerService",
    "CrawlerSpec",
    "CsvClassifierSpec",
    "GrokClassifierSpec",
    "JsonClassifierSpec",
    "XmlClassifierSpec",
]
