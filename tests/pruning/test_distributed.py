"""Data-parallel scoring: two gloo processes, each scoring its shard, end with one process's scores
and therefore the same plan."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from kgprune.cli import app
from kgprune.errors import PruningError
from kgprune.pruning.data import PruningData
from kgprune.pruning.distributed import (
    broadcast_json,
    check_fits,
    mean_weights,
    share_from_main,
)
from kgprune.pruning.finetune import FinetuneConfig
from kgprune.pruning.importance import ImportanceScores, criterion_by_name
from kgprune.pruning.plan import PruningPlan
from kgprune.pruning.planner import PlanConfig, build_plan
from kgprune.pruning.saved import load_pruned, read_manifest
from kgprune.pruning.schedule import PruneConfig, prune
from kgprune.pruning.units import discover_units
from kgprune.vqa.training import load_trained
from tests.pruning import color_task
from tests.training.conftest import Bench

WORLD = 2
CRITERIA = ("knowledge", "taylor", "activation")
CONFIG = PlanConfig(ratio=0.3)


def _score_all(out: Path, prefix: str) -> None:
    """Score a seeded tiny kgvqa on 11 batches (uneven shards), save scores and plans."""
    torch.set_num_threads(1)
    adapter = color_task.adapter(seed=0)
    units = discover_units(adapter.model)
    batches = color_task.batches(adapter, color_task.samples(42, seed=5), 4)
    for name in CRITERIA:
        scores = criterion_by_name(name).score(adapter, units, batches)
        scores.save(out / f"{prefix}-{name}")
        plan = build_plan(units, scores, CONFIG)
        (out / f"{prefix}-{name}.plan.json").write_text(plan.to_json())


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        _score_all(Path(out), f"rank{rank}")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built in")
def test_two_gloo_ranks_give_the_single_process_scores_and_plan(tmp_path: Path) -> None:
    """~10 s, nearly all of it the two spawned interpreters importing torch and transformers."""
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    _score_all(tmp_path, "single")
    for name in CRITERIA:
        single = ImportanceScores.load(tmp_path / f"single-{name}")
        plan = PruningPlan.from_json((tmp_path / f"single-{name}.plan.json").read_text())
        assert not plan.is_empty
        for rank in range(WORLD):
            ranked = ImportanceScores.load(tmp_path / f"rank{rank}-{name}")
            assert ranked.samples == single.samples > 0
            for key, values in single.scores.items():
                torch.testing.assert_close(ranked[key], values, rtol=1e-5, atol=1e-12)
            assert PruningPlan.from_json(
                (tmp_path / f"rank{rank}-{name}.plan.json").read_text()) == plan


def _prune_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        torch.set_num_threads(1)
        result = prune(color_task.adapter(seed=0), _data(), _SCHEDULE, Path(out) / "pruned")
        (Path(out) / f"rank{rank}.plan.json").write_text(result.plan.to_json())
        weights = {k: v.contiguous() for k, v in result.adapter.model.state_dict().items()}
        save_file(weights, str(Path(out) / f"rank{rank}.safetensors"))
    finally:
        dist.destroy_process_group()


def _data() -> PruningData:
    samples = color_task.samples(24, seed=7)
    return PruningData(tuple(s.image for s in samples), tuple(s.question for s in samples),
                       tuple(s.task for s in samples), tuple(s.knowledge for s in samples))


_SCHEDULE = PruneConfig(method="knowledge", ratio=0.3, rounds=1, importance_samples=24,
                        importance_batch=4, seed=1, plan=PlanConfig(ratio=0.3),
                        finetune=FinetuneConfig(steps=3, batch_size=8, lr=1e-3))


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built in")
def test_two_gloo_ranks_prune_and_fine_tune_in_step(tmp_path: Path) -> None:
    """Both ranks build the single-process plan, fine-tune to identical weights (gradients are
    averaged across ranks), and rank 0 alone writes the result. (That the averaged gradient is the
    one-process gradient is `test_rank_zero_shares_json_and_its_failure`'s part on mean_weights:
    after AdamW steps, float rounding on near-zero gradients is amplified to lr-sized differences.)"""
    mp.spawn(_prune_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    single = prune(color_task.adapter(seed=0), _data(), _SCHEDULE, tmp_path / "single")
    plans = [PruningPlan.from_json((tmp_path / f"rank{r}.plan.json").read_text())
             for r in range(WORLD)]
    assert plans[0].kept() == plans[1].kept() == single.plan.kept()
    first, second = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(WORLD))
    for key, value in first.items():
        torch.testing.assert_close(second[key], value, rtol=0, atol=0)
    assert load_pruned(tmp_path / "pruned").family == "kgvqa"


def _share_worker(rank: int, port: int, out: str) -> None:
    """Rank 0 shares a value with text JSON must escape; then fails, and rank 1 must hear of it."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        value = {"question": "what is the \"hot dog\" made of? ünïcode ✓", "weights": [0.5, 1e-300]}
        received = broadcast_json(value if rank == 0 else None)
        shared = share_from_main(lambda: ["made", rank], lambda made: made, tuple)
        try:
            share_from_main(lambda: 1 // 0, str, int)
            failure = "none"
        except ZeroDivisionError:
            failure = "ZeroDivisionError"
        except PruningError as e:
            failure = str(e)
        weighted, plain, alone = _sharded_gradients(rank)
        Path(out, f"rank{rank}.json").write_text(json.dumps(
            {"received": received, "shared": list(shared), "failure": failure,
             "weighted": weighted, "plain": plain, "alone": alone}))
    finally:
        dist.destroy_process_group()


def _sharded_gradients(rank: int) -> tuple[list[float], list[float], list[float]]:
    """The gradient of L_task + 0.5 L_knowledge (each a mean over the samples that count for it)
    of a linear model over 8 samples: averaged over ranks with `mean_weights`, averaged plainly,
    and computed by one process. Rank 0's shard holds 3 knowledge-grounded samples, rank 1's 1."""
    generator = torch.Generator().manual_seed(3)
    x, y = torch.randn(8, 3, generator=generator), torch.randn(8, generator=generator)
    grounded = torch.tensor([1, 1, 1, 0, 1, 0, 0, 0], dtype=torch.float64)

    def gradient(rows: slice, weights: tuple[float, float]) -> torch.Tensor:
        w = torch.ones(3, dtype=torch.float64, requires_grad=True)
        pred = x[rows].double() @ w
        task = ((pred - y[rows]) ** 2).mean()
        knowledge = (pred ** 2 * grounded[rows]).sum() / grounded[rows].sum()
        (weights[0] * task + 0.5 * weights[1] * knowledge).backward()
        return w.grad

    alone = gradient(slice(None), (1.0, 1.0))
    rows = slice(rank, None, WORLD)
    local = (float(len(range(8)[rows])), float(grounded[rows].sum()))
    results = []
    for weights in (mean_weights(*local), (1.0, 1.0)):
        grad = gradient(rows, weights)
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        results.append((grad / WORLD).tolist())
    return results[0], results[1], alone.tolist()


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built in")
def test_rank_zero_shares_json_and_its_failure(tmp_path: Path) -> None:
    """Also: ranks whose shards hold different numbers of grounded samples, weighted by
    `mean_weights`, average to the one-process gradient (plain averaging does not)."""
    mp.spawn(_share_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    first, second = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD))
    assert second["received"] == first["received"]
    assert second["received"]["question"].endswith("ünïcode ✓")
    assert first["shared"] == second["shared"] == ["made", 0]
    assert first["failure"] == "ZeroDivisionError"
    assert second["failure"].startswith("[K570]") and "by zero" in second["failure"]
    for rank in (first, second):
        torch.testing.assert_close(torch.tensor(rank["weighted"]), torch.tensor(rank["alone"]))
        assert not torch.allclose(torch.tensor(rank["plain"]), torch.tensor(rank["alone"]))


def _llava_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        _score_llava(Path(out), f"rank{rank}")
    finally:
        dist.destroy_process_group()


def _score_llava(out: Path, prefix: str) -> None:
    """A tiny LLaVA reading its vision tower at layer -2, as released, scored on 3 batches."""
    torch.set_num_threads(1)
    from tests.adapters.test_real_checkpoints import _tiny_llava

    adapter = _tiny_llava(-2)
    units = discover_units(adapter.model)
    data = _data()
    batches = [data.batch(adapter, range(i, i + 2)) for i in range(0, 6, 2)]
    for name in ("knowledge", "taylor"):
        criterion_by_name(name).score(adapter, units, batches).save(out / f"{prefix}-{name}")


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built in")
def test_two_gloo_ranks_score_llava_like_one_process(tmp_path: Path) -> None:
    """Hugging Face LLaVA with a vision layer outside the computation: the ranks' sharded sums
    (3 batches over 2 ranks) equal one process's, and the set-aside layer is scored by none."""
    mp.spawn(_llava_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    _score_llava(tmp_path, "single")
    for name in ("knowledge", "taylor"):
        single = ImportanceScores.load(tmp_path / f"single-{name}")
        assert not any(".layers.2." in key and "vision" in key for key in single.scores)
        for rank in range(WORLD):
            ranked = ImportanceScores.load(tmp_path / f"rank{rank}-{name}")
            assert ranked.samples == single.samples > 0
            for key, values in single.scores.items():
                torch.testing.assert_close(ranked[key], values, rtol=1e-5, atol=1e-10)


def test_a_replica_that_does_not_fit_is_refused_naming_the_limit() -> None:
    model = torch.nn.Linear(1024, 1024)  # 4 MiB of float32 weights
    weights = 1024 * 1025 * 4
    check_fits(model, weights, trainable=False)
    check_fits(model, None, trainable=True)
    with pytest.raises(PruningError, match=r"\[K571\].*0\.0 GiB \(weights, gradients and Adam"):
        check_fits(model, 4 * weights - 1, trainable=True)
    check_fits(model, 4 * weights, trainable=True)


def test_prune_refuses_a_model_whose_fine_tuning_does_not_fit(
        bench: Bench, trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fine-tuning needs weights, gradients and two Adam moments per rank: more than the budget
    is refused with K571 before any work; scoring alone (--steps 0) needs only the weights."""
    weights = sum(p.numel() * 4 for p in load_trained(trained).model.parameters())
    monkeypatch.setattr("kgprune.api.memory_budget", lambda **_: 2 * weights)
    args = ["prune", "--model", str(trained), "--data", str(bench.path), "--samples", "4",
            "--batch-size", "4", "--rounds", "1", "--ratio", "0.2"]
    refused = CliRunner().invoke(app, [*args, "--steps", "2", "--out", str(tmp_path / "a")])
    assert isinstance(refused.exception, PruningError) and "[K571]" in str(refused.exception)
    assert not (tmp_path / "a").exists()
    scored = CliRunner().invoke(app, [*args, "--steps", "0", "--out", str(tmp_path / "b")])
    assert scored.exit_code == 0, scored.output


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built in")
def test_readme_torchrun_line_on_the_default_embedded_store(
        bench: Bench, trained: Path, tmp_path: Path) -> None:
    """`torchrun --nproc-per-node 2 -m kgprune prune ...` with no --store: only rank 0 opens the
    embedded store (two writers fail with K011), and the run ends with the single-process plan."""
    args = ["prune", "--model", str(trained), "--data", str(bench.path), "--samples", "8",
            "--batch-size", "4", "--rounds", "1", "--steps", "2", "--ratio", "0.3", "--json"]
    env = {**os.environ, "KGPRUNE_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    env.pop("KGPRUNE_STORE", None)
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "--master-port", str(_free_port()), "-m", "kgprune", *args, "--out",
         str(tmp_path / "parallel")],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "K011" not in run.stderr
    report = json.loads(run.stdout)
    assert report["inputs"]["store"].startswith("ladybug://") and report["removed_ratio"] > 0
    single = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "single")])
    assert single.exit_code == 0, single.output
    plans = [PruningPlan.from_dict(read_manifest(tmp_path / name)["info"]["plan"])
             for name in ("parallel", "single")]
    assert not plans[0].is_empty and plans[0].kept() == plans[1].kept()
