"""`kgprune demo`: the main job, end to end, on the embedded default store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kgprune.commands.common import (
    StoreOpt,
    err,
    facts_table,
    out,
    print_report,
    progress_bar,
    stats_table,
    status,
)
from kgprune.experiments.cells import PruningCellRunner
from kgprune.experiments.run_dir import default_run_dir
from kgprune.experiments.runner import run_study
from kgprune.experiments.spec import QUICK_SETTINGS, Settings, SweepSpec
from kgprune.kg import bundled
from kgprune.kg.store import GraphStore, default_store_url, open_store, redact_url
from kgprune.kg.uri import concept_uri
from kgprune.linking.encoder import ENCODER_NAMES, encoder_by_name
from kgprune.linking.index import ConceptIndex, default_index_dir
from kgprune.linking.linker import Linker
from kgprune.retrieval.facts import FactRetriever, KnowledgeContext, RetrievalQuery
from kgprune.retrieval.relation_detector import RelationDetector
from kgprune.vqa.benchmark_run import (
    DEFAULT_IMAGES,
    default_benchmark,
    retrieve_contexts,
    score_split,
    seeing,
    train_builtin,
)
from kgprune.vqa.training import load_synthetic_split, load_trained

DEMO_IMAGES = DEFAULT_IMAGES
DEMO_LAMBDA = 0.5
DEMO_ROUNDS = 1
DEMO_STEPS = 30
DEMO_SAMPLES = 512
DEMO_RATIOS = (0.5, 0.7)
"""Where pruning bites (one-shot random at 50% loses most of the accuracy); 30% is in the full
`experiment sweep`, left out here to keep the demo near its 10-minute budget."""
DEMO_QUERIES = (
    RetrievalQuery("demo-1", "What is this used for?", ("umbrella",)),
    RetrievalQuery("demo-2", "What is the hot dog on the plate made of?"),
    RetrievalQuery("demo-3", "Where would you usually find this?", ("toaster",)),
    RetrievalQuery("demo-4", "What kind of animal is this?", ("dog",)),
    RetrievalQuery("demo-5", "What is used to cut bread?"),
)


def _context_table(query: RetrievalQuery, ctx: KnowledgeContext) -> Table:
    table = Table(title=f"{query.question}  [image: {', '.join(query.image_objects) or '-'}]",
                  show_header=False)
    concepts = ", ".join(ctx.image_concepts + ctx.question_concepts) or "-"
    asked = ", ".join(f"{g.relation} ({g.direction}, {g.method})" for g in ctx.relations) or "-"
    answers = ", ".join(f"{a.text} {a.weight:.2f}" for a in ctx.answers[:5]) or "-"
    facts = "\n".join(f"{f.head} -{f.relation}-> {f.tail}" for f in ctx.facts[:4]) or "-"
    for key, value in (("concepts", concepts), ("asks", asked), ("answers", answers),
                       ("top facts", facts)):
        table.add_row(key, value)
    return table


def _sweep_spec(images: int, seeds: int, quick: bool) -> SweepSpec:
    """Table 1 on the built-in benchmark: no pruning, random, magnitude, task and knowledge at
    50/70% (30% only with `quick`), one-shot and after one round of fine-tuning; each seed
    draws its own scoring samples, fine-tuning order and random scores, from the same trained
    model. `kgprune experiment sweep` runs the full grid (20% too, five seeds, 1,024 samples)."""
    settings = Settings(images=images, rounds=DEMO_ROUNDS, steps=DEMO_STEPS,
                        importance_samples=DEMO_SAMPLES, lam=DEMO_LAMBDA)
    if quick:
        settings = replace(settings, quick=True, **QUICK_SETTINGS)
        return SweepSpec(settings=settings, seeds=tuple(range(seeds)), ratios=(0.3,))
    return SweepSpec(settings=settings, seeds=tuple(range(seeds)), ratios=DEMO_RATIOS)


def _train_and_score(store: GraphStore, *, images: int) -> None:
    """Built-in benchmark -> kgvqa-tiny trained with L_task + λ·L_knowledge -> test scores."""
    with status(f"Preparing a {images}-image built-in benchmark"):
        data_dir = default_benchmark(store, seed=0, n=images)
    train_samples = load_synthetic_split(data_dir, "train")
    test_samples = load_synthetic_split(data_dir, "test")
    with progress_bar("Training kgvqa-tiny (once; cached in the data home)",
                      unit_bytes=False) as progress:
        checkpoint = train_builtin(store, data_dir, seed=0, on_progress=progress)
    with status(f"Retrieving knowledge for {len(test_samples)} test questions"):
        contexts = retrieve_contexts(store, data_dir, test_samples)
    model = load_trained(checkpoint)
    scores = score_split(model, store, test_samples, contexts, train_samples)
    with err.status("Checking that the model answers from the image"):
        looks = seeing(model, data_dir, test_samples, train_samples)
    table = Table(title=f"kgvqa-tiny on the built-in benchmark, test split ({scores.n} questions)",
                  caption=f"checkpoint {checkpoint}")
    table.add_column("model")
    table.add_column("VQA accuracy", justify="right")
    table.add_column("hallucination rate", justify="right")
    table.add_row("kgvqa-tiny", f"{scores.accuracy:.2f}", f"{scores.hallucination_rate:.1f}%")
    for count, accuracy in looks.by_objects.items():
        table.add_row(f"  on images of {count} object{'s' if count > 1 else ''}", f"{accuracy:.2f}", "")
    table.add_row("  with blank images", f"{looks.blank_images:.2f}", "")
    table.add_row("best answer per question type (no image)", f"{looks.relation_prior:.2f}", "")
    table.add_row("majority answer", f"{scores.majority_accuracy:.2f}", "")
    out.print(table)


def demo_cmd(
    store: StoreOpt = None,
    encoder: Annotated[str, typer.Option(help=f"Entity encoder: {', '.join(ENCODER_NAMES)}.")] = "auto",
    images: Annotated[int, typer.Option(min=10, help="Images in the built-in benchmark.")] = DEMO_IMAGES,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per pruned cell.")] = 3,
    quick: Annotated[bool, typer.Option("--quick", help="Tiny budgets: a smoke run for CI.")] = False,
    results: Annotated[Path, typer.Option("--results", help="Where the run directory goes.")] = Path("results"),
) -> None:
    """The main job: KG -> linking -> retrieval -> trained model -> Table 1 of pruning methods."""
    url = store or default_store_url()
    err.print(f"Store: {redact_url(url)}", highlight=False)
    if quick:
        images = min(images, int(QUICK_SETTINGS["images"]))
    with open_store(url) as s:
        with status("Loading the bundled knowledge graph"):
            reports = bundled.load_bundled(s)
        for report in reports:
            print_report(report, as_json=False)
        out.print(stats_table(s.stats(), "Knowledge graph"))
        out.print(facts_table(s.sample_facts(limit=8), "Strongest facts"))
        out.print(facts_table(s.neighbors(concept_uri("cup"), limit=8), "Around 'cup'"))

        entity_encoder = encoder_by_name(encoder)
        with progress_bar(f"Indexing concepts ({entity_encoder.identity})",
                          unit_bytes=False) as progress:
            index = ConceptIndex.build(s, encoder=entity_encoder, on_progress=progress)
        saved = index.save(default_index_dir(s.url))
        err.print(f"Concept index: {len(index):,} concepts, {index.index_type}, saved to {saved}",
                  highlight=False)
        retriever = FactRetriever(s, Linker(s, index=index), RelationDetector(entity_encoder))
        for query, ctx in zip(DEMO_QUERIES, retriever.retrieve_batch(DEMO_QUERIES), strict=True):
            out.print(_context_table(query, ctx))
        _train_and_score(s, images=images)
    spec = _sweep_spec(images, seeds, quick)
    run = run_study(spec, PruningCellRunner(replace(spec.settings, store=store or "")),
                    default_run_dir(results, spec.name), err)
    for table in run.report.tables:
        out.print(table.to_rich())
    err.print(f"Results, report.md and figures in {run.run_dir}", highlight=False)
