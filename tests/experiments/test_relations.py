"""Per-relation importance on a trained model: scores per relation, original unit indices after
pruning, JSON output, and the rows a Neo4j store receives."""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import MagicMock

import pytest
import torch
from typer.testing import CliRunner

import kgprune
from kgprune.cli import app
from kgprune.experiments.relations import relation_importance, relation_of
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.backends.neo4j import Neo4jStore
from kgprune.kg.cypher import neo4j as q
from kgprune.pruning.plan import GroupPlan, PruningPlan
from kgprune.pruning.surgery import apply_plan
from kgprune.pruning.units import discover_units
from kgprune.vqa.training import load_trained
from tests.training.conftest import Bench, make_bench, trained_checkpoint


@pytest.fixture(scope="module")
def bench(bundled_store: LadybugStore, tmp_path_factory: pytest.TempPathFactory) -> Bench:
    return make_bench(bundled_store, tmp_path_factory.mktemp("bench") / "synthetic", n=40)


@pytest.fixture(scope="module")
def trained(bench: Bench, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_checkpoint(bench, tmp_path_factory.mktemp("model") / "kgvqa")


def test_each_relation_gets_its_own_ranking(bench: Bench, trained: Path) -> None:
    adapter = load_trained(trained)
    result = relation_importance(adapter, bench.train, bench.contexts, min_samples=2,
                                 per_relation=16)
    assert len(result.scores) >= 2
    asked = {relation_of(s, None) for s in bench.train}
    assert set(result.scores) <= asked
    for relation, groups in result.scores.items():
        assert result.samples[relation] > 0
        for values in groups.values():
            assert torch.isfinite(values).all()
            assert values.mean().item() == pytest.approx(1.0, rel=1e-4)
        ranked = result.ranked(relation)
        assert [r[2] for r in ranked] == sorted((r[2] for r in ranked), reverse=True)
    first, second = list(result.scores)[:2]
    assert result.ranked(first)[:5] != result.ranked(second)[:5]


def test_a_pruned_models_units_keep_their_original_indices(bench: Bench, trained: Path) -> None:
    adapter = load_trained(trained)
    units = discover_units(adapter.model)
    group = units.neurons[0]
    kept = tuple(range(1, group.size, 2))
    plan = PruningPlan(tuple(GroupPlan(g.key, g.kind, g.tower, g.layer, g.size,
                                       kept if g.key == group.key else tuple(range(g.size)))
                             for g in units))
    apply_plan(adapter.model, plan)
    result = relation_importance(adapter, bench.train, bench.contexts, plan=plan, min_samples=2,
                                 per_relation=8)
    assert result.original_index[group.key] == kept
    relation = next(iter(result.scores))
    indices = {u for g, u, _ in result.ranked(relation) if g == group.key}
    assert indices == set(kept)


def test_graph_rows_mark_what_a_pruned_model_kept(bench: Bench, trained: Path) -> None:
    adapter = load_trained(trained)
    result = relation_importance(adapter, bench.train, bench.contexts, min_samples=2,
                                 per_relation=8)
    units = discover_units(adapter.model)
    pruned = PruningPlan(tuple(GroupPlan(g.key, g.kind, g.tower, g.layer, g.size, (0,))
                               for g in units))
    rows = result.graph_rows(top=5, pruned=pruned)
    assert len(rows) == 5 * len(result.scores)
    for row in rows:
        assert row["kept"] == (row["index"] == 0)
        assert row["uid"] == f"{row['group']}|{row['index']}"
        assert row["kind"] in ("heads", "neurons") and row["tower"]
    driver = MagicMock()
    tx = driver.session.return_value.__enter__.return_value.begin_transaction.return_value
    Neo4jStore(driver, "kg").write_unit_scores("r1", rows)
    sent = [c.args for c in tx.run.call_args_list]
    assert sent[0] == (q.DELETE_RUN_UNIT_SCORES, {"run": "r1"})
    assert sum(len(args[1]["rows"]) for args in sent[1:]) == len(rows)


def test_the_command_writes_json(bench: Bench, bundled_store: LadybugStore, trained: Path,
                                 tmp_path: Path) -> None:
    out = tmp_path / "relations.json"
    result = CliRunner().invoke(app, ["relations", "--model", str(trained), "--data",
                                      str(bench.path), "--store", bundled_store.url, "--out",
                                      str(out), "--top", "3", "--per-relation", "8", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["graph_edges"] is None
    saved = json.loads(out.read_text())
    assert saved["relations"] and all(len(v) <= 3 for v in saved["relations"].values())


def test_the_command_marks_what_a_pruned_model_removed_on_any_store(
        bench: Bench, bundled_store: LadybugStore, trained: Path, tmp_path: Path) -> None:
    pruned_dir = tmp_path / "pruned"
    _, report = kgprune.prune(trained, method="magnitude", ratio=0.5, out=pruned_dir)
    out = tmp_path / "relations.json"
    args = ["relations", "--model", str(trained), "--data", str(bench.path), "--store",
            bundled_store.url, "--out", str(out), "--top", "20", "--per-relation", "8",
            "--pruned", str(pruned_dir)]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())["relations"]
    kept = {g.key: set(g.kept) for g in report.plan.groups}
    units = [u for ranked in saved.values() for u in ranked]
    assert units and all(u["kept"] == (u["unit"] in kept[u["group"]]) for u in units)
    assert not all(u["kept"] for u in units), "half the units are gone: some top ones too"
    table = CliRunner().invoke(app, args[:-2] + ["--out", str(tmp_path / "r2.json"), "--pruned",
                                                 str(pruned_dir)])
    assert "removed by --pruned" in table.stdout and " of top 20" in table.stdout
