"""Image objects to concepts: Visual Genome scene-graph entries or detector output.

Per object, the first rule that finds a concept in the store wins:

1. `synset`: the lemma of its first WordNet synset (`cup.n.01` -> /c/en/cup), as the loader does;
2. `exact`: its whole name or label as a term ("hot dogs" -> /c/en/hot_dog);
3. `exact`: the rightmost exact concept inside the label, the head noun in English
   ("dining table" -> /c/en/table);
4. `fuzzy`: the best index match of the whole label or of one of its words above the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kgprune.errors import Errors, InputFormatError
from kgprune.kg.loaders.visual_genome import object_concept, object_names
from kgprune.kg.uri import parse_concept_uri
from kgprune.linking.linker import Linker

DEFAULT_MIN_SCORE = 0.5

Box = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class ImageObject:
    """One object to link: a scene-graph object or a detection, in input order (`index`)."""

    index: int
    names: tuple[str, ...]
    synsets: tuple[str, ...] = ()
    object_id: int | None = None
    box: Box | None = None
    detection_score: float | None = None

    @property
    def label(self) -> str:
        return self.names[0] if self.names else ""


@dataclass(frozen=True, slots=True)
class LinkedObject:
    """An object linked to a concept; method is "synset", "exact" or "fuzzy".

    `score` is the link's confidence (1.0 unless fuzzy); `box` is as given (VG: x, y, w, h).
    """

    uri: str
    name: str
    label: str
    score: float
    method: str
    index: int
    object_id: int | None = None
    box: Box | None = None
    detection_score: float | None = None


def _invalid(what: str, problem: str) -> InputFormatError:
    return InputFormatError(Errors.K108.format(what=what, problem=problem))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _box(values: Sequence[Any]) -> Box | None:
    return tuple(float(v) for v in values) if values and all(map(_number, values)) else None


def scene_objects(entry: Mapping[str, Any]) -> list[ImageObject]:
    """The objects of one Visual Genome scene-graph / objects.json entry."""
    objects = entry.get("objects") if isinstance(entry, Mapping) else None
    if not isinstance(objects, list):
        raise _invalid("scene graph", "no 'objects' list")
    found = []
    for i, obj in enumerate(objects):
        if not isinstance(obj, Mapping):
            raise _invalid(f"object {i}", "not a JSON object")
        coords = [obj.get(k) for k in ("x", "y", "w", "h")]
        object_id = obj.get("object_id", obj.get("id"))
        found.append(ImageObject(
            index=i, names=tuple(object_names(dict(obj))),
            synsets=tuple(str(s) for s in obj.get("synsets") or ()),
            object_id=object_id if isinstance(object_id, int) else None,
            box=_box(coords),
        ))
    return found


def detection_objects(detections: Sequence[Mapping[str, Any]], *,
                      min_score: float = DEFAULT_MIN_SCORE) -> list[ImageObject]:
    """Detections `{label, score, box}` scoring at least `min_score` (no score counts as 1.0)."""
    if not isinstance(detections, Sequence) or isinstance(detections, str | bytes):
        raise _invalid("detections", "not a list")
    found = []
    for i, det in enumerate(detections):
        if not isinstance(det, Mapping) or not isinstance(det.get("label"), str):
            raise _invalid(f"detection {i}", "no string 'label'")
        score, box = det.get("score", 1.0), det.get("box")
        if not _number(score):
            raise _invalid(f"detection {i}", "'score' is not a number")
        if box is not None and (not isinstance(box, Sequence) or _box(box) is None):
            raise _invalid(f"detection {i}", "'box' is not a list of numbers")
        if score >= min_score:
            found.append(ImageObject(index=i, names=(det["label"],), detection_score=float(score),
                                     box=_box(box or ())))
    return found


def _synset_key(obj: ImageObject) -> str | None:
    uri = object_concept({"synsets": list(obj.synsets)})
    return parse_concept_uri(uri).term if uri else None


def link_objects(objects: Sequence[ImageObject], linker: Linker) -> list[LinkedObject]:
    """Link each object that some rule can link; one store query for rules 1-2, one batch after."""
    name_keys = [[k for n in o.names for k in linker.extractor.term_keys(n)] for o in objects]
    synset_keys = [_synset_key(o) for o in objects]
    concepts = linker.concepts_for_keys(
        [k for k in synset_keys if k] + [k for keys in name_keys for k in keys])
    linked: dict[int, LinkedObject] = {}
    pending = []
    for obj, synset_key, keys in zip(objects, synset_keys, name_keys, strict=True):
        if synset_key in concepts:
            c = concepts[synset_key]
            linked[obj.index] = _linked(obj, c.uri, c.name, 1.0, "synset")
        elif key := next((k for k in keys if k in concepts), None):
            c = concepts[key]
            linked[obj.index] = _linked(obj, c.uri, c.name, 1.0, "exact")
        elif obj.label:
            pending.append(obj)
    unmatched = []
    for obj, inside in zip(pending, linker.link_batch([o.label for o in pending]), strict=True):
        exact = [c for c in inside if c.method == "exact"]
        if exact:
            head = max(exact, key=lambda c: c.end)
            linked[obj.index] = _linked(obj, head.uri, head.name, head.score, "exact")
        else:
            unmatched.append((obj, [(c.score, c.uri, c.name) for c in inside]))
    whole = linker.fuzzy_lookup([obj.label for obj, _ in unmatched])
    for (obj, fuzzy), hit in zip(unmatched, whole, strict=True):
        fuzzy += [(hit.score, hit.uri, hit.name)] if hit is not None else []
        if fuzzy:
            score, uri, name = max(fuzzy)
            linked[obj.index] = _linked(obj, uri, name, score, "fuzzy")
    return [linked[o.index] for o in objects if o.index in linked]


def _linked(obj: ImageObject, uri: str, name: str, score: float, method: str) -> LinkedObject:
    return LinkedObject(uri=uri, name=name, label=obj.label, score=score, method=method,
                        index=obj.index, object_id=obj.object_id, box=obj.box,
                        detection_score=obj.detection_score)


def link_scene_graph(entry: Mapping[str, Any], linker: Linker) -> list[LinkedObject]:
    return link_objects(scene_objects(entry), linker)


def link_detections(detections: Sequence[Mapping[str, Any]], linker: Linker, *,
                    min_score: float = DEFAULT_MIN_SCORE) -> list[LinkedObject]:
    return link_objects(detection_objects(detections, min_score=min_score), linker)


def link_image(data: Any, linker: Linker, *,
               min_score: float = DEFAULT_MIN_SCORE) -> list[LinkedObject]:
    """A scene-graph entry (a JSON object with "objects") or a detections list, told by shape."""
    if isinstance(data, Mapping):
        return link_scene_graph(data, linker)
    return link_detections(data, linker, min_score=min_score)
