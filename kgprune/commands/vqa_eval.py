"""`kgprune vqa eval`: official VQA accuracy of a results file, plus hallucination against a KG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kgprune.commands.common import JsonOpt, out, print_json, status
from kgprune.kg.store import open_store
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.index import ConceptIndex
from kgprune.linking.linker import Linker
from kgprune.retrieval.facts import FactRetriever, RetrievalQuery
from kgprune.retrieval.relation_detector import RelationDetector
from kgprune.vqa.datasets import VqaSample, load_okvqa, load_predictions
from kgprune.vqa.hallucination import HallucinationReport, hallucination_rate
from kgprune.vqa.metrics import EvalReport, evaluate


def _hallucination(url: str, samples: list[VqaSample],
                   predictions: dict[int | str, str]) -> HallucinationReport:
    """Retrieve a context per question (no image objects: the results file has none) and judge."""
    encoder = HashingEncoder()
    with open_store(url) as store:
        with status("Indexing concepts for linking"):
            index = ConceptIndex.build(store, encoder=encoder)
        retriever = FactRetriever(store, Linker(store, index=index), RelationDetector(encoder))
        contexts = retriever.retrieve_batch(
            [RetrievalQuery(str(s.question_id), s.question) for s in samples])
        return hallucination_rate(samples, predictions, contexts, store)


def _table(report: EvalReport) -> Table:
    table = Table(title=f"VQA accuracy ({report.n} questions, {report.missing} without prediction)")
    table.add_column("group")
    table.add_column("accuracy", justify="right")
    table.add_row("overall", f"{report.overall:.2f}")
    for kind, scores in (("question type", report.per_question_type),
                         ("answer type", report.per_answer_type)):
        for name, score in scores.items():
            table.add_row(f"{kind}: {name}", f"{score:.2f}")
    return table


def eval_cmd(
    questions: Annotated[Path, typer.Option(help="OpenEnded_mscoco_<split>2014_questions.json")],
    annotations: Annotated[Path, typer.Option(help="mscoco_<split>2014_annotations.json")],
    predictions: Annotated[Path, typer.Option(help="Results: [{question_id, answer}, ...]")],
    kg: Annotated[str | None, typer.Option(help="Store URL; adds the hallucination rate.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score predictions with the official VQA accuracy (OK-VQA v1.1: stem predictions first)."""
    samples = load_okvqa(questions, annotations).samples
    preds = load_predictions(predictions)
    report = evaluate(preds, samples)
    result: dict[str, Any] = {
        "accuracy": report.overall, "per_question_type": report.per_question_type,
        "per_answer_type": report.per_answer_type, "n": report.n, "missing": report.missing,
    }
    hallucination = _hallucination(kg, samples, preds) if kg else None
    if hallucination is not None:
        result |= {"hallucination": 100 * hallucination.rate, "hallucination_n": hallucination.n,
                   "hallucination_flags": hallucination.flags, "store": kg}
    if as_json:
        print_json(result)
        return
    out.print(_table(report))
    if hallucination is not None:
        out.print(f"Hallucination rate: {100 * hallucination.rate:.1f}% "
                  f"of {hallucination.n} answered questions", highlight=False)
