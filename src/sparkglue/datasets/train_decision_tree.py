"""A pythonshell job that trains a decision tree from its workflow run's properties.

The demo's workflow ends with it: ``table``, ``label``, ``features`` (comma-separated),
``model_name`` and ``max_depth`` come from the run properties, and the trained version is
written back as ``model_version`` for whatever runs next. Run outside a workflow it needs
``--table``, ``--label`` and ``--model_name`` arguments instead.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    from sparkglue.ml import TrainOptions
    from sparkglue.workspace import Workspace

    # Job arguments come as --KEY VALUE pairs after the script's name.
    args = {k.removeprefix("--"): v for k, v in zip(argv[1::2], argv[2::2], strict=False)}
    ws = Workspace(os.environ.get("SPARKGLUE_WORKSPACE"))
    run_id = args.get("WORKFLOW_RUN_ID")
    settings = ws.scheduler.get_run_properties(run_id) if run_id else args
    missing = [k for k in ("table", "label", "model_name") if k not in settings]
    if missing:
        print(f"missing settings: {', '.join(missing)} (run properties or --KEY VALUE)")
        return 2
    features = [f for f in settings.get("features", "").split(",") if f] or None
    model = ws.ml.train(
        settings["model_name"],
        TrainOptions(
            table=settings["table"],
            label=settings["label"],
            features=features,
            max_depth=int(settings.get("max_depth", "5")),
            description=settings.get("description", ""),
        ),
    )
    metrics = model.metadata["metrics"]
    print(f"trained {model.ref} on {settings['table']}: {metrics}", flush=True)
    if run_id is not None:
        ws.scheduler.put_run_properties(run_id, {"model_version": model.ref})
    ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
