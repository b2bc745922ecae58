"""The iterative schedule on the built-in model: target reached, result loads back, a killed run
resumes to the same weights, finished results are never overwritten."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from kgprune.errors import ConfigError
from kgprune.pruning.data import PruningData
from kgprune.pruning.finetune import FinetuneConfig
from kgprune.pruning.planner import PlanConfig
from kgprune.pruning.saved import load_pruned
from kgprune.pruning.schedule import PruneConfig, prune, rounds_dir
from kgprune.pruning.units import discover_units
from kgprune.vqa.adapters.kgvqa import KgVqaAdapter, KgVqaConfig
from tests.pruning.models import images

ANSWERS = ("[UNK]", "red", "blue", "green", "cut bread", "drink")


def _adapter() -> KgVqaAdapter:
    config = KgVqaConfig(dim=32, num_heads=4, mlp_dim=64, image_size=16, patch_size=8)
    return KgVqaAdapter.build(config, ANSWERS, seed=0, pretrained=False)


def _data(n: int = 24) -> PruningData:
    questions = tuple(("what color is it", "what is this used for")[i % 2] for i in range(n))
    task = tuple({ANSWERS[1 + i % 3]: 1.0} if i % 2 == 0 else {"cut bread": 1.0}
                 for i in range(n))
    knowledge = tuple({} if i % 4 == 3 else {"cut bread": 0.7, "drink": 0.3} for i in range(n))
    return PruningData(tuple(images(n, size=16)), questions, task, knowledge)


def _config(**changes: object) -> PruneConfig:
    config = PruneConfig(method="knowledge", ratio=0.4, rounds=2, importance_samples=16,
                         importance_batch=8, seed=3, plan=PlanConfig(ratio=0.4),
                         finetune=FinetuneConfig(steps=3, batch_size=8, lr=1e-3))
    return replace(config, **changes)


def _outputs(adapter: KgVqaAdapter, data: PruningData) -> torch.Tensor:
    with torch.no_grad():
        return adapter.logits(data.batch(adapter, range(len(data))).inputs)


def test_prune_reaches_the_target_and_loads_back(tmp_path: Path) -> None:
    adapter, data = _adapter(), _data()
    before = discover_units(adapter.model).num_params
    result = prune(adapter, data, _config(), tmp_path / "out")
    after = discover_units(result.adapter.model).num_params
    assert [r.round for r in result.rounds] == [1, 2]
    assert result.rounds[0].removed_ratio < result.rounds[1].removed_ratio
    assert result.plan.removed_ratio == pytest.approx(0.4, abs=0.05)
    assert before - after == result.plan.removed_params
    for r in result.rounds:
        steps, seconds = r.finetune["steps"], r.finetune["seconds"]
        assert 0 < r.finetune["median_step_seconds"] <= seconds, "a step is part of the total"
        assert steps == _config().finetune.steps
    loaded = load_pruned(tmp_path / "out")
    torch.testing.assert_close(_outputs(loaded, data), _outputs(result.adapter, data))
    assert not rounds_dir(tmp_path / "out").exists()


class Killed(RuntimeError):
    pass


def _kill_after_round(name: str, data: dict) -> None:
    if name == "round" and data["round"] == 1:
        raise Killed


def test_a_killed_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    data = _data()
    whole = prune(_adapter(), data, _config(), tmp_path / "whole")
    with pytest.raises(Killed):
        prune(_adapter(), data, _config(), tmp_path / "resumed", on_event=_kill_after_round)
    assert (rounds_dir(tmp_path / "resumed") / "round-1.json").is_file()
    resumed = prune(_adapter(), data, _config(), tmp_path / "resumed")
    assert resumed.resumed_from == 1
    assert resumed.plan.kept() == whole.plan.kept()
    torch.testing.assert_close(_outputs(resumed.adapter, data), _outputs(whole.adapter, data),
                               rtol=0, atol=0)


def test_resuming_with_other_settings_is_refused(tmp_path: Path) -> None:
    data = _data()
    with pytest.raises(Killed):
        prune(_adapter(), data, _config(), tmp_path / "out", on_event=_kill_after_round)
    with pytest.raises(ConfigError, match="K564"):
        prune(_adapter(), data, _config(method="task"), tmp_path / "out")


def test_a_finished_result_is_reused_never_overwritten(tmp_path: Path) -> None:
    data = _data()
    first = prune(_adapter(), data, _config(), tmp_path / "out")
    again = prune(_adapter(), data, _config(), tmp_path / "out")
    assert again.resumed_from == 2 and again.plan.kept() == first.plan.kept()
    with pytest.raises(ConfigError, match="K563"):
        prune(_adapter(), data, _config(ratio=0.2), tmp_path / "out")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="K563"):
        prune(_adapter(), data, _config(), tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5])
def test_ratio_outside_the_unit_interval_is_refused(ratio: float) -> None:
    with pytest.raises(ConfigError, match="K565"):
        _config(ratio=ratio)


def test_distillation_pulls_the_pruned_model_towards_its_teacher(tmp_path: Path) -> None:
    data, teacher = _data(), _adapter()
    reference = torch.softmax(_outputs(teacher, data), dim=-1)
    plain = prune(_adapter(), data, _config(), tmp_path / "plain")
    distilled = prune(_adapter(), data, _config(finetune=FinetuneConfig(
        steps=3, batch_size=8, lr=1e-3, lam=0.0, distill=5.0)), tmp_path / "distilled",
        teacher=teacher)

    def gap(adapter: KgVqaAdapter) -> float:
        probs = torch.softmax(_outputs(adapter, data), dim=-1)
        return float((probs - reference).abs().sum(dim=-1).mean())

    assert gap(distilled.adapter) < gap(plain.adapter)


def test_distillation_without_a_teacher_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="K562"):
        prune(_adapter(), _data(), _config(finetune=FinetuneConfig(steps=1, distill=1.0)),
              tmp_path / "out")


@pytest.mark.parametrize("mine", ["notes.txt", "round-1.json"])
def test_a_rounds_folder_the_run_did_not_make_is_refused_and_kept(tmp_path: Path,
                                                                   mine: str) -> None:
    work = rounds_dir(tmp_path / "out")
    work.mkdir()
    (work / mine).write_text("the user's")
    with pytest.raises(ConfigError, match="K568"):
        prune(_adapter(), _data(), _config(), tmp_path / "out")
    assert (work / mine).read_text() == "the user's"
    assert not (tmp_path / "out").exists()
