"""The bundled knowledge graph: real formats, the promised size, and a demo that shows it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from typer.testing import CliRunner

from kgprune.cli import app
from kgprune.kg import bundled
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.coverage import CoverageView


def test_conceptnet_file_is_the_real_five_column_format() -> None:
    with gzip.open(bundled.conceptnet_path(), "rt", encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh]
    assert all(len(r) == 5 for r in rows)
    for uri, rel, start, end, info in rows:
        assert uri.startswith("/a/[") and rel.startswith("/r/")
        parsed = json.loads(info)
        assert {"dataset", "license", "sources", "weight"} <= set(parsed)
        assert info == json.dumps(parsed, ensure_ascii=False, sort_keys=True)
    english = [r for r in rows if r[2].startswith("/c/en/") and r[3].startswith("/c/en/")]
    assert len(english) >= 2000


def test_bundled_graph_loads_with_everyday_knowledge(tmp_path: Path) -> None:
    store = LadybugStore(tmp_path / "kg.lbdb")
    store.ensure_schema()
    cn, vg = bundled.load_bundled(store)
    assert not cn.bad_lines and cn.skipped.get("bad_line") is None
    stats = store.stats()
    assert stats.concepts >= 300 and stats.by_source["conceptnet"] >= 2000
    for relation in ("IsA", "UsedFor", "AtLocation", "MadeOf", "CapableOf", "HasProperty"):
        assert stats.by_relation[relation] >= 100, relation
    assert stats.images == 24 and stats.objects >= 100 and stats.by_source["visual_genome"] > 50
    assert vg.concepts_added == 0, "every Visual Genome object names a ConceptNet concept"
    umbrella = {(f.relation, f.tail) for f in store.neighbors("/c/en/umbrella", limit=100)}
    assert ("UsedFor", "/c/en/block_sun") in umbrella and ("IsA", "/c/en/rain_gear") in umbrella
    half = store.stats(CoverageView(0.5, seed=0))
    assert 0.4 * stats.facts < half.facts < 0.6 * stats.facts
    store.close()


def test_demo_loads_and_shows_the_graph_and_is_repeatable(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"ladybug://{tmp_path / 'demo.lbdb'}"
    args = ["demo", "--store", url, "--encoder", "hashing", "--quick", "--seeds", "1",
            "--results", str(tmp_path / "results")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "Knowledge graph" in first.stdout and "Strongest facts" in first.stdout
    assert "/c/en/umbrella" in first.stdout
    assert "stay dry" in first.stdout and "knife" in first.stdout, "retrieved answers are shown"
    assert "kgvqa-tiny" in first.stdout and "majority answer" in first.stdout
    assert "hallucination rate" in first.stdout
    assert "Table 1" in first.stdout and "knowledge" in first.stdout and "magnitude" in first.stdout
    runs = list((tmp_path / "results").iterdir())
    assert len(runs) == 1 and (runs[0] / "report.md").is_file()
    cells = [json.loads(line)["cell_id"]
             for line in (runs[0] / "cells.jsonl").read_text().splitlines()]
    assert len(cells) == 5
    # Off a terminal (a pipe, a log): tables at full width, a line per finished cell, no frames.
    assert "…" not in first.stdout + first.stderr
    assert all(f" {cell} (" in first.stderr for cell in cells), first.stderr
    assert "━" not in first.stderr, "no progress bar frames in a log"
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert len(list((tmp_path / "results").iterdir())) == 2, "an earlier run is never overwritten"
    store = LadybugStore(tmp_path / "demo.lbdb")
    store.ensure_schema()
    fresh = LadybugStore(tmp_path / "fresh.lbdb")
    fresh.ensure_schema()
    bundled.load_bundled(fresh)
    assert store.stats() == fresh.stats()
    store.close()
    fresh.close()
