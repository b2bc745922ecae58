"""The neo4j-admin export: files any RFC 4180 reader reads back to the very values written."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from kgprune.errors import ConfigError, InputFormatError
from kgprune.kg.coverage import stable_unit
from kgprune.kg.neo4j_admin import ARRAY_DELIMITER, export_neo4j_admin
from kgprune.kg.records import Concept, Fact, Image, ObjectInstance, ObjectRelation
from kgprune.kg.store import GraphBatch

NASTY = [
    'say "cheese"', "comma, here", "tick`s", "back\\slash", 'end\\"', "new\nline", "crlf\r\nx",
    "emoji 😀", "über", "\\n", "",
]


def _concepts() -> list[Concept]:
    return [
        Concept(uri=f"/c/en/n{i}_{name}", name=name, lang="en",
                source="visual_genome" if i % 2 else "conceptnet")
        for i, name in enumerate(NASTY)
    ]


def _facts(concepts: list[Concept]) -> list[Fact]:
    return [
        Fact(head=a.uri, relation="dbpedia/genre" if i == 0 else "RelatedTo", tail=b.uri,
             weight=0.1 + i, source="conceptnet", dataset="/d/test",
             edge_id=f"/a/[{a.uri},{b.uri}]",
             surface_text=f"[[{a.name}]] ~ [[{b.name}]]", contributors=(a.name, "/s/x"),
             predicate=b.name)
        for i, (a, b) in enumerate(zip(concepts, concepts[1:], strict=False))
    ]


OBJECT = ObjectInstance(object_id=7, image_id=1, name='mug "big", blue', concept="/c/en/n0_x",
                        x=1, y=2, w=3, h=4, synsets=("cup.n.01", "a;b|c,d"),
                        attributes=('white "ish"', "new\nline"))
BARE_OBJECT = ObjectInstance(object_id=8, image_id=1, name="thing", concept=None, x=0, y=0, w=1,
                             h=1)
# The output folder, the returned counts, and what was written.
Exported = tuple[Path, dict[str, int], list[Concept], list[Fact]]


def _read(directory: Path, name: str) -> tuple[list[str], list[list[str]]]:
    with (directory / f"{name}_header.csv").open(encoding="utf-8", newline="") as fh:
        [header] = list(csv.reader(fh))
    with (directory / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert all(len(row) == len(header) for row in rows)
    return header, rows


@pytest.fixture
def exported(tmp_path: Path) -> Exported:
    concepts = _concepts()
    facts = _facts(concepts)
    batch = GraphBatch(
        concepts=iter(concepts), facts=iter(facts),
        images=[Image(image_id=1, url="https://x/1.jpg?a=1,b=2", width=800, height=600)],
        objects=[OBJECT, BARE_OBJECT],
        object_relations=[ObjectRelation(relationship_id=9, subject_id=7, object_id=8,
                                         predicate='"on", next to', image_id=1)],
    )
    out = tmp_path / "export"
    return out, export_neo4j_admin(batch, out), concepts, facts


def test_concepts_read_back_unchanged(exported: Exported) -> None:
    out, counts, concepts, _ = exported
    header, rows = _read(out, "concepts")
    assert header == ["uri:ID(Concept)", "name", "lang", "pos", "source", "cov:double", ":LABEL"]
    assert counts["concepts"] == len(rows) == len(NASTY)
    for c, row in zip(concepts, rows, strict=True):
        assert row[:5] == [c.uri, c.name, c.lang, c.pos, c.source]
        assert float(row[5]) == stable_unit(c.uri)
        label = "VisualGenome" if c.source == "visual_genome" else "ConceptNet"
        assert row[6].split(ARRAY_DELIMITER) == ["Concept", label]


def test_facts_read_back_unchanged(exported: Exported) -> None:
    out, counts, _, facts = exported
    header, rows = _read(out, "facts")
    assert header[:4] == [":START_ID(Concept)", ":END_ID(Concept)", ":TYPE", "edge_id"]
    assert counts["facts"] == len(rows) == len(facts)
    for f, row in zip(facts, rows, strict=True):
        texts = [row[i] for i in (0, 1, 3, 5, 6, 7, 9)]
        expected = [f.head, f.tail, f.edge_id, f.source, f.dataset, f.surface_text, f.predicate]
        assert texts == expected
        assert row[2] == ("dbpedia_genre" if f.relation == "dbpedia/genre" else f.relation)
        assert float(row[4]) == f.weight and float(row[10]) == stable_unit(f.edge_id)
        assert tuple(json.loads(row[8])) == f.contributors


def test_scene_graph_files_keep_lists_and_missing_values(exported: Exported) -> None:
    out, counts, _, _ = exported
    _, objects = _read(out, "objects")
    assert objects[0][3] == OBJECT.name
    assert objects[0][4].split(ARRAY_DELIMITER) == list(OBJECT.synsets)
    assert objects[0][5].split(ARRAY_DELIMITER) == list(OBJECT.attributes)
    assert _read(out, "instance_of")[1] == [["7", "/c/en/n0_x"]]
    assert _read(out, "in_image")[1] == [["7", "1"], ["8", "1"]]
    assert _read(out, "predicate")[1] == [["7", "8", "9", '"on", next to']]
    assert _read(out, "images")[1] == [["1", "1", "https://x/1.jpg?a=1,b=2", "800", "600", "", ""]]
    images = (out / "images.csv").read_text(encoding="utf-8")
    assert images.endswith('600,,\n'), "a missing id is an empty unquoted field, not a string"
    assert counts == {"concepts": 11, "images": 1, "objects": 2, "meta": 1, "in_image": 2,
                      "instance_of": 1, "facts": 10, "predicate": 1}


def test_quotes_are_doubled_never_backslash_escaped(exported: Exported) -> None:
    raw = (exported[0] / "concepts.csv").read_text(encoding="utf-8")
    assert '"say ""cheese"""' in raw and '"end\\"""' in raw


def test_import_script_names_every_file_and_the_options_the_data_needs(
    exported: Exported,
) -> None:
    script = exported[0] / "import.sh"
    text = script.read_text(encoding="utf-8")
    assert "exec neo4j-admin database import full" in text
    for option in ("--array-delimiter=U+001F", "--multiline-fields=true", "--delimiter=,",
                   "--nodes=concepts_header.csv,concepts.csv",
                   "--nodes=Image=images_header.csv,images.csv",
                   "--nodes=Object=objects_header.csv,objects.csv",
                   "--nodes=Meta=meta_header.csv,meta.csv",
                   "--relationships=facts_header.csv,facts.csv",
                   "--relationships=IN_IMAGE=in_image_header.csv,in_image.csv",
                   "--relationships=INSTANCE_OF=instance_of_header.csv,instance_of.csv",
                   "--relationships=PREDICATE=predicate_header.csv,predicate.csv"):
        assert option in text
    assert script.stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(script)], check=True)


def test_single_line_data_needs_no_multiline_mode(tmp_path: Path) -> None:
    batch = GraphBatch(concepts=[Concept("/c/en/a", "a", "en")])
    counts = export_neo4j_admin(batch, tmp_path / "o")
    text = (tmp_path / "o" / "import.sh").read_text(encoding="utf-8")
    assert "--multiline-fields" not in text and "--relationships" not in text
    assert counts["concepts"] == 1 and counts["facts"] == 0


def test_non_empty_directory_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[K014\]"):
        export_neo4j_admin(GraphBatch(concepts=_concepts()), out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_an_empty_directory_is_used(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()
    export_neo4j_admin(GraphBatch(concepts=_concepts()), tmp_path / "export")
    assert (tmp_path / "export" / "concepts.csv").is_file()


@pytest.mark.parametrize(
    "batch",
    [
        GraphBatch(facts=[Fact("/c/en/a", "Eats", "/c/en/b", 1.0, "conceptnet", "", "/a/1")]),
        GraphBatch(objects=[ObjectInstance(1, 1, "x", None, 0, 0, 1, 1, attributes=("a\x1fb",))]),
    ],
)
def test_a_failed_export_leaves_nothing_behind(tmp_path: Path, batch: GraphBatch) -> None:
    with pytest.raises((ConfigError, InputFormatError)):
        export_neo4j_admin(batch, tmp_path / "export")
    assert list(tmp_path.iterdir()) == []
