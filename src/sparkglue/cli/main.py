"""The ``sparkglue`` entry point: global flags, error handling, init/config/demo."""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click

from sparkglue import __version__
from sparkglue.cli.common import CliState, console_for, output_option, parse_pairs, pass_state
from sparkglue.console import TerminalConsole
from sparkglue.errors import SparkGlueError

INTERNAL_ERROR_EXIT = 70

# Each command group is imported only when it is used: `sparkglue job run` should not pay for
# the replication, crawler and ML modules at start-up (``sparkglue --help`` imports them all).
_GROUPS = {
    "catalog": "sparkglue.cli.catalog:catalog",
    "classifier": "sparkglue.cli.crawler:classifier",
    "crawler": "sparkglue.cli.crawler:crawler",
    "job": "sparkglue.cli.jobs:job",
    "ml": "sparkglue.cli.ml:ml",
    "trigger": "sparkglue.cli.scheduler:trigger",
    "workflow": "sparkglue.cli.scheduler:workflow",
    "scheduler": "sparkglue.cli.scheduler:scheduler",
    "replication": "sparkglue.cli.replication:replication",
    "cluster": "sparkglue.cli.cluster:cluster",
}


class LazyGroup(click.Group):
    """A group whose subgroups (``_GROUPS``) are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_GROUPS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _GROUPS and cmd_name not in self.commands:
            module, _, attr = _GROUPS[cmd_name].partition(":")
            command: Any = getattr(importlib.import_module(module), attr)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--workspace",
    "-w",
    metavar="DIR",
    help="Workspace folder [env SPARKGLUE_WORKSPACE; default ./.sparkglue].",
)
@click.option(
    "--master", metavar="URL", help="Spark master: local[*], spark://…, yarn, k8s://…, sc://…."
)
@click.option(
    "--metadata-url", metavar="URL", help="Metadata store: sqlite:///PATH or postgresql://…."
)
@click.option("--conf", "conf", multiple=True, metavar="K=V", help="A Spark configuration value.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(__version__, prog_name="sparkglue")
@click.pass_context
def cli(
    ctx: click.Context,
    workspace: str | None,
    master: str | None,
    metadata_url: str | None,
    conf: tuple[str, ...],
    debug: bool,
) -> None:
    """sparkglue: Glue, EMR, DMS and MLlib on your own Spark."""
    ctx.obj = CliState(
        workspace=workspace,
        overrides={
            "spark_master": master,
            "metadata_url": metadata_url,
            "spark_conf": parse_pairs(conf, "--conf"),
        },
        debug=debug,
    )


@cli.command("init")
@click.argument("directory", required=False)
@pass_state
def init(state: CliState, directory: str | None) -> None:
    """Create a workspace in DIRECTORY (default: --workspace or ./.sparkglue)."""
    if directory is not None:
        state.workspace = directory
    settings = state.settings()
    from sparkglue.workspace import Workspace

    existed = settings.settings_file.exists()
    console = TerminalConsole()
    ws = Workspace.init(settings=settings, console=console)
    ws.close()
    if existed:
        console.step(f"Workspace at {settings.workspace} is ready (it existed; schema is current)")
    else:
        console.step(f"Workspace created at {settings.workspace}")


@cli.command("config")
@output_option
@pass_state
def config(state: CliState, output: str) -> None:
    """Show the resolved settings and where each came from."""
    console = console_for(output)
    described = state.settings().describe()
    if output == "json":
        console.record(described)
        return
    rows = [[k, v["value"], v["source"]] for k, v in described.items()]
    console.table("Settings", ["setting", "value", "source"], rows)


@cli.command("demo")
@pass_state
def demo(state: CliState) -> None:
    """Run the end-to-end demo pipeline on the bundled penguins data."""
    from sparkglue.workspace import run_demo

    run_demo(state.settings(), TerminalConsole())


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: ``Error: <message>`` and exit 1 on a mistake; ``--debug`` shows tracebacks."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="sparkglue", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Error: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        # One line, like every other mistake; the usage is a --help away.
        hint = ""
        ctx = getattr(exc, "ctx", None)
        if isinstance(exc, click.UsageError) and ctx is not None:
            hint = f" (see '{ctx.command_path} --help')"
        message = " ".join(exc.format_message().split())
        click.echo(f"Error: {message}{hint}", err=True)
        sys.exit(exc.exit_code)
    except SparkGlueError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Error: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(
            f"Error: internal error ({type(exc).__name__}: {first}); rerun with --debug for the "
            "traceback and report it",
            err=True,
        )
        sys.exit(INTERNAL_ERROR_EXIT)
