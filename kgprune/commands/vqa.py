"""`kgprune vqa ...`: knowledge-grounded VQA data and its official-style evaluation."""

from __future__ import annotations

import typer

from kgprune.commands.vqa_eval import eval_cmd
from kgprune.commands.vqa_model import evaluate_model_cmd
from kgprune.commands.vqa_synthetic import make_synthetic_cmd

vqa_app = typer.Typer(no_args_is_help=True, help="Knowledge-grounded VQA: data and evaluation.")
vqa_app.command("eval")(eval_cmd)
vqa_app.command("evaluate")(evaluate_model_cmd)
vqa_app.command("make-synthetic")(make_synthetic_cmd)
