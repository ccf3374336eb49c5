from __future__ import annotations

import sparkglue


def test_public_names() -> None:
    assert sorted(sparkglue.__all__) == ["Settings", "SparkGlueError", "Workspace", "__version__"]
    for name in sparkglue.__all__:
        assert getattr(sparkglue, name) is not None


def test_errors_share_one_root_and_have_stable_codes() -> None:
    from sparkglue import errors

    classes = [getattr(errors, n) for n in errors.__all__ if n != "SparkGlueWarning"]
    assert all(issubclass(c, sparkglue.SparkGlueError) for c in classes)
    codes = [c.code for c in classes if c is not errors.SparkGlueError]
    assert len(codes) == len(set(codes))
    assert issubclass(errors.EntityNotFound, KeyError)
    assert issubclass(errors.InvalidInput, ValueError)
    assert str(errors.EntityNotFound("x not found")) == "x not found"


def test_json_output_keeps_repeated_column_names_apart() -> None:
    import io
    import json

    from sparkglue.console import JsonConsole

    out = io.StringIO()
    JsonConsole(out=out).table("", ["a", "a", "b"], [[1, 2, 3]])
    assert json.loads(out.getvalue()) == [{"a": 1, "a_2": 2, "b": 3}]
