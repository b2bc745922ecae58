"""How often the knowledge targets agree with the human answers: what L_knowledge teaches.

The knowledge criterion needs no human answers, so its worth rests on this agreement: when the
retrieved facts' best answer is the annotators' answer, the knowledge loss points where the task
loss would. Reported per number of objects in the image, where grounding matters most.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kgprune.retrieval.facts import KnowledgeContext
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.knowledge_loss import knowledge_targets
from kgprune.vqa.metrics import normalize_answer, vqa_accuracy

ALL = "all"


@dataclass(frozen=True, slots=True)
class Agreement:
    samples: int
    grounded: float
    """Share of samples with any knowledge-grounded answer."""
    top_match: float
    """Share whose top knowledge answer is the most frequent human answer."""
    top_accuracy: float
    """VQA accuracy x100 of answering with the top knowledge answer (0 where there is none)."""


def _human_top(answers: Sequence[str]) -> str:
    counts = Counter(normalize_answer(a) for a in answers)
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counts else ""


def _knowledge_top(context: KnowledgeContext) -> str | None:
    targets = knowledge_targets(context)
    return min(targets.items(), key=lambda kv: (-kv[1], kv[0]))[0] if targets else None


def target_agreement(samples: Sequence[VqaSample], contexts: Mapping[str, KnowledgeContext],
                     groups: Mapping[str, str]) -> dict[str, Agreement]:
    """Agreement per group (e.g. number of objects, keyed by sample id) and over all samples."""
    rows: dict[str, list[tuple[bool, bool, float]]] = {}
    for sample in samples:
        key = str(sample.question_id)
        top = _knowledge_top(contexts[key])
        row = (top is not None, top == _human_top(sample.answers),
               vqa_accuracy(top, sample.answers) if top is not None else 0.0)
        for group in (groups[key], ALL):
            rows.setdefault(group, []).append(row)
    return {group: Agreement(len(r), sum(g for g, _, _ in r) / len(r),
                             sum(m for _, m, _ in r) / len(r), 100 * sum(a for _, _, a in r) / len(r))
            for group, r in sorted(rows.items())}
