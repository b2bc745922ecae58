"""From importance scores to a pruning plan: rank units globally by score per cost, remove the
cheapest first until the target share of parameters (or FLOPs) is gone.

The atoms the planner removes are "slots": a head, a neuron, a whole key/value group of query
heads (GQA, mode "groups"), or one query head from every key/value group at once (GQA, mode
"heads": the r-th least important head of each group, so every group keeps the same count).
Floors and multiples are turned into "chunks" of consecutive slots per group before ranking:

* a group's kept slot counts may only be the full count, or multiples of `head_multiple`
  (`neuron_multiple`) units at or above the floor; a chunk removes the slots between two
  allowed counts (the remainder first, then `multiple` units at a time),
* chunks are merged across groups lowest mean value first, each group's chunks in order, and
  taken until the removed cost reaches the target: the share removed overshoots the ratio by less
  than one chunk (one unit when the multiples are 1), never undershoots.

The "uniform" policy ranks within each group only: every group loses the share `ratio` of its own
cost, its least important units first, so the layers of a tower (groups of one size) keep the same
number of heads and neurons, which an architecture config can describe (`intermediate_size`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from numbers import Real
from typing import Any

import torch

from kgprune.errors import ConfigError, Errors, PruningError
from kgprune.pruning.importance import ImportanceScores, check_scores
from kgprune.pruning.plan import GroupPlan, PruningPlan
from kgprune.pruning.units import HeadGroup, NeuronGroup, UnitGroup, UnitSet

TARGETS = ("params", "flops")
GQA_MODES = ("groups", "heads")
NORMALIZATIONS = ("tower_kind", "tower", "none")
"""How scores are made comparable before the global ranking: each (tower, unit kind) pool
rescaled to mean 1 (so every pool loses about the same share whatever its score scale), each
tower rescaled to mean 1 (heads and neurons of a tower compete on raw values, towers do not), or
raw score per cost (a criterion may then say "fusion matters more than vision")."""
POLICIES = ("global", "uniform")


@dataclass(frozen=True, slots=True)
class PlanConfig:
    """How much to remove and under which constraints (see the module docstring)."""

    ratio: float = 0.0
    """Share of the prunable parameters (or FLOPs, target="flops") to remove, in [0, 1).
    Protected groups are not prunable: the share is of the other groups."""
    target: str = "params"
    min_heads: int = 1
    """Query heads every attention group keeps at least (never fewer than 1)."""
    min_neuron_ratio: float = 0.1
    """Share of each feed-forward group's neurons it keeps at least (never fewer than 1)."""
    protected: tuple[str, ...] = ()
    """fnmatch patterns over group keys and "tower:layer" (e.g. "vision:0", "*.fusion.*")."""
    head_multiple: int = 1
    neuron_multiple: int = 1
    gqa_mode: str = "groups"
    normalize: str = "tower_kind"
    """One of NORMALIZATIONS."""
    policy: str = "global"
    """"global": rank all units together; "uniform": the same share removed from every group."""

    def __post_init__(self) -> None:
        if isinstance(self.protected, str):
            object.__setattr__(self, "protected", (self.protected,))
        elif not isinstance(self.protected, tuple):
            object.__setattr__(self, "protected", tuple(self.protected))
        if not _is_real(self.ratio) or not 0.0 <= self.ratio < 1.0:
            _invalid("ratio", self.ratio, "the share to remove must lie in [0, 1)")
        if not _is_real(self.min_neuron_ratio) or not 0.0 <= self.min_neuron_ratio <= 1.0:
            _invalid("min_neuron_ratio", self.min_neuron_ratio, "must lie in [0, 1]")
        for name in ("min_heads", "head_multiple", "neuron_multiple"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                _invalid(name, value, "must be an integer of at least 1")
        for name, known in (("target", TARGETS), ("gqa_mode", GQA_MODES),
                            ("normalize", NORMALIZATIONS), ("policy", POLICIES)):
            if getattr(self, name) not in known:
                _invalid(name, getattr(self, name), f"use one of {', '.join(known)}")
        if not all(isinstance(p, str) and p for p in self.protected):
            _invalid("protected", self.protected, "must be non-empty fnmatch pattern strings")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["protected"] = list(self.protected)
        return data

    def is_protected(self, group: UnitGroup) -> bool:
        names = (group.key, f"{group.tower}:{group.layer}")
        return any(fnmatchcase(name, pattern) for name in names for pattern in self.protected)


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _invalid(field: str, value: object, problem: str) -> None:
    raise ConfigError(Errors.K521.format(field=field, value=value, problem=problem))


@dataclass(frozen=True, slots=True)
class _Slot:
    units: tuple[int, ...]
    kv: int | None
    score: float
    cost: float
    params: int


@dataclass(slots=True)
class _GroupSlots:
    group: UnitGroup
    slots: list[_Slot]
    floor: int
    units_per_slot: int
    multiple: int
    ranked: bool
    """True when the slots must go in their given order (GQA "heads" mode)."""


def build_plan(units: UnitSet, scores: ImportanceScores | Mapping[str, torch.Tensor],
               config: PlanConfig, *, costs: Mapping[str, float] | None = None) -> PruningPlan:
    """The plan removing `config.ratio` of the prunable cost, least important per cost first.

    `costs[key]` is the cost of one unit (query head / neuron) of a group for target="flops",
    as `unit_flops` computes; parameter costs come from `units`. Ties break by group key, then
    by unit index, so the plan is a deterministic function of its inputs.
    """
    per_unit = scores.scores if isinstance(scores, ImportanceScores) else dict(scores)
    protected = {g.key for g in units if config.is_protected(g)}
    check_scores(per_unit, units, skip=protected)
    if config.target == "flops":
        missing = next((g.key for g in units if g.key not in protected
                        and (costs is None or g.key not in costs)), None)
        if missing is not None:
            raise PruningError(Errors.K523.format(key=missing))
    prunable = [g for g in units if g.key not in protected]
    built = [_slots(g, per_unit[g.key].double().tolist(), config, costs) for g in prunable]
    values = _values(built, config.normalize)
    total_cost = sum(_group_cost(g, config, costs) for g in prunable)
    target = config.ratio * total_cost
    queues = {b.group.key: _chunks(b, values[b.group.key]) for b in built}
    reachable = sum(c[2] for q in queues.values() for c in q)
    if target > reachable * (1 + 1e-9):
        raise PruningError(Errors.K522.format(ratio=config.ratio, target=config.target,
                                              reachable=reachable / total_cost if total_cost else 0))
    if config.policy == "uniform":
        removed_slots, removed_cost = _take_uniform(
            queues, {g.key: _group_cost(g, config, costs) for g in prunable}, config)
    else:
        removed_slots, removed_cost = _take(queues, target)
    removed_params = sum(s.params for slots in removed_slots.values() for s in slots)
    groups = tuple(_group_plan(g, removed_slots.get(g.key, []), config) for g in units)
    settings = {**config.to_dict(), "removed_cost": removed_cost, "prunable_cost": total_cost}
    criterion = scores.criterion if isinstance(scores, ImportanceScores) else ""
    return PruningPlan(groups, criterion=criterion, target_ratio=config.ratio,
                       removed_params=removed_params,
                       prunable_params=sum(g.num_params for g in prunable), settings=settings)


def _unit_cost(group: UnitGroup, config: PlanConfig, costs: Mapping[str, float] | None) -> float:
    if config.target == "flops" and costs is not None:
        return float(costs[group.key])
    return float(group.params_per_head if isinstance(group, HeadGroup)
                 else group.params_per_neuron)


def _group_cost(group: UnitGroup, config: PlanConfig,
                costs: Mapping[str, float] | None) -> float:
    if config.target == "flops":
        return _unit_cost(group, config, costs) * group.size
    return float(group.num_params)


def _slots(group: UnitGroup, scores: list[float], config: PlanConfig,
           costs: Mapping[str, float] | None) -> _GroupSlots:
    cost = _unit_cost(group, config, costs)
    if isinstance(group, NeuronGroup):
        slots = [_Slot((i,), None, s, cost, group.params_per_neuron) for i, s in enumerate(scores)]
        floor = max(1, math.ceil(config.min_neuron_ratio * group.size - 1e-9))
        return _GroupSlots(group, slots, floor, 1, config.neuron_multiple, False)
    min_heads = min(config.min_heads, group.num_heads)
    if not group.is_gqa:
        slots = [_Slot((h,), None, s, cost, group.params_per_head) for h, s in enumerate(scores)]
        return _GroupSlots(group, slots, min_heads, 1, config.head_multiple, False)
    size, kv_heads = group.group_size, group.num_kv_heads
    if config.gqa_mode == "groups":
        slot_cost = size * cost + (group.params_per_kv_head if config.target == "params" else 0)
        slots = [_Slot(tuple(range(j * size, (j + 1) * size)), j,
                       sum(scores[j * size:(j + 1) * size]), slot_cost,
                       size * group.params_per_head + group.params_per_kv_head)
                 for j in range(kv_heads)]
        return _GroupSlots(group, slots, math.ceil(min_heads / size), size,
                           config.head_multiple, False)
    orders = [sorted(range(j * size, (j + 1) * size), key=lambda h: (scores[h], h))
              for j in range(kv_heads)]
    slots = [_Slot(tuple(order[r] for order in orders), None,
                   sum(scores[order[r]] for order in orders), kv_heads * cost,
                   kv_heads * group.params_per_head) for r in range(size)]
    return _GroupSlots(group, slots, math.ceil(min_heads / kv_heads), kv_heads,
                       config.head_multiple, True)


def _pool(group: UnitGroup, normalize: str) -> tuple[str, ...]:
    return (group.tower, group.kind) if normalize == "tower_kind" else (group.tower,)


def _values(built: list[_GroupSlots], normalize: str) -> dict[str, list[float]]:
    """Score per cost of every slot, divided by its pool's mean (see NORMALIZATIONS)."""
    raw = {b.group.key: [s.score / s.cost if s.cost > 0 else math.inf for s in b.slots]
           for b in built}
    if normalize == "none":
        return raw
    pools: dict[tuple[str, ...], list[float]] = {}
    for b in built:
        pools.setdefault(_pool(b.group, normalize), []).extend(
            v for v in raw[b.group.key] if math.isfinite(v))
    means = {k: sum(v) / len(v) if v else 0.0 for k, v in pools.items()}
    out = {}
    for b in built:
        mean = means[_pool(b.group, normalize)]
        out[b.group.key] = [v / mean if mean > 0 else v for v in raw[b.group.key]]
    return out


def ranking_values(units: UnitSet, scores: ImportanceScores | Mapping[str, torch.Tensor],
                   config: PlanConfig, *,
                   costs: Mapping[str, float] | None = None) -> dict[str, list[float]]:
    """Per unprotected group, the values its slots are ranked by (lowest removed first): what
    two criteria must agree on to make the same plan, so rank correlations compare these."""
    per_unit = scores.scores if isinstance(scores, ImportanceScores) else dict(scores)
    prunable = [g for g in units if not config.is_protected(g)]
    check_scores(per_unit, prunable)
    built = [_slots(g, per_unit[g.key].double().tolist(), config, costs) for g in prunable]
    return _values(built, config.normalize)


Chunk = tuple[float, list[_Slot], float]
"""(mean value, slots, cost) of one removal step of a group."""


def _chunks(built: _GroupSlots, values: list[float]) -> list[Chunk]:
    """The group's removal steps, in the order they must be taken."""
    count = len(built.slots)
    order = list(range(count)) if built.ranked else \
        sorted(range(count), key=lambda i: (values[i], built.slots[i].units[0]))
    allowed = [k for k in range(count - 1, built.floor - 1, -1)
               if (k * built.units_per_slot) % built.multiple == 0]
    chunks, start = [], 0
    for kept in allowed:
        picked = order[start:count - kept]
        cost = sum(built.slots[i].cost for i in picked)
        value = sum(values[i] * built.slots[i].cost for i in picked) / cost if cost > 0 else \
            sum(values[i] for i in picked) / len(picked)
        chunks.append((value, [built.slots[i] for i in picked], cost))
        start = count - kept
    return chunks


def _take(queues: Mapping[str, list[Chunk]], target: float) -> tuple[dict[str, list[_Slot]], float]:
    """Merge the groups' chunk queues lowest value first (ties: key, step) until `target`."""
    heap = [(q[0][0], key, 0) for key, q in queues.items() if q]
    heapq.heapify(heap)
    removed: dict[str, list[_Slot]] = {}
    cost = 0.0
    while heap and cost < target:
        _, key, step = heapq.heappop(heap)
        _, slots, chunk_cost = queues[key][step]
        removed.setdefault(key, []).extend(slots)
        cost += chunk_cost
        if step + 1 < len(queues[key]):
            heapq.heappush(heap, (queues[key][step + 1][0], key, step + 1))
    return removed, cost


def _take_uniform(queues: Mapping[str, list[Chunk]], group_costs: Mapping[str, float],
                  config: PlanConfig) -> tuple[dict[str, list[_Slot]], float]:
    """Each group's chunks in order until it has lost `config.ratio` of its own cost (K522 when
    its floors stop it first)."""
    removed: dict[str, list[_Slot]] = {}
    total = 0.0
    for key, queue in queues.items():
        goal, cost = config.ratio * group_costs[key], 0.0
        for _, slots, chunk_cost in queue:
            if cost >= goal * (1 - 1e-9):
                break
            removed.setdefault(key, []).extend(slots)
            cost += chunk_cost
        if cost < goal * (1 - 1e-9):
            raise PruningError(Errors.K522.format(ratio=config.ratio, target=config.target,
                                                  reachable=cost / group_costs[key]))
        total += cost
    return removed, total


def _group_plan(group: UnitGroup, removed: list[_Slot], config: PlanConfig) -> GroupPlan:
    gone = {u for s in removed for u in s.units}
    kept = tuple(i for i in range(group.size) if i not in gone)
    kept_kv = None
    if isinstance(group, HeadGroup) and group.is_gqa and config.gqa_mode == "groups":
        dropped = {s.kv for s in removed}
        kept_kv = tuple(j for j in range(group.num_kv_heads) if j not in dropped)
    return GroupPlan(group.key, group.kind, group.tower, group.layer, group.size, kept, kept_kv)


def unit_flops(units: UnitSet | Iterable[UnitGroup], tokens_per_sample: Mapping[str, float], *,
               key_tokens: Mapping[str, float] | None = None) -> dict[str, float]:
    """FLOPs one unit (query head / neuron) of each group costs per sample, for target="flops".

    Counted: 2 x the multiply-adds of the unit's Linear slices (q/k/v rows and o columns of a head,
    up rows and down columns of a neuron; biases as one multiply-add per output) x the tokens at
    the group, plus for a head the attention scores and weighted values, 4 x tokens x key length
    x head_dim. The key length comes from `key_tokens` (cross-attention), else equals the tokens
    (self-attention); k/v projections are counted at the query tokens except under GQA, where a
    key/value head's projections run over the key length and are shared out equally over its
    query heads (so a whole key/value group costs exactly its FLOPs).

    Token counts are looked up per group by its key, then "tower:layer", then tower, then "*".
    """
    result = {}
    for group in units:
        tokens = _lookup(tokens_per_sample, group, required=True)
        if isinstance(group, NeuronGroup):
            result[group.key] = 2.0 * tokens * group.params_per_neuron
            continue
        keys = _lookup(key_tokens or {}, group, required=False)
        keys = tokens if keys is None else keys
        flops = 2.0 * tokens * group.params_per_head + 4.0 * tokens * keys * group.head_dim
        if group.is_gqa:
            flops += 2.0 * keys * group.params_per_kv_head / group.group_size
        result[group.key] = flops
    return result


def _lookup(table: Mapping[str, float], group: UnitGroup, *, required: bool) -> float | None:
    names = (group.key, f"{group.tower}:{group.layer}", group.tower, "*")
    for name in names:
        if name in table:
            return float(table[name])
    if required:
        raise PruningError(Errors.K524.format(key=group.key, keys=", ".join(repr(n) for n in names)))
    return None
