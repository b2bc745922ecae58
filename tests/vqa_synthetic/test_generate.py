"""The synthetic benchmark: reproducible, in the real formats, and every answer backed by the KG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from kgprune.cli import app
from kgprune.errors import ConfigError
from kgprune.kg.ingest import load_visual_genome
from kgprune.kg.store import GraphStore
from kgprune.kg.uri import concept_uri
from kgprune.vqa.synthetic import (
    PRETRAIN,
    RELATIONS,
    SPLITS,
    VARIANTS,
    annotations_name,
    generate_benchmark,
    questions_name,
)
from kgprune.vqa.synthetic.questions import NAME_QUESTION

N, SIZE = 40, 64
_ARTICLES = ("a ", "an ", "the ")


@pytest.fixture(scope="module")
def benchmarks(
    bundled_store: GraphStore, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Every variant at seed 0, plus a second standard run at seed 0 and one at seed 1."""
    root = tmp_path_factory.mktemp("synthetic")
    runs = {v: (v, 0) for v in VARIANTS} | {"again": ("standard", 0), "seed1": ("standard", 1)}
    for name, (variant, seed) in runs.items():
        generate_benchmark(root / name, store=bundled_store, n=N, seed=seed, variant=variant,
                           image_size=SIZE)
    return {name: root / name for name in runs}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _load(root: Path, name: str) -> Any:
    return json.loads((root / name).read_text(encoding="utf-8"))


def _questions(root: Path) -> dict[int, dict[str, Any]]:
    return {q["question_id"]: q
            for s in SPLITS for q in _load(root, questions_name(s))["questions"]}


def _annotations(root: Path) -> dict[int, dict[str, Any]]:
    return {a["question_id"]: a
            for s in SPLITS for a in _load(root, annotations_name(s))["annotations"]}


def _pixels(root: Path, url: str) -> bytes:
    return Image.open(root / url).convert("RGB").tobytes()


def test_same_seed_is_byte_identical_and_another_seed_differs(benchmarks: dict[str, Path]) -> None:
    first, again, other = (_files(benchmarks[k]) for k in ("standard", "again", "seed1"))
    assert first == again
    assert len(first) == N + 11  # 3 x 2 split files, pretrain's 2, manifest, 2 scene files
    assert first["scene_graphs.json"] != other["scene_graphs.json"]


def test_question_and_annotation_files_have_the_ok_vqa_layout(benchmarks: dict[str, Path]) -> None:
    root = benchmarks["standard"]
    for split in SPLITS:
        qfile, afile = _load(root, questions_name(split)), _load(root, annotations_name(split))
        assert {"questions", "info", "license", "data_subtype", "task_type"} <= set(qfile)
        assert {"annotations", "info", "license", "data_subtype"} <= set(afile)
        assert [q["question_id"] for q in qfile["questions"]] == [
            a["question_id"] for a in afile["annotations"]]
        for q in qfile["questions"]:
            assert set(q) == {"image_id", "question", "question_id"}
            assert q["question"].endswith("?")
        for a in afile["annotations"]:
            assert set(a) == {"image_id", "question_id", "question_type", "answer_type", "answers"}
            assert a["answer_type"] == "other" and a["question_type"] in RELATIONS
            assert [x["answer_id"] for x in a["answers"]] == list(range(1, 11))
            for x in a["answers"]:
                assert set(x) == {"answer_id", "answer", "raw_answer", "answer_confidence"}
                assert x["answer_confidence"] in ("yes", "no")


def test_scene_graphs_and_image_data_have_the_vg_layout(benchmarks: dict[str, Path]) -> None:
    root = benchmarks["standard"]
    graphs, images = _load(root, "scene_graphs.json"), _load(root, "image_data.json")
    assert [g["image_id"] for g in graphs] == [i["image_id"] for i in images]
    assert [i["image_id"] for i in images] == list(range(1, N + 1))
    for graph, info in zip(graphs, images, strict=True):
        assert set(info) == {"image_id", "url", "width", "height", "coco_id", "flickr_id"}
        assert (info["width"], info["height"]) == (SIZE, SIZE)
        assert Image.open(root / info["url"]).size == (SIZE, SIZE)
        assert 1 <= len(graph["objects"]) <= 3
        for obj in graph["objects"]:
            assert {"object_id", "x", "y", "w", "h", "names", "synsets"} <= set(obj)
            assert obj["synsets"] == [f"{obj['names'][0].replace(' ', '_')}.n.01"]
            assert 0 <= obj["x"] and obj["x"] + obj["w"] <= SIZE and obj["y"] + obj["h"] <= SIZE
        boxes = [(o["x"], o["y"], o["x"] + o["w"], o["y"] + o["h"]) for o in graph["objects"]]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], "overlap"
        ids = {o["object_id"] for o in graph["objects"]}
        for rel in graph["relationships"]:
            assert rel["predicate"] in ("left of", "above")
            assert {rel["subject_id"], rel["object_id"]} <= ids


def _normalised(raw: str) -> set[str]:
    """What VQA / OK-VQA normalisation may turn a raw answer into: no article, maybe singular."""
    text = raw.removeprefix(next((a for a in _ARTICLES if raw.startswith(a)), ""))
    return {text, text[:-1], text[:-2], text[:-3] + "y"}


@pytest.mark.parametrize("variant", ["standard", "compositional"])
def test_every_answer_is_a_kg_fact_of_the_asked_relation(
    benchmarks: dict[str, Path], bundled_store: GraphStore, variant: str
) -> None:
    root = benchmarks[variant]
    graphs = {g["image_id"]: g for g in _load(root, "scene_graphs.json")}
    objects = {o["object_id"]: o for g in graphs.values() for o in g["objects"]}
    for qid, ann in _annotations(root).items():
        head = concept_uri(objects[qid]["names"][0])
        facts = bundled_store.neighbors(head, relations=[ann["question_type"]], limit=200)
        tails = [f.tail for f in facts if f.head == head]
        counts: dict[str, int] = {}
        for x in ann["answers"]:
            assert concept_uri(x["answer"]) in tails, (qid, x)
            assert x["answer"] in _normalised(x["raw_answer"]), x
            counts[x["answer"]] = counts.get(x["answer"], 0) + 1
        best = max(counts, key=lambda k: counts[k])
        assert concept_uri(best) == tails[0] and counts[best] > 10 - counts[best]


def test_the_visual_genome_loader_reads_the_scene_graphs(benchmarks: dict[str, Path],
                                                          ladybug_store: GraphStore) -> None:
    root = benchmarks["standard"]
    report = load_visual_genome(ladybug_store, root)
    graphs = _load(root, "scene_graphs.json")
    assert report.images_added == N
    assert report.objects_added == sum(len(g["objects"]) for g in graphs)


def test_splits_partition_the_images(benchmarks: dict[str, Path]) -> None:
    root = benchmarks["standard"]
    seen: dict[int, str] = {}
    for split in SPLITS:
        for q in _load(root, questions_name(split))["questions"]:
            assert seen.setdefault(q["image_id"], split) == split
        for png in (root / "images" / split).iterdir():
            assert png.name.startswith(f"SYNTH_{split}_")
    assert sorted(seen) == list(range(1, N + 1))
    manifest = _load(root, "manifest.json")
    assert sum(manifest["images"].values()) == N
    assert manifest["images"] == {s: len(list((root / "images" / s).iterdir())) for s in SPLITS}
    asked = sum(manifest["questions"][s] for s in SPLITS)
    assert sum(manifest["relations"].values()) == asked == len(_questions(root))
    assert manifest["questions"][PRETRAIN] == manifest["questions"]["train"]
    assert 60 <= len(manifest["objects"]) <= 100


def test_variants_differ_from_standard_as_intended(benchmarks: dict[str, Path]) -> None:
    std = benchmarks["standard"]
    std_questions, std_graphs = _questions(std), _load(std, "scene_graphs.json")
    para = _questions(benchmarks["paraphrase"])
    assert para.keys() == std_questions.keys()
    assert all(para[k]["question"] != std_questions[k]["question"] for k in para)
    assert _annotations(benchmarks["paraphrase"]) == _annotations(std)
    for name in ("degraded", "text"):
        root = benchmarks[name]
        assert _load(root, "scene_graphs.json") == std_graphs
        urls = [i["url"] for i in _load(std, "image_data.json")]
        assert all(_pixels(root, u) != _pixels(std, u) for u in urls)
    comp = benchmarks["compositional"]
    comp_graphs = {g["image_id"]: g for g in _load(comp, "scene_graphs.json")}
    for q in _questions(comp).values():
        others = [o for o in comp_graphs[q["image_id"]]["objects"]
                  if o["object_id"] != q["question_id"]]
        assert others and any(f"{o['attributes'][0]} {o['attributes'][2]}" in q["question"]
                              for o in others), q


def test_regenerating_over_an_earlier_benchmark_replaces_it(bundled_store: GraphStore,
                                                            tmp_path: Path) -> None:
    generate_benchmark(tmp_path, store=bundled_store, n=12, seed=3, image_size=SIZE)
    generate_benchmark(tmp_path, store=bundled_store, n=4, seed=3, image_size=SIZE)
    assert len(list((tmp_path / "images").rglob("*.png"))) == 4


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [({"n": 0}, "K320"), ({"variant": "cartoon"}, "K321"), ({"image_size": 8}, "K325"),
     ({"splits": (0.5, 0.5, 0.5)}, "K324")],
)
def test_bad_arguments_raise_coded_errors(bundled_store: GraphStore, tmp_path: Path,
                                          kwargs: dict[str, Any], code: str) -> None:
    args: dict[str, Any] = {"n": 4, "seed": 0} | kwargs
    with pytest.raises(ConfigError, match=code):
        generate_benchmark(tmp_path / "out", store=bundled_store, **args)
    assert not (tmp_path / "out").exists()


def test_a_foreign_non_empty_directory_is_refused(bundled_store: GraphStore,
                                                  tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match="K322"):
        generate_benchmark(tmp_path, store=bundled_store, n=4, seed=0)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_an_empty_store_is_refused(ladybug_store: GraphStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="K323"):
        generate_benchmark(tmp_path / "out", store=ladybug_store, n=4, seed=0)


def test_cli_writes_the_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    result = CliRunner().invoke(app, ["vqa", "make-synthetic", str(out), "--n", "10", "--seed", "2",
                                      "--image-size", str(SIZE), "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["n"] == 10 and manifest == _load(out, "manifest.json")
    assert len(list((out / "images").rglob("*.png"))) == 10


@pytest.mark.parametrize(
    ("args", "code"),
    [(["--n", "0"], "K320"), (["--n", "5", "--variant", "cartoon"], "K321"),
     (["--n", "5"], "K322")],
)
def test_cli_bad_arguments_fail_with_a_clear_error(tmp_path: Path, args: list[str],
                                                   code: str) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(app, ["vqa", "make-synthetic", str(tmp_path), *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError) and code in str(result.exception)


def test_perception_questions_ask_the_training_objects_names(benchmarks: dict[str, Path]) -> None:
    """`pretrain` asks "What is the object on the left?" of every training object: its name."""
    root = benchmarks["standard"]
    train = _load(root, questions_name("train"))["questions"]
    asked = _load(root, questions_name(PRETRAIN))["questions"]
    answers = {a["question_id"]: a for a in _load(root, annotations_name(PRETRAIN))["annotations"]}
    assert len(asked) == len(train) > 0
    assert {q["image_id"] for q in asked} == {q["image_id"] for q in train}
    graphs = {g["image_id"]: g["objects"] for g in _load(root, "scene_graphs.json")}
    known = set(_annotations(root))
    for q in asked:
        assert q["question_id"] not in known and q["question"].startswith("What is ")
        name = graphs[q["image_id"]][q["question_id"] % 10 - 5]["names"][0]
        annotation = answers[q["question_id"]]
        assert annotation["question_type"] == NAME_QUESTION
        assert {a["answer"] for a in annotation["answers"]} == {name}
