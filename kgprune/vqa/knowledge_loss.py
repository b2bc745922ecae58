"""L_task, L_knowledge and L_total = L_task + λ·L_knowledge for a batch.

Targets come from data and from retrieval contexts computed beforehand (the retrieval cache):
the training step never queries the graph store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from kgprune.retrieval.facts import KnowledgeContext
from kgprune.vqa.adapters.base import AnswerTargets, ModelAdapter, ModelInputs
from kgprune.vqa.metrics import normalize_answer


def task_targets(answers: Sequence[str]) -> dict[str, float]:
    """VQA soft scores min(count / 3, 1) of the human answers, normalised to sum to one."""
    counts = Counter(normalize_answer(a) for a in answers if a.strip())
    scores = {a: min(n / 3.0, 1.0) for a, n in counts.items()}
    total = sum(scores.values())
    return {a: s / total for a, s in scores.items()} if total else {}


def knowledge_targets(context: KnowledgeContext) -> dict[str, float]:
    """The answers the retrieved facts support, weighted by those facts (already normalised)."""
    merged: dict[str, float] = {}
    for candidate in context.answers:
        key = normalize_answer(candidate.text)
        merged[key] = merged.get(key, 0.0) + candidate.weight
    return merged


@dataclass(frozen=True, slots=True)
class LossParts:
    total: torch.Tensor
    task: torch.Tensor
    knowledge: torch.Tensor
    grounded: int
    """Samples that had a knowledge-grounded answer; the others add nothing to L_knowledge."""


def _mean_over(losses: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    count = mask.sum()
    return (losses * mask).sum() / count.clamp(min=1)


def batch_losses(adapter: ModelAdapter, inputs: ModelInputs, *,
                 task: Sequence[AnswerTargets], knowledge: Sequence[AnswerTargets],
                 lam: float) -> LossParts:
    """L_task averaged over samples with answers, L_knowledge over samples with grounded ones."""
    device = next(adapter.model.parameters()).device
    task_mask = torch.tensor([bool(t) for t in task], dtype=torch.float32, device=device)
    knowledge_mask = torch.tensor([bool(k) for k in knowledge], dtype=torch.float32, device=device)
    if knowledge_mask.any() and lam:
        task_losses, knowledge_losses = adapter.answer_losses(inputs, task, knowledge)
        l_knowledge = _mean_over(knowledge_losses, knowledge_mask)
    else:
        (task_losses,) = adapter.answer_losses(inputs, task)
        l_knowledge = torch.zeros((), device=device)
    l_task = _mean_over(task_losses, task_mask)
    return LossParts(total=l_task + lam * l_knowledge, task=l_task, knowledge=l_knowledge,
                     grounded=int(knowledge_mask.sum().item()))
