"""`--data` folders told apart by layout: splits, images, image objects, versions, coded errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kgprune.errors import InputFormatError
from kgprune.vqa.layouts import (
    FvqaBenchmark,
    OkVqaBenchmark,
    SyntheticBenchmark,
    open_benchmark,
)
from kgprune.vqa.metrics import score_answer
from tests.vqa.layout_data import FVQA, OKVQA, coco_name, write_fvqa, write_okvqa


def test_each_layout_is_detected(okvqa_folder: Path, fvqa_folder: Path, tmp_path: Path) -> None:
    synthetic = tmp_path / "synthetic"
    synthetic.mkdir()
    (synthetic / "manifest.json").write_text('{"image_size": 48}', encoding="utf-8")
    bench = open_benchmark(synthetic)
    assert isinstance(bench, SyntheticBenchmark) and bench.image_size == 48
    assert isinstance(open_benchmark(okvqa_folder), OkVqaBenchmark)
    assert isinstance(open_benchmark(fvqa_folder), FvqaBenchmark)
    # the unzipped release folder itself works too
    assert open_benchmark(fvqa_folder / "new_dataset_release").layout == "fvqa"


def test_unknown_folder_is_a_coded_error(tmp_path: Path) -> None:
    (tmp_path / "questions.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"\[K310\] .* holds no dataset kgprune can read "
                       r"\(no manifest.json, OpenEnded_mscoco_\*2014_questions.json or "
                       r"all_qs_dict_release.json\)"):
        open_benchmark(tmp_path)
    with pytest.raises(InputFormatError, match=r"\[K310\] .*nope .*not a directory"):
        open_benchmark(tmp_path / "nope")


def test_okvqa_splits_map_to_coco_files(okvqa_folder: Path) -> None:
    bench = open_benchmark(okvqa_folder)
    train, val, test = (bench.split(s) for s in ("train", "val", "test"))
    assert len(train) == len(OKVQA["train"]) and len(test) == len(OKVQA["val"])
    assert val == test  # OK-VQA has no separate test set: val2014 is what papers report on
    first = train[0]
    assert first.image_path == okvqa_folder / "train2014" / "COCO_train2014_000000000009.jpg"
    assert first.stemmed and first.answers[0] == "stay dry" and first.raw_answers[0] == "staying dry"
    assert test[0].image_path is not None and test[0].image_path.parent.name == "val2014"
    assert bench.record() == {
        "layout": "okvqa", "path": str(okvqa_folder), "version": "1.1",
        "splits": "train = train2014; val = test = val2014",
        "annotations": "mscoco_val2014_annotations.json", "objects": "detections",
        "objects_file": str(okvqa_folder / "detections.json")}


def test_images_may_sit_under_images(okvqa_folder: Path) -> None:
    (okvqa_folder / "images").mkdir()
    for split in ("train2014", "val2014"):
        shutil.move(okvqa_folder / split, okvqa_folder / "images" / split)
    sample = open_benchmark(okvqa_folder).split("val")[0]
    assert sample.image_path == okvqa_folder / "images" / "val2014" / coco_name("val", 80)


def test_okvqa_v10_naming_is_not_stemmed(tmp_path: Path) -> None:
    bench = open_benchmark(write_okvqa(tmp_path / "v10", version="1.0", suffix="_v1.0"))
    sample = bench.split("test")[0]
    assert bench.record()["version"] == "1.0" and not sample.stemmed
    assert sample.answers[0] == "staying dry" and score_answer("staying dry", sample) == 1.0


def test_okvqa_v11_file_is_preferred_over_v10(tmp_path: Path) -> None:
    root = write_okvqa(tmp_path / "both", version="1.0", suffix="_v1.0")
    write_okvqa(root, version="1.1", suffix="_v1.1")
    bench = open_benchmark(root)
    assert bench.record()["annotations"] == "mscoco_val2014_annotations_v1.1.json"
    sample = bench.split("test")[0]
    assert sample.stemmed and score_answer("staying dry", sample) == 1.0


def test_okvqa_missing_split_file_is_named(okvqa_folder: Path) -> None:
    (okvqa_folder / "mscoco_train2014_annotations.json").unlink()
    bench = open_benchmark(okvqa_folder)
    assert len(bench.split("test")) == len(OKVQA["val"])  # the other split still loads
    with pytest.raises(InputFormatError, match=r"\[K311\] The OK-VQA folder .* has no "
                       r"mscoco_train2014_annotations.json for the 'train' split"):
        bench.split("train")


def test_missing_images_are_counted_and_named(okvqa_folder: Path) -> None:
    (okvqa_folder / "train2014" / coco_name("train", 25)).unlink()
    with pytest.raises(InputFormatError, match=r"\[K314\] 1 of 10 questions of the 'train' split "
                       r"have no image under .*train2014 \(first: COCO_train2014_000000000025"):
        open_benchmark(okvqa_folder).split("train")


def test_unknown_split(okvqa_folder: Path, fvqa_folder: Path) -> None:
    for folder in (okvqa_folder, fvqa_folder):
        with pytest.raises(InputFormatError, match=r"\[K313\] Unknown split 'dev' .* known "
                           r"splits: train, val, test"):
            open_benchmark(folder).split("dev")


def test_detections_give_the_image_objects(okvqa_folder: Path) -> None:
    bench = open_benchmark(okvqa_folder)
    queries = bench.queries(bench.split("train"))
    objects = {q.sample_id: q.image_objects for q in queries}
    # keyed by file name (odd ids) and by COCO id (even ids); the 0.1-score airplane is dropped
    assert objects["101"] == ("umbrella",) and objects["103"] == ("dog",)
    assert all(o and "airplane" not in o for o in objects.values())


def test_malformed_detection_is_named(okvqa_folder: Path) -> None:
    path = okvqa_folder / "detections.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["30"][1] = {"label": "dog"}
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"\[K301\] .*detections.json: image 30, detection "
                       r"1: needs a string 'label' and a number 'score'"):
        open_benchmark(okvqa_folder)


def test_visual_genome_objects_by_coco_id(tmp_path: Path) -> None:
    bench = open_benchmark(write_okvqa(tmp_path / "vg", objects="vg"))
    assert bench.record()["objects"] == "visual genome"
    queries = bench.queries(bench.split("test"))
    assert [q.image_objects for q in queries] == [("umbrella",), ("knife",), ("kite",), ("dog",)]
    (tmp_path / "vg" / "visual_genome" / "objects.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"\[K008\] .*objects.json:1.*does not start with"):
        open_benchmark(tmp_path / "vg")
    (tmp_path / "vg" / "visual_genome" / "objects.json").unlink()
    with pytest.raises(InputFormatError, match=r"\[K316\] .*visual_genome has no objects.json"):
        open_benchmark(tmp_path / "vg")


def test_without_objects_linking_reads_the_question(tmp_path: Path) -> None:
    bench = open_benchmark(write_okvqa(tmp_path / "plain", objects=""))
    assert bench.record()["objects"] == "question only" and bench.record()["objects_file"] is None
    assert all(q.image_objects == () for q in bench.queries(bench.split("train")))


def test_fvqa_splits_follow_name_lists(fvqa_folder: Path) -> None:
    bench = open_benchmark(fvqa_folder)
    expected = {kind: [key for key, *_, split in FVQA if split == kind] for kind in ("train", "test")}
    assert [s.question_id for s in bench.split("train")] == expected["train"]
    assert [s.question_id for s in bench.split("test")] == expected["test"]
    assert bench.split("val") == bench.split("test")
    assert bench.record()["splits"] == "Name_Lists fold 0 (val = test)"
    sample = bench.split("train")[1]
    assert sample.image_path == fvqa_folder / "new_dataset_release" / "images" / "ILSVRC2012_val_00001021.JPEG"
    assert sample.facts[0].e1 == "/c/en/knife" and sample.answers == ("cut",)


def test_fvqa_without_name_lists_splits_by_image_hash(tmp_path: Path) -> None:
    bench = open_benchmark(write_fvqa(tmp_path / "a", name_lists=False))
    train, test = bench.split("train"), bench.split("test")
    assert {s.question_id for s in train} | {s.question_id for s in test} == {f[0] for f in FVQA}
    assert not {s.image_id for s in train} & {s.image_id for s in test}  # no image in both
    again = open_benchmark(write_fvqa(tmp_path / "b", name_lists=False))
    assert [s.question_id for s in again.split("train")] == [s.question_id for s in train]
    assert bench.record()["splits"].startswith("seeded by image file name")


@pytest.mark.parametrize(("remove", "missing"), [
    ("new_dataset_release/all_fact_triples_release.json", "all_fact_triples_release.json"),
    ("new_dataset_release/images", "images/"),
    ("Name_Lists/test_list_0.txt", "Name_Lists/test_list_0.txt"),
])
def test_fvqa_missing_piece_is_named(fvqa_folder: Path, remove: str, missing: str) -> None:
    path = fvqa_folder / remove
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    with pytest.raises(InputFormatError, match=rf"\[K312\] The FVQA folder .* has no {missing}"):
        open_benchmark(fvqa_folder).split("test")


def test_fvqa_lists_of_another_release_leave_a_split_empty(fvqa_folder: Path) -> None:
    (fvqa_folder / "Name_Lists" / "train_list_0.txt").write_text("other.jpg\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"\[K315\] The 'train' split of .* has no "
                       r"questions \(none of its images are in Name_Lists fold 0\)"):
        open_benchmark(fvqa_folder).split("train")


def test_fvqa_is_scored_by_exact_match(fvqa_folder: Path) -> None:
    """One ground-truth answer: VQA's leave-one-out formula would score even "cut" 0."""
    sample = open_benchmark(fvqa_folder).split("train")[1]
    assert score_answer("cut", sample) == 1.0 and score_answer("Cut.", sample) == 1.0
    assert score_answer("slice", sample) == 0.0
