from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kgprune.errors import InputFormatError
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.ingest import load_visual_genome
from kgprune.kg.loaders.visual_genome import object_concept, stage_visual_genome
from kgprune.kg.records import LoadReport


def _staged(directory: Path) -> tuple[dict, LoadReport]:
    report = LoadReport(source="visual_genome", path=str(directory))
    with stage_visual_genome(directory, report=report) as staged:
        batch = staged.batch()
        got = {
            "concepts": {c.uri: c for c in batch.concepts},
            "facts": list(batch.facts),
            "images": {i.image_id: i for i in batch.images},
            "objects": {o.object_id: o for o in batch.objects},
            "relations": list(batch.object_relations),
        }
    return got, report


def test_quirks_of_the_real_files_are_handled(vg_dir: Path) -> None:
    got, report = _staged(vg_dir)
    assert set(got["images"]) == {1, 2}  # image 2 uses `id`, not `image_id`
    assert got["images"][2].coco_id is None and got["images"][2].flickr_id == 2222
    objects = got["objects"]
    assert objects[11].attributes == ("white", "ceramic")
    assert objects[12].attributes == ()  # inner attributes list missing in attributes.json
    assert objects[13].concept == "/c/en/coffee_cup" and objects[13].synsets == ()
    assert objects[15].name == "plate" and objects[15].concept == "/c/en/plate"
    assert report.skipped == {"object_recovered_from_relationship": 1}
    assert [r.predicate for r in got["relations"]] == ["ON", "sitting on", "next to", "catching", "on"]


def test_predicates_aggregate_into_concept_facts(vg_dir: Path) -> None:
    got, _ = _staged(vg_dir)
    facts = {(f.head, f.relation, f.tail): f for f in got["facts"]}
    assert set(facts) == {
        ("/c/en/cup", "AtLocation", "/c/en/table"),
        ("/c/en/coffee_cup", "AtLocation", "/c/en/table"),
        ("/c/en/plate", "LocatedNear", "/c/en/cup"),
        ("/c/en/dog", "RelatedTo", "/c/en/frisbee"),
        ("/c/en/dog", "AtLocation", "/c/en/grass"),
    }
    catching = facts[("/c/en/dog", "RelatedTo", "/c/en/frisbee")]
    assert catching.source == "visual_genome" and catching.predicate == "catching"
    assert catching.weight == 1.0


def test_counts_become_weights(vg_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "vg"
    shutil.copytree(vg_dir, d)
    rels = json.loads((d / "relationships.json").read_text())
    extra = dict(rels[0]["relationships"][0], relationship_id=104, predicate="on top of")
    rels[0]["relationships"].append(extra)
    (d / "relationships.json").write_text(json.dumps(rels))
    got, _ = _staged(d)
    cup_table = [f for f in got["facts"] if (f.head, f.tail) == ("/c/en/cup", "/c/en/table")]
    assert [(f.relation, f.weight) for f in cup_table] == [("AtLocation", 2.0)]


def test_scene_graphs_file_gives_the_same_graph(vg_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "sg"
    d.mkdir()
    shutil.copy(vg_dir / "image_data.json", d)
    objects = json.loads((vg_dir / "objects.json").read_text())
    attributes = json.loads((vg_dir / "attributes.json").read_text())
    rels = json.loads((vg_dir / "relationships.json").read_text())
    scene_graphs = []
    for o, a, r in zip(objects, attributes, rels, strict=True):
        attrs = {x["object_id"]: x.get("attributes", []) for x in a["attributes"]}
        scene_graphs.append({
            "image_id": o.get("image_id", o.get("id")),
            "objects": [dict(x, attributes=attrs.get(x["object_id"], [])) for x in o["objects"]]
            + [dict(rel[end], attributes=[]) for rel in r["relationships"] for end in ("subject",)
               if rel[end]["object_id"] == 15],
            "relationships": [{"relationship_id": x["relationship_id"], "predicate": x["predicate"],
                               "synsets": x["synsets"], "subject_id": x["subject"]["object_id"],
                               "object_id": x["object"]["object_id"]} for x in r["relationships"]],
        })
    (d / "scene_graphs.json").write_text(json.dumps(scene_graphs))
    split, _ = _staged(vg_dir)
    sg, report = _staged(d)
    assert {k: (o.concept, o.attributes) for k, o in sg["objects"].items()} == {
        k: (o.concept, o.attributes) for k, o in split["objects"].items()}
    assert sorted((f.head, f.relation, f.tail) for f in sg["facts"]) == sorted(
        (f.head, f.relation, f.tail) for f in split["facts"])
    assert report.skipped == {}


def test_files_that_disagree_on_image_order_are_refused(vg_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "vg"
    shutil.copytree(vg_dir, d)
    rels = json.loads((d / "relationships.json").read_text())
    (d / "relationships.json").write_text(json.dumps(rels[::-1]))
    with pytest.raises(InputFormatError, match="K008.*disagree on image 0"):
        _staged(d)


def test_truncated_json_names_file_and_line_and_store_is_unchanged(vg_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "vg"
    shutil.copytree(vg_dir, d)
    text = json.dumps(json.loads((d / "relationships.json").read_text()), indent=1)
    (d / "relationships.json").write_text(text[: len(text) // 2])
    store = LadybugStore(tmp_path / "kg.lbdb")
    store.ensure_schema()
    with pytest.raises(InputFormatError, match=r"K008.*relationships\.json:\d+"):
        load_visual_genome(store, d)
    assert store.stats().objects == 0 and store.stats().images == 0
    store.close()


def test_missing_directory_or_files(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="K002"):
        _staged(tmp_path / "nowhere")
    (tmp_path / "image_data.json").write_text("[]")
    with pytest.raises(InputFormatError, match="K002.*objects.json"):
        _staged(tmp_path)


@pytest.mark.parametrize(
    ("obj", "uri"),
    [({"names": ["Hot Dog"], "synsets": ["hot_dog.n.01"]}, "/c/en/hot_dog"),
     ({"name": "Coffee Cup", "synsets": []}, "/c/en/coffee_cup"),
     ({"names": ["cup"], "synsets": ["cup.n.01", "cup.n.02"]}, "/c/en/cup"),
     ({"names": [], "synsets": []}, None)],
)
def test_object_concepts_from_synset_then_name(obj: dict, uri: str | None) -> None:
    assert object_concept(obj) == uri


def _set_first(items: list, key: str, value: object) -> list:
    items[0][key] = value
    return items


# Each breaks one file of the fixture the way a clumsy or hostile file would; the load must fail
# with a coded error naming that file, and leave the store as it was.
MALFORMED = {
    "objects_not_utf8": ("objects.json", None),
    "string_object_id": ("objects.json",
                         lambda d: [_set_first(d[0]["objects"], "object_id", "abc"), d][1]),
    "relationship_without_id": ("relationships.json",
                                lambda d: [d[0]["relationships"][0].pop("relationship_id"), d][1]),
    "objects_null": ("objects.json", lambda d: [d[0].__setitem__("objects", None), d][1]),
    "integer_in_objects": ("objects.json", lambda d: [d[0]["objects"].append(5), d][1]),
    "deeply_nested": ("objects.json", None),
    "x_overflows": ("objects.json", None),
    "image_id_true": ("image_data.json", lambda d: [d[0].__setitem__("image_id", True), d][1]),
}


def _break(d: Path, case: str) -> Path:
    name, edit = MALFORMED[case]
    path = d / name
    if edit is not None:
        path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    elif case == "objects_not_utf8":
        path.write_bytes(path.read_bytes().replace(b'"cup"', b'"c\xffp"', 1))
    elif case == "deeply_nested":
        data = json.loads(path.read_text())
        text = json.dumps(data)
        path.write_text(text.replace('"merged_object_ids": []',
                                     '"merged_object_ids": ' + "[" * 100_000 + "]" * 100_000, 1))
    elif case == "x_overflows":
        path.write_text(path.read_text().replace('"x": 5', '"x": 1e400', 1))
    return path


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_a_coded_error_naming_the_file(
    vg_dir: Path, tmp_path: Path, case: str
) -> None:
    d = tmp_path / "vg"
    shutil.copytree(vg_dir, d)
    store = LadybugStore(tmp_path / "kg.lbdb")
    load_visual_genome(store, vg_dir)
    before, version = store.stats(), store.version()
    broken = _break(d, case)
    with pytest.raises(InputFormatError, match=f"K008.*{broken}"):
        load_visual_genome(store, d)
    assert (store.stats(), store.version()) == (before, version)
    store.close()
