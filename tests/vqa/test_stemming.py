"""OK-VQA v1.1 stems its answers: predictions are stemmed the same way before they are scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgprune.cli import app
from kgprune.vqa.datasets import load_okvqa
from kgprune.vqa.metrics import evaluate, score_answer
from kgprune.vqa.stemming import stem_answer
from tests.vqa.conftest import write

# (raw answer or prediction, the stem the v1.1 release stores)
STEMS = [
    ("surfing", "surf"), ("skiing", "ski"), ("running", "run"), ("swimming", "swim"),
    ("hiking", "hike"), ("riding", "ride"), ("dancing", "dance"), ("cycling", "cycle"),
    ("falling", "fall"), ("fishing", "fish"), ("eating", "eat"), ("boating", "boat"),
    ("traveling", "travel"), ("bathing", "bathe"), ("staying dry", "stay dry"),
    ("hot dogs", "hot dog"), ("bananas", "banana"), ("knives", "knife"), ("wolves", "wolf"),
    ("cities", "city"), ("boxes", "box"), ("glasses", "glass"), ("potatoes", "potato"),
    ("people", "person"), ("clothes", "cloth"), ("monkeys", "monkey"), ("t-shirts", "t-shirt"),
    ("Surfing", "surf"), ("(bananas)", "(banana)"),
    # words that must be left alone: singulars ending in s, -ing words with no verb inside
    ("bus", "bus"), ("glass", "glass"), ("tennis", "tennis"), ("christmas", "christmas"),
    ("news", "news"), ("famous", "famous"), ("king", "king"), ("ring", "ring"),
    ("nothing", "nothing"), ("morning", "morning"), ("yes.", "yes."), ("1,000", "1,000"),
    ("Two", "Two"), ("dont enter", "dont enter"),
]


@pytest.mark.parametrize(("text", "stem"), STEMS)
def test_stem(text: str, stem: str) -> None:
    assert stem_answer(text) == stem


@pytest.mark.parametrize(("text", "stem"), STEMS)
def test_stemming_a_stem_changes_nothing(text: str, stem: str) -> None:
    """The model answers from the (stemmed) training answers: stemming them again is a no-op."""
    assert stem_answer(stem) == stem


def _annotations(path: Path, answers: list[tuple[str, str]], data_type: str = "mscoco") -> Path:
    """One question on COCO image 1 with ten (answer, raw_answer) pairs; raw '' = v1.0 entry."""
    entries = [{"answer_id": i + 1, "answer": a, "answer_confidence": "yes",
                **({"raw_answer": r} if r else {})} for i, (a, r) in enumerate(answers)]
    return write(path, {"data_type": data_type, "annotations": [
        {"image_id": 1, "question_id": 7, "question_type": "four", "answer_type": "other",
         "answers": entries}]})


def _questions(path: Path) -> Path:
    return write(path, {"questions": [{"image_id": 1, "question": "What sport is this?",
                                       "question_id": 7}]})


def test_v11_unstemmed_prediction_is_correct(tmp_path: Path) -> None:
    ann = _annotations(tmp_path / "a.json", [("surf", "surfing")] * 7 + [("ski", "skiing")] * 3)
    data = load_okvqa(_questions(tmp_path / "q.json"), ann)
    sample = data.samples[0]
    assert data.version == "1.1" and sample.stemmed
    assert score_answer("surfing", sample) == 1.0  # 0 without stemming
    assert score_answer("surf", sample) == 1.0
    assert score_answer("skiing", sample) == pytest.approx(0.9)
    assert score_answer("swimming", sample) == 0.0


def test_v10_answers_are_not_stemmed(tmp_path: Path) -> None:
    ann = _annotations(tmp_path / "a.json", [("surfing", "")] * 10)
    data = load_okvqa(_questions(tmp_path / "q.json"), ann)
    assert data.version == "1.0" and not data.samples[0].stemmed
    assert score_answer("surfing", data.samples[0]) == 1.0
    assert score_answer("surf", data.samples[0]) == 0.0  # v1.0 keeps the raw text


def test_synthetic_benchmark_is_not_stemmed(tmp_path: Path) -> None:
    """kgprune's synthetic files carry raw_answer variants ("a swimming pool") but never stem."""
    ann = _annotations(tmp_path / "a.json", [("swimming", "the swimming")] * 10,
                       data_type="synthetic_standard")
    sample = load_okvqa(_questions(tmp_path / "q.json"), ann).samples[0]
    assert not sample.stemmed and score_answer("swimming", sample) == 1.0


def test_evaluate_and_cli_stem_v11_predictions(tmp_path: Path) -> None:
    ann = _annotations(tmp_path / "a.json", [("hot dog", "hot dogs")] * 10)
    questions = _questions(tmp_path / "q.json")
    assert evaluate({7: "hot dogs"}, load_okvqa(questions, ann).samples).overall == 100.0
    preds = write(tmp_path / "p.json", [{"question_id": 7, "answer": "hot dogs"}])
    result = CliRunner().invoke(app, ["vqa", "eval", "--questions", str(questions),
                                      "--annotations", str(ann), "--predictions", str(preds),
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == 100.0
