"""Settings: where the workspace, lake and metadata store are, and how Spark runs."""

from __future__ import annotations

from sparkglue.config.settings import (
    DEFAULT_WORKSPACE,
    SETTINGS_FILE,
    Settings,
    default_settings_file_text,
)

__all__ = ["DEFAULT_WORKSPACE", "SETTINGS_FILE", "Settings", "default_settings_file_text"]
