"""The tiny model learns the synthetic benchmark: it beats always giving the most common answer."""

from __future__ import annotations

from pathlib import Path

from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.retrieval import FactRetriever
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.linker import Linker
from kgprune.linking.relation_detector import RelationDetector
from kgprune.vqa.adapters.kgvqa import KgVqaAdapter, build_vocabulary
from kgprune.vqa.synthetic import generate_benchmark
from kgprune.vqa.training import (
    build_contexts,
    default_config,
    load_synthetic_split,
    majority_accuracy,
    synthetic_queries,
    train,
)

IMAGES = 200
EPOCHS = 12
MARGIN = 10.0


def test_tiny_model_beats_the_majority_answer(bundled_store: LadybugStore, tmp_path: Path) -> None:
    generate_benchmark(tmp_path / "bench", store=bundled_store, n=IMAGES, seed=0, image_size=32,
                       splits=(0.6, 0.4, 0.0))
    train_samples = load_synthetic_split(tmp_path / "bench", "train")
    val_samples = load_synthetic_split(tmp_path / "bench", "val")
    retriever = FactRetriever(bundled_store, Linker(bundled_store),
                              RelationDetector(HashingEncoder()))
    contexts = build_contexts(retriever, synthetic_queries(tmp_path / "bench", train_samples))
    adapter = KgVqaAdapter.build(default_config("tiny", 32),
                                 build_vocabulary(s.answers for s in train_samples), seed=0)
    report = train(adapter, train_samples, val_samples=val_samples, contexts=contexts,
                   checkpoint_dir=tmp_path / "model", epochs=EPOCHS, batch_size=32, lr=2e-3,
                   lam=0.5, seed=0)
    baseline = majority_accuracy(train_samples, val_samples)
    assert report.val_accuracy is not None
    assert report.val_accuracy >= baseline + MARGIN, (report.val_accuracy, baseline)
