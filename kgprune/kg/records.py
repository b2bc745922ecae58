"""Typed records that flow from the loaders into a graph store and back out of it."""

from __future__ import annotations

from dataclasses import dataclass, field

SOURCE_CONCEPTNET = "conceptnet"
SOURCE_VISUAL_GENOME = "visual_genome"


@dataclass(frozen=True, slots=True)
class Concept:
    """A term-level concept; `pos` lists every part of speech seen on its sense-tagged URIs."""

    uri: str
    name: str
    lang: str
    pos: str = ""
    source: str = SOURCE_CONCEPTNET


@dataclass(frozen=True, slots=True)
class Fact:
    """One directed assertion `head -relation-> tail`, keyed by `edge_id`."""

    head: str
    relation: str
    tail: str
    weight: float
    source: str
    dataset: str
    edge_id: str
    surface_text: str = ""
    contributors: tuple[str, ...] = ()
    predicate: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity used for merging duplicates: the same triple from the same source."""
        return (self.relation, self.head, self.tail, self.source)


def assertion_uri(relation: str, head: str, tail: str) -> str:
    """The ConceptNet assertion URI of a term-level triple: the identity of a ConceptNet fact."""
    return f"/a/[/r/{relation}/,{head}/,{tail}/]"


@dataclass(frozen=True, slots=True)
class Image:
    image_id: int
    url: str = ""
    width: int = 0
    height: int = 0
    coco_id: int | None = None
    flickr_id: int | None = None


@dataclass(frozen=True, slots=True)
class ObjectInstance:
    """An object box in one image, linked to its concept when a synset or name gives one."""

    object_id: int
    image_id: int
    name: str
    concept: str | None
    x: int
    y: int
    w: int
    h: int
    synsets: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ObjectRelation:
    """A Visual Genome relationship between two object instances of one image."""

    relationship_id: int
    subject_id: int
    object_id: int
    predicate: str
    image_id: int


@dataclass(slots=True)
class LoadReport:
    """What a load read, skipped and wrote; printed by the CLI and returned to callers."""

    source: str
    path: str
    lines_read: int = 0
    facts_parsed: int = 0
    duplicates_merged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    bad_lines: list[str] = field(default_factory=list)
    concepts_added: int = 0
    facts_added: int = 0
    images_added: int = 0
    objects_added: int = 0
    object_relations_added: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
