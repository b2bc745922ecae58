from __future__ import annotations

import pytest

from kgprune.retrieval.relation_detector import Direction, RelationDetector


@pytest.mark.parametrize(
    ("question", "relation", "direction"),
    [("What is this kitchen tool used for?", "UsedFor", Direction.TAIL),
     ("What would you use this for?", "UsedFor", Direction.TAIL),
     ("What is used to cut bread?", "UsedFor", Direction.HEAD),
     ("Where would you usually find this?", "AtLocation", Direction.TAIL),
     ("In what room is this typically kept?", "AtLocation", Direction.TAIL),
     ("What can you find in a kitchen?", "AtLocation", Direction.HEAD),
     ("What is the hot dog on the plate made of?", "MadeOf", Direction.TAIL),
     ("What material is this?", "MadeOf", Direction.TAIL),
     ("What kind of animal is this?", "IsA", Direction.TAIL),
     ("What type of vehicle is shown?", "IsA", Direction.TAIL),
     ("What can this animal do?", "CapableOf", Direction.TAIL),
     ("Which animal can bark?", "CapableOf", Direction.HEAD),
     ("What color is a banana?", "HasProperty", Direction.TAIL),
     ("Who makes this?", "CreatedBy", Direction.TAIL),
     ("What is the opposite of hot?", "Antonym", Direction.TAIL)],
)
def test_question_patterns(detector: RelationDetector, question: str, relation: str,
                           direction: Direction) -> None:
    best = detector.detect(question)[0]
    assert (best.relation, best.direction, best.method) == (relation, direction, "pattern")


def test_one_direction_per_relation(detector: RelationDetector) -> None:
    guesses = detector.detect("What is used to cut bread?")
    assert [(g.relation, g.direction) for g in guesses if g.relation == "UsedFor"] == [
        ("UsedFor", Direction.HEAD)]


def test_paraphrase_without_a_pattern_falls_back_to_templates(detector: RelationDetector) -> None:
    guesses = detector.detect("this thing helps you to do which job")
    assert guesses and guesses[0].method == "embedding"
    assert all(0.0 <= g.score <= 1.0 for g in guesses)


def test_empty_and_unrelated_questions(detector: RelationDetector) -> None:
    assert detector.detect("") == []
    assert detector.detect("   ") == []
    assert all(g.method == "embedding" for g in detector.detect("zxqv blorp"))
