"""Grounding a question's reference in the objects' boxes: one object when it places one."""

from __future__ import annotations

import pytest

from kgprune.linking.grounding import PlacedObject, ground, referred_object

ROW = (  # left to right, as the synthetic benchmark lays out a row of three
    PlacedObject(("cup",), (2, 40, 20, 20), ("red", "stripes", "circle")),
    PlacedObject(("lamp",), (36, 38, 22, 22), ("blue", "dots", "star")),
    PlacedObject(("key",), (70, 41, 18, 18), ("green", "rim", "square")),
)
COLUMN = (  # top to bottom
    PlacedObject(("dog",), (40, 1, 20, 20), ("black", "rim", "ring")),
    PlacedObject(("hat",), (38, 60, 20, 20), ("pink", "checker", "cross")),
)


@pytest.mark.parametrize(("question", "expected"), [
    ("What is the object on the left used for?", 0),
    ("What is the object on the right made of?", 2),
    ("Where would you usually find the object in the middle?", 1),
    ("For what purpose would someone use the leftmost item?", 0),
    ("In which place is the central item typically kept?", 1),
    ("Which quality is typical of the rightmost item?", 2),
    ("What is the object left of the blue star used for?", 0),
    ("What can the object right of the red circle do?", 1),
    ("What kind of thing is the object between the red circle and the green square?", 1),
    ("What property does the object right of the blue star have?", 2),
])
def test_a_row_is_grounded_by_position_and_by_neighbours(question: str, expected: int) -> None:
    assert referred_object(question, ROW) == expected
    assert ground(question, ROW) == (ROW[expected],)


@pytest.mark.parametrize(("question", "expected"), [
    ("What is the object at the top used for?", 0),
    ("Which material is the lowest item made from?", 1),
    ("What is the object above the pink cross made of?", 0),
    ("What is the object below the black ring used for?", 1),
])
def test_a_column_is_grounded_along_its_axis(question: str, expected: int) -> None:
    assert referred_object(question, COLUMN) == expected


@pytest.mark.parametrize("question", [
    "What is this used for?",  # places nothing
    "What is the object left of the purple hexagon used for?",  # anchor not in the picture
    "What is the object left of the red circle used for?",  # nothing lies left of it
    "What is the object in the middle used for?",  # two objects have no middle
])
def test_every_object_is_kept_when_the_question_places_none(question: str) -> None:
    objects = ROW if "red circle" in question or "purple" in question else COLUMN
    assert referred_object(question, objects) is None
    assert ground(question, objects) == objects


def test_an_anchor_phrase_must_name_one_object() -> None:
    twins = ROW[:2] + (PlacedObject(("mug",), (70, 41, 18, 18), ("blue", "dots", "star")),)
    assert referred_object("What is the object left of the blue star used for?", twins) is None
