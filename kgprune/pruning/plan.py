"""The pruning plan: per group of units, which heads and neurons stay. Pure data, JSON round-trip.

The plan is what surgery applies, what a saved model's manifest records so the shapes can be
rebuilt, and what a person reads to see what was removed. Indices always refer to the units of the
model the plan was made for (the unpruned model of the first round, or the previous round's).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kgprune.errors import Errors, PruningError
from kgprune.pruning.units import UnitSet

PLAN_FORMAT = 1


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """One group's kept units. `kept_kv` is set for grouped-query attention only."""

    key: str
    kind: str
    tower: str
    layer: int
    total: int
    kept: tuple[int, ...]
    kept_kv: tuple[int, ...] | None = None

    @property
    def removed(self) -> tuple[int, ...]:
        keep = set(self.kept)
        return tuple(i for i in range(self.total) if i not in keep)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"key": self.key, "kind": self.kind, "tower": self.tower,
                                "layer": self.layer, "total": self.total, "kept": list(self.kept)}
        if self.kept_kv is not None:
            data["kept_kv"] = list(self.kept_kv)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupPlan:
        kept_kv = data.get("kept_kv")
        return cls(key=str(data["key"]), kind=str(data["kind"]), tower=str(data["tower"]),
                   layer=int(data["layer"]), total=int(data["total"]),
                   kept=tuple(int(i) for i in data["kept"]),
                   kept_kv=None if kept_kv is None else tuple(int(i) for i in kept_kv))


@dataclass(frozen=True, slots=True)
class PruningPlan:
    """Kept units per group, with what produced the plan (criterion, target, measured share)."""

    groups: tuple[GroupPlan, ...]
    criterion: str = ""
    target_ratio: float = 0.0
    removed_params: int = 0
    prunable_params: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> GroupPlan:
        for group in self.groups:
            if group.key == key:
                return group
        raise KeyError(key)

    @property
    def removed_ratio(self) -> float:
        return self.removed_params / self.prunable_params if self.prunable_params else 0.0

    @property
    def is_empty(self) -> bool:
        """True when the plan keeps every unit."""
        return all(len(g.kept) == g.total for g in self.groups)

    def kept(self) -> dict[str, tuple[int, ...]]:
        return {g.key: g.kept for g in self.groups}

    def to_dict(self) -> dict[str, Any]:
        return {"format": PLAN_FORMAT, "criterion": self.criterion,
                "target_ratio": self.target_ratio, "removed_params": self.removed_params,
                "prunable_params": self.prunable_params, "removed_ratio": self.removed_ratio,
                "settings": self.settings, "groups": [g.to_dict() for g in self.groups]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "plan") -> PruningPlan:
        try:
            if data.get("format") != PLAN_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {PLAN_FORMAT}")
            groups = tuple(GroupPlan.from_dict(g) for g in data["groups"])
            return cls(groups=groups, criterion=str(data.get("criterion", "")),
                       target_ratio=float(data.get("target_ratio", 0.0)),
                       removed_params=int(data.get("removed_params", 0)),
                       prunable_params=int(data.get("prunable_params", 0)),
                       settings=dict(data.get("settings", {})))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise PruningError(Errors.K502.format(source=source, problem=e)) from e

    @classmethod
    def from_json(cls, text: str, *, source: str = "plan") -> PruningPlan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise PruningError(Errors.K502.format(source=source, problem=e)) from e
        if not isinstance(data, dict):
            raise PruningError(Errors.K502.format(source=source, problem="not a JSON object"))
        return cls.from_dict(data, source=source)


def keep_all(units: UnitSet) -> PruningPlan:
    """The plan that removes nothing."""
    groups = tuple(GroupPlan(g.key, g.kind, g.tower, g.layer, g.size, tuple(range(g.size)))
                   for g in units)
    return PruningPlan(groups, prunable_params=units.num_params)


def check_plan(plan: PruningPlan, units: UnitSet | Sequence[Any], *, source: str = "plan") -> None:
    """Raise K503 unless every group of the plan names a group of `units` with in-range indices."""
    known = {g.key: g for g in units}
    for group in plan.groups:
        unit = known.get(group.key)
        if unit is None:
            raise PruningError(Errors.K503.format(source=source, key=group.key,
                                                  problem="the model has no such group"))
        if unit.kind != group.kind or unit.size != group.total:
            raise PruningError(Errors.K503.format(
                source=source, key=group.key,
                problem=f"plan says {group.total} {group.kind}, model has {unit.size} {unit.kind}"))
        if not group.kept or len(set(group.kept)) != len(group.kept) or \
                any(not 0 <= i < group.total for i in group.kept):
            raise PruningError(Errors.K503.format(
                source=source, key=group.key,
                problem=f"kept indices {list(group.kept)} must be distinct, in range and not empty"))


def compose(first: PruningPlan, then: PruningPlan) -> PruningPlan:
    """One plan, relative to the original model, for `first` followed by `then`.

    `then` indexes the units that `first` kept, so its indices are mapped back through `first`.
    """
    later = {g.key: g for g in then.groups}
    groups = []
    for group in first.groups:
        step = later.get(group.key)
        if step is None:
            groups.append(group)
            continue
        kv = None
        if step.kept_kv is not None:
            kv = tuple(group.kept_kv[i] if group.kept_kv is not None else i for i in step.kept_kv)
        elif group.kept_kv is not None:
            kv = group.kept_kv
        groups.append(GroupPlan(group.key, group.kind, group.tower, group.layer, group.total,
                                tuple(group.kept[i] for i in step.kept), kv))
    return PruningPlan(tuple(groups), criterion=then.criterion, target_ratio=then.target_ratio,
                       removed_params=first.removed_params + then.removed_params,
                       prunable_params=first.prunable_params, settings=then.settings)
