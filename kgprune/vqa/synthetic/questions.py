"""Question templates and human-style answers for the synthetic benchmark.

Every question asks for knowledge the pixels do not show (use, place, material, category, ability,
property). Answers are tails of the object's KG facts of the asked relation; ten annotators agree on
the strongest fact most of the time and spread to other valid facts otherwise, as in OK-VQA.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RELATIONS: tuple[str, ...] = ("UsedFor", "AtLocation", "MadeOf", "IsA", "CapableOf", "HasProperty")

OBJECT_TERMS: tuple[str, ...] = (
    "airplane", "backpack", "bag", "ball", "balloon", "basket", "bathtub", "bed", "bench",
    "bicycle", "blanket", "blender", "boat", "book", "bottle", "bowl", "bread", "broom", "bucket",
    "bus", "cake", "camera", "candle", "car", "cat", "chair", "cheese", "clock", "coat", "computer",
    "cookie", "couch", "cow", "cup", "desk", "dog", "donut", "drum", "egg", "fork", "guitar",
    "hammer", "hat", "helmet", "horse", "hot_dog", "kettle", "key", "kite", "knife", "ladder",
    "lamp", "laptop", "microwave", "mirror", "motorcycle", "mug", "napkin", "oven", "pan", "pen",
    "pencil", "phone", "piano", "pillow", "pizza", "plate", "pot", "refrigerator", "scissors",
    "shoe", "shovel", "soap", "spoon", "table", "teapot", "television", "toaster", "towel", "train",
    "truck", "umbrella", "vase", "wallet", "watch", "wrench",
)

STANDARD_TEMPLATES: dict[str, str] = {
    "UsedFor": "What is {ref} used for?",
    "AtLocation": "Where would you usually find {ref}?",
    "MadeOf": "What is {ref} made of?",
    "IsA": "What kind of thing is {ref}?",
    "CapableOf": "What can {ref} do?",
    "HasProperty": "What property does {ref} have?",
}
PARAPHRASE_TEMPLATES: dict[str, str] = {
    "UsedFor": "For what purpose would someone use {ref}?",
    "AtLocation": "In which place is {ref} typically kept?",
    "MadeOf": "Which material is {ref} made from?",
    "IsA": "{Ref} is an example of what?",
    "CapableOf": "What is {ref} able to do?",
    "HasProperty": "Which quality is typical of {ref}?",
}
NAME_QUESTION = "ObjectName"
"""The question type of perception questions ("What is the object on the left?"): the answer is
the object's name, which the pixels show and the KG is not needed for."""
NAME_TEMPLATES: dict[bool, str] = {False: "What is {ref}?", True: "Which object is {ref}?"}
POSITION_REFS: dict[str, str] = {
    "left": "the object on the left", "right": "the object on the right",
    "middle": "the object in the middle", "top": "the object at the top",
    "bottom": "the object at the bottom",
}
PARAPHRASE_POSITION_REFS: dict[str, str] = {
    "left": "the leftmost item", "right": "the rightmost item", "middle": "the central item",
    "top": "the topmost item", "bottom": "the lowest item",
}
_ARTICLE_RELATIONS = frozenset({"IsA", "AtLocation", "MadeOf"})
_PLURAL_RELATIONS = frozenset({"IsA"})


def position_ref(position: str, *, single: bool, paraphrase: bool) -> str:
    """`this` for a lone object, else its place in the picture."""
    if single:
        return "this"
    return (PARAPHRASE_POSITION_REFS if paraphrase else POSITION_REFS)[position]


def relative_ref(preposition: str, anchors: tuple[str, ...]) -> str:
    """Refers through other objects: `the object left of the red circle`, or between two."""
    if preposition == "between":
        return f"the object between the {anchors[0]} and the {anchors[1]}"
    return f"the object {preposition} the {anchors[0]}"


def question_text(relation: str, ref: str, *, paraphrase: bool) -> str:
    template = (PARAPHRASE_TEMPLATES if paraphrase else STANDARD_TEMPLATES)[relation]
    return template.format(ref=ref, Ref=ref[:1].upper() + ref[1:])


def name_question_text(ref: str, *, paraphrase: bool) -> str:
    return NAME_TEMPLATES[paraphrase].format(ref=ref)


def plural(phrase: str) -> str:
    head, _, last = phrase.rpartition(" ")
    if last.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in tuple("aeiou"):
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}".strip()


def _raw_variant(answer: str, relation: str, rng: random.Random) -> str:
    """A way a person might write a valid answer that scoring normalises back to it."""
    options = []
    if relation in _ARTICLE_RELATIONS:
        options.append(("an " if answer[:1] in "aeiou" else "a ") + answer)
        options.append("the " + answer)
    if relation in _PLURAL_RELATIONS:
        options.append(plural(answer))
    return rng.choice(options) if options else answer


@dataclass(frozen=True, slots=True)
class HumanAnswer:
    answer: str
    raw_answer: str
    confident: bool


def human_answers(valid: tuple[str, ...], relation: str, rng: random.Random) -> list[HumanAnswer]:
    """Ten answers: mostly the strongest fact's tail (`valid[0]`), the rest spread over others."""
    top_count = 10 if len(valid) == 1 else rng.randint(6, 8)
    picks = [valid[0]] * top_count + [rng.choice(valid[1:]) for _ in range(10 - top_count)]
    rng.shuffle(picks)
    answers = []
    for answer in picks:
        raw = _raw_variant(answer, relation, rng) if rng.random() < 0.12 else answer
        answers.append(HumanAnswer(answer, raw, answer == valid[0] or rng.random() < 0.8))
    return answers
