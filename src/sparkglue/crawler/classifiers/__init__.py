"""Classifiers: built-in ones in Glue's order, and custom ones users define."""

from __future__ import annotations

from sparkglue.crawler.classifiers.base import Classifier, Inferred, Verdict
from sparkglue.crawler.classifiers.registry import builtin_classifiers, classify, custom_classifier

__all__ = [
    "Classifier",
    "Inferred",
    "Verdict",
    "builtin_classifiers",
    "classify",
    "custom_classifier",
]
