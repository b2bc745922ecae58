"""Turn a `CoverageView` into the filter values every backend read applies.

`edge`, `concept` and `source` views are pure arithmetic on the stored `cov` values. `relation` and
`walk` views need one pass over the facts (per-relation thresholds; the walk's discovery order);
that pass is cached per store version, seed and strategy, and levels are cut from the same order,
so views stay nested.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from kgprune.kg.coverage import CoverageView, Strategy, stable_unit
from kgprune.kg.records import Fact
from kgprune.kg.relations import ALL_RELATIONS

if TYPE_CHECKING:
    from kgprune.kg.store import GraphStore

CACHE_SIZE = 16
WALK_CONTINUE = 0.85


@dataclass(frozen=True, slots=True)
class ViewFilter:
    """Parameters of the one fact predicate both backends apply.

    A fact f from h to t is in the view when rot(f.cov) < fact_level, rot(f.cov) <
    relation_levels[f.relation], rot(h.cov) and rot(t.cov) < concept_level, its source matches
    (when given) and, for materialised views, its edge_id is listed.
    """

    shift: float = 0.0
    fact_level: float = 1.0
    concept_level: float = 1.0
    relation_levels: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ALL_RELATIONS, 1.0))
    source: str = ""
    edge_ids: frozenset[str] | None = None


class FactSource(Protocol):
    """What resolving a view needs from a store: a version and a pass over all facts."""

    url: str

    def version(self) -> str: ...

    def iter_facts(self, *, batch_size: int = 10_000,
                   provenance: bool = True) -> Iterable[list[Fact]]: ...


T = TypeVar("T")
_cache: OrderedDict[tuple[str, str, int, Strategy], Any] = OrderedDict()


def _cached(store: FactSource, view: CoverageView, compute: Callable[[FactSource, CoverageView], T]) -> T:
    """One pass over the facts per store version, seed and strategy; every level reuses it."""
    key = (store.url, store.version(), view.seed, view.strategy)
    if key not in _cache:
        _cache[key] = compute(store, view)
        if len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    _cache.move_to_end(key)
    return _cache[key]


def _relation_orders(store: FactSource, view: CoverageView) -> dict[str, list[float]]:
    """Per relation, the rotated cov values of its facts, sorted."""
    orders: dict[str, list[float]] = {}
    for batch in store.iter_facts(provenance=False):
        for f in batch:
            orders.setdefault(f.relation, []).append(view.rotate(stable_unit(f.edge_id)))
    for values in orders.values():
        values.sort()
    return orders


def relation_levels(orders: dict[str, list[float]], level: float) -> dict[str, float]:
    """Thresholds keeping exactly round(level * n) facts of each relation."""
    levels = dict.fromkeys(ALL_RELATIONS, 1.0)
    for relation, values in orders.items():
        keep = round(level * len(values))
        levels[relation] = values[keep] if keep < len(values) else 1.0
    return levels


def walk_order(facts: Iterable[Fact], seed: int) -> list[str]:
    """Edge ids in the order a seeded random walk with restarts discovers them.

    The walk moves along a random undiscovered fact of its current concept and goes on from the far
    end with probability 0.85; otherwise, or when stuck, it restarts from a random concept it has
    already reached that still has undiscovered facts. Only when its region is exhausted does it
    jump to a new random concept. Every prefix of the order is thus a few connected regions.
    """
    rng = random.Random(seed)
    incident: dict[str, list[int]] = {}
    ends: list[tuple[str, str]] = []
    ids: list[str] = []
    for f in sorted(facts, key=lambda f: f.edge_id):
        ids.append(f.edge_id)
        ends.append((f.head, f.tail))
        incident.setdefault(f.head, []).append(len(ids) - 1)
        if f.tail != f.head:
            incident.setdefault(f.tail, []).append(len(ids) - 1)
    for edges in incident.values():
        rng.shuffle(edges)
    seen = [False] * len(ids)
    unexplored = sorted(incident)
    rng.shuffle(unexplored)
    reached: list[str] = []
    order: list[str] = []
    current: str | None = None
    while len(order) < len(ids):
        if current is None or not _has_unseen(incident[current], seen):
            current = _pick(reached, incident, seen, rng) or _pick(unexplored, incident, seen, rng)
            reached.append(current)
        index = incident[current].pop()
        seen[index] = True
        order.append(ids[index])
        head, tail = ends[index]
        far = tail if head == current else head
        reached.append(far)
        current = far if rng.random() < WALK_CONTINUE else None
    return order


def _has_unseen(edges: list[int], seen: list[bool]) -> bool:
    while edges and seen[edges[-1]]:
        edges.pop()
    return bool(edges)


def _pick(pool: list[str], incident: dict[str, list[int]], seen: list[bool],
          rng: random.Random) -> str | None:
    """A random concept of the pool with undiscovered facts; exhausted ones leave the pool."""
    while pool:
        i = rng.randrange(len(pool))
        concept = pool[i]
        if _has_unseen(incident[concept], seen):
            return concept
        pool[i] = pool[-1]
        pool.pop()
    return None


def _walk(store: FactSource, view: CoverageView) -> list[str]:
    return walk_order((f for batch in store.iter_facts(provenance=False) for f in batch), view.seed)


def resolve_view(store: FactSource, view: CoverageView) -> ViewFilter:
    shift = view.shift
    if view.is_full:
        return ViewFilter()
    match view.strategy:
        case Strategy.EDGE:
            return ViewFilter(shift=shift, fact_level=view.level)
        case Strategy.SOURCE:
            return ViewFilter(shift=shift, fact_level=view.level, source=view.source)
        case Strategy.CONCEPT:
            return ViewFilter(shift=shift, concept_level=view.level)
        case Strategy.RELATION:
            orders = _cached(store, view, _relation_orders)
            return ViewFilter(shift=shift, relation_levels=relation_levels(orders, view.level))
        case Strategy.WALK:
            order = _cached(store, view, _walk)
            return ViewFilter(edge_ids=frozenset(order[: round(view.level * len(order))]))
    raise AssertionError(view.strategy)


def compare_view(store: GraphStore, view: CoverageView) -> dict[str, Any]:
    """The view's concept, fact and per-relation counts beside the full graph's."""
    sampled, full = store.stats(view), store.stats()

    def row(what: str, kept: int, total: int) -> dict[str, Any]:
        return {"what": what, "view": kept, "full": total, "share": kept / total if total else 0.0}

    rows = [row("concepts", sampled.concepts, full.concepts), row("facts", sampled.facts, full.facts)]
    rows += [row(f"facts from {s}", sampled.by_source.get(s, 0), n) for s, n in sorted(full.by_source.items())]
    rows += [row(r, sampled.by_relation.get(r, 0), n)
             for r, n in sorted(full.by_relation.items(), key=lambda kv: -kv[1])]
    return {"view": view.to_dict(), "store": store.url, "rows": rows}
