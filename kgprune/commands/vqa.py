"""`kgprune vqa ...`: knowledge-grounded VQA data and its official-style evaluation."""

from __future__ import annotations

import typer

vqa_app = typer.Typer(no_args_is_help=True, help="Knowledge-grounded VQA: data and evaluation.")
