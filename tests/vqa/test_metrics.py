"""The official VQA accuracy, against hand-computed cases."""

from __future__ import annotations

import pytest

from kgprune.errors import InputFormatError
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.metrics import (
    CONTRACTIONS,
    evaluate,
    normalize_answer,
    process_digit_article,
    process_punctuation,
    vqa_accuracy,
)


def _answers(matching: str, k: int, other: str = "cat") -> list[str]:
    return [matching] * k + [other] * (10 - k)


@pytest.mark.parametrize(("k", "expected"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)])
def test_leave_one_out_averaging(k: int, expected: float) -> None:
    # k matches: the k matching subsets see k-1 others, the 10-k others see k.
    assert vqa_accuracy("dog", _answers("dog", k)) == pytest.approx(expected)


def test_partial_credit_per_subset_is_one_third_per_match() -> None:
    assert vqa_accuracy("dog", ["dog"] + ["cat"] * 9) == pytest.approx(9 * (1 / 3) / 10)
    assert vqa_accuracy("dog", ["dog"] * 2 + ["cat"] * 8) == pytest.approx((2 * (1 / 3) + 8 * (2 / 3)) / 10)


def test_identical_answers_skip_normalisation() -> None:
    assert vqa_accuracy("yes", ["yes"] * 10) == 1.0
    assert vqa_accuracy("yes.", ["yes"] * 10) == 0.0
    assert vqa_accuracy("Yes", ["yes"] * 10) == 0.0
    assert vqa_accuracy("  yes\n", ["yes"] * 10) == 1.0  # whitespace is always cleaned


def test_disagreeing_answers_normalise_prediction_and_answers() -> None:
    answers = ["yes"] * 9 + ["no"]
    assert vqa_accuracy("yes.", answers) == 1.0
    assert vqa_accuracy("Yes!", answers) == 1.0


@pytest.mark.parametrize(("raw", "normal"), [
    ("1,000", "1000"),            # \d,\d anywhere: every punctuation mark is deleted
    ("1000", "1000"),
    ("3.5", "3.5"),               # a period before a digit survives
    ("3.", "3"),
    ("t-shirt", "t shirt"),       # not touching a space: replaced by a space
    ("t - shirt", "t shirt"),     # touching a space: deleted
    ("yes.", "yes"),
    ("dont", "don't"),
    ("isnt", "isn't"),
    ("Two", "2"),
    ("none", "0"),
    ("ten dogs", "10 dogs"),
    ("a dog", "dog"),
    ("The Dog", "dog"),
    ("an apple", "apple"),
    ("o'clock", "o'clock"),       # ' and : are kept
    ("10:30", "10:30"),
    ("Im", "im"),                 # capitalised keys of the official map never match
    ("somebody'd", "somebodyd"),  # the official map's backwards entry
    ("eleven", "eleven"),
    ("(red, white)", "red white"),
])
def test_normalisation(raw: str, normal: str) -> None:
    assert normalize_answer(raw) == normal


def test_digit_comma_anywhere_deletes_all_punctuation() -> None:
    assert process_punctuation("t-shirt 1,000") == "tshirt 1000"


def test_broken_lookbehind_acts_as_lookahead_only() -> None:
    assert process_punctuation("a.b 1.5 .5 x.") == "ab 1.5 .5 x"


def test_period_strip_stops_after_32_as_the_official_script() -> None:
    assert process_punctuation("." * 40) == "." * 8


def test_contractions_map_is_the_official_one() -> None:
    assert len(CONTRACTIONS) == 120
    assert CONTRACTIONS["wont"] == "won't" and CONTRACTIONS["yall'd've"] == "y'all'd've"
    assert process_digit_article("i dont know") == "i don't know"


def _sample(qid: int, answers: list[str], qtype: str, atype: str = "other") -> VqaSample:
    return VqaSample(qid, qid, "q?", tuple(answers), qtype, atype)


def test_evaluate_aggregates_rounds_and_counts_missing() -> None:
    samples = [_sample(1, _answers("dog", 1), "eight"), _sample(2, _answers("dog", 2), "eight"),
               _sample(3, _answers("red", 10), "three", "other"), _sample(4, _answers("x", 4), "one")]
    report = evaluate({1: "dog", 2: "dog", "3": "red"}, samples)
    assert report.n == 4 and report.missing == 1
    assert report.overall == round(100 * (0.3 + 0.6 + 1.0 + 0.0) / 4, 2) == 47.5
    assert report.per_question_type == {"eight": 45.0, "one": 0.0, "three": 100.0}
    assert report.per_answer_type == {"other": 47.5}
    assert report.per_question["1"] == pytest.approx(0.3)


def test_evaluate_rounds_to_two_decimals() -> None:
    samples = [_sample(0, _answers("dog", 1), "eight")] + [_sample(i, ["x"] * 10, "t") for i in range(1, 7)]
    report = evaluate({0: "dog"}, samples)  # 100 * 0.3 / 7 = 4.2857...
    assert report.overall == 4.29 and report.per_question_type == {"eight": 30.0, "t": 0.0}


def test_duplicate_annotation_ids_are_an_error() -> None:
    with pytest.raises(InputFormatError, match=r"\[K309\].*Question id 1 "):
        evaluate({}, [_sample(1, ["x"] * 10, "t"), _sample(1, ["x"] * 10, "t")])


def test_unknown_prediction_id_is_an_error() -> None:
    with pytest.raises(InputFormatError, match=r"\[K304\].*question id 99"):
        evaluate({99: "dog"}, [_sample(1, _answers("dog", 1), "eight")])
