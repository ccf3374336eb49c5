"""``sparkglue ml …``: decision trees from catalog tables, the model registry, prediction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sparkglue.cli.common import CliState, console_for, output_option, pass_state
from sparkglue.console import Console, TerminalConsole
from sparkglue.errors import EntityNotFound
from sparkglue.ml import MLRun, ModelVersion, TrainOptions, parse_grid


@click.group()
def ml() -> None:
    """Decision trees with Spark MLlib: train, evaluate, register, predict, serve."""


@ml.command("train")
@click.argument("name")
@click.option("--table", required=True, help="The training table, DB.TABLE.")
@click.option("--label", required=True, help="The column to predict.")
@click.option(
    "--features", default="all", show_default=True, help="Columns a,b,… or all usable ones."
)
@click.option("--task", type=click.Choice(["classification", "regression"]))
@click.option("--max-depth", type=int, default=5, show_default=True)
@click.option("--max-bins", type=int, default=32, show_default=True)
@click.option("--impurity", type=click.Choice(["gini", "entropy", "variance"]))
@click.option("--min-instances-per-node", type=int, default=1, show_default=True)
@click.option("--min-info-gain", type=float, default=0.0, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--test-fraction", type=float, default=0.2, show_default=True)
@click.option("--cv-folds", type=int, help="Cross-validate the --grid with K folds.")
@click.option("--grid", multiple=True, metavar="PARAM=V1,V2", help="Values to search (repeatable).")
@click.option(
    "--impute",
    type=click.Choice(["mean", "median", "mode"]),
    default="mean",
    show_default=True,
    help="How missing numbers are filled.",
)
@click.option("--description", default="", help="A note kept with the model.")
@click.option("--cluster", help="Train on this cluster (`sparkglue cluster`).")
@output_option
@pass_state
def train(state: CliState, /, name: str, output: str, **o: Any) -> None:
    """Train a tree on a catalog table and register it as the next version of NAME."""
    console = console_for(output)
    features = None if o["features"].strip() == "all" else _names(o["features"])
    options = TrainOptions(
        table=o["table"],
        label=o["label"],
        features=features,
        task=o["task"],
        max_depth=o["max_depth"],
        max_bins=o["max_bins"],
        impurity=o["impurity"],
        min_instances_per_node=o["min_instances_per_node"],
        min_info_gain=o["min_info_gain"],
        seed=o["seed"],
        test_fraction=o["test_fraction"],
        cv_folds=o["cv_folds"],
        grid=parse_grid(o["grid"]),
        impute=o["impute"],
        description=o["description"],
    )
    with state.open(console) as ws:
        if o["cluster"]:
            ws = ws.on_cluster(o["cluster"])
        model = ws.ml.train(name, options)
        if output == "json":
            console.record(_summary(model))
            return
        _print_model(console, model, rules=True)


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _summary(model: ModelVersion) -> dict[str, Any]:
    meta = model.metadata
    return {
        "model": model.ref,
        "aliases": model.aliases,
        "task": model.task,
        "label": meta["label"]["name"],
        "table": meta["training"]["table"],
        "features": [f["name"] for f in meta["features"]],
        "metrics": meta["metrics"],
        "location": model.location,
        "run_id": model.run_id,
    }


def _print_model(console: Console, model: ModelVersion, *, rules: bool) -> None:
    meta = model.metadata
    metrics = meta.get("metrics", {})
    training = meta.get("training", {})
    rows = [
        ["model", model.ref + (f" ({', '.join(model.aliases)})" if model.aliases else "")],
        ["task", f"{model.task}: {meta['label']['name']} from {training.get('table')}"],
        [
            "rows",
            f"{training.get('rows')} ({training.get('train_rows')} train, "
            f"{training.get('test_rows')} test)",
        ],
        ["features", ", ".join(f["name"] for f in meta["features"])],
        ["params", ", ".join(f"{k}={v}" for k, v in meta["params"].items() if v not in (None, {}))],
    ]
    for key in (
        "accuracy",
        "weighted_precision",
        "weighted_recall",
        "weighted_f1",
        "area_under_roc",
        "rmse",
        "mae",
        "r2",
    ):
        if metrics.get(key) is not None:
            rows.append([key, f"{metrics[key]:.4f}"])
    if meta.get("tree"):
        rows.append(["tree", f"depth {meta['tree']['depth']}, {meta['tree']['nodes']} nodes"])
    importances = meta.get("feature_importances", {})
    rows.append(["importances", ", ".join(f"{k} {v:.3f}" for k, v in importances.items() if v > 0)])
    rows.append(["created", f"{model.created_at} by run {model.run_id}"])
    rows.append(["location", model.location])
    console.table(f"Model {model.ref}", ["", ""], rows)
    per_class = metrics.get("per_class")
    if per_class:
        console.table(
            "Per class (test rows)",
            ["class", "precision", "recall", "f1", "support"],
            [
                [c, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", m["support"]]
                for c, m in per_class.items()
            ],
        )
        cm = metrics["confusion_matrix"]
        console.table(
            "Confusion matrix (rows: actual, columns: predicted)",
            ["actual \\ predicted", *cm["labels"]],
            [[label, *row] for label, row in zip(cm["labels"], cm["matrix"], strict=True)],
        )
    folder = Path(model.location)
    if rules and (folder / "rules.txt").exists():
        console.message("Rules:\n" + (folder / "rules.txt").read_text(encoding="utf-8").rstrip())
    pictures = [
        p
        for p in ("tree.svg", "confusion_matrix.png", "feature_importances.png")
        if (folder / p).exists()
    ]
    console.message("Pictures: " + ", ".join(str(folder / p) for p in pictures))


@ml.command("models")
@click.argument("name", required=False)
@output_option
@pass_state
def models(state: CliState, name: str | None, output: str) -> None:
    """List the registered models and versions (of NAME)."""
    console = console_for(output)
    with state.open(console) as ws:
        found = ws.ml.list_models(name)
    if output == "json":
        console.table("", ["models"], [[_summary(m)] for m in found])
        return
    rows = []
    for m in found:
        metrics = m.metadata.get("metrics", {})
        score = (
            f"accuracy {metrics['accuracy']:.4f}"
            if metrics.get("accuracy") is not None
            else f"rmse {metrics['rmse']:.4g}"
            if metrics.get("rmse") is not None
            else ""
        )
        rows.append(
            [
                m.name,
                m.version,
                ", ".join(m.aliases),
                m.task,
                m.metadata["training"]["table"],
                score,
                m.created_at,
            ]
        )
    console.table(
        "Models",
        ["name", "version", "aliases", "task", "trained on", "test metric", "created"],
        rows,
    )


@ml.command("show")
@click.argument("ref", metavar="NAME[:VERSION|@ALIAS]")
@click.option("--rules/--no-rules", default=True, show_default=True, help="Print the rules.")
@output_option
@pass_state
def show(state: CliState, ref: str, rules: bool, output: str) -> None:
    """Show a model version: metrics, features, params, rules and pictures."""
    console = console_for(output)
    with state.open(console) as ws:
        model = ws.ml.get_model(ref)
    if output == "json":
        console.record(model.as_dict())
        return
    _print_model(console, model, rules=rules)


@ml.command("compare")
@click.argument("a", metavar="NAME:VERSION")
@click.argument("b", metavar="NAME:VERSION")
@output_option
@pass_state
def compare(state: CliState, a: str, b: str, output: str) -> None:
    """Compare two versions: params, metrics, features side by side."""
    console = console_for(output)
    with state.open(console) as ws:
        diff = ws.ml.compare(a, b)
    if output == "json":
        console.record(diff)
        return
    left, right = diff["models"]
    for section in ("params", "metrics"):
        console.table(
            section.capitalize(),
            ["", left, right, "change"],
            [
                [
                    r["name"],
                    _fmt(r["a"]),
                    _fmt(r["b"]),
                    "" if r["same"] else (f"{r['delta']:+.4g}" if r["delta"] is not None else "≠"),
                ]
                for r in diff[section]
            ],
        )
    f = diff["features"]
    console.message(
        f"Features in both: {', '.join(f['both']) or '-'}; only in {left}: "
        f"{', '.join(f['only_a']) or '-'}; only in {right}: {', '.join(f['only_b']) or '-'}"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else json.dumps(value) if isinstance(value, list) else str(value)


@ml.command("promote")
@click.argument("ref", metavar="NAME:VERSION")
@click.option("--alias", required=True, help="The alias to point at it, e.g. production.")
@pass_state
def promote(state: CliState, ref: str, alias: str) -> None:
    """Point an alias (e.g. production) at a version."""
    console = TerminalConsole()
    with state.open(console) as ws:
        model = ws.ml.promote(ref, alias)
    console.step(f"{model.name}@{alias} is now version {model.version}")


@ml.command("delete")
@click.argument("ref", metavar="NAME[:VERSION]")
@pass_state
def delete(state: CliState, ref: str) -> None:
    """Delete a version, or every version of a model, with its folder."""
    console = TerminalConsole()
    with state.open(console) as ws:
        gone = ws.ml.delete(ref)
    console.step(f"Deleted {', '.join(m.ref for m in gone)}")


@ml.command("predict")
@click.argument("ref", metavar="NAME[:VERSION|@ALIAS]")
@click.option("--table", required=True, help="The table to score, DB.TABLE.")
@click.option("--output", "target", required=True, help="The table to write, DB.TABLE.")
@click.option("--cluster", help="Score on this cluster (`sparkglue cluster`).")
@pass_state
def predict(state: CliState, ref: str, table: str, target: str, cluster: str | None) -> None:
    """Score a table in batch into a Parquet table registered in the catalog."""
    console = TerminalConsole()
    with state.open(console) as ws:
        if cluster:
            ws = ws.on_cluster(cluster)
        run = ws.ml.predict(ref, table, target)
    console.step(
        f"Run {run.id} {run.state}: {run.metrics.get('records_written')} predictions in "
        f"{target} ({run.metrics.get('ExecutionTime')} s)"
    )


@ml.command("serve")
@click.argument("ref", metavar="NAME[:VERSION|@ALIAS]")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8081, show_default=True)
@pass_state
def serve(state: CliState, ref: str, host: str, port: int) -> None:
    """Answer predictions over HTTP with the compiled model (no Spark, no JVM)."""
    from sparkglue.ml.serve import serve as run_server

    console = TerminalConsole()
    with state.open(console) as ws:
        predictor = ws.ml.load_predictor(ref)
    run_server(predictor, host, port, console)


@ml.command("runs")
@click.argument("name", required=False)
@output_option
@pass_state
def runs(state: CliState, name: str | None, output: str) -> None:
    """List training and prediction runs (of model NAME)."""
    console = console_for(output)
    with state.open(console) as ws:
        found = ws.ml.list_runs(name)
    console.table(
        "ML runs",
        ["id", "kind", "model", "version", "state", "started", "seconds", "error"],
        [_run_row(r) for r in found],
    )


def _run_row(r: MLRun) -> list[Any]:
    return [
        r.id,
        r.kind,
        r.model,
        r.model_version,
        r.state,
        r.started_at,
        r.metrics.get("ExecutionTime"),
        r.error_message,
    ]


@ml.command("logs")
@click.argument("run_id")
@pass_state
def logs(state: CliState, run_id: str) -> None:
    """Print the log of a training or prediction run."""
    console = TerminalConsole()
    with state.open(console) as ws:
        run = ws.ml.get_run(run_id)
    if not run.log_path or not Path(run.log_path).exists():
        raise EntityNotFound(f"ml run {run_id} has no log file")
    click.echo(Path(run.log_path).read_text(encoding="utf-8"), nl=False)
