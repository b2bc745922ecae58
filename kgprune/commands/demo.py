"""`kgprune demo`: the main job, end to end, on the embedded default store."""

from __future__ import annotations

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
)
from kgprune.kg import bundled
from kgprune.kg.retrieval import FactRetriever, KnowledgeContext, RetrievalQuery
from kgprune.kg.store import GraphStore, data_home, default_store_url, open_store
from kgprune.kg.uri import concept_uri
from kgprune.linking.encoder import ENCODER_NAMES, encoder_by_name
from kgprune.linking.index import ConceptIndex, default_index_dir
from kgprune.linking.linker import Linker
from kgprune.linking.relation_detector import RelationDetector
from kgprune.vqa.adapters.kgvqa import KgVqaAdapter, build_vocabulary
from kgprune.vqa.benchmark_run import default_benchmark, retrieve_contexts, score_split
from kgprune.vqa.training import default_config, load_synthetic_split, train

DEMO_IMAGE_SIZE = 32
DEMO_LAMBDA = 0.5
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


def _train_and_score(store: GraphStore, *, images: int, epochs: int, encoder: str) -> None:
    """Built-in benchmark -> tiny kgvqa trained with L_task + λ·L_knowledge -> test scores."""
    with err.status(f"Preparing a {images}-image built-in benchmark"):
        data_dir = default_benchmark(store, seed=0, n=images, image_size=DEMO_IMAGE_SIZE)
    train_samples = load_synthetic_split(data_dir, "train")
    test_samples = load_synthetic_split(data_dir, "test")
    with err.status(f"Retrieving knowledge for {len(train_samples) + len(test_samples)} questions"):
        contexts = retrieve_contexts(store, data_dir, train_samples + test_samples, encoder=encoder)
    adapter = KgVqaAdapter.build(default_config("tiny", DEMO_IMAGE_SIZE),
                                 build_vocabulary(x.answers for x in train_samples), seed=0)
    checkpoint = data_home() / "models" / f"demo-tiny-{images}-e{epochs}"
    with progress_bar("Training kgvqa-tiny", unit_bytes=False) as progress:
        report = train(adapter, train_samples, contexts=contexts, checkpoint_dir=checkpoint,
                       lam=DEMO_LAMBDA, epochs=epochs, lr=2e-3, seed=0, on_progress=progress)
    scores = score_split(adapter, store, test_samples, contexts, train_samples)
    table = Table(title=f"kgvqa-tiny on the built-in benchmark, test split ({scores.n} questions)",
                  caption=f"{report.steps} steps, λ = {DEMO_LAMBDA}, seed 0; checkpoint {checkpoint}")
    table.add_column("model")
    table.add_column("VQA accuracy", justify="right")
    table.add_column("hallucination rate", justify="right")
    table.add_row("kgvqa-tiny", f"{scores.accuracy:.2f}", f"{scores.hallucination_rate:.1f}%")
    table.add_row("majority answer", f"{scores.majority_accuracy:.2f}", "")
    out.print(table)


def demo_cmd(
    store: StoreOpt = None,
    encoder: Annotated[str, typer.Option(help=f"Entity encoder: {', '.join(ENCODER_NAMES)}.")] = "auto",
    images: Annotated[int, typer.Option(min=10, help="Images in the built-in benchmark.")] = 600,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs of the tiny model.")] = 15,
) -> None:
    """Load the bundled KG, index and link, retrieve facts, then train and score a tiny model."""
    url = store or default_store_url()
    err.print(f"Store: {url}", highlight=False)
    with open_store(url) as s:
        with err.status("Loading the bundled knowledge graph"):
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
        _train_and_score(s, images=images, epochs=epochs, encoder=encoder)
