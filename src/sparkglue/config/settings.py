"""Resolve settings through one chain: defaults < ``sparkglue.toml`` < ``SPARKGLUE_*`` < flags.

Every resolved value remembers where it came from (``Settings.sources``), so ``sparkglue config``
can show it and an error about a value can name its origin.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from sparkglue.errors import ConfigError

DEFAULT_WORKSPACE = Path(".sparkglue")
SETTINGS_FILE = "sparkglue.toml"
ENV_PREFIX = "SPARKGLUE_"

_MASTER_PATTERNS = (
    re.compile(r"local(\[(\*|\d+)(,\s*\d+)?\])?"),
    re.compile(r"spark://[^\s/]+(:\d+)?(,[^\s/]+(:\d+)?)*"),
    re.compile(r"yarn"),
    re.compile(r"k8s://\S+"),
    re.compile(r"sc://[^\s/]+(:\d+)?(/\S*)?"),
)


class _SparkSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    master: str | None = None
    app_name: str | None = None
    conf: dict[str, str | int | float | bool] | None = None


class _S3Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint_url: str | None = None
    region: str | None = None


class _SettingsFile(BaseModel):
    """The keys ``sparkglue.toml`` may hold; any other key is an error that names it."""

    model_config = ConfigDict(extra="forbid")
    lake_root: str | None = None
    metadata_url: str | None = None
    allowed_roots: list[str] | None = None
    spark: _SparkSection | None = None
    s3: _S3Section | None = None


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one workspace.

    Attributes:
        workspace: the workspace folder (absolute).
        lake_root: the lake folder; table locations must be under it or an allowed root.
        metadata_url: SQLAlchemy URL of the metadata store.
        spark_master: ``local[*]``, ``spark://…``, ``yarn``, ``k8s://…`` or ``sc://…``.
        spark_app_name: the Spark application name.
        spark_conf: extra Spark configuration.
        allowed_roots: further folders table locations may point into.
        s3_endpoint_url: an S3-compatible endpoint (``http://host:port``) for ``s3://`` paths;
            None for AWS itself. Credentials come from the AWS environment variables or profile.
        s3_region: the S3 region.
        sources: for each setting, where its value came from.
    """

    workspace: Path
    lake_root: Path
    metadata_url: str
    spark_master: str = "local[*]"
    spark_app_name: str = "sparkglue"
    spark_conf: dict[str, str] = field(default_factory=dict)
    allowed_roots: tuple[Path, ...] = ()
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def s3_configured(self) -> bool:
        """Whether any S3 setting is given (``s3://`` paths are read only then)."""
        return self.s3_endpoint_url is not None or self.s3_region is not None

    @property
    def settings_file(self) -> Path:
        return self.workspace / SETTINGS_FILE

    @classmethod
    def resolve(
        cls,
        workspace: str | Path | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """Resolve settings for a workspace.

        Args:
            workspace: the workspace folder from a flag; else ``SPARKGLUE_WORKSPACE``; else
                ``./.sparkglue``.
            overrides: values from CLI flags: ``lake_root``, ``metadata_url``, ``spark_master``,
                ``spark_app_name``, ``spark_conf`` (merged over other conf), ``allowed_roots``.
            env: the environment (default ``os.environ``).
            cwd: folder that relative paths given by flags or env resolve against.
        """
        env = os.environ if env is None else env
        cwd = cwd or Path.cwd()
        overrides = dict(overrides or {})

        if workspace is not None:
            ws, ws_source = Path(workspace), "--workspace"
        elif env.get(ENV_PREFIX + "WORKSPACE"):
            ws, ws_source = Path(env[ENV_PREFIX + "WORKSPACE"]), ENV_PREFIX + "WORKSPACE"
        else:
            ws, ws_source = DEFAULT_WORKSPACE, "default"
        ws = (cwd / ws).resolve() if not ws.is_absolute() else ws.resolve()

        values: dict[str, Any] = {
            "lake_root": (ws / "lake", "default"),
            "metadata_url": (f"sqlite:///{ws / 'metadata.db'}", "default"),
            "spark_master": ("local[*]", "default"),
            "spark_app_name": ("sparkglue", "default"),
            "allowed_roots": ((), "default"),
            "s3_endpoint_url": (None, "default"),
            "s3_region": (None, "default"),
        }
        conf: dict[str, str] = {}
        conf_sources: list[str] = []

        file_values = _read_settings_file(ws / SETTINGS_FILE)
        file_src = str(ws / SETTINGS_FILE)
        if file_values is not None:
            if file_values.lake_root is not None:
                values["lake_root"] = (_path(file_values.lake_root, ws), file_src)
            if file_values.metadata_url is not None:
                values["metadata_url"] = (_url(file_values.metadata_url, ws), file_src)
            if file_values.allowed_roots is not None:
                roots = tuple(_path(p, ws) for p in file_values.allowed_roots)
                values["allowed_roots"] = (roots, file_src)
            spark = file_values.spark
            if spark is not None:
                if spark.master is not None:
                    values["spark_master"] = (spark.master, file_src)
                if spark.app_name is not None:
                    values["spark_app_name"] = (spark.app_name, file_src)
                if spark.conf:
                    conf.update({k: _conf_value(v) for k, v in spark.conf.items()})
                    conf_sources.append(file_src)
            if file_values.s3 is not None:
                if file_values.s3.endpoint_url is not None:
                    values["s3_endpoint_url"] = (file_values.s3.endpoint_url, file_src)
                if file_values.s3.region is not None:
                    values["s3_region"] = (file_values.s3.region, file_src)

        def from_env(key: str) -> str | None:
            value = env.get(ENV_PREFIX + key)
            return value if value else None

        if (v := from_env("LAKE_ROOT")) is not None:
            values["lake_root"] = (_path(v, cwd), ENV_PREFIX + "LAKE_ROOT")
        if (v := from_env("METADATA_URL")) is not None:
            values["metadata_url"] = (_url(v, cwd), ENV_PREFIX + "METADATA_URL")
        if (v := from_env("ALLOWED_ROOTS")) is not None:
            roots = tuple(_path(p, cwd) for p in v.split(os.pathsep) if p)
            values["allowed_roots"] = (roots, ENV_PREFIX + "ALLOWED_ROOTS")
        if (v := from_env("SPARK_MASTER")) is not None:
            values["spark_master"] = (v, ENV_PREFIX + "SPARK_MASTER")
        if (v := from_env("SPARK_APP_NAME")) is not None:
            values["spark_app_name"] = (v, ENV_PREFIX + "SPARK_APP_NAME")
        if (v := from_env("S3_ENDPOINT_URL")) is not None:
            values["s3_endpoint_url"] = (v, ENV_PREFIX + "S3_ENDPOINT_URL")
        if (v := from_env("S3_REGION")) is not None:
            values["s3_region"] = (v, ENV_PREFIX + "S3_REGION")
        if (v := from_env("SPARK_CONF")) is not None:
            conf.update(_conf_from_json(v, ENV_PREFIX + "SPARK_CONF"))
            conf_sources.append(ENV_PREFIX + "SPARK_CONF")

        for key, flag in (
            ("lake_root", "--lake-root"),
            ("metadata_url", "--metadata-url"),
            ("spark_master", "--master"),
            ("spark_app_name", "--app-name"),
            ("allowed_roots", "--allowed-root"),
        ):
            if overrides.get(key) not in (None, (), []):
                raw = overrides[key]
                if key == "lake_root":
                    raw = _path(str(raw), cwd)
                elif key == "metadata_url":
                    raw = _url(str(raw), cwd)
                elif key == "allowed_roots":
                    raw = tuple(_path(str(p), cwd) for p in raw)
                values[key] = (raw, flag)
        if overrides.get("spark_conf"):
            conf.update({str(k): str(v) for k, v in overrides["spark_conf"].items()})
            conf_sources.append("--conf")

        for key, setting in (("spark.master", "master"), ("spark.app.name", "app_name")):
            if key in conf:
                raise ConfigError(
                    f"'{key}' is set in the Spark conf ({' < '.join(conf_sources)}); set it as "
                    f"[spark] {setting} (or its flag or SPARKGLUE_SPARK_{setting.upper()}) instead"
                )
        master, master_source = values["spark_master"]
        if not any(p.fullmatch(master) for p in _MASTER_PATTERNS):
            raise ConfigError(
                f"spark master '{master}' (from {master_source}) is not valid; use local[*], "
                "local[N], spark://HOST:PORT, yarn, k8s://https://HOST:PORT or sc://HOST:PORT"
            )

        endpoint, endpoint_source = values["s3_endpoint_url"]
        if endpoint is not None and not re.fullmatch(r"https?://[^\s/]+/?", endpoint):
            raise ConfigError(
                f"S3 endpoint '{endpoint}' (from {endpoint_source}) is not valid; use "
                "http://HOST:PORT or https://HOST"
            )
        sources = {key: source for key, (_, source) in values.items()}
        sources["workspace"] = ws_source
        sources["spark_conf"] = " < ".join(conf_sources) if conf_sources else "default"
        return cls(
            workspace=ws,
            lake_root=values["lake_root"][0],
            metadata_url=values["metadata_url"][0],
            spark_master=master,
            spark_app_name=values["spark_app_name"][0],
            spark_conf=conf,
            allowed_roots=values["allowed_roots"][0],
            s3_endpoint_url=endpoint.rstrip("/") if endpoint else None,
            s3_region=values["s3_region"][0],
            sources=sources,
        )

    def describe(self) -> dict[str, Any]:
        """The settings as plain values with their sources, for display."""
        return {
            "workspace": {"value": str(self.workspace), "source": self.sources.get("workspace")},
            "lake_root": {"value": str(self.lake_root), "source": self.sources.get("lake_root")},
            "metadata_url": {
                "value": _redact_url(self.metadata_url),
                "source": self.sources.get("metadata_url"),
            },
            "allowed_roots": {
                "value": [str(p) for p in self.allowed_roots],
                "source": self.sources.get("allowed_roots"),
            },
            "s3.endpoint_url": {
                "value": self.s3_endpoint_url,
                "source": self.sources.get("s3_endpoint_url"),
            },
            "s3.region": {"value": self.s3_region, "source": self.sources.get("s3_region")},
            "spark.master": {
                "value": self.spark_master,
                "source": self.sources.get("spark_master"),
            },
            "spark.app_name": {
                "value": self.spark_app_name,
                "source": self.sources.get("spark_app_name"),
            },
            "spark.conf": {
                "value": dict(self.spark_conf),
                "source": self.sources.get("spark_conf"),
            },
        }


def _read_settings_file(path: Path) -> _SettingsFile | None:
    if not path.is_file():
        return None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}; fix the file") from None
    except OSError as exc:
        raise ConfigError(f"settings file {path} cannot be read: {exc.strerror}") from None
    try:
        return _SettingsFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            raise ConfigError(
                f"settings file {path}: unknown key '{key}'; known keys are lake_root, "
                "metadata_url, allowed_roots, [spark] master, app_name, conf, [s3] endpoint_url, "
                "region"
            ) from None
        raise ConfigError(f"settings file {path}: key '{key}': {err['msg']}") from None


def _path(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return (base / p).resolve() if not p.is_absolute() else p.resolve()


def _url(value: str, base: Path) -> str:
    """Normalise a metadata URL: relative SQLite paths resolve against ``base``."""
    if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        rest = value[len("sqlite:///") :]
        if rest and not rest.startswith(":memory:"):
            return f"sqlite:///{_path(rest, base)}"
        return value
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if value.startswith(("sqlite://", "postgresql+")):
        return value
    raise ConfigError(
        f"metadata URL '{_redact_url(value)}' is not supported; use sqlite:///PATH or "
        "postgresql://USER@HOST:PORT/DB"
    )


def _redact_url(url: str) -> str:
    # The password runs to the last '@' before the host: it may itself contain '@'.
    return re.sub(r"://([^:/@]+):.*@(?=[^@]*$)", r"://\1:***@", url)


def _conf_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _conf_from_json(text: str, source: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise ConfigError(
            f'{source} must be a JSON object such as \'{{"spark.sql.shuffle.partitions": "8"}}\''
        )
    return {str(k): _conf_value(v) for k, v in data.items()}


def default_settings_file_text() -> str:
    """The commented ``sparkglue.toml`` that ``sparkglue init`` writes."""
    return """\
# sparkglue workspace settings. Precedence: defaults < this file < SPARKGLUE_* env < CLI flags.
# Relative paths are relative to this workspace folder.

# lake_root = "lake"
# metadata_url = "sqlite:///metadata.db"     # or "postgresql://user@host:5432/db"
# allowed_roots = []                         # more folders table locations may point into

[spark]
# master = "local[*]"                        # spark://HOST:7077 | yarn | k8s://https://… | sc://HOST:15002
# app_name = "sparkglue"

[spark.conf]
# "spark.sql.shuffle.partitions" = "8"

[s3]                                         # for s3:// crawler targets
# endpoint_url = "http://127.0.0.1:9000"     # an S3-compatible server; omit for AWS
# region = "us-east-1"                       # credentials: AWS_ACCESS_KEY_ID/… or a profile
"""
