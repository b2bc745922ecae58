"""The built-in benchmark end to end: generate it once, retrieve its knowledge, score a model.

Shared by `kgprune train` and `kgprune demo`, so both read the same data and judge the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from kgprune.kg.retrieval import FactRetriever, KnowledgeContext
from kgprune.kg.retrieval_cache import RetrievalCache, default_cache_path
from kgprune.kg.store import GraphStore, data_home
from kgprune.linking.encoder import encoder_by_name
from kgprune.linking.linker import Linker
from kgprune.linking.relation_detector import RelationDetector
from kgprune.vqa.adapters.base import ModelAdapter
from kgprune.vqa.adapters.hf_loading import load_hf_adapter
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.hallucination import hallucination_rate
from kgprune.vqa.metrics import vqa_accuracy
from kgprune.vqa.synthetic import generate_benchmark
from kgprune.vqa.training import (
    build_contexts,
    has_checkpoint,
    load_trained,
    majority_accuracy,
    open_image,
    sample_id,
    synthetic_queries,
)

DEFAULT_IMAGES = 600
DEFAULT_IMAGE_SIZE = 32


def default_benchmark(store: GraphStore, *, seed: int, n: int = DEFAULT_IMAGES,
                      image_size: int = DEFAULT_IMAGE_SIZE) -> Path:
    """A benchmark in the data home, generated on first use and reused after."""
    folder = data_home() / "benchmarks" / f"synthetic-{n}-px{image_size}-s{seed}"
    if not (folder / "manifest.json").is_file():
        generate_benchmark(folder, store=store, n=n, seed=seed, image_size=image_size)
    return folder


def retrieve_contexts(store: GraphStore, data_dir: Path, samples: Sequence[VqaSample], *,
                      encoder: str = "auto") -> dict[str, KnowledgeContext]:
    """One context per sample, through the on-disk retrieval cache."""
    cache = RetrievalCache(default_cache_path(store.url), kg_version=store.version())
    try:
        retriever = FactRetriever(store, Linker(store), RelationDetector(encoder_by_name(encoder)),
                                  cache=cache)
        return build_contexts(retriever, synthetic_queries(data_dir, samples))
    finally:
        cache.close()


def load_model(path: Path) -> ModelAdapter:
    """A `kgprune train` checkpoint, or a Hugging Face model folder (ViLT, BLIP, LLaVA-style)."""
    return load_trained(path) if has_checkpoint(path) else load_hf_adapter(path)


def predict(adapter: ModelAdapter, samples: Sequence[VqaSample], *,
            batch_size: int = 32) -> list[str]:
    """Answers of any adapter, in batches of images and questions."""
    answers: list[str] = []
    with torch.inference_mode():
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            inputs = adapter.prepare([open_image(s) for s in chunk], [s.question for s in chunk])
            answers += adapter.predict(inputs)
    return answers


@dataclass(frozen=True, slots=True)
class SplitScores:
    n: int
    accuracy: float
    majority_accuracy: float
    hallucination_rate: float


def score_split(adapter: ModelAdapter, store: GraphStore, samples: Sequence[VqaSample],
                contexts: dict[str, KnowledgeContext],
                train_samples: Sequence[VqaSample]) -> SplitScores:
    """VQA accuracy, the majority-answer bar, and the hallucination rate against the full KG."""
    predictions = predict(adapter, samples)
    accuracy = 100 * sum(vqa_accuracy(p, s.answers)
                         for p, s in zip(predictions, samples, strict=True)) / len(samples)
    report = hallucination_rate(samples, {s.question_id: p for s, p in zip(samples, predictions,
                                                                             strict=True)},
                                [contexts[sample_id(s)] for s in samples], store)
    return SplitScores(n=len(samples), accuracy=accuracy,
                       majority_accuracy=majority_accuracy(train_samples, samples),
                       hallucination_rate=100 * report.rate)
