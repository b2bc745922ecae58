"""Stage Visual Genome (1.2 / 1.4 JSON) as images, object instances, relations and concept facts.

Reads `image_data.json` with either `objects.json` + `attributes.json` + `relationships.json` (which
list images in the same order, so they are walked in step) or `scene_graphs.json`. Handles the known
quirks: `name` vs `names`, missing `synsets`, a missing inner `attributes` list, `id` for `image_id`,
relationship ends absent from `objects.json` (recovered from the relationship's own copy).
Objects become concepts through their first synset's lemma, else their name; each subject-predicate-
object triple is counted per concept pair and becomes a `visual_genome` fact weighted by its count.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kgprune.errors import Errors, InputFormatError
from kgprune.kg.loaders.conceptnet import ProgressFn
from kgprune.kg.loaders.json_stream import JsonArrayReader
from kgprune.kg.records import (
    SOURCE_VISUAL_GENOME,
    Concept,
    Fact,
    Image,
    LoadReport,
    ObjectInstance,
    ObjectRelation,
    assertion_uri,
)
from kgprune.kg.staging import ConceptStager
from kgprune.kg.store import GraphBatch
from kgprune.kg.uri import concept_uri, standardize_text

# Visual Genome predicates read as ConceptNet relations; anything else is RelatedTo with the
# original predicate kept on the fact.
PREDICATE_RELATIONS: dict[str, str] = {
    **dict.fromkeys(
        ["on", "in", "inside", "at", "on top of", "sitting on", "standing on", "lying on",
         "laying on", "parked on", "hanging on", "mounted on", "sitting in", "standing in",
         "inside of", "in middle of", "growing on", "attached to", "hanging from", "resting on"],
        "AtLocation",
    ),
    **dict.fromkeys(["has", "have", "with", "has a", "contains", "containing"], "HasA"),
    **dict.fromkeys(["of", "part of", "belonging to"], "PartOf"),
    **dict.fromkeys(
        ["near", "next to", "beside", "by", "behind", "in front of", "above", "below", "under",
         "beneath", "on side of", "along", "against", "around", "over", "across"],
        "LocatedNear",
    ),
    "made of": "MadeOf",
}


def normalize_predicate(predicate: str) -> str:
    return " ".join(predicate.lower().split())


def object_names(obj: dict[str, Any]) -> list[str]:
    names = obj.get("names") or ([obj["name"]] if obj.get("name") else [])
    return [str(n) for n in names]


def object_concept(obj: dict[str, Any]) -> str | None:
    """`cup.n.01` -> `/c/en/cup`; without a synset the first name, standardised; else None."""
    for synset in obj.get("synsets") or ():
        lemma = str(synset).rsplit(".", 2)[0]
        if lemma and standardize_text(lemma):
            return concept_uri(lemma)
    for name in object_names(obj):
        if standardize_text(name):
            return concept_uri(name)
    return None


def _int(value: Any, default: int = 0) -> int:
    return int(value) if isinstance(value, int | float) else default


def _image_id(entry: dict[str, Any], path: Path, index: int) -> int:
    image_id = entry.get("image_id", entry.get("id"))
    if not isinstance(image_id, int) or isinstance(image_id, bool):
        raise InputFormatError(
            Errors.K008.format(path=path, problem=f"entry {index} has no integer image_id")
        )
    return image_id


@dataclass(slots=True)
class _ObjectRow:
    obj: ObjectInstance

    def encode(self) -> str:
        o = self.obj
        return json.dumps([o.object_id, o.image_id, o.name, o.concept, o.x, o.y, o.w, o.h,
                           list(o.synsets), list(o.attributes)], ensure_ascii=False)

    @staticmethod
    def decode(line: str) -> ObjectInstance:
        oid, iid, name, concept, x, y, w, h, synsets, attributes = json.loads(line)
        return ObjectInstance(oid, iid, name, concept, x, y, w, h, tuple(synsets), tuple(attributes))


class StagedVisualGenome:
    """Parsed Visual Genome, spilled to disk, ready to be written as one `GraphBatch`."""

    def __init__(self, workdir: Path) -> None:
        self._objects_path = workdir / "objects.jsonl"
        self._relations_path = workdir / "relations.jsonl"
        self._objects = self._objects_path.open("w", encoding="utf-8")
        self._relations = self._relations_path.open("w", encoding="utf-8")
        self.images: list[Image] = []
        self.image_ids: set[int] = set()
        self.concepts = ConceptStager()
        self.triples: Counter[tuple[str, str, str]] = Counter()
        self.predicates: dict[tuple[str, str, str], Counter[str]] = {}

    def add_image(self, image: Image) -> None:
        if image.image_id not in self.image_ids:
            self.image_ids.add(image.image_id)
            self.images.append(image)

    def add_object(self, obj: ObjectInstance) -> None:
        self.add_image(Image(image_id=obj.image_id))
        if obj.concept:
            term = obj.concept.rsplit("/", 1)[-1]
            self.concepts.add(Concept(uri=obj.concept, name=term.replace("_", " "), lang="en",
                                      source=SOURCE_VISUAL_GENOME))
        self._objects.write(_ObjectRow(obj).encode() + "\n")

    def add_relation(self, rel: ObjectRelation, head: str | None, tail: str | None) -> None:
        self._relations.write(json.dumps([rel.relationship_id, rel.subject_id, rel.object_id,
                                          rel.predicate, rel.image_id], ensure_ascii=False) + "\n")
        predicate = normalize_predicate(rel.predicate)
        if head and tail and head != tail and predicate:
            relation = PREDICATE_RELATIONS.get(predicate, "RelatedTo")
            self.triples[(relation, head, tail)] += 1
            self.predicates.setdefault((relation, head, tail), Counter())[predicate] += 1

    def finish(self) -> None:
        self._objects.close()
        self._relations.close()

    def _facts(self) -> Iterator[Fact]:
        for (relation, head, tail), count in sorted(self.triples.items()):
            predicate = self.predicates[(relation, head, tail)].most_common(1)[0][0]
            yield Fact(head=head, relation=relation, tail=tail, weight=float(count),
                       source=SOURCE_VISUAL_GENOME, dataset="/d/visual_genome",
                       edge_id=assertion_uri(relation, head, tail) + "#visual_genome",
                       predicate=predicate)

    def _read_objects(self) -> Iterator[ObjectInstance]:
        with self._objects_path.open(encoding="utf-8") as fh:
            for line in fh:
                yield _ObjectRow.decode(line)

    def _read_relations(self) -> Iterator[ObjectRelation]:
        with self._relations_path.open(encoding="utf-8") as fh:
            for line in fh:
                rid, sid, oid, predicate, iid = json.loads(line)
                yield ObjectRelation(rid, sid, oid, predicate, iid)

    def batch(self) -> GraphBatch:
        return GraphBatch(concepts=self.concepts, facts=self._facts(), images=self.images,
                          objects=self._read_objects(), object_relations=self._read_relations())


class ImageSink(Protocol):
    """Where `_stage_image` puts one image's rows: the staging files, or the columnar loader."""

    def add_object(self, obj: ObjectInstance) -> None: ...

    def add_relation(self, rel: ObjectRelation, head: str | None, tail: str | None) -> None: ...


def _instance(obj: dict[str, Any], image_id: int, attributes: list[str]) -> ObjectInstance:
    return ObjectInstance(
        object_id=int(obj["object_id"]), image_id=image_id,
        name=(object_names(obj) or [""])[0], concept=object_concept(obj),
        x=_int(obj.get("x")), y=_int(obj.get("y")), w=_int(obj.get("w")), h=_int(obj.get("h")),
        synsets=tuple(str(s) for s in obj.get("synsets") or ()),
        attributes=tuple(str(a) for a in attributes),
    )


# What malformed values raise while an entry is read (a string id, a missing key, null for a
# list, 1e400 for a coordinate); each becomes a K008 naming the file and the entry's line.
_ENTRY_ERRORS = (ValueError, TypeError, KeyError, OverflowError, AttributeError)


@dataclass(frozen=True, slots=True)
class _Where:
    """Where each part of one image's entry was read: `path:line` per file."""

    objects: str
    relationships: str


def _entry_error(where: str, image_id: int, e: Exception) -> InputFormatError:
    problem = f"missing field {e}" if isinstance(e, KeyError) else str(e)
    return InputFormatError(Errors.K008.format(path=where, problem=f"image {image_id}: {problem}"))


def _dicts(value: Any, field: str) -> list[dict[str, Any]]:
    """A list of JSON objects, as `objects` and `relationships` must be."""
    if not isinstance(value, list):
        raise TypeError(f"'{field}' must be a list, found {type(value).__name__}")
    for item in value:
        if not isinstance(item, dict):
            raise TypeError(f"'{field}' must hold JSON objects, found {item!r:.40}")
    return value


def _stage_image(
    staged: ImageSink,
    image_id: int,
    entries: tuple[Any, Any],
    attributes: dict[int, list[str]],
    report: LoadReport,
    where: _Where,
) -> None:
    """Stage one image; `entries` holds its raw `objects` and `relationships` values."""
    try:
        concepts = _stage_objects(staged, image_id, _dicts(entries[0], "objects"), attributes,
                                  report)
    except _ENTRY_ERRORS as e:
        raise _entry_error(where.objects, image_id, e) from None
    try:
        _stage_relationships(staged, image_id, _dicts(entries[1], "relationships"), concepts,
                             report)
    except _ENTRY_ERRORS as e:
        raise _entry_error(where.relationships, image_id, e) from None


def _stage_objects(
    staged: ImageSink,
    image_id: int,
    objects: list[dict[str, Any]],
    attributes: dict[int, list[str]],
    report: LoadReport,
) -> dict[int, str | None]:
    concepts: dict[int, str | None] = {}
    for obj in objects:
        if "object_id" not in obj:
            report.skip("object_without_id")
            continue
        oid = int(obj["object_id"])
        if oid in concepts:
            continue
        inst = _instance(obj, image_id, attributes.get(oid) or obj.get("attributes") or [])
        concepts[oid] = inst.concept
        if inst.concept is None:
            report.skip("object_without_name")
        staged.add_object(inst)
    return concepts


def _stage_relationships(
    staged: ImageSink,
    image_id: int,
    relationships: list[dict[str, Any]],
    concepts: dict[int, str | None],
    report: LoadReport,
) -> None:
    for rel in relationships:
        ends = []
        for role in ("subject", "object"):
            end = rel.get(role)
            oid = end.get("object_id") if isinstance(end, dict) else rel.get(f"{role}_id")
            if oid is None:
                break
            if oid not in concepts and isinstance(end, dict):
                inst = _instance(end, image_id, end.get("attributes") or [])
                concepts[oid] = inst.concept
                staged.add_object(inst)
                report.skip("object_recovered_from_relationship")
            ends.append(oid)
        if len(ends) != 2 or any(e not in concepts for e in ends):
            report.skip("relationship_missing_object")
            continue
        staged.add_relation(
            ObjectRelation(int(rel["relationship_id"]), ends[0], ends[1],
                           str(rel.get("predicate", "")), image_id),
            concepts[ends[0]], concepts[ends[1]],
        )
        report.facts_parsed += 1


def _aligned(readers: dict[str, JsonArrayReader]) -> Iterator[tuple[int, dict[str, dict[str, Any]]]]:
    """Walk files that list the same images in the same order; a mismatch is an error."""
    iterators = {name: iter(r) for name, r in readers.items()}
    index = 0
    while True:
        entries = {name: next(it, None) for name, it in iterators.items()}
        if all(e is None for e in entries.values()):
            return
        ids = {name: (_image_id(e, readers[name].path, index) if e is not None else None)
               for name, e in entries.items()}
        if len(set(ids.values())) != 1:
            detail = ", ".join(f"{n}: {i}" for n, i in ids.items())
            path = next(iter(readers.values())).path.parent
            raise InputFormatError(Errors.K008.format(
                path=path, problem=f"files disagree on image {index} ({detail})"))
        yield ids[next(iter(ids))], entries  # type: ignore[misc]
        index += 1


def _image(entry: dict[str, Any], path: Path, index: int) -> Image:
    def opt(key: str) -> int | None:
        value = entry.get(key)
        return int(value) if isinstance(value, int) else None

    return Image(image_id=_image_id(entry, path, index), url=str(entry.get("url") or ""),
                 width=_int(entry.get("width")), height=_int(entry.get("height")),
                 coco_id=opt("coco_id"), flickr_id=opt("flickr_id"))


@contextmanager
def stage_visual_genome(
    directory: Path, *, report: LoadReport, on_progress: ProgressFn | None = None
) -> Iterator[StagedVisualGenome]:
    """Parse a Visual Genome directory completely (errors surface here), then yield it staged."""
    if not directory.is_dir():
        raise InputFormatError(Errors.K002.format(path=directory))
    image_data = directory / "image_data.json"
    with tempfile.TemporaryDirectory(prefix="kgprune-vg-") as tmp:
        staged = StagedVisualGenome(Path(tmp))
        for index, entry in enumerate(JsonArrayReader(image_data)):
            staged.add_image(_image(entry, image_data, index))
        if (directory / "objects.json").is_file():
            _stage_split_files(staged, directory, report, on_progress)
        elif (directory / "scene_graphs.json").is_file():
            _stage_scene_graphs(staged, directory, report, on_progress)
        else:
            raise InputFormatError(Errors.K002.format(
                path=f"{directory / 'objects.json'} (or scene_graphs.json)"))
        staged.finish()
        yield staged


def _report_progress(reader: JsonArrayReader, on_progress: ProgressFn | None) -> None:
    if on_progress is not None:
        on_progress(reader.bytes_read, reader.path.stat().st_size)


def _stage_split_files(
    staged: StagedVisualGenome, directory: Path, report: LoadReport,
    on_progress: ProgressFn | None,
) -> None:
    readers = {"objects": JsonArrayReader(directory / "objects.json")}
    for optional in ("attributes", "relationships"):
        if (directory / f"{optional}.json").is_file():
            readers[optional] = JsonArrayReader(directory / f"{optional}.json")
    for image_id, entries in _aligned(readers):
        where = {name: f"{r.path}:{r.element_line}" for name, r in readers.items()}
        try:
            attributes = _attributes(entries.get("attributes") or {})
        except _ENTRY_ERRORS as e:
            raise _entry_error(where["attributes"], image_id, e) from None
        report.lines_read += 1
        _stage_image(staged, image_id,
                     (entries["objects"].get("objects", []),
                      (entries.get("relationships") or {}).get("relationships", [])),
                     attributes, report,
                     _Where(where["objects"], where.get("relationships", where["objects"])))
        _report_progress(readers["objects"], on_progress)


def _attributes(entry: dict[str, Any]) -> dict[int, list[str]]:
    attributes: dict[int, list[str]] = {}
    for a in _dicts(entry.get("attributes", []), "attributes"):
        if "object_id" in a:
            attributes[int(a["object_id"])] = list(a.get("attributes") or [])
    return attributes


def _stage_scene_graphs(
    staged: StagedVisualGenome, directory: Path, report: LoadReport,
    on_progress: ProgressFn | None,
) -> None:
    reader = JsonArrayReader(directory / "scene_graphs.json")
    for index, entry in enumerate(reader):
        image_id = _image_id(entry, reader.path, index)
        report.lines_read += 1
        where = f"{reader.path}:{reader.element_line}"
        _stage_image(staged, image_id, (entry.get("objects", []), entry.get("relationships", [])),
                     {}, report, _Where(where, where))
        _report_progress(reader, on_progress)
