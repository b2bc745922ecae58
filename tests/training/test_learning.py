"""The tiny model learns the synthetic benchmark from its pixels.

Every question asks what the KG knows about the object it points at, so the bar is not the most
common answer but the best answer guessed from the question alone (its words, or the relation it
asks about): only a model that recognises the object in the image clears it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.linker import Linker
from kgprune.retrieval.facts import FactRetriever
from kgprune.retrieval.relation_detector import RelationDetector
from kgprune.vqa.adapters.kgvqa import KgVqaAdapter, build_vocabulary, build_word_vocabulary
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.metrics import normalize_answer, vqa_accuracy
from kgprune.vqa.synthetic import generate_benchmark
from kgprune.vqa.training import (
    build_contexts,
    default_config,
    load_synthetic_split,
    synthetic_queries,
    train,
    with_perception,
)

IMAGES = 800
EPOCHS = 12
CURRICULUM_EPOCHS = 4
MARGIN = 6.0
"""Over the best question-only answer; trained beside the perception questions, as the built-in
model is (the old colour-only model cleared it by ~10 points without them)."""


def question_only_accuracy(train_samples: Sequence[VqaSample], val_samples: Sequence[VqaSample],
                           key: Callable[[VqaSample], str]) -> float:
    """VQA accuracy x100 of answering each validation question with the training answer that
    scores best on the training questions sharing its key."""
    scores: dict[str, Counter[str]] = defaultdict(Counter)
    for s in train_samples:
        for answer in {normalize_answer(a) for a in s.answers}:
            scores[key(s)][answer] += vqa_accuracy(answer, s.answers)
    best = {k: c.most_common(1)[0][0] for k, c in scores.items()}
    return 100 * sum(vqa_accuracy(best.get(key(s), ""), s.answers)
                     for s in val_samples) / len(val_samples)


def test_tiny_model_beats_answering_from_the_question_alone(bundled_store: LadybugStore,
                                                            tmp_path: Path) -> None:
    generate_benchmark(tmp_path / "bench", store=bundled_store, n=IMAGES, seed=0, image_size=32,
                       splits=(0.75, 0.25, 0.0))
    train_samples = load_synthetic_split(tmp_path / "bench", "train")
    val_samples = load_synthetic_split(tmp_path / "bench", "val")
    retriever = FactRetriever(bundled_store, Linker(bundled_store),
                              RelationDetector(HashingEncoder()))
    contexts = build_contexts(retriever, synthetic_queries(tmp_path / "bench", train_samples))
    samples, contexts, perception = with_perception(tmp_path / "bench", train_samples, contexts,
                                                    bundled_store.version())
    assert len(samples) == 2 * len(train_samples), "one perception question per object"
    config = replace(default_config("tiny", 32), patch_size=8, dim=64, mlp_dim=128,
                     max_question_tokens=16)
    adapter = KgVqaAdapter.build(config, build_vocabulary(s.answers for s in samples),
                                 words=build_word_vocabulary(s.question for s in samples), seed=0)
    report = train(adapter, samples, val_samples=val_samples, contexts=contexts,
                   checkpoint_dir=tmp_path / "model", epochs=EPOCHS, batch_size=32, lr=2e-3,
                   lam=0.5, seed=0, checkpoint_every=10_000, curriculum=perception,
                   curriculum_epochs=CURRICULUM_EPOCHS)
    bar = max(question_only_accuracy(train_samples, val_samples, lambda s: s.question),
              question_only_accuracy(train_samples, val_samples, lambda s: s.question_type))
    assert report.val_accuracy is not None
    assert report.val_accuracy >= bar + MARGIN, (report.val_accuracy, bar)
