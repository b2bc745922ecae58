"""Every Cypher statement the Neo4j 5 backend runs, each a named constant or a small builder.

Values always go in as `$params`. Labels and relationship types cannot be parameters, so the few
that are spliced in come from fixed allow-lists (the relation vocabulary via `neo4j_type`, the
source labels below) and are backtick-quoted. Facts are one relationship type per relation, so the
Browser reads `(:Concept)-[:UsedFor]->(:Concept)`; fact reads filter `type(r) IN $rel_types` so
scene-graph edges (`IN_IMAGE`, `INSTANCE_OF`, `PREDICATE`) never pass for facts.
"""

from __future__ import annotations

from kgprune.kg.records import SOURCE_CONCEPTNET, SOURCE_VISUAL_GENOME
from kgprune.kg.relations import ALL_RELATIONS, neo4j_type

CONCEPT = "Concept"
IMAGE = "Image"
OBJECT = "Object"
META = "Meta"
IN_IMAGE = "IN_IMAGE"
INSTANCE_OF = "INSTANCE_OF"
PREDICATE = "PREDICATE"
VERSION_KEY = "version"

# A second label per concept source, so the Browser style sheet can colour concepts by origin.
SOURCE_LABELS: dict[str, str] = {
    SOURCE_CONCEPTNET: "ConceptNet",
    SOURCE_VISUAL_GENOME: "VisualGenome",
}


def quote(identifier: str) -> str:
    """Backtick-quote a label, type or schema name (a backtick inside is doubled)."""
    return "`" + identifier.replace("`", "``") + "`"


# -- schema -------------------------------------------------------------------------------------

CREATE_CONCEPT_URI_CONSTRAINT = (
    "CREATE CONSTRAINT `concept_uri` IF NOT EXISTS FOR (c:`Concept`) REQUIRE c.uri IS UNIQUE"
)
CREATE_IMAGE_ID_CONSTRAINT = (
    "CREATE CONSTRAINT `image_id` IF NOT EXISTS FOR (i:`Image`) REQUIRE i.image_id IS UNIQUE"
)
CREATE_OBJECT_ID_CONSTRAINT = (
    "CREATE CONSTRAINT `object_id` IF NOT EXISTS FOR (o:`Object`) REQUIRE o.object_id IS UNIQUE"
)
CREATE_META_KEY_CONSTRAINT = (
    "CREATE CONSTRAINT `meta_key` IF NOT EXISTS FOR (m:`Meta`) REQUIRE m.key IS UNIQUE"
)


def create_edge_id_index(relation: str) -> str:
    """Neo4j 5 relationship property indexes are per type: one `edge_id` index per relation."""
    rel_type = neo4j_type(relation)
    return (
        f"CREATE INDEX {quote(f'fact_{rel_type}_edge_id')} IF NOT EXISTS "
        f"FOR ()-[r:{quote(rel_type)}]-() ON (r.edge_id)"
    )


# -- writes: `UNWIND $rows`, MERGE on constrained keys, properties only ON CREATE ----------------


def merge_concepts(source: str) -> str:
    """Concepts of one source; a known source also gets its label (`:Concept:ConceptNet`)."""
    label = SOURCE_LABELS.get(source)
    extra = f", c:{quote(label)}" if label else ""
    return (
        "UNWIND $rows AS row "
        "MERGE (c:`Concept` {uri: row.uri}) "
        "ON CREATE SET c.name = row.name, c.lang = row.lang, c.pos = row.pos, "
        f"c.source = row.source, c.cov = row.cov{extra}"
    )


def merge_facts(relation: str) -> str:
    """Facts of one relation; rows whose ends are not stored concepts are dropped by the MATCH."""
    return (
        "UNWIND $rows AS row "
        "MATCH (h:`Concept` {uri: row.head}) "
        "MATCH (t:`Concept` {uri: row.tail}) "
        f"MERGE (h)-[r:{quote(neo4j_type(relation))} {{edge_id: row.edge_id}}]->(t) "
        "ON CREATE SET r.weight = row.weight, r.source = row.source, r.dataset = row.dataset, "
        "r.surface_text = row.surface_text, r.contributors = row.contributors, "
        "r.predicate = row.predicate, r.cov = row.cov"
    )


MERGE_IMAGES = (
    "UNWIND $rows AS row "
    "MERGE (i:`Image` {image_id: row.image_id}) "
    "ON CREATE SET i.url = row.url, i.width = row.width, i.height = row.height, "
    "i.coco_id = row.coco_id, i.flickr_id = row.flickr_id"
)
MERGE_OBJECTS = (
    "UNWIND $rows AS row "
    "MERGE (o:`Object` {object_id: row.object_id}) "
    "ON CREATE SET o.image_id = row.image_id, o.name = row.name, o.synsets = row.synsets, "
    "o.attributes = row.attributes, o.x = row.x, o.y = row.y, o.w = row.w, o.h = row.h"
)
LINK_OBJECTS_TO_IMAGES = (
    "UNWIND $rows AS row "
    "MATCH (o:`Object` {object_id: row.object_id}) "
    "MATCH (i:`Image` {image_id: row.image_id}) "
    "MERGE (o)-[:`IN_IMAGE`]->(i)"
)
LINK_OBJECTS_TO_CONCEPTS = (
    "UNWIND $rows AS row "
    "MATCH (o:`Object` {object_id: row.object_id}) "
    "MATCH (c:`Concept` {uri: row.concept}) "
    "MERGE (o)-[:`INSTANCE_OF`]->(c)"
)
MERGE_OBJECT_RELATIONS = (
    "UNWIND $rows AS row "
    "MATCH (s:`Object` {object_id: row.subject_id}) "
    "MATCH (o:`Object` {object_id: row.object_id}) "
    "MERGE (s)-[p:`PREDICATE` {relationship_id: row.relationship_id}]->(o) "
    "ON CREATE SET p.predicate = row.predicate"
)
SET_META = "MERGE (m:`Meta` {key: $key}) SET m.value = $value"

# -- reads --------------------------------------------------------------------------------------

GET_META = "MATCH (m:`Meta` {key: $key}) RETURN m.value AS value"

# The coverage-view predicate (see kgprune/kg/sampling.py ViewFilter); `rel_levels` is keyed by type.
_ROT = "((r.cov + $cov_shift) % 1.0)"
_IS_FACT_IN_VIEW = (
    f"type(r) IN $rel_types AND {_ROT} < $fact_level AND {_ROT} < $rel_levels[type(r)] "
    "AND ((startNode(r).cov + $cov_shift) % 1.0) < $concept_level "
    "AND ((endNode(r).cov + $cov_shift) % 1.0) < $concept_level "
    "AND ($source = '' OR r.source = $source) "
    "AND ($every_edge OR r.edge_id IN $edge_ids)"
)
_FACT_COLUMNS = (
    "RETURN startNode(r).uri AS head, type(r) AS rel_type, endNode(r).uri AS tail, "
    "r.weight AS weight, r.source AS source, r.dataset AS dataset, r.edge_id AS edge_id, "
    "r.surface_text AS surface_text, r.contributors AS contributors, r.predicate AS predicate"
)
_BEST_FIRST = "ORDER BY r.weight DESC, r.edge_id ASC LIMIT $limit"
_CONCEPT_COLUMNS = (
    "RETURN c.uri AS uri, c.name AS name, c.lang AS lang, c.pos AS pos, c.source AS source"
)
_HAS_FACT_IN_VIEW = f"EXISTS {{ MATCH (c)-[r]-(:`Concept`) WHERE {_IS_FACT_IN_VIEW} }}"

# DISTINCT: an undirected pattern may meet a self-loop twice.
NEIGHBORS = (
    "MATCH (:`Concept` {uri: $uri})-[r]-(:`Concept`) "
    f"WHERE {_IS_FACT_IN_VIEW} "
    f"WITH DISTINCT r {_BEST_FIRST} {_FACT_COLUMNS}"
)
NEIGHBORS_SECOND_HOP = (
    "MATCH (n:`Concept`)-[r]-(:`Concept`) "
    f"WHERE n.uri IN $uris AND NOT r.edge_id IN $exclude AND {_IS_FACT_IN_VIEW} "
    f"WITH DISTINCT r {_BEST_FIRST} {_FACT_COLUMNS}"
)
FACTS_AMONG = (
    "MATCH (h:`Concept`)-[r]->(t:`Concept`) "
    f"WHERE h.uri IN $uris AND t.uri IN $uris AND {_IS_FACT_IN_VIEW} "
    f"WITH r {_BEST_FIRST} {_FACT_COLUMNS}"
)
SAMPLE_FACTS = (
    "MATCH (:`Concept`)-[r]->(:`Concept`) "
    f"WHERE {_IS_FACT_IN_VIEW} "
    f"WITH r {_BEST_FIRST} {_FACT_COLUMNS}"
)
ALL_FACTS = f"MATCH (:`Concept`)-[r]->(:`Concept`) WHERE type(r) IN $rel_types {_FACT_COLUMNS}"
GET_CONCEPTS = f"MATCH (c:`Concept`) WHERE c.uri IN $uris {_CONCEPT_COLUMNS}"
# Keyset pagination on the unique `uri` index: each page starts after the last uri seen.
ITER_CONCEPTS = (
    "MATCH (c:`Concept`) WHERE c.uri > $after "
    f"{_CONCEPT_COLUMNS} ORDER BY c.uri LIMIT $batch_size"
)
# In a partial view a concept is present when it ends at least one fact of the view.
ITER_CONCEPTS_IN_VIEW = (
    f"MATCH (c:`Concept`) WHERE c.uri > $after AND {_HAS_FACT_IN_VIEW} "
    f"{_CONCEPT_COLUMNS} ORDER BY c.uri LIMIT $batch_size"
)
COUNT_NODES = (
    "RETURN COUNT { (:`Concept`) } AS concepts, COUNT { (:`Image`) } AS images, "
    "COUNT { (:`Object`) } AS objects, "
    "COUNT { (:`Object`)-[:`PREDICATE`]->(:`Object`) } AS object_relations"
)
COUNT_CONCEPTS_IN_VIEW = (
    f"MATCH (c:`Concept`) WHERE {_HAS_FACT_IN_VIEW} RETURN count(c) AS concepts"
)
COUNT_FACTS = (
    "MATCH (:`Concept`)-[r]->(:`Concept`) "
    f"WHERE {_IS_FACT_IN_VIEW} "
    "RETURN type(r) AS rel_type, r.source AS source, count(r) AS facts"
)

READ_STATEMENTS: dict[str, str] = {
    "GET_META": GET_META,
    "NEIGHBORS": NEIGHBORS,
    "NEIGHBORS_SECOND_HOP": NEIGHBORS_SECOND_HOP,
    "FACTS_AMONG": FACTS_AMONG,
    "SAMPLE_FACTS": SAMPLE_FACTS,
    "ALL_FACTS": ALL_FACTS,
    "GET_CONCEPTS": GET_CONCEPTS,
    "ITER_CONCEPTS": ITER_CONCEPTS,
    "ITER_CONCEPTS_IN_VIEW": ITER_CONCEPTS_IN_VIEW,
    "COUNT_NODES": COUNT_NODES,
    "COUNT_CONCEPTS_IN_VIEW": COUNT_CONCEPTS_IN_VIEW,
    "COUNT_FACTS": COUNT_FACTS,
}
# -- which relations the units of a pruned model serve -------------------------------------------

RELATION = "Relation"
UNIT = "ModelUnit"
SERVED_BY = "SERVED_BY"
MERGE_UNIT_SCORES = (
    "UNWIND $rows AS row "
    "MERGE (rel:`Relation` {name: row.relation}) "
    "MERGE (u:`ModelUnit` {uid: row.uid}) "
    "SET u.run = row.run, u.group = row.group, u.index = row.index, u.kind = row.kind, "
    "u.tower = row.tower, u.layer = row.layer, u.kept = row.kept "
    "MERGE (rel)-[s:`SERVED_BY` {run: row.run}]->(u) "
    "SET s.score = row.score, s.rank = row.rank, s.criterion = row.criterion"
)
DELETE_RUN_UNIT_SCORES = (
    "MATCH (u:`ModelUnit` {run: $run}) DETACH DELETE u"
)

WRITE_STATEMENTS: dict[str, str] = {
    "MERGE_UNIT_SCORES": MERGE_UNIT_SCORES,
    "DELETE_RUN_UNIT_SCORES": DELETE_RUN_UNIT_SCORES,
    "MERGE_IMAGES": MERGE_IMAGES,
    "MERGE_OBJECTS": MERGE_OBJECTS,
    "LINK_OBJECTS_TO_IMAGES": LINK_OBJECTS_TO_IMAGES,
    "LINK_OBJECTS_TO_CONCEPTS": LINK_OBJECTS_TO_CONCEPTS,
    "MERGE_OBJECT_RELATIONS": MERGE_OBJECT_RELATIONS,
    "SET_META": SET_META,
}
CREATE_UNIT_UID_CONSTRAINT = (
    "CREATE CONSTRAINT `model_unit_uid` IF NOT EXISTS FOR (u:`ModelUnit`) REQUIRE u.uid IS UNIQUE"
)
CREATE_RELATION_NAME_CONSTRAINT = (
    "CREATE CONSTRAINT `relation_name` IF NOT EXISTS FOR (r:`Relation`) REQUIRE r.name IS UNIQUE"
)
SCHEMA_STATEMENTS: dict[str, str] = {
    "CREATE_UNIT_UID_CONSTRAINT": CREATE_UNIT_UID_CONSTRAINT,
    "CREATE_RELATION_NAME_CONSTRAINT": CREATE_RELATION_NAME_CONSTRAINT,
    "CREATE_CONCEPT_URI_CONSTRAINT": CREATE_CONCEPT_URI_CONSTRAINT,
    "CREATE_IMAGE_ID_CONSTRAINT": CREATE_IMAGE_ID_CONSTRAINT,
    "CREATE_OBJECT_ID_CONSTRAINT": CREATE_OBJECT_ID_CONSTRAINT,
    "CREATE_META_KEY_CONSTRAINT": CREATE_META_KEY_CONSTRAINT,
}


def _built_statements() -> dict[str, str]:
    built = {f"merge_concepts[{s}]": merge_concepts(s) for s in SOURCE_LABELS}
    built["merge_concepts[<other source>]"] = merge_concepts("")
    for relation in ALL_RELATIONS:
        built[f"merge_facts[{relation}]"] = merge_facts(relation)
        built[f"create_edge_id_index[{relation}]"] = create_edge_id_index(relation)
    return built


# Every statement this backend can run, builders expanded, for the Cypher lint test.
ALL_STATEMENTS: dict[str, str] = {
    **SCHEMA_STATEMENTS, **WRITE_STATEMENTS, **READ_STATEMENTS, **_built_statements()
}
