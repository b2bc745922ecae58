"""The OK-VQA and FVQA loaders on the fixtures and on malformed copies of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgprune.errors import InputFormatError
from kgprune.vqa.datasets import coco_image_name, load_fvqa, load_okvqa, load_predictions
from tests.vqa.conftest import ANNOTATIONS, QUESTIONS, read, write


def test_okvqa_fixture_loads(okvqa_dir: Path) -> None:
    data = load_okvqa(okvqa_dir / QUESTIONS, okvqa_dir / ANNOTATIONS)
    assert len(data.samples) == 8 and data.missing_images == []
    first = data.samples[0]
    assert (first.question_id, first.image_id, first.question_type, first.answer_type) == (10001, 9, "eight", "other")
    assert len(first.answers) == 10 and first.image_path is None
    terrier = data.samples[1]
    assert terrier.answers[-1] == "terrier" and terrier.raw_answers[-1] == "terriers"  # v1.1: stemmed + raw


def test_okvqa_images_found_and_missing_reported(okvqa_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "val2014").mkdir()
    (tmp_path / "val2014" / coco_image_name("val", 9)).write_bytes(b"jpg")
    data = load_okvqa(okvqa_dir / QUESTIONS, okvqa_dir / ANNOTATIONS, tmp_path)
    assert data.samples[0].image_path == tmp_path / "val2014" / "COCO_val2014_000000000009.jpg"
    assert len(data.missing_images) == 7 and data.missing_images[0] == "COCO_val2014_000000000025.jpg"
    with pytest.raises(InputFormatError, match=r"\[K307\] No image file for 7 question"):
        load_okvqa(okvqa_dir / QUESTIONS, okvqa_dir / ANNOTATIONS, tmp_path, require_images=True)


def test_okvqa_split_must_be_known_for_images(okvqa_dir: Path, tmp_path: Path) -> None:
    q = write(tmp_path / "questions.json", read(okvqa_dir / QUESTIONS))
    with pytest.raises(InputFormatError, match=r"\[K305\].*questions\.json"):
        load_okvqa(q, okvqa_dir / ANNOTATIONS, tmp_path)
    assert load_okvqa(q, okvqa_dir / ANNOTATIONS, tmp_path, split="val").missing_images


def test_missing_file_is_named(okvqa_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"\[K002\] No such file or directory: .*nope\.json"):
        load_okvqa(okvqa_dir / QUESTIONS, tmp_path / "nope.json")


def test_invalid_json_is_named(okvqa_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / ANNOTATIONS
    bad.write_text('{"annotations": [', encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"\[K300\] .*mscoco_val2014_annotations\.json is not valid JSON"):
        load_okvqa(okvqa_dir / QUESTIONS, bad)


def test_missing_field_names_file_question_and_field(okvqa_dir: Path, tmp_path: Path) -> None:
    ann = read(okvqa_dir / ANNOTATIONS)
    del ann["annotations"][2]["question_type"]
    path = write(tmp_path / ANNOTATIONS, ann)
    with pytest.raises(InputFormatError, match=r"\[K301\] .*annotations\.json: question 10003: field 'question_type' is missing"):
        load_okvqa(okvqa_dir / QUESTIONS, path)


def test_wrong_answer_count_and_confidence(okvqa_dir: Path, tmp_path: Path) -> None:
    ann = read(okvqa_dir / ANNOTATIONS)
    ann["annotations"][0]["answers"].pop()
    with pytest.raises(InputFormatError, match=r"question 10001: 9 answers instead of 10"):
        load_okvqa(okvqa_dir / QUESTIONS, write(tmp_path / ANNOTATIONS, ann))
    ann = read(okvqa_dir / ANNOTATIONS)
    ann["annotations"][1]["answers"][4]["answer_confidence"] = "maybe"
    with pytest.raises(InputFormatError, match=r"question 10002, answers\[4\]: answer_confidence is 'maybe'"):
        load_okvqa(okvqa_dir / QUESTIONS, write(tmp_path / ANNOTATIONS, ann))


def test_id_mismatches_are_reported(okvqa_dir: Path, tmp_path: Path) -> None:
    q = read(okvqa_dir / QUESTIONS)
    q["questions"][3]["question_id"] = 99999
    path = write(tmp_path / QUESTIONS, q)
    with pytest.raises(InputFormatError, match=r"\[K302\] .* disagree: question 99999 has no annotation"):
        load_okvqa(path, okvqa_dir / ANNOTATIONS)
    q = read(okvqa_dir / QUESTIONS)
    del q["questions"][3]
    with pytest.raises(InputFormatError, match=r"1 annotation\(s\) have no question \(first: 10004\)"):
        load_okvqa(write(tmp_path / QUESTIONS, q), okvqa_dir / ANNOTATIONS)
    q = read(okvqa_dir / QUESTIONS)
    q["questions"][0]["image_id"] = 1
    with pytest.raises(InputFormatError, match=r"question 10001 is on image 1 but annotated on image 9"):
        load_okvqa(write(tmp_path / QUESTIONS, q), okvqa_dir / ANNOTATIONS)
    q = read(okvqa_dir / QUESTIONS)
    q["questions"].append(q["questions"][0])
    with pytest.raises(InputFormatError, match=r"\[K303\] .*question id 10001 appears more than once"):
        load_okvqa(write(tmp_path / QUESTIONS, q), okvqa_dir / ANNOTATIONS)


def test_fvqa_fixture_loads(fvqa_dir: Path) -> None:
    data = load_fvqa(fvqa_dir / "all_qs_dict_release.json", fvqa_dir / "all_fact_triples_release.json")
    by_id = {s.question_id: s for s in data.samples}
    assert sorted(by_id) == ["17", "18", "19", "20"]
    umbrella = by_id["17"]
    assert umbrella.answers == ("umbrella",) and umbrella.fact_ids == ("f_881",)
    assert (umbrella.facts[0].e1, umbrella.facts[0].r, umbrella.facts[0].e2) == ("/c/en/umbrella", "/r/UsedFor", "/c/en/stay_dry")
    assert umbrella.facts[0].surface == "[[umbrella]] is used for [[stay dry]]"
    assert (umbrella.question_type, umbrella.answer_type, umbrella.visual_concept) == ("conceptnet", "image", "obj")
    spaced = by_id["19"]  # "question id" / "visual concept" keys and a quoted kb_source
    assert (spaced.visual_concept, spaced.question_type) == ("obj", "conceptnet")
    assert by_id["18"].image_id == "ILSVRC2012_val_00001021.JPEG"


def test_fvqa_unknown_fact_and_bad_fact_type(fvqa_dir: Path, tmp_path: Path) -> None:
    qs = read(fvqa_dir / "all_qs_dict_release.json")
    qs["q_18"]["fact"] = ["f_404"]
    with pytest.raises(InputFormatError, match=r"\[K306\] .*question q_18 cites fact 'f_404'"):
        load_fvqa(write(tmp_path / "qs.json", qs), fvqa_dir / "all_fact_triples_release.json")
    qs["q_18"]["fact"] = "f_902"  # the Mucko-style files are not the raw release
    with pytest.raises(InputFormatError, match=r"question q_18: field 'fact' has the wrong type \(str\)"):
        load_fvqa(write(tmp_path / "qs.json", qs), fvqa_dir / "all_fact_triples_release.json")


def test_fvqa_missing_fact_field(fvqa_dir: Path, tmp_path: Path) -> None:
    facts = read(fvqa_dir / "all_fact_triples_release.json")
    del facts["f_902"]["KB"]
    with pytest.raises(InputFormatError, match=r"facts\.json: fact f_902: field 'KB' is missing"):
        load_fvqa(fvqa_dir / "all_qs_dict_release.json", write(tmp_path / "facts.json", facts))


def test_fvqa_images(fvqa_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "COCO_val2014_000000001234.jpg").write_bytes(b"jpg")
    data = load_fvqa(fvqa_dir / "all_qs_dict_release.json", fvqa_dir / "all_fact_triples_release.json", tmp_path)
    assert data.samples[0].image_path == tmp_path / "COCO_val2014_000000001234.jpg"
    assert len(data.missing_images) == 3


def test_predictions(tmp_path: Path) -> None:
    path = write(tmp_path / "results.json", [{"question_id": 1, "answer": "dog"}, {"question_id": 2, "answer": "cat"}])
    assert load_predictions(path) == {1: "dog", 2: "cat"}
    write(path, [{"question_id": 1, "answer": "dog"}, {"question_id": 1, "answer": "cat"}])
    with pytest.raises(InputFormatError, match=r"\[K303\] .*question id 1 appears more than once"):
        load_predictions(path)
    write(path, [{"question_id": 1}])
    with pytest.raises(InputFormatError, match=r"question 1: field 'answer' is missing"):
        load_predictions(path)
    write(path, {"question_id": 1, "answer": "dog"})
    with pytest.raises(InputFormatError, match=r"top level: expected a list, got dict"):
        load_predictions(path)
