"""A small synthetic benchmark with its knowledge contexts, and small models to train on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.linker import Linker
from kgprune.retrieval.facts import FactRetriever, KnowledgeContext
from kgprune.retrieval.relation_detector import RelationDetector
from kgprune.vqa.adapters.kgvqa import KgVqaAdapter, KgVqaConfig, build_vocabulary
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.synthetic import generate_benchmark
from kgprune.vqa.training import build_contexts, load_synthetic_split, synthetic_queries, train

SMALL = KgVqaConfig(image_size=16, patch_size=8, dim=32, num_heads=2, mlp_dim=64,
                    vision_layers=1, fusion_layers=2, text_layers=1, max_question_tokens=16)


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> Iterator[None]:
    """The CI machine is small and shared: two threads fighting over it are slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass(frozen=True, slots=True)
class Bench:
    path: Path
    train: list[VqaSample]
    val: list[VqaSample]
    contexts: dict[str, KnowledgeContext]

    def adapter(self, config: KgVqaConfig = SMALL, seed: int = 0) -> KgVqaAdapter:
        answers = build_vocabulary(s.answers for s in self.train)
        return KgVqaAdapter.build(config, answers, seed=seed)


def make_bench(store: LadybugStore, path: Path, n: int) -> Bench:
    generate_benchmark(path, store=store, n=n, seed=0, image_size=32)
    train = load_synthetic_split(path, "train")
    retriever = FactRetriever(store, Linker(store), RelationDetector(HashingEncoder()))
    return Bench(path, train, load_synthetic_split(path, "val"),
                 build_contexts(retriever, synthetic_queries(path, train)))


@pytest.fixture(scope="module")
def small_bench(bundled_store: LadybugStore, tmp_path_factory: pytest.TempPathFactory) -> Bench:
    return make_bench(bundled_store, tmp_path_factory.mktemp("bench") / "synthetic", n=24)


def trained_checkpoint(bench: Bench, checkpoint: Path) -> Path:
    """A small model trained for two epochs on `bench`: enough for importance to mean something."""
    train(bench.adapter(), bench.train, contexts=bench.contexts, checkpoint_dir=checkpoint,
          epochs=2, batch_size=8)
    return checkpoint
