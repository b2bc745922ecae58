"""The `kgprune` command line: assembles the command groups of `kgprune.commands`.

Results go to stdout (`--json` prints pure JSON); progress and errors go to stderr. Every
`KgpruneError` becomes one line and exit code 1; a traceback only with KGPRUNE_DEBUG=1. Ctrl-C
in a load, a prune or a training run prints one line saying what it left behind, exit code 130.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from kgprune.commands.common import Interrupted, err
from kgprune.commands.demo import demo_cmd
from kgprune.commands.experiment import experiment_app
from kgprune.commands.kg import kg_app
from kgprune.commands.link import link_app
from kgprune.commands.measure import measure_cmd, quantize_cmd
from kgprune.commands.prune import importance_cmd, prune_cmd
from kgprune.commands.relations import relations_cmd
from kgprune.commands.report import report
from kgprune.commands.serve import serve_cmd
from kgprune.commands.train import train_cmd
from kgprune.commands.vqa import vqa_app
from kgprune.errors import KgpruneError

app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Knowledge-graph-guided structured pruning of multimodal models.")
app.add_typer(kg_app, name="kg")
app.add_typer(link_app, name="link")
app.add_typer(vqa_app, name="vqa")
app.add_typer(experiment_app, name="experiment")
app.command("demo")(demo_cmd)
app.command("serve")(serve_cmd)
app.command("train")(train_cmd)
app.command("prune")(prune_cmd)
app.command("importance")(importance_cmd)
app.command("measure")(measure_cmd)
app.command("quantize")(quantize_cmd)
app.command("relations")(relations_cmd)
app.command("report")(report)


def main() -> None:
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
