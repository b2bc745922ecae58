"""Which relations each unit serves: importance computed on the samples of one relation at a time.

A sample's relation is its annotated question type when that is a ConceptNet relation (the
built-in benchmark), else the relation the detector found in the question. Scores are divided by
their group's mean so units of different groups rank on one scale. For a pruned model, unit
indices are mapped back through its plan to the original model's, so a unit keeps its name.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kgprune.atomic import write_atomic
from kgprune.kg.relations import ALL_RELATIONS
from kgprune.pruning.data import PruningData
from kgprune.pruning.importance import criterion_by_name
from kgprune.pruning.plan import PruningPlan
from kgprune.pruning.units import discover_units
from kgprune.retrieval.facts import KnowledgeContext
from kgprune.vqa.adapters.base import ModelAdapter
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.training import sample_id

_KNOWN = frozenset(ALL_RELATIONS)


def relation_of(sample: VqaSample, context: KnowledgeContext | None) -> str | None:
    if sample.question_type in _KNOWN:
        return sample.question_type
    if context is not None and context.relations:
        return context.relations[0].relation
    return None


@dataclass(frozen=True, slots=True)
class RelationImportance:
    criterion: str
    samples: dict[str, int]
    """Samples scored per relation."""
    scores: dict[str, dict[str, torch.Tensor]]
    """relation -> group key -> per-unit score, normalised by the group mean."""
    original_index: dict[str, tuple[int, ...]]
    """group key -> the original model's index of each current unit."""
    groups: dict[str, dict[str, Any]]
    """group key -> its kind, tower and layer."""

    def ranked(self, relation: str) -> list[tuple[str, int, float]]:
        """(group, original unit index, score), most important first."""
        rows = [(key, self.original_index[key][i], float(v))
                for key, values in self.scores[relation].items() for i, v in enumerate(values)]
        return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))

    def to_dict(self, top: int = 20, pruned: PruningPlan | None = None) -> dict[str, Any]:
        """The `top` units per relation; with the plan of a model `pruned` from this one, each
        says whether that model kept it."""
        kept = _kept(pruned)
        return {"criterion": self.criterion, "groups": self.groups, "samples": self.samples,
                "relations": {rel: [{"group": g, "unit": u, "score": s}
                                    | ({"kept": _is_kept(kept, g, u)} if pruned else {})
                                    for g, u, s in self.ranked(rel)[:top]]
                              for rel in self.scores}}

    def write_json(self, path: Path, top: int = 20, pruned: PruningPlan | None = None) -> Path:
        write_atomic(path, json.dumps(self.to_dict(top, pruned), indent=1) + "\n")
        return path

    def graph_rows(self, top: int = 20,
                   pruned: PruningPlan | None = None) -> list[dict[str, Any]]:
        """Rows for `Neo4jStore.write_unit_scores`: the `top` units of every relation, marked
        kept or not by the plan of a model `pruned` from this one."""
        kept = _kept(pruned)
        rows = []
        for relation in self.scores:
            for rank, (group, unit, score) in enumerate(self.ranked(relation)[:top]):
                rows.append({"relation": relation, "uid": f"{group}|{unit}", "group": group,
                             "index": unit, **self.groups[group],
                             "kept": _is_kept(kept, group, unit), "score": score,
                             "rank": rank, "criterion": self.criterion})
        return rows


def _kept(pruned: PruningPlan | None) -> dict[str, set[int]]:
    return {g.key: set(g.kept) for g in pruned.groups} if pruned is not None else {}


def _is_kept(kept: Mapping[str, set[int]], group: str, unit: int) -> bool:
    return group not in kept or unit in kept[group]


def relation_importance(adapter: ModelAdapter, samples: Sequence[VqaSample],
                        contexts: Mapping[str, KnowledgeContext], *,
                        plan: PruningPlan | None = None, criterion: str = "knowledge",
                        per_relation: int = 64, min_samples: int = 4, batch_size: int = 32,
                        seed: int = 0) -> RelationImportance:
    """Importance of every unit on each relation's samples (at most `per_relation` of them)."""
    by_relation: dict[str, list[VqaSample]] = defaultdict(list)
    for s in samples:
        relation = relation_of(s, contexts.get(sample_id(s)))
        if relation is not None:
            by_relation[relation].append(s)
    units = discover_units(adapter.model)
    kept = plan.kept() if plan is not None else {}
    original = {g.key: tuple(kept.get(g.key, range(g.size))) for g in units}
    scorer = criterion_by_name(criterion)
    scores: dict[str, dict[str, torch.Tensor]] = {}
    counts: dict[str, int] = {}
    for relation in sorted(by_relation):
        chosen = by_relation[relation]
        if len(chosen) < min_samples:
            continue
        data = PruningData.from_samples(chosen, contexts)
        if criterion == "knowledge" and data.grounded == 0:
            continue
        batches = data.scoring_batches(adapter, samples=per_relation, batch_size=batch_size,
                                       seed=seed)
        result = scorer.score(adapter, units, batches)
        scores[relation] = {k: v / v.mean().clamp(min=1e-12) for k, v in result.scores.items()}
        counts[relation] = result.samples
    groups = {g.key: {"kind": g.kind, "tower": g.tower, "layer": g.layer} for g in units}
    return RelationImportance(criterion, counts, scores, original, groups)
