from __future__ import annotations

from pathlib import Path

import pytest

from sparkglue.config import SETTINGS_FILE, Settings
from sparkglue.errors import ConfigError


def _write(ws: Path, text: str) -> None:
    ws.mkdir(parents=True, exist_ok=True)
    (ws / "sparkglue.toml").write_text(text)


def test_defaults_live_in_the_workspace(tmp_path: Path) -> None:
    s = Settings.resolve(tmp_path / "ws", env={})
    assert s.workspace == (tmp_path / "ws").resolve()
    assert s.lake_root == s.workspace / "lake"
    assert s.metadata_url == f"sqlite:///{s.workspace / 'metadata.db'}"
    assert s.spark_master == "local[*]"
    assert s.sources["spark_master"] == "default"
    assert s.sources["workspace"] == "--workspace"


def test_precedence_defaults_file_env_flags(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _write(
        ws,
        'lake_root = "data"\n[spark]\nmaster = "local[2]"\napp_name = "from-file"\n'
        '[spark.conf]\n"spark.a" = "file"\n"spark.b" = "file"\n"spark.c" = 3\n',
    )
    env = {
        "SPARKGLUE_SPARK_MASTER": "local[3]",
        "SPARKGLUE_SPARK_CONF": '{"spark.b": "env", "spark.d": true}',
    }
    s = Settings.resolve(ws, env=env, overrides={"spark_conf": {"spark.d": "flag"}})
    assert s.lake_root == ws.resolve() / "data"  # file beats default, relative to the workspace
    assert s.sources["lake_root"].endswith("sparkglue.toml")
    assert s.spark_master == "local[3]"  # env beats file
    assert s.sources["spark_master"] == "SPARKGLUE_SPARK_MASTER"
    assert s.spark_app_name == "from-file"
    assert s.spark_conf == {"spark.a": "file", "spark.b": "env", "spark.c": "3", "spark.d": "flag"}
    flagged = Settings.resolve(ws, env=env, overrides={"spark_master": "local[4]"})
    assert flagged.spark_master == "local[4]"  # flag beats env
    assert flagged.sources["spark_master"] == "--master"


def test_workspace_from_env_then_default(tmp_path: Path) -> None:
    s = Settings.resolve(env={"SPARKGLUE_WORKSPACE": str(tmp_path / "envws")}, cwd=tmp_path)
    assert s.workspace == (tmp_path / "envws").resolve()
    assert s.sources["workspace"] == "SPARKGLUE_WORKSPACE"
    d = Settings.resolve(env={}, cwd=tmp_path)
    assert d.workspace == (tmp_path / ".sparkglue").resolve()
    assert d.sources["workspace"] == "default"


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    _write(tmp_path, "[spark]\nmastr = 'local[*]'\n")
    with pytest.raises(ConfigError, match=r"unknown key 'spark\.mastr'"):
        Settings.resolve(tmp_path, env={})


def test_malformed_toml_is_one_line(tmp_path: Path) -> None:
    _write(tmp_path, "lake_root = \n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        Settings.resolve(tmp_path, env={})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "master",
    [
        "local",
        "local[*]",
        "local[8]",
        "local[4,2]",
        "spark://h:7077",
        "spark://a:7077,b:7077",
        "yarn",
        "k8s://https://api:6443",
        "sc://localhost:15002",
        "sc://h:15002/;token=x",
    ],
)
def test_valid_masters(tmp_path: Path, master: str) -> None:
    assert Settings.resolve(tmp_path, env={"SPARKGLUE_SPARK_MASTER": master}).spark_master == master


@pytest.mark.parametrize("master", ["", "locl[*]", "spark:/h", "mesos://x", "local[x]"])
def test_invalid_master_names_its_source(tmp_path: Path, master: str) -> None:
    with pytest.raises(ConfigError, match="is not valid") as info:
        Settings.resolve(tmp_path, overrides={"spark_master": master or "  "}, env={})
    assert "--master" in str(info.value)


def test_spark_conf_env_must_be_a_json_object(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SPARKGLUE_SPARK_CONF must be a JSON object"):
        Settings.resolve(tmp_path, env={"SPARKGLUE_SPARK_CONF": "[1]"})


def test_metadata_urls(tmp_path: Path) -> None:
    pg = Settings.resolve(tmp_path, env={"SPARKGLUE_METADATA_URL": "postgresql://u:secret@h/db"})
    assert pg.metadata_url == "postgresql+psycopg://u:secret@h/db"
    assert "secret" not in str(pg.describe())
    rel = Settings.resolve(
        tmp_path, overrides={"metadata_url": "sqlite:///meta.db"}, env={}, cwd=tmp_path
    )
    assert rel.metadata_url == f"sqlite:///{tmp_path.resolve() / 'meta.db'}"
    with pytest.raises(ConfigError, match="not supported"):
        Settings.resolve(tmp_path, env={"SPARKGLUE_METADATA_URL": "mysql://h/db"})


@pytest.mark.parametrize("key", ["spark.master", "spark.app.name"])
def test_master_and_app_name_cannot_hide_in_spark_conf(tmp_path: Path, key: str) -> None:
    _write(tmp_path, f'[spark.conf]\n"{key}" = "yarn"\n')
    with pytest.raises(ConfigError, match=f"'{key}' is set in the Spark conf"):
        Settings.resolve(tmp_path, env={})


def test_passwords_with_at_signs_are_fully_redacted(tmp_path: Path) -> None:
    s = Settings.resolve(tmp_path, env={"SPARKGLUE_METADATA_URL": "postgresql://u:p@ss@h:5432/db"})
    assert s.describe()["metadata_url"]["value"] == "postgresql+psycopg://u:***@h:5432/db"


def test_s3_settings_from_file_and_env(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / SETTINGS_FILE).write_text(
        '[s3]\nendpoint_url = "http://127.0.0.1:9000/"\nregion = "eu-west-1"\n'
    )
    s = Settings.resolve(ws, env={})
    assert (s.s3_endpoint_url, s.s3_region, s.s3_configured) == (
        "http://127.0.0.1:9000",
        "eu-west-1",
        True,
    )
    assert s.sources["s3_region"] == str(ws / SETTINGS_FILE)
    s = Settings.resolve(ws, env={"SPARKGLUE_S3_REGION": "us-east-2"})
    assert (s.s3_region, s.sources["s3_region"]) == ("us-east-2", "SPARKGLUE_S3_REGION")
    assert not Settings.resolve(tmp_path / "other", env={}).s3_configured
    with pytest.raises(ConfigError, match="S3 endpoint 'minio:9000' .* is not valid"):
        Settings.resolve(ws, env={"SPARKGLUE_S3_ENDPOINT_URL": "minio:9000"})
