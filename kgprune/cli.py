"""The `kgprune` command line: assembles the command groups of `kgprune.commands`.

Results go to stdout (`--json` prints pure JSON); progress and errors go to stderr. Every
`KgpruneError` becomes one line and exit code 1; a traceback only with KGPRUNE_DEBUG=1. Ctrl-C
in a load, a prune or a training run prints one line saying what it left behind, exit code 130.

Command modules are imported only when their command runs (or shows its own help): `kgprune
--help` and `kgprune kg stats` start without torch, transformers, spaCy or FAISS.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from kgprune import __version__
from kgprune.errors import KgpruneError

COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("demo", "demo_cmd", "The main job: KG -> linking -> retrieval -> trained model -> "
             "Table 1 of pruning methods."),
    "kg": ("kg", "kg_app", "Load and inspect the knowledge graph."),
    "link": ("link", "link_app", "Link text to knowledge-graph concepts."),
    "serve": ("serve", "serve_cmd", "Serve /health, /link and /facts over HTTP."),
    "vqa": ("vqa", "vqa_app", "Knowledge-grounded VQA: data and evaluation."),
    "train": ("train", "train_cmd", "Train kgvqa with L_task + λ·L_knowledge."),
    "prune": ("prune", "prune_cmd", "Prune heads and FFN neurons by importance, in rounds, "
              "with fine-tuning."),
    "importance": ("prune", "importance_cmd", "Score every head and FFN neuron and save the "
                   "scores."),
    "measure": ("measure", "measure_cmd", "Parameters, FLOPs, memory and latency of a model."),
    "quantize": ("measure", "quantize_cmd", "Dynamic int8 quantisation of every Linear layer."),
    "relations": ("relations", "relations_cmd", "Knowledge-gradient importance per relation "
                  "type."),
    "experiment": ("experiment", "experiment_app", "Run the paper's studies (tables, ablations, "
                   "sensitivity, overhead)."),
    "report": ("report", "report", "Re-render a run's reports from its finished cells."),
}
"""Command name -> (module in kgprune.commands, attribute, one-line help for `kgprune --help`)."""


def _load(name: str) -> Any:
    module, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(f"kgprune.commands.{module}"), attribute)
    holder = typer.Typer(add_completion=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
        return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]
    holder.command(name)(target)
    return typer.main.get_command(holder)


class LazyGroup(TyperGroup):
    """Lists every command from `COMMANDS` but imports one only when it is resolved to run."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        if not getattr(ctx, "_kgprune_resolving", False):  # listed in help: a stand-in
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name][2], callback=None)
        return _load(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """The real command, imported now: it is about to run or show its own help."""
        ctx._kgprune_resolving = True
        try:
            return super().resolve_command(ctx, args)
        finally:
            ctx._kgprune_resolving = False


app = typer.Typer(cls=LazyGroup, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Knowledge-graph-guided structured pruning of multimodal models.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kgprune {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Knowledge-graph-guided structured pruning of multimodal models."""


def main() -> None:
    # commands.common is light (typer, rich, the store's records): importing it keeps --help lazy
    from kgprune.commands.common import Interrupted, err

    try:
        app(standalone_mode=True)
    except KgpruneError as e:
        if os.environ.get("KGPRUNE_DEBUG") == "1":
            raise
        err.print(f"[red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except Interrupted as e:
        err.print(escape(str(e)), highlight=False, soft_wrap=True)
        sys.exit(130)
