"""The ConceptNet 5.7 relation vocabulary: the only relation names kgprune writes to a store.

Neo4j relationship types cannot be query parameters, so every type that reaches Cypher comes from
this fixed list (`neo4j_type`), never from input text.
"""

from __future__ import annotations

from kgprune.errors import ConfigError, Errors

CORE_RELATIONS: tuple[str, ...] = (
    "Antonym", "AtLocation", "CapableOf", "Causes", "CausesDesire", "CreatedBy", "DefinedAs",
    "DerivedFrom", "Desires", "DistinctFrom", "Entails", "EtymologicallyDerivedFrom",
    "EtymologicallyRelatedTo", "ExternalURL", "FormOf", "HasA", "HasContext", "HasFirstSubevent",
    "HasLastSubevent", "HasPrerequisite", "HasProperty", "HasSubevent", "InstanceOf", "IsA",
    "LocatedNear", "MadeOf", "MannerOf", "MotivatedByGoal", "NotCapableOf", "NotDesires",
    "NotHasProperty", "NotUsedFor", "ObstructedBy", "PartOf", "ReceivesAction", "RelatedTo",
    "SimilarTo", "SymbolOf", "Synonym", "UsedFor",
)
DBPEDIA_RELATIONS: tuple[str, ...] = tuple(
    f"dbpedia/{name}"
    for name in (
        "capital", "field", "genre", "genus", "influencedBy", "knownFor", "language", "leader",
        "occupation", "product",
    )
)
ALL_RELATIONS: tuple[str, ...] = CORE_RELATIONS + DBPEDIA_RELATIONS

SYMMETRIC_RELATIONS: frozenset[str] = frozenset(
    {"RelatedTo", "SimilarTo", "EtymologicallyRelatedTo", "Synonym", "Antonym", "DistinctFrom"}
)
NEGATIVE_RELATIONS: frozenset[str] = frozenset(
    {name for name in CORE_RELATIONS if name.startswith("Not")} | {"Antonym", "DistinctFrom"}
)
OPPOSITES: dict[str, str] = {
    "NotDesires": "Desires", "NotUsedFor": "UsedFor", "NotCapableOf": "CapableOf",
    "NotHasProperty": "HasProperty", "Antonym": "Synonym", "ObstructedBy": "HasPrerequisite",
}
OPPOSITES.update({v: k for k, v in list(OPPOSITES.items())})

_BY_NEO4J_TYPE = {name.replace("/", "_"): name for name in ALL_RELATIONS}


def is_symmetric(relation: str) -> bool:
    return relation in SYMMETRIC_RELATIONS


def relation_from_uri(uri: str) -> str:
    """`/r/UsedFor` -> `UsedFor`; `/r/dbpedia/genre` -> `dbpedia/genre`; unknown names raise."""
    name = uri[3:] if uri.startswith("/r/") else uri
    return check_relation(name)


def check_relation(name: str) -> str:
    if name not in _BY_NEO4J_TYPE.values():
        raise ConfigError(Errors.K009.format(name=name, known=", ".join(ALL_RELATIONS)))
    return name


def neo4j_type(relation: str) -> str:
    """The Neo4j relationship type for a relation: `dbpedia/genre` -> `dbpedia_genre`."""
    return check_relation(relation).replace("/", "_")


def relation_from_neo4j_type(rel_type: str) -> str:
    return _BY_NEO4J_TYPE[rel_type]
