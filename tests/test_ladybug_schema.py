"""A store written by an older kgprune (schema 1: text provenance on the `FACT` rows) opens as
schema 2 (provenance in its own table) and reads exactly like a store loaded today."""

from __future__ import annotations

import json
from pathlib import Path

import ladybug

from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.coverage import stable_hash64, stable_unit
from kgprune.kg.cypher import ladybug as q
from kgprune.kg.ingest import load_conceptnet, stage_conceptnet
from kgprune.kg.records import SOURCE_CONCEPTNET, LoadReport
from kgprune.kg.store import open_store

SCHEMA_1 = (
    "CREATE NODE TABLE Concept(uri STRING PRIMARY KEY, name STRING, lang STRING, pos STRING, "
    "source STRING, cov DOUBLE)",
    "CREATE NODE TABLE Image(image_id INT64 PRIMARY KEY, url STRING, width INT64, height INT64, "
    "coco_id INT64, flickr_id INT64)",
    "CREATE NODE TABLE Object(object_id INT64 PRIMARY KEY, image_id INT64, name STRING, "
    "synsets STRING[], attributes STRING[], x INT64, y INT64, w INT64, h INT64)",
    "CREATE NODE TABLE Meta(key STRING PRIMARY KEY, value STRING)",
    "CREATE REL TABLE FACT(FROM Concept TO Concept, relation STRING, weight DOUBLE, source STRING, "
    "dataset STRING, edge_id STRING, surface_text STRING, contributors STRING, predicate STRING, "
    "cov DOUBLE, key INT64)",
    "CREATE REL TABLE IN_IMAGE(FROM Object TO Image)",
    "CREATE REL TABLE INSTANCE_OF(FROM Object TO Concept)",
    "CREATE REL TABLE PREDICATE(FROM Object TO Object, relationship_id INT64, predicate STRING)",
)
CREATE_CONCEPT = ("CREATE (:Concept {uri: $uri, name: $name, lang: $lang, pos: $pos, "
                  "source: $source, cov: $cov})")
CREATE_FACT = (
    "MATCH (h:Concept {uri: $head}), (t:Concept {uri: $tail}) CREATE (h)-[:FACT {relation: $rel, "
    "weight: $weight, source: $source, dataset: $dataset, edge_id: $edge_id, surface_text: $text, "
    "contributors: $contributors, predicate: $predicate, cov: $cov, key: $key}]->(t)"
)


def _schema_1_store(path: Path, conceptnet_csv: Path) -> None:
    """The fixture as schema-1 kgprune wrote it: its row writer stored '' and '[]' for empty
    values, its bulk load NULL (both are written here, fact by fact)."""
    db = ladybug.Database(str(path))
    conn = ladybug.Connection(db)
    for statement in SCHEMA_1:
        conn.execute(statement)
    report = LoadReport(source=SOURCE_CONCEPTNET, path=str(conceptnet_csv))
    with stage_conceptnet(conceptnet_csv, report) as batch:
        for c in batch.concepts:
            conn.execute(CREATE_CONCEPT, {"uri": c.uri, "name": c.name, "lang": c.lang,
                                          "pos": c.pos, "source": c.source,
                                          "cov": stable_unit(c.uri)})
        for i, f in enumerate(batch.facts):
            empty = (lambda value: value or None) if i % 2 else (lambda value: value)
            conn.execute(CREATE_FACT, {
                "head": f.head, "tail": f.tail, "rel": f.relation, "weight": f.weight,
                "source": f.source, "dataset": empty(f.dataset), "edge_id": f.edge_id,
                "text": empty(f.surface_text), "predicate": empty(f.predicate),
                "contributors": None if i % 2 and not f.contributors
                else json.dumps(list(f.contributors)),
                "cov": stable_unit(f.edge_id), "key": stable_hash64(f.edge_id)})
    conn.execute(q.SET_META, {"key": "schema_version", "value": "1"})
    conn.execute(q.SET_META, {"key": "version", "value": "schema-1"})
    conn.close()
    db.close()


def _everything(store: LadybugStore) -> tuple[object, ...]:
    """Stats, every fact (read in several batches) and two-hop neighbourhoods."""
    facts = sorted((f for batch in store.iter_facts(batch_size=4) for f in batch),
                   key=lambda f: f.edge_id)
    return (store.stats(), facts,
            [f for uri in ("/c/en/dog", "/c/en/cat") for f in store.neighbors(uri, hops=2)])


def test_a_schema_1_store_opens_as_schema_2_and_reads_like_a_fresh_load(
    tmp_path: Path, conceptnet_csv: Path
) -> None:
    old = tmp_path / "old.lbdb"
    _schema_1_store(old, conceptnet_csv)
    fresh = LadybugStore(tmp_path / "fresh.lbdb")
    load_conceptnet(fresh, conceptnet_csv)

    migrated = open_store(f"ladybug://{old}")
    assert isinstance(migrated, LadybugStore)
    assert migrated._meta("schema_version") == q.SCHEMA_VERSION
    assert "dataset" not in {row[0] for row in migrated._rows(q.FACT_PROPERTIES)}
    everything = _everything(migrated)
    facts = everything[1]
    assert any(f.contributors for f in facts) and any(f.surface_text for f in facts)
    assert everything == _everything(fresh)
    triples = [(f.edge_id, f.head, f.relation, f.tail, f.weight, f.source) for f in facts]
    bare = sorted((f for batch in migrated.iter_facts(provenance=False) for f in batch),
                  key=lambda f: f.edge_id)
    assert [(f.edge_id, f.head, f.relation, f.tail, f.weight, f.source) for f in bare] == triples
    assert not any(f.dataset or f.surface_text or f.contributors for f in bare)
    assert not list(tmp_path.glob("old.lbdb.build-*"))
