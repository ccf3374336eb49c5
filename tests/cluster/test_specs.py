"""Cluster and step specs, EMR configurations and their files: validation errors and what
``render_configurations`` makes of them (no JVM)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sparkglue.cluster import ClusterSpec, Configuration, StepSpec, parse_configurations
from sparkglue.cluster.specs import render_configurations
from sparkglue.errors import InvalidInput


def cluster_error(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        ClusterSpec.model_validate({"Name": "c", **values})
    return str(caught.value)


def env(**exports: str) -> dict[str, Any]:
    return {
        "Classification": "spark-env",
        "Configurations": [{"Classification": "export", "Properties": exports}],
    }


def test_defaults_and_normalised_values():
    spec = ClusterSpec(Name="a.b_c-1", Workers=3, WorkerCores=2, WorkerMemory="512M")
    assert spec.WorkerMemory == "512m"
    assert (spec.StepConcurrencyLevel, spec.IdleTimeout, spec.Host) == (1, None, "127.0.0.1")
    assert spec.total_cores == 6
    assert spec.connect_cores == 3
    assert ClusterSpec(Name="x", Workers=1, WorkerCores=1).connect_cores == 1
    assert ClusterSpec(Name="x", Workers=2, WorkerCores=2, ConnectCores=9).connect_cores == 4


@pytest.mark.parametrize("name", ["", "-lead", "has space", "slash/y", "x" * 64, "é"])
def test_bad_cluster_names(name: str):
    assert "is not a valid cluster name" in cluster_error(Name=name)


@pytest.mark.parametrize("size", ["2gb", "0g", "512", "1.5g", "2t", "g"])
def test_bad_memory_sizes(size: str):
    assert f"'{size}' is not a memory size such as 512m or 2g" in cluster_error(WorkerMemory=size)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"Workers": 0}, "Workers"),
        ({"Workers": 65}, "Workers"),
        ({"WorkerCores": 0}, "WorkerCores"),
        ({"IdleTimeout": 0}, "IdleTimeout"),
        ({"IdleTimeout": 604_801}, "IdleTimeout"),
        ({"StepConcurrencyLevel": 0}, "StepConcurrencyLevel"),
        ({"InstanceType": "m5.xlarge"}, "InstanceType"),
    ],
)
def test_bad_cluster_values(values: dict[str, Any], where: str):
    assert where in cluster_error(**values)


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        (
            {"Classification": "yarn-site", "Properties": {"a": "b"}},
            "classification 'yarn-site' is not supported; use one of spark-defaults, spark-env",
        ),
        (
            {"Classification": "spark-env", "Properties": {"JAVA_HOME": "/x"}},
            "spark-env takes its variables in a nested 'export' configuration",
        ),
        (
            {"Classification": "spark-env", "Configurations": [{"Classification": "spark"}]},
            "spark-env holds 'export' configurations, not 'spark'",
        ),
        (env(**{"1BAD": "x"}), "spark-env export '1BAD' is not a variable name"),
        (
            {
                "Classification": "spark-defaults",
                "Configurations": [{"Classification": "export", "Properties": {}}],
            },
            "spark-defaults takes no nested configurations",
        ),
        (
            {"Classification": "spark-defaults", "Properties": {"spark.master": "local[2]"}},
            "spark-defaults cannot set 'spark.master'",
        ),
        (
            {"Classification": "spark-defaults", "Propertys": {}},
            "Propertys",
        ),
    ],
)
def test_bad_configurations(configuration: dict[str, Any], message: str, tmp_path: Path):
    assert message in cluster_error(Configurations=[configuration])
    # The same mistake in a configurations file is one line naming the file.
    path = tmp_path / "conf.json"
    path.write_text(json.dumps([configuration]))
    with pytest.raises(InvalidInput) as caught:
        parse_configurations(path)
    assert str(caught.value).startswith(f"configurations file {path}")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_configurations_file_errors(tmp_path: Path):
    missing = tmp_path / "missing.json"
    with pytest.raises(InvalidInput, match=r"configurations file .*missing\.json cannot be read"):
        parse_configurations(missing)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"Classification": "spark-defaults",\n')
    with pytest.raises(InvalidInput, match=r"broken\.json is not valid JSON \(.* at line 2\)"):
        parse_configurations(broken)
    scalar = tmp_path / "scalar.json"
    scalar.write_text("3")
    with pytest.raises(InvalidInput, match=r"scalar\.json must hold a JSON list"):
        parse_configurations(scalar)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps([{"Classification": "spark-defaults", "Props": {}}]))
    with pytest.raises(InvalidInput, match=r"unknown\.json: unknown key 'Props'"):
        parse_configurations(unknown)


def test_a_configurations_file_is_read(tmp_path: Path):
    path = tmp_path / "conf.json"
    path.write_text(
        json.dumps(
            [
                {
                    "Classification": "spark-defaults",
                    "Properties": {"spark.executor.memory": "1g", "spark.eventLog.enabled": True},
                },
                env(PYTHONHASHSEED="0"),
            ]
        )
    )
    items = parse_configurations(path)
    assert [i.Classification for i in items] == ["spark-defaults", "spark-env"]
    # Values are strings, booleans as JSON spells them.
    assert items[0].Properties == {"spark.executor.memory": "1g", "spark.eventLog.enabled": "true"}
    # A single object is taken as a list of one.
    path.write_text(json.dumps(env(A="1")))
    assert [i.Classification for i in parse_configurations(path)] == ["spark-env"]


def test_render_configurations():
    items = [
        Configuration(Classification="spark-defaults", Properties={"a": "1", "b": "1"}),
        Configuration.model_validate(env(X="1", Y="one")),
        Configuration(Classification="spark-log4j", Properties={"rootLogger.level": "warn"}),
        Configuration(Classification="spark-defaults", Properties={"b": "2", "c": 3}),  # type: ignore[dict-item]
        Configuration.model_validate(env(Y="two")),
        Configuration(Classification="spark-log4j2", Properties={"logger.x.level": "error"}),
    ]
    defaults, exports, log4j = render_configurations(items)
    assert defaults == {"a": "1", "b": "2", "c": "3"}
    assert exports == {"X": "1", "Y": "two"}
    assert log4j == {"rootLogger.level": "warn", "logger.x.level": "error"}
    assert render_configurations([]) == ({}, {}, {})


def test_step_spec_validation():
    step = StepSpec(Name="s", Script="job.py")
    assert (step.ActionOnFailure, step.Args) == ("CONTINUE", [])
    with pytest.raises(ValidationError, match="ActionOnFailure"):
        StepSpec(Name="s", Script="job.py", ActionOnFailure="TERMINATE_JOB_FLOW")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Name"):
        StepSpec(Name="", Script="job.py")
    with pytest.raises(ValidationError, match="HadoopJarStep"):
        StepSpec.model_validate({"Name": "s", "Script": "job.py", "HadoopJarStep": {}})
