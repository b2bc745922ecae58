"""The concept index: build, search, atomic save, and loads that refuse what does not fit."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from kgprune.errors import ConfigError, InputFormatError
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.ingest import load_conceptnet
from kgprune.kg.records import Concept
from kgprune.kg.store import GraphBatch
from kgprune.linking import index as index_module
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.index import (
    FORMAT_VERSION,
    ConceptIndex,
    IndexMismatchError,
    default_index_dir,
    read_manifest,
)


@pytest.fixture
def saved(hashing_index: ConceptIndex, tmp_path: Path) -> Path:
    return hashing_index.save(tmp_path / "index")


def test_build_indexes_every_concept_by_name(bundled_store: LadybugStore,
                                             hashing_index: ConceptIndex) -> None:
    assert len(hashing_index) == bundled_store.stats().concepts
    assert hashing_index.index_type == "flat"
    hits = hashing_index.search(["hot dog", "Cutting Board"], k=3)
    assert [h[0].uri for h in hits] == ["/c/en/hot_dog", "/c/en/cutting_board"]
    assert hits[0][0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0][0].score >= hits[0][1].score >= hits[0][2].score
    _, name, _ = hits[1][0]
    assert name == "cutting board"


def test_search_by_vector_and_edge_cases(hashing_index: ConceptIndex) -> None:
    vectors = hashing_index.encoder.encode(["umbrella"])
    assert hashing_index.search(vectors, k=1)[0][0].uri == "/c/en/umbrella"
    assert hashing_index.search([], k=3) == []
    assert len(hashing_index.search(["cup"], k=10_000)[0]) == len(hashing_index)
    with pytest.raises(ConfigError, match=r"\[K109\]"):
        hashing_index.search(np.zeros((1, 7), dtype=np.float32))


def test_progress_reports_every_batch(bundled_store: LadybugStore) -> None:
    seen: list[tuple[int, int]] = []
    ConceptIndex.build(bundled_store, encoder=HashingEncoder(dim=32), batch_size=500,
                       on_progress=lambda done, total: seen.append((done, total)))
    total = bundled_store.stats().concepts
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert len(seen) == 1 + -(-total // 500)


def test_save_load_round_trip(saved: Path, bundled_store: LadybugStore,
                              hashing_index: ConceptIndex) -> None:
    assert sorted(p.name for p in saved.iterdir()) == ["ids.json", "index.faiss", "manifest.json"]
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION and manifest["index_type"] == "flat"
    assert manifest["encoder"] == "hashing-v1-d384" and manifest["dim"] == 384
    assert manifest["store_version"] == bundled_store.version() and manifest["store_url"] == bundled_store.url
    assert manifest["num_concepts"] == len(hashing_index) and manifest["created"]
    loaded = ConceptIndex.load(saved, encoder=HashingEncoder(), store=bundled_store)
    queries = ["umbrela", "kitchen tool", "dog", "crème brûlée"]
    assert loaded.search(queries, k=5) == hashing_index.search(queries, k=5)
    assert loaded.manifest == hashing_index.manifest


def test_load_refuses_another_encoder(saved: Path, bundled_store: LadybugStore) -> None:
    with pytest.raises(IndexMismatchError, match=r"\[K104\].*hashing-v1-d384.*hashing-v1-d256"):
        ConceptIndex.load(saved, encoder=HashingEncoder(dim=256), store=bundled_store)


def test_load_refuses_a_stale_graph(tmp_path: Path, conceptnet_csv: Path) -> None:
    store = LadybugStore(tmp_path / "small.lbdb")
    store.ensure_schema()
    load_conceptnet(store, conceptnet_csv)
    directory = ConceptIndex.build(store, encoder=HashingEncoder()).save(tmp_path / "index")
    ConceptIndex.load(directory, encoder=HashingEncoder(), store=store)
    store.write(GraphBatch(concepts=[Concept(uri="/c/en/spork", name="spork", lang="en")]))
    with pytest.raises(IndexMismatchError, match=r"\[K105\].*stale.*kgprune link build-index"):
        ConceptIndex.load(directory, encoder=HashingEncoder(), store=store)
    store.close()


def test_only_english_concepts_by_default(tmp_path: Path, conceptnet_csv: Path) -> None:
    with LadybugStore(tmp_path / "multi.lbdb") as store:
        store.ensure_schema()
        load_conceptnet(store, conceptnet_csv)
        store.write(GraphBatch(concepts=[Concept(uri="/c/fr/tasse", name="tasse", lang="fr")]))
        english = ConceptIndex.build(store, encoder=HashingEncoder())
        every = ConceptIndex.build(store, encoder=HashingEncoder(), lang=None)
    assert "/c/fr/tasse" not in english.uris and english.manifest.lang == "en"
    assert set(every.uris) == {*english.uris, "/c/fr/tasse"}


def test_load_refuses_another_store(saved: Path, tmp_path: Path) -> None:
    with LadybugStore(tmp_path / "other.lbdb") as other:
        other.ensure_schema()
        with pytest.raises(IndexMismatchError, match=r"\[K111\].*built for the store"):
            ConceptIndex.load(saved, encoder=HashingEncoder(), store=other)


@pytest.mark.parametrize(("damage", "code"), [
    (lambda d: (d / "index.faiss").write_bytes((d / "index.faiss").read_bytes()[:1000]), "K103"),
    (lambda d: (d / "ids.json").write_text('{"uris": ['), "K103"),
    (lambda d: (d / "ids.json").write_text('{"uris": ["/c/en/x"], "names": ["x"]}'), "K103"),
    (lambda d: (d / "manifest.json").write_text("{}"), "K103"),
    (lambda d: (d / "ids.json").unlink(), "K102"),
    (lambda d: (d / "index.faiss").unlink(), "K102"),
    (lambda d: (d / "manifest.json").unlink(), "K102"),
])
def test_load_refuses_missing_or_corrupt_files(saved: Path, bundled_store: LadybugStore,
                                               damage: object, code: str) -> None:
    damage(saved)  # type: ignore[operator]
    with pytest.raises(InputFormatError, match=rf"\[{code}\].*build-index"):
        ConceptIndex.load(saved, encoder=HashingEncoder(), store=bundled_store)


def test_failed_save_leaves_no_index(hashing_index: ConceptIndex, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = faiss.write_index

    def write_then_fail(index: faiss.Index, path: str) -> None:
        real_write(index, path)
        raise OSError("disk full")

    monkeypatch.setattr(index_module.faiss, "write_index", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        hashing_index.save(tmp_path / "index")
    assert list(tmp_path.iterdir()) == []


def test_failed_resave_keeps_the_old_index(saved: Path, hashing_index: ConceptIndex,
                                           bundled_store: LadybugStore,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module.json, "dumps", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        hashing_index.save(saved)
    monkeypatch.undo()
    assert [p.name for p in saved.parent.iterdir()] == ["index"]
    ConceptIndex.load(saved, encoder=HashingEncoder(), store=bundled_store)
    hashing_index.save(saved)
    assert [p.name for p in saved.parent.iterdir()] == ["index"]


def test_save_refuses_a_foreign_directory(hashing_index: ConceptIndex, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"\[K107\]"):
        hashing_index.save(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert read_manifest(hashing_index.save(empty)).num_concepts == len(hashing_index)


def test_hnsw_agrees_with_flat_on_exact_names(hashing_index: ConceptIndex, bundled_store: LadybugStore,
                                              tmp_path: Path) -> None:
    hnsw = ConceptIndex.build(bundled_store, encoder=HashingEncoder(), flat_max=100)
    assert hnsw.index_type == "hnsw"
    names = hashing_index.names
    flat_top = [h[0].uri for h in hashing_index.search(names, k=1)]
    hnsw_top = [h[0].uri for h in hnsw.search(names, k=1)]
    assert hnsw_top == flat_top == hashing_index.uris
    directory = hnsw.save(tmp_path / "hnsw")
    loaded = ConceptIndex.load(directory, encoder=HashingEncoder(), store=bundled_store)
    assert loaded.index_type == "hnsw"
    assert [h[0].uri for h in loaded.search(names[:50], k=1)] == flat_top[:50]


def test_default_location_is_per_store(tmp_path: Path) -> None:
    a, b = default_index_dir("ladybug:///a"), default_index_dir("ladybug:///b")
    assert a != b and a.parent == tmp_path / "kgprune-home" / "index" and len(a.name) == 12
