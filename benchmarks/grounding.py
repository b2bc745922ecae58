"""Benchmark: do the knowledge targets name the human answer, with and without grounding?

Retrieval for the built-in benchmark's training questions twice: with every object of the image
as the image side (as retrieval ran before grounding), and with only the object the question
refers to. For each, the share of questions whose top knowledge answer is the annotators' most
frequent answer, per number of objects in the image.

    python benchmarks/grounding.py --out results/grounding.json [--images 8000] [--questions 1500]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kgprune.atomic import write_atomic
from kgprune.kg import bundled
from kgprune.kg.store import default_store_url, open_store
from kgprune.linking.encoder import encoder_by_name
from kgprune.linking.linker import Linker
from kgprune.retrieval.facts import FactRetriever
from kgprune.retrieval.relation_detector import RelationDetector
from kgprune.vqa.agreement import target_agreement
from kgprune.vqa.benchmark_run import DEFAULT_IMAGES, default_benchmark
from kgprune.vqa.training import (
    build_contexts,
    load_synthetic_split,
    scene_objects,
    synthetic_queries,
)


def run(*, images: int, questions: int, encoder: str) -> dict[str, Any]:
    with open_store(default_store_url()) as store:
        bundled.load_bundled(store)
        data_dir = default_benchmark(store, seed=0, n=images)
        samples = load_synthetic_split(data_dir, "train")[:questions]
        counts = {i: len(o) for i, o in scene_objects(data_dir).items()}
        groups = {str(s.question_id): f"{counts[s.image_id]} objects" for s in samples}
        retriever = FactRetriever(store, Linker(store), RelationDetector(encoder_by_name(encoder)))
        report: dict[str, Any] = {"benchmark": "grounding", "data": str(data_dir),
                                  "questions": len(samples), "encoder": retriever.detector.encoder.identity}
        for name, ground in (("every_object", False), ("grounded", True)):
            start = time.perf_counter()
            contexts = build_contexts(retriever, synthetic_queries(data_dir, samples, ground=ground))
            report[name] = {group: asdict(a) for group, a in
                            target_agreement(samples, contexts, groups).items()}
            report[name]["seconds"] = time.perf_counter() - start
    report["load_average"] = os.getloadavg()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/grounding.json"))
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES)
    parser.add_argument("--questions", type=int, default=1500)
    parser.add_argument("--encoder", default="auto")
    args = parser.parse_args()
    report = run(images=args.images, questions=args.questions, encoder=args.encoder)
    write_atomic(args.out, json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
