"""Which image object a question is about, from the words that place it and the objects' boxes.

"What is the object on the left used for?" asks about one object, not about every object in the
picture; retrieving facts for all of them makes the knowledge targets name the neighbours'
answers as often as the right one. A question is grounded when it refers to an object by
position ("on the left", "the topmost item"), by its neighbour ("left of the red circle",
"above the blue star") or as lying between two others; the anchors are matched against the
objects' attributes and names. A question that places nothing (or an object the boxes cannot
resolve) keeps every object, as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

Box = tuple[float, float, float, float]
"""x, y, w, h in pixels, as Visual Genome writes them."""


@dataclass(frozen=True, slots=True)
class PlacedObject:
    """An image object as grounding sees it: its names, attributes (colour, shape, ...) and box."""

    names: tuple[str, ...]
    box: Box
    attributes: tuple[str, ...] = ()

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2

    def describes(self, phrase: str) -> bool:
        """Every word of an anchor phrase ("red circle") is one of the object's words."""
        words = {w.lower() for text in self.names + self.attributes for w in text.split()}
        return bool(phrase) and all(w in words for w in phrase.lower().split())


# Axis (0 = x, 1 = y) and which end: -1 the smallest coordinate, +1 the largest, 0 the middle.
_ENDS: dict[str, tuple[int, int]] = {
    "left": (0, -1), "leftmost": (0, -1), "right": (0, 1), "rightmost": (0, 1),
    "top": (1, -1), "topmost": (1, -1), "upper": (1, -1), "bottom": (1, 1), "lowest": (1, 1),
    "lower": (1, 1), "bottommost": (1, 1), "middle": (-1, 0), "central": (-1, 0),
    "centre": (-1, 0), "center": (-1, 0),
}
_RELATIVE: dict[str, tuple[int, int]] = {
    "left of": (0, -1), "to the left of": (0, -1), "right of": (0, 1), "to the right of": (0, 1),
    "above": (1, -1), "over": (1, -1), "below": (1, 1), "under": (1, 1), "beneath": (1, 1),
}
_ANCHOR = r"(?:the |a |an )?([a-z][a-z ]*?)"
_BETWEEN = re.compile(rf"\bbetween {_ANCHOR} and {_ANCHOR}(?=[?.,!]|$| (?:used|made|kept|is|"
                      r"typically|usually|able|have|has|do)\b)")
_RELATIVE_RE = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, _RELATIVE), key=len, reverse=True))
    + rf") {_ANCHOR}(?=[?.,!]|$| (?:used|made|kept|is|typically|usually|able|have|has|do)\b)")
_END_RE = re.compile(r"\b(?:on the|at the|in the|the)\s+(" + "|".join(_ENDS) + r")\b")


def _coordinate(obj: PlacedObject, axis: int) -> float:
    return obj.centre[axis]


def _spread_axis(objects: Sequence[PlacedObject]) -> int:
    """The axis the objects are laid out along: the one whose centres differ most."""
    xs = [o.centre[0] for o in objects]
    ys = [o.centre[1] for o in objects]
    return 0 if max(xs) - min(xs) >= max(ys) - min(ys) else 1


def _at_end(objects: Sequence[PlacedObject], axis: int, end: int) -> int | None:
    if len(objects) < 2:
        return None
    if axis < 0:
        axis = _spread_axis(objects)
    order = sorted(range(len(objects)), key=lambda i: (_coordinate(objects[i], axis), i))
    if end == 0:
        return order[len(order) // 2] if len(order) % 2 else None
    return order[0] if end < 0 else order[-1]


def _anchor(objects: Sequence[PlacedObject], phrase: str) -> int | None:
    matches = [i for i, o in enumerate(objects) if o.describes(phrase)]
    return matches[0] if len(matches) == 1 else None


def _next_to(objects: Sequence[PlacedObject], anchor: int, axis: int, side: int) -> int | None:
    """The object nearest the anchor on the given side along `axis`."""
    here = _coordinate(objects[anchor], axis)
    candidates = [(abs(_coordinate(o, axis) - here), i) for i, o in enumerate(objects)
                  if i != anchor and (_coordinate(o, axis) - here) * side > 0]
    return min(candidates)[1] if candidates else None


def _between(objects: Sequence[PlacedObject], a: int, b: int) -> int | None:
    axis = _spread_axis(objects)
    low, high = sorted((_coordinate(objects[a], axis), _coordinate(objects[b], axis)))
    inside = [i for i, o in enumerate(objects)
              if i not in (a, b) and low < _coordinate(o, axis) < high]
    return inside[0] if len(inside) == 1 else None


def referred_object(question: str, objects: Sequence[PlacedObject]) -> int | None:
    """The index of the one object the question places, or None when it places none."""
    text = " ".join(question.lower().split())
    if (found := _BETWEEN.search(text)) is not None:
        a, b = _anchor(objects, found.group(1)), _anchor(objects, found.group(2))
        return None if a is None or b is None or a == b else _between(objects, a, b)
    if (found := _RELATIVE_RE.search(text)) is not None:
        anchor = _anchor(objects, found.group(2))
        axis, side = _RELATIVE[found.group(1)]
        return None if anchor is None else _next_to(objects, anchor, axis, side)
    if (found := _END_RE.search(text)) is not None:
        axis, end = _ENDS[found.group(1)]
        return _at_end(objects, axis, end)
    return None


def ground(question: str, objects: Sequence[PlacedObject]) -> tuple[PlacedObject, ...]:
    """The object the question refers to, alone; every object when it refers to none."""
    index = referred_object(question, objects)
    return tuple(objects) if index is None else (objects[index],)
