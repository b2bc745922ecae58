"""The samples pruning learns from: images, questions and both answer distributions, per sample.

Targets are computed once from the data and the retrieval contexts, so importance estimation and
fine-tuning never query the graph store. Batches are prepared by the adapter on demand, which
works for every model family (each pads its own way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from kgprune.pruning.importance import ScoringBatch
from kgprune.retrieval.facts import KnowledgeContext
from kgprune.vqa.adapters.base import AnswerTargets, ModelAdapter
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.knowledge_loss import knowledge_targets, task_targets
from kgprune.vqa.training import open_image, sample_id


@dataclass(frozen=True, slots=True)
class PruningData:
    images: tuple[Image.Image, ...]
    questions: tuple[str, ...]
    task: tuple[AnswerTargets, ...]
    knowledge: tuple[AnswerTargets, ...]

    def __len__(self) -> int:
        return len(self.questions)

    @classmethod
    def from_samples(cls, samples: Sequence[VqaSample],
                     contexts: Mapping[str, KnowledgeContext]) -> PruningData:
        """Samples with their knowledge contexts (keyed by question id, as `build_contexts` makes)."""
        return cls(images=tuple(open_image(s) for s in samples),
                   questions=tuple(s.question for s in samples),
                   task=tuple(task_targets(s.answers) for s in samples),
                   knowledge=tuple(knowledge_targets(contexts[sample_id(s)]) for s in samples))

    @property
    def grounded(self) -> int:
        """Samples whose retrieved facts support at least one answer."""
        return sum(1 for k in self.knowledge if k)

    def batch(self, adapter: ModelAdapter, indices: Sequence[int]) -> ScoringBatch:
        rows = list(indices)
        return ScoringBatch(inputs=adapter.prepare([self.images[i] for i in rows],
                                                   [self.questions[i] for i in rows]),
                            task=[self.task[i] for i in rows],
                            knowledge=[self.knowledge[i] for i in rows])

    def scoring_batches(self, adapter: ModelAdapter, *, samples: int, batch_size: int,
                        seed: int) -> list[ScoringBatch]:
        """The first `samples` of a seeded permutation, in batches: every method scores the same
        samples, and every rank of a data-parallel run sees the same global batch list."""
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed)).tolist()
        chosen = order[:min(samples, len(self))]
        return [self.batch(adapter, chosen[i:i + batch_size])
                for i in range(0, len(chosen), batch_size)]
