"""`kgprune relations`: which units each relation relies on; JSON, and graph edges on Neo4j."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kgprune.commands.common import JsonOpt, StoreOpt, err, out, print_json, status
from kgprune.experiments.relations import relation_importance
from kgprune.kg import bundled
from kgprune.kg.store import GraphStore, default_store_url, open_store
from kgprune.pruning.plan import PruningPlan
from kgprune.pruning.saved import is_pruned_dir, read_manifest
from kgprune.retrieval.facts import KnowledgeContext
from kgprune.vqa.benchmark_run import default_benchmark, load_model, retrieve_contexts
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.layouts import open_benchmark


@dataclass(frozen=True, slots=True)
class TrainingSplit:
    """A benchmark's training samples with knowledge retrieved for them, in an open store."""

    store: GraphStore
    url: str
    data_dir: Path
    samples: list[VqaSample]
    contexts: dict[str, KnowledgeContext]


@contextmanager
def training_split(store: str | None, data: Path | None) -> Iterator[TrainingSplit]:
    """Open `store` (the bundled KG in the default store when None), the benchmark `data` (the
    built-in one when None; a synthetic, OK-VQA or FVQA folder) and retrieve its training
    split's knowledge."""
    url = store or default_store_url()
    with open_store(url) as s:
        if store is None:
            with status("Loading the bundled knowledge graph"):
                bundled.load_if_home(s)
        data_dir = data or default_benchmark(s, seed=0)
        samples = open_benchmark(data_dir).split("train")
        with status(f"Retrieving knowledge for {len(samples)} questions"):
            contexts = retrieve_contexts(s, data_dir, samples)
        yield TrainingSplit(s, url, data_dir, samples, contexts)


def _plan(path: Path) -> PruningPlan | None:
    if not is_pruned_dir(path):
        return None
    return PruningPlan.from_dict(read_manifest(path)["plan"], source=str(path))


def relations_cmd(
    model: Annotated[Path, typer.Option("--model", help="A trained, pruned or Hugging Face "
                                        "model directory.")],
    out_path: Annotated[Path, typer.Option("--out", help="JSON file to write.")],
    pruned: Annotated[Path | None, typer.Option(
        help="A model pruned from --model: mark which top units it kept.")] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="A `kgprune vqa make-synthetic`, OK-VQA or FVQA folder (default: "
        "built-in).")] = None,
    store: StoreOpt = None,
    run: Annotated[str | None, typer.Option(
        help="Name of this analysis in the graph (default: the --out file name).")] = None,
    top: Annotated[int, typer.Option(min=1, help="Units kept per relation.")] = 20,
    per_relation: Annotated[int, typer.Option(min=1, help="Samples scored per relation.")] = 64,
    as_json: JsonOpt = False,
) -> None:
    """Knowledge-gradient importance per relation type; on a Neo4j store also as
    (:Relation)-[:SERVED_BY]->(:ModelUnit) edges for the Neo4j Browser."""
    with training_split(store, data) as split:
        s, samples, contexts = split.store, split.samples, split.contexts
        adapter = load_model(model)
        with status("Scoring units per relation"):
            result = relation_importance(adapter, samples, contexts, plan=_plan(model),
                                         per_relation=per_relation)
        pruned_plan = _plan(pruned) if pruned is not None else None
        result.write_json(out_path, top, pruned_plan)
        written = None
        writer = getattr(s, "write_unit_scores", None)
        if writer is not None:
            written = writer(run or out_path.stem, result.graph_rows(top, pruned_plan))
    if as_json:
        print_json({"out": str(out_path), "graph_edges": written, "store": split.url,
                    **result.to_dict(3, pruned_plan)})
        return
    table = Table(title=f"Most important units per relation ({result.criterion})",
                  caption=f"all of it in {out_path}")
    columns = ("relation", "samples", "top units") + (("removed by --pruned",) if pruned else ())
    for column in columns:
        table.add_column(column)
    for relation in result.scores:
        ranked = result.ranked(relation)
        best = ", ".join(f"{g}[{u}] {v:.2f}" for g, u, v in ranked[:3])
        marks = ()
        if pruned_plan is not None:
            gone = sum(not r["kept"] for r in result.to_dict(top, pruned_plan)["relations"][relation])
            marks = (f"{gone} of top {min(top, len(ranked))}",)
        table.add_row(relation, str(result.samples[relation]), best, *marks)
    out.print(table)
    if written is not None:
        err.print(f"{written} SERVED_BY edges written for run '{run or out_path.stem}'; see "
                  "docker/queries.cypher for the Browser queries.", highlight=False)
