"""The planner: targets, floors, protection, multiples, GQA modes, normalisation and FLOPs costs."""

from __future__ import annotations

import math

import pytest
import torch

from kgprune.errors import ConfigError, PruningError
from kgprune.pruning.importance import ImportanceScores
from kgprune.pruning.plan import PruningPlan, check_plan
from kgprune.pruning.planner import PlanConfig, build_plan, ranking_values, unit_flops
from kgprune.pruning.surgery import apply_plan
from kgprune.pruning.units import HeadGroup, UnitSet, discover_units
from tests.pruning.models import num_params, removed_params, tiny_model


def _units(family: str) -> UnitSet:
    return discover_units(tiny_model(family).model)


def _scores(units: UnitSet, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {g.key: torch.rand(g.size, generator=generator) for g in units}


def _unit_cost(group) -> int:
    return group.params_per_head if isinstance(group, HeadGroup) else group.params_per_neuron


@pytest.mark.parametrize("family", ["kgvqa", "llama"])
@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.5])
def test_the_target_share_is_reached_within_one_unit(family: str, ratio: float) -> None:
    units = _units(family)
    plan = build_plan(units, _scores(units), PlanConfig(ratio=ratio, gqa_mode="heads"))
    check_plan(plan, units)
    assert plan.prunable_params == units.num_params
    assert plan.removed_params == removed_params(plan, units)
    largest = max(_unit_cost(g) * (g.num_kv_heads if isinstance(g, HeadGroup) and g.is_gqa else 1)
                  for g in units)
    target = ratio * units.num_params
    assert target <= plan.removed_params < target + largest
    assert plan.target_ratio == ratio and plan.settings["gqa_mode"] == "heads"
    assert PruningPlan.from_json(plan.to_json()) == plan


def test_ratio_zero_keeps_everything_and_bad_settings_are_refused() -> None:
    units = _units("kgvqa")
    plan = build_plan(units, _scores(units), PlanConfig(ratio=0.0))
    assert plan.is_empty and plan.removed_params == 0
    for ratio in (1.0, -0.1, 1.5, math.nan, "0.3", True):
        with pytest.raises(ConfigError, match=r"\[K521\] Pruning setting 'ratio'"):
            PlanConfig(ratio=ratio)
    for bad in ({"min_heads": 0}, {"head_multiple": 0}, {"neuron_multiple": 2.0},
                {"min_neuron_ratio": 1.5}, {"gqa_mode": "kv"}, {"normalize": "layer"},
                {"target": "latency"}, {"protected": ("",)}):
        with pytest.raises(ConfigError, match=rf"\[K521\] Pruning setting '{next(iter(bad))}'"):
            PlanConfig(ratio=0.3, **bad)


def test_the_cheapest_units_go_first_and_ties_break_by_key_then_index() -> None:
    units = _units("kgvqa")
    neurons, heads = units.neurons[1], units.heads[0]
    scores = {g.key: torch.full((g.size,), 1000.0 if g.kind == "heads" else 1.0) for g in units}
    scores[neurons.key][[5, 9]] = 0.0
    plan = build_plan(units, scores, PlanConfig(ratio=2.5 * neurons.params_per_neuron
                                                / units.num_params, normalize="none"))
    removed = {g.key: g.removed for g in plan.groups if g.removed}
    first = min(g.key for g in units.neurons)
    assert removed == {neurons.key: (5, 9), first: (0,)}
    assert build_plan(units, scores, PlanConfig(ratio=0.3)) == \
        build_plan(units, dict(scores), PlanConfig(ratio=0.3))
    assert heads.key not in removed


def test_floors_keep_heads_and_a_share_of_neurons() -> None:
    units = _units("kgvqa")
    heads, neurons = units.heads[0], units.neurons[0]
    scores = _scores(units)
    scores[heads.key] = torch.zeros(heads.size)
    scores[neurons.key] = torch.zeros(neurons.size)
    plan = build_plan(units, scores, PlanConfig(ratio=0.5, min_heads=1, min_neuron_ratio=0.25))
    assert len(plan[heads.key].kept) == 1
    assert len(plan[neurons.key].kept) == math.ceil(0.25 * neurons.size)
    deep = build_plan(units, scores, PlanConfig(ratio=0.66, min_heads=2, min_neuron_ratio=0.1))
    for group in units:
        kept = len(deep[group.key].kept)
        floor = 2 if isinstance(group, HeadGroup) else math.ceil(0.1 * group.size)
        assert kept >= floor
    with pytest.raises(PruningError, match=r"\[K522\].*at most"):
        build_plan(units, scores, PlanConfig(ratio=0.95))


def test_protected_groups_keep_everything_and_need_no_scores() -> None:
    units = _units("kgvqa")
    scores = {g.key: torch.zeros(g.size) if g.tower == "vision" else torch.rand(g.size)
              for g in units}
    fusion_mlp = next(g for g in units.neurons if g.tower == "fusion" and g.layer == 0)
    config = PlanConfig(ratio=0.4, protected=("vision:*", fusion_mlp.key))
    protected = [g for g in units if g.tower == "vision" or g.key == fusion_mlp.key]
    del scores[fusion_mlp.key]
    plan = build_plan(units, scores, config)
    for group in protected:
        assert plan[group.key].kept == tuple(range(group.size))
    assert plan.prunable_params == units.num_params - sum(g.num_params for g in protected)
    assert plan.removed_ratio >= 0.4 and plan.settings["protected"] == ["vision:*", fusion_mlp.key]
    with pytest.raises(PruningError, match=rf"\[K520\].*'{fusion_mlp.key}'.*no scores"):
        build_plan(units, scores, PlanConfig(ratio=0.4))


def test_kept_counts_are_multiples() -> None:
    units = _units("kgvqa")
    plan = build_plan(units, _scores(units), PlanConfig(ratio=0.5, head_multiple=2,
                                                        neuron_multiple=24, min_neuron_ratio=0.0))
    for group in plan.groups:
        multiple = 2 if group.kind == "heads" else 24
        assert len(group.kept) == group.total or len(group.kept) % multiple == 0
    assert any(len(g.kept) < g.total for g in plan.groups if g.kind == "neurons")
    assert any(len(g.kept) < g.total for g in plan.groups if g.kind == "heads")


def test_normalisation_lets_towers_compete_whatever_their_score_scale() -> None:
    units = _units("kgvqa")
    scores = _scores(units)
    scaled = {k: v * (1000.0 if units[k].tower == "vision" else 1.0) for k, v in scores.items()}

    def vision_share(plan: PruningPlan) -> float:
        vision = [g for g in plan.groups if g.tower == "vision"]
        return sum(len(g.removed) for g in vision) / sum(g.total for g in vision)

    none = build_plan(units, scaled, PlanConfig(ratio=0.3, normalize="none"))
    fair = build_plan(units, scaled, PlanConfig(ratio=0.3))
    assert vision_share(none) == 0.0
    assert vision_share(fair) == vision_share(build_plan(units, scores, PlanConfig(ratio=0.3))) > 0


def _removed_share(plan: PruningPlan, tower: str, kind: str) -> float:
    groups = [g for g in plan.groups if g.tower == tower and g.kind == kind]
    return sum(len(g.removed) for g in groups) / sum(g.total for g in groups)


def test_per_tower_normalisation_lets_unit_kinds_compete_inside_a_tower() -> None:
    units = _units("kgvqa")
    scores = _scores(units)
    towers = {k: v * (1000.0 if units[k].tower == "vision" else 1.0) for k, v in scores.items()}
    neurons = {k: v * (1000.0 if units[k].tower == "vision" and units[k].kind == "neurons"
                       else 1.0) for k, v in scores.items()}
    plan = {norm: {name: build_plan(units, s, PlanConfig(ratio=0.3, normalize=norm))
                   for name, s in (("raw", scores), ("towers", towers), ("neurons", neurons))}
            for norm in ("tower_kind", "tower")}
    # a tower's scale cancels under both; a unit kind's scale inside a tower only per pool
    assert plan["tower"]["towers"].kept() == plan["tower"]["raw"].kept()
    assert plan["tower_kind"]["neurons"].kept() == plan["tower_kind"]["raw"].kept()
    assert plan["tower"]["neurons"].kept() != plan["tower"]["raw"].kept()
    assert _removed_share(plan["tower"]["neurons"], "vision", "neurons") < \
        _removed_share(plan["tower"]["raw"], "vision", "neurons")
    assert _removed_share(plan["tower"]["neurons"], "vision", "heads") > \
        _removed_share(plan["tower"]["raw"], "vision", "heads")
    assert plan["tower"]["raw"].settings["normalize"] == "tower"


@pytest.mark.parametrize("normalize", ["tower_kind", "tower", "none"])
def test_ranking_values_are_what_the_plan_removes_lowest_first(normalize: str) -> None:
    units = _units("kgvqa")
    scores = _scores(units, seed=3)
    config = PlanConfig(ratio=0.2, normalize=normalize, min_neuron_ratio=0.0)
    values = ranking_values(units, scores, config)
    assert set(values) == {g.key for g in units}
    assert all(len(values[g.key]) == g.size for g in units)
    plan = build_plan(units, scores, config)
    removed = [values[g.key][i] for g in plan.groups for i in g.removed]
    kept = [values[g.key][i] for g in plan.groups for i in g.kept]
    assert removed and max(removed) <= min(kept)


@pytest.mark.parametrize("family", ["llama", "qwen2", "mistral"])
@pytest.mark.parametrize("mode", ["groups", "heads"])
def test_gqa_plans_are_consistent_and_surgery_applies_them(family: str, mode: str) -> None:
    tiny = tiny_model(family)
    units = discover_units(tiny.model)
    scores = ImportanceScores("knowledge", 1, _scores(units, seed=2), samples=8)
    plan = build_plan(units, scores, PlanConfig(ratio=0.45, gqa_mode=mode))
    assert plan.criterion == "knowledge"
    touched = 0
    for group in units.heads:
        gp = plan[group.key]
        size = group.group_size
        by_kv = [sum(1 for h in gp.kept if h // size == j) for j in range(group.num_kv_heads)]
        touched += len(gp.kept) < group.size
        if mode == "groups":
            assert gp.kept_kv is not None and len(gp.kept_kv) >= 1
            assert gp.kept == tuple(j * size + i for j in gp.kept_kv for i in range(size))
        else:
            assert gp.kept_kv is None and len(set(by_kv)) == 1 and by_kv[0] >= 1
    assert touched or family == "mistral"
    before = num_params(tiny.model)
    apply_plan(tiny.model, plan, units=units)
    assert before - num_params(tiny.model) == plan.removed_params
    with torch.no_grad():
        assert torch.isfinite(tiny.output()).all()


def test_flops_target_uses_the_per_unit_costs() -> None:
    units = _units("kgvqa")
    tokens = {"vision": 5.0, "*": 12.0}
    flops = unit_flops(units, tokens)
    mlp, attn = units.neurons[0], units.heads[0]
    assert flops[mlp.key] == 2 * 5 * mlp.params_per_neuron
    assert flops[attn.key] == 2 * 5 * attn.params_per_head + 4 * 5 * 5 * attn.head_dim
    fusion = next(g for g in units.heads if g.tower == "fusion")
    assert unit_flops([fusion], tokens, key_tokens={fusion.key: 4})[fusion.key] == \
        2 * 12 * fusion.params_per_head + 4 * 12 * 4 * fusion.head_dim
    plan = build_plan(units, _scores(units), PlanConfig(ratio=0.3, target="flops"), costs=flops)
    total = sum(flops[g.key] * g.size for g in units)
    removed = sum(flops[g.key] * len(g.removed) for g in plan.groups)
    assert 0.3 * total <= removed < 0.3 * total + max(flops.values())
    assert plan.settings["removed_cost"] == pytest.approx(removed)
    assert plan.removed_params == removed_params(plan, units)
    with pytest.raises(PruningError, match=r"\[K523\]"):
        build_plan(units, _scores(units), PlanConfig(ratio=0.3, target="flops"))
    with pytest.raises(PruningError, match=r"\[K524\].*'vision:0'"):
        unit_flops(units, {"text": 3.0})


def test_gqa_flops_share_the_key_value_heads() -> None:
    units = _units("llama")
    group = units.heads[0]
    flops = unit_flops(units, {"*": 7.0})
    per_group = group.group_size * flops[group.key]
    expected = 2 * 7 * (group.group_size * group.params_per_head + group.params_per_kv_head) \
        + group.group_size * 4 * 7 * 7 * group.head_dim
    assert per_group == pytest.approx(expected)


def test_scores_that_do_not_fit_are_refused() -> None:
    units = _units("kgvqa")
    scores = _scores(units)
    key = units.groups[0].key
    scores[key] = torch.ones(units.groups[0].size + 1)
    with pytest.raises(PruningError, match=r"\[K520\].*scores for"):
        build_plan(units, scores, PlanConfig(ratio=0.3))
    scores[key] = torch.full((units.groups[0].size,), math.nan)
    with pytest.raises(PruningError, match=r"\[K520\].*not finite"):
        build_plan(units, scores, PlanConfig(ratio=0.3))


@pytest.mark.parametrize("family", ["bert", "llama"])
def test_uniform_policy_keeps_the_same_count_in_every_layer(family: str) -> None:
    units = _units(family)
    scores = _scores(units, seed=5)
    plan = build_plan(units, scores, PlanConfig(ratio=0.4, policy="uniform"))
    check_plan(plan, units)
    for tower in units.towers:
        for kind in ("heads", "neurons"):
            counts = {len(g.kept) for g in plan.groups if g.tower == tower and g.kind == kind}
            assert len(counts) <= 1, f"{tower} {kind}: {counts}"
    assert plan.removed_params >= 0.4 * plan.prunable_params
    assert plan.settings["policy"] == "uniform"
    globally = build_plan(units, scores, PlanConfig(ratio=0.4))
    assert len({len(g.kept) for g in globally.groups if g.kind == "neurons"}) > 1, \
        "the global policy, on the same scores, sizes the layers differently"
    for group in plan.groups:  # within a group the least important units go first
        removed, kept = set(group.removed), set(group.kept)
        if removed and family == "bert" and group.kind == "neurons":
            assert max(scores[group.key][list(removed)]) <= min(scores[group.key][list(kept)])


def test_uniform_policy_stops_at_the_floors() -> None:
    units = _units("bert")
    with pytest.raises(PruningError, match=r"K522"):
        build_plan(units, _scores(units), PlanConfig(ratio=0.95, policy="uniform"))
