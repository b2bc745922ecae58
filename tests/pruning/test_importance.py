"""Importance criteria: what they compute, what they leave alone, and that they mean something."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from kgprune.errors import ConfigError, InputFormatError, PruningError
from kgprune.pruning.gates import Gates
from kgprune.pruning.importance import (
    CRITERIA,
    ImportanceScores,
    ScoringBatch,
    criterion_by_name,
    score_paths,
)
from kgprune.pruning.units import UnitSet, discover_units
from kgprune.vqa.adapters.base import ModelAdapter
from kgprune.vqa.adapters.hf_loading import tiny_adapter
from kgprune.vqa.knowledge_loss import batch_losses
from tests.pruning import color_task
from tests.pruning.models import images, tiny_model


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass(frozen=True)
class Case:
    adapter: ModelAdapter
    units: UnitSet
    batches: list[ScoringBatch]
    grounded: int
    with_task: int
    with_any: int


def _kgvqa() -> Case:
    adapter = color_task.adapter(seed=0)
    batches = color_task.batches(adapter, color_task.samples(10, seed=0), 4)
    grounded = sum(bool(k) for b in batches for k in b.knowledge)
    return Case(adapter, discover_units(adapter.model), batches, grounded, 10, 10)


def _vilt() -> Case:
    torch.manual_seed(0)
    adapter = tiny_adapter("vilt")
    questions = ["what color is the dog", "how many cats are there", "is this a pizza"]
    inputs = adapter.prepare(images(3), questions)
    batch = ScoringBatch(inputs, [{"red": 1.0}, {"2": 1.0}, {}],
                         [{"red": 0.5, "dog": 0.5}, {}, {"pizza": 1.0}])
    return Case(adapter, discover_units(adapter.model), [batch, batch], 4, 4, 6)


@pytest.fixture(scope="module", params=["kgvqa", "vilt"])
def case(request: pytest.FixtureRequest) -> Case:
    return _kgvqa() if request.param == "kgvqa" else _vilt()


@pytest.mark.parametrize("name", sorted(CRITERIA))
def test_scores_have_the_units_shapes_and_leave_the_weights_alone(case: Case, name: str) -> None:
    model = case.adapter.model
    params = list(model.parameters())
    params[0].requires_grad_(False)
    model.train()
    scores = criterion_by_name(name).score(case.adapter, case.units, case.batches,
                                           meta={"model": "tiny"})
    assert (scores.criterion, scores.meta) == (name, {"model": "tiny"})
    assert list(scores.scores) == [g.key for g in case.units]
    for group in case.units:
        values = scores[group.key]
        assert values.shape == (group.size,) and values.dtype == torch.float32
        assert bool(torch.isfinite(values).all()) and bool((values >= 0).all())
    assert sum(float(v.sum()) for v in scores.scores.values()) > 0
    expected = {"knowledge": case.grounded, "task": case.with_task, "taylor": case.with_task,
                "activation": case.with_task, "combined": case.with_any}
    assert scores.samples == expected.get(name, 0)
    assert all(p.grad is None for p in params)
    assert [p.requires_grad for p in params] == [False] + [True] * (len(params) - 1)
    assert all(m.training for m in model.modules())
    params[0].requires_grad_(True)
    model.eval()


def _gate_grads(adapter: ModelAdapter, units: UnitSet, batch: ScoringBatch,
                rows: list[int]) -> dict[str, torch.Tensor]:
    """|d/d gate| of the sum of the knowledge losses of `rows`, the paper's formula by hand."""
    with Gates(adapter.model, units, requires_grad=True) as gates:
        losses = adapter.answer_losses(batch.inputs, batch.knowledge)[0]
        losses[rows].sum().backward()
        return {k: v.abs() for k, v in gates.grads().items()}


def test_knowledge_is_the_mean_gradient_magnitude_over_grounded_samples() -> None:
    adapter = color_task.adapter(seed=0)
    units = discover_units(adapter.model)
    data = color_task.samples(6, seed=4)
    singles = color_task.batches(adapter, data, 1)
    grounded = [i for i, s in enumerate(data) if s.knowledge]
    assert 0 < len(grounded) < len(data)
    by_hand = {g.key: torch.zeros(g.size) for g in units}
    for i in grounded:
        for key, grad in _gate_grads(adapter, units, singles[i], [0]).items():
            by_hand[key] += grad / len(grounded)
    scores = criterion_by_name("knowledge").score(adapter, units, singles)
    assert scores.samples == len(grounded)
    for key, expected in by_hand.items():
        torch.testing.assert_close(scores[key], expected, rtol=1e-4, atol=1e-7)
    # One batch of all samples: |sum of the per-sample gradients| (abs per batch), not sum of |.|.
    whole = color_task.batches(adapter, data, len(data))[0]
    merged = criterion_by_name("knowledge").score(adapter, units, [whole])
    for key, grad in _gate_grads(adapter, units, whole, grounded).items():
        torch.testing.assert_close(merged[key], grad / len(grounded), rtol=1e-4, atol=1e-7)
    assert any(not torch.allclose(merged[k], scores[k]) for k in by_hand)


def test_combined_without_knowledge_is_task_and_requires_samples() -> None:
    case = _kgvqa()
    task = criterion_by_name("task").score(case.adapter, case.units, case.batches)
    combined = criterion_by_name("combined", lam=0.0).score(case.adapter, case.units, case.batches)
    for key in task.scores:
        torch.testing.assert_close(combined[key], task[key])
    empty = [ScoringBatch(b.inputs, b.task, [{}] * len(b.task)) for b in case.batches]
    with pytest.raises(PruningError, match="K525"):
        criterion_by_name("knowledge").score(case.adapter, case.units, empty)


def test_magnitude_is_the_norm_of_the_units_weights() -> None:
    adapter = color_task.adapter(seed=0)
    units = discover_units(adapter.model)
    scores = criterion_by_name("magnitude").score(adapter, units)
    attn = adapter.model.vision.blocks[0].attn
    d, h = attn.head_dim, 1
    rows = slice(h * d, (h + 1) * d)
    parts = [attn.out_proj.weight[:, rows]]
    for layer in (attn.q_proj, attn.k_proj, attn.v_proj):
        parts += [layer.weight[rows], layer.bias[rows]]
    expected = math.sqrt(sum(float((p.detach() ** 2).sum()) for p in parts))
    assert scores["vision.blocks.0.attn"][h].item() == pytest.approx(expected, rel=1e-5)
    mlp = adapter.model.vision.blocks[0].mlp
    neuron = [mlp.fc1.weight[3], mlp.fc1.bias[3:4], mlp.fc2.weight[:, 3]]
    expected = math.sqrt(sum(float((p.detach() ** 2).sum()) for p in neuron))
    assert scores["vision.blocks.0.mlp"][3].item() == pytest.approx(expected, rel=1e-5)


def test_gqa_heads_share_their_key_value_weights() -> None:
    """Under GQA the squared magnitudes of a key/value group's heads add up to all its weights."""
    tiny = tiny_model("llama")
    units = discover_units(tiny.model)
    group = units.heads[0]
    assert group.is_gqa
    scores = criterion_by_name("magnitude").score(tiny, units)
    attn = dict(tiny.model.named_modules())[group.path]
    d, size = group.head_dim, group.group_size
    q_rows = slice(0, size * d)
    kv_rows = slice(0, d)
    expected = sum(float((w.detach() ** 2).sum()) for w in (
        attn.q_proj.weight[q_rows], attn.o_proj.weight[:, q_rows], attn.k_proj.weight[kv_rows],
        attn.v_proj.weight[kv_rows]))
    assert float((scores[group.key][:size] ** 2).sum()) == pytest.approx(expected, rel=1e-5)


def test_taylor_is_weight_times_gradient_over_the_units_slices() -> None:
    case = _kgvqa()
    batch = case.batches[0]
    scores = criterion_by_name("taylor").score(case.adapter, case.units, [batch])
    mlp = case.adapter.model.fusion[1].mlp
    loss = case.adapter.answer_losses(batch.inputs, batch.task)[0].sum()
    w1, b1, w2 = mlp.fc1.weight, mlp.fc1.bias, mlp.fc2.weight
    g1, gb, g2 = torch.autograd.grad(loss, [w1, b1, w2])
    n = 5
    with torch.no_grad():
        expected = abs(float((w1[n] * g1[n]).sum() + b1[n] * gb[n] + (w2[:, n] * g2[:, n]).sum()))
    assert scores["fusion.1.mlp"][n].item() == pytest.approx(expected / 4, rel=1e-4)
    assert all(p.grad is None for p in case.adapter.model.parameters())


def test_activation_and_random() -> None:
    case = _kgvqa()
    scores = criterion_by_name("activation").score(case.adapter, case.units, case.batches)
    with Gates(case.adapter.model, case.units, record=True) as gates, torch.no_grad():
        for batch in case.batches:
            case.adapter.answer_losses(batch.inputs, batch.task)[0]
        for g in case.units:
            torch.testing.assert_close(scores[g.key], gates.activation_norm(g.key))
    one, same = (criterion_by_name("random", seed=3).score(case.adapter, case.units)
                 for _ in range(2))
    other = criterion_by_name("random", seed=4).score(case.adapter, case.units)
    key = case.units.groups[0].key
    assert torch.equal(one[key], same[key]) and not torch.equal(one[key], other[key])
    assert one.options == {"seed": 3}


def test_progress_is_reported_per_batch() -> None:
    case = _kgvqa()
    calls: list[tuple[int, int]] = []
    criterion_by_name("task").score(case.adapter, case.units, case.batches,
                                    on_progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_registry_names_the_known_criteria() -> None:
    assert set(CRITERIA) == {"knowledge", "task", "combined", "taylor", "magnitude",
                             "activation", "random"}
    assert criterion_by_name("combined", lam=0.25).options() == {"lam": 0.25}
    with pytest.raises(ConfigError, match=r"\[K515\].*knowledge, task"):
        criterion_by_name("fisher")
    with pytest.raises(ConfigError, match=r"\[K516\].*'knowledge'.*lam.*no options"):
        criterion_by_name("knowledge", lam=1.0)


def _scores() -> ImportanceScores:
    return ImportanceScores("knowledge", 1, {"a.attn": torch.tensor([0.5, 1.5]),
                                             "a.mlp": torch.arange(4, dtype=torch.float32)},
                            samples=12, options={"lam": 0.5}, meta={"kg": "conceptnet", "seed": 3})


def test_scores_round_trip_through_safetensors_and_json(tmp_path: Path) -> None:
    scores = _scores()
    tensors, manifest = scores.save(tmp_path / "round1")
    assert (tensors.name, manifest.name) == ("round1.safetensors", "round1.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["round1.json", "round1.safetensors"]
    for path in (tmp_path / "round1", manifest, tensors):
        loaded = ImportanceScores.load(path)
        assert (loaded.criterion, loaded.version, loaded.samples, loaded.options, loaded.meta) \
            == ("knowledge", 1, 12, {"lam": 0.5}, {"kg": "conceptnet", "seed": 3})
        assert list(loaded.scores) == ["a.attn", "a.mlp"]
        for key, values in scores.scores.items():
            assert torch.equal(loaded[key], values)
    assert b"pickle" not in tensors.read_bytes()


def test_scores_files_that_are_missing_corrupt_or_mismatched_are_refused(tmp_path: Path) -> None:
    stem = tmp_path / "s"
    with pytest.raises(InputFormatError, match=r"\[K517\].*s.json is missing"):
        ImportanceScores.load(stem)
    tensors, manifest = _scores().save(stem)
    good = manifest.read_text()
    manifest.write_text(good[:40])
    with pytest.raises(InputFormatError, match=r"\[K518\]"):
        ImportanceScores.load(stem)
    manifest.write_text(good.replace('"format": 1', '"format": 9'))
    with pytest.raises(InputFormatError, match=r"\[K518\].*format 9"):
        ImportanceScores.load(stem)
    manifest.write_text(good)
    other = tmp_path / "other"
    ImportanceScores("knowledge", 1, {"a.attn": torch.ones(2)}, 1).save(other)
    tensors.write_bytes(score_paths(other)[0].read_bytes())
    with pytest.raises(InputFormatError, match=r"\[K519\].*sha256"):
        ImportanceScores.load(stem)
    tensors.unlink()
    with pytest.raises(InputFormatError, match=r"\[K517\].*s.safetensors is missing"):
        ImportanceScores.load(stem)
    data = json.loads(good)
    assert data["groups"] == ["a.attn", "a.mlp"] and len(data["sha256"]) == 64
    with pytest.raises(ConfigError, match=r"\[K526\]"):
        ImportanceScores("x", 1, {}, 0, meta={"bad": object()}).save(tmp_path / "bad")
    assert not list(tmp_path.glob("bad*")) and not list(tmp_path.glob(".*tmp"))


def _loss(adapter: ModelAdapter, units: UnitSet, batch: ScoringBatch,
          kept: dict[str, list[int]], which: str) -> float:
    with Gates(adapter.model, units) as gates, torch.no_grad():
        gates.set_mask(kept)
        parts = batch_losses(adapter, batch.inputs, task=batch.task, knowledge=batch.knowledge,
                             lam=1.0)
        return float(getattr(parts, which))


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    ra, rb = (x.argsort().argsort().double() for x in (a, b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


@pytest.fixture(scope="module")
def trained() -> tuple[ModelAdapter, UnitSet, list[ScoringBatch], ScoringBatch]:
    adapter = color_task.adapter(seed=0)
    color_task.train(adapter, color_task.batches(adapter, color_task.samples(256, seed=1), 32),
                     epochs=8)
    scoring = color_task.batches(adapter, color_task.samples(64, seed=2), 2)
    held_out = color_task.batches(adapter, color_task.samples(128, seed=3), 128)[0]
    return adapter, discover_units(adapter.model), scoring, held_out


@pytest.mark.parametrize(("name", "which"), [("knowledge", "knowledge"), ("task", "task"),
                                            ("taylor", "task")])
def test_on_a_trained_model_high_scores_mark_the_units_that_matter(trained, name, which) -> None:
    """Gating off the top quarter of each group hurts far more than gating off the bottom one."""
    adapter, units, scoring, held_out = trained
    scores = criterion_by_name(name).score(adapter, units, scoring)
    top, bottom = {}, {}
    for g in units:
        order = scores[g.key].argsort(stable=True).tolist()
        quarter = g.size // 4
        top[g.key], bottom[g.key] = order[:-quarter], order[quarter:]
    base = _loss(adapter, units, held_out, {}, which)
    hurt_top = _loss(adapter, units, held_out, top, which) - base
    hurt_bottom = _loss(adapter, units, held_out, bottom, which) - base
    assert base < 0.5, "the model did not learn the task"
    assert hurt_top > 3 * max(hurt_bottom, 0.005), (base, hurt_top, hurt_bottom)
    rand = criterion_by_name("random", seed=0).score(adapter, units)
    flat, flat_random = (torch.cat([s[g.key] for g in units]) for s in (scores, rand))
    assert abs(_spearman(flat, flat_random)) < 0.3
