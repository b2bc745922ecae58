"""Every statement the embedded LadybugDB backend runs (LadybugDB's schema-first Cypher dialect).

Facts live in one relationship table `FACT` with the relation name as a property, because the
dialect needs a table per relationship type and the vocabulary has 50. A fact's text provenance
(dataset, surface text, contributors) lives in the node table `Provenance`, keyed by the fact's
`key`: every string column of `FACT` is paid for twice in a bulk `COPY` (LadybugDB stores a
relationship in both directions), and narrow `FACT` rows let a 3.4M-fact dump go in one `COPY`
(README, issue 13). Values are always `$params`; the only text spliced in is a CSV path the backend
itself created.
"""

from __future__ import annotations

from functools import lru_cache

from kgprune.kg.records import SOURCE_CONCEPTNET

SCHEMA_VERSION = "2"

SCHEMA: tuple[str, ...] = (
    "CREATE NODE TABLE IF NOT EXISTS Concept(uri STRING PRIMARY KEY, name STRING, lang STRING, "
    "pos STRING, source STRING, cov DOUBLE)",
    "CREATE NODE TABLE IF NOT EXISTS Image(image_id INT64 PRIMARY KEY, url STRING, width INT64, "
    "height INT64, coco_id INT64, flickr_id INT64)",
    "CREATE NODE TABLE IF NOT EXISTS Object(object_id INT64 PRIMARY KEY, image_id INT64, "
    "name STRING, synsets STRING[], attributes STRING[], x INT64, y INT64, w INT64, h INT64)",
    "CREATE NODE TABLE IF NOT EXISTS Meta(key STRING PRIMARY KEY, value STRING)",
    "CREATE REL TABLE IF NOT EXISTS FACT(FROM Concept TO Concept, relation STRING, "
    "weight DOUBLE, source STRING, edge_id STRING, predicate STRING, key INT64)",
    "CREATE NODE TABLE IF NOT EXISTS Provenance(key INT64 PRIMARY KEY, dataset STRING, "
    "surface_text STRING, contributors STRING)",
    "CREATE REL TABLE IF NOT EXISTS IN_IMAGE(FROM Object TO Image)",
    "CREATE REL TABLE IF NOT EXISTS INSTANCE_OF(FROM Object TO Concept)",
    "CREATE REL TABLE IF NOT EXISTS PREDICATE(FROM Object TO Object, relationship_id INT64, "
    "predicate STRING)",
)

TABLES = ("Concept", "Image", "Object", "Meta", "FACT", "Provenance", "IN_IMAGE", "INSTANCE_OF",
          "PREDICATE")
SHOW_TABLES = "CALL show_tables() RETURN name"

# Column order of the CSV and Parquet files handed to COPY FROM; must match the table definitions above.
CONCEPT_COLUMNS = ("uri", "name", "lang", "pos", "source", "cov")
FACT_COLUMNS = ("from", "to", "relation", "weight", "source", "edge_id", "predicate", "key")
PROVENANCE_COLUMNS = ("key", "dataset", "surface_text", "contributors")
IMAGE_COLUMNS = ("image_id", "url", "width", "height", "coco_id", "flickr_id")
OBJECT_COLUMNS = ("object_id", "image_id", "name", "synsets", "attributes", "x", "y", "w", "h")
IN_IMAGE_COLUMNS = ("from", "to")
INSTANCE_OF_COLUMNS = ("from", "to")
PREDICATE_COLUMNS = ("from", "to", "relationship_id", "predicate")


def _quoted_path(path: str) -> str:
    """COPY takes no parameter for its path, so the path (one kgprune created) is quoted."""
    return "'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _check_table(table: str) -> str:
    if table not in TABLES or table == "Meta":
        raise ValueError(f"not a kgprune data table: {table}")
    return table


def copy_from(table: str, csv_path: str, *, parallel: bool) -> str:
    """`COPY <table> FROM '<csv>'`. The parallel CSV reader is faster but cannot read quoted line
    breaks, so files that hold any are read serially.
    """
    options = f"HEADER=true, DELIM=',', QUOTE='\"', ESCAPE='\"', PARALLEL={str(parallel).lower()}"
    return f"COPY {_check_table(table)} FROM {_quoted_path(csv_path)} ({options})"


def copy_from_parquet(table: str, parquet_path: str) -> str:
    return f"COPY {_check_table(table)} FROM {_quoted_path(parquet_path)}"


def copy_to(query: str, parquet_path: str) -> str:
    """Export a query's rows (`EXPORT_*` below) to a Parquet file."""
    if query not in (EXPORT_CONCEPT_URIS, EXPORT_FACT_KEYS):
        raise ValueError("only the key exports are written to files")
    return f"COPY ({query}) TO {_quoted_path(parquet_path)}"


EXISTING_CONCEPT_URIS = "MATCH (c:Concept) RETURN c.uri"
EXISTING_FACT_KEYS = "MATCH ()-[f:FACT]->() RETURN f.key"
EXISTING_IMAGE_IDS = "MATCH (i:Image) RETURN i.image_id"
EXISTING_OBJECT_IDS = "MATCH (o:Object) RETURN o.object_id"
EXISTING_PREDICATE_IDS = "MATCH ()-[p:PREDICATE]->() RETURN p.relationship_id"
EXPORT_CONCEPT_URIS = "MATCH (c:Concept) RETURN c.uri AS uri"
EXPORT_FACT_KEYS = "MATCH ()-[f:FACT]->() RETURN f.key AS key"

# A schema-1 store (provenance and `cov` on the `FACT` rows) becomes schema 2, inside a build.
FACT_PROPERTIES = "CALL table_info('FACT') RETURN name"
MIGRATE_1_TO_2: tuple[str, ...] = (
    "COPY Provenance FROM (MATCH ()-[f:FACT]->() WHERE f.dataset <> '' OR f.surface_text <> '' "
    "OR (f.contributors <> '' AND f.contributors <> '[]') "
    "RETURN f.key, f.dataset, f.surface_text, f.contributors)",
    "ALTER TABLE FACT DROP dataset",
    "ALTER TABLE FACT DROP surface_text",
    "ALTER TABLE FACT DROP contributors",
    "ALTER TABLE FACT DROP cov",
)

SET_META = "MERGE (m:Meta {key: $key}) SET m.value = $value"
GET_META = "MATCH (m:Meta {key: $key}) RETURN m.value"

# A ConceptNet fact's edge id is its assertion URI, spelled from its triple: bulk loads store NULL
# for it (a stored id cost a third of the `COPY` of a million facts), and the id itself otherwise.
# Reads that compare or order by the id spell it here; the fact reader spells it in Python.
EDGE_ID = "coalesce(f.edge_id, '/a/[/r/' + f.relation + '/,' + h.uri + '/,' + t.uri + '/]')"
# Likewise its source: NULL in bulk loads (the constant string cost 0.6 s per 10^6 facts copied),
# and a bulk-loaded concept's.
SOURCE = f"coalesce(f.source, '{SOURCE_CONCEPTNET}')"
_CONCEPT_RETURN = f"RETURN c.uri, c.name, c.lang, c.pos, coalesce(c.source, '{SOURCE_CONCEPTNET}')"

# A fact's `cov` (`stable_unit` of its edge id) is the top 53 bits of its `key` (`stable_hash64`,
# the same digest) over 2^53, bit for bit: computed, not stored, it saves a column of the `COPY`.
FACT_COV = "(CAST((f.key >> 11) & 9007199254740991 AS DOUBLE) / 9007199254740992.0)"

# A fact read binds h, f, t. The coverage view (see kgprune/kg/sampling.py ViewFilter) adds only
# the clauses it needs, so the full graph is read without any: each unused clause costs time per row.
_ROT = f"(({FACT_COV} + $cov_shift) % 1.0)"
VIEW_CLAUSES: dict[str, str] = {
    "fact": f"{_ROT} < $fact_level",
    "relation": f"{_ROT} < list_extract($rel_levels, list_position($rel_names, f.relation))",
    "concept": "((h.cov + $cov_shift) % 1.0) < $concept_level "
               "AND ((t.cov + $cov_shift) % 1.0) < $concept_level",
    "source": f"{SOURCE} = $source",
    "edges": f"{EDGE_ID} IN $edge_ids",
}
ViewParts = frozenset[str]

_MATCH_FACT = "MATCH (h:Concept)-[f:FACT]->(t:Concept)"
# Where the read starts: one concept as head or tail, a set of concepts, or the whole graph.
ANCHORS: dict[str, tuple[str, str]] = {
    "head": ("MATCH (h:Concept {uri: $uri})-[f:FACT]->(t:Concept)", ""),
    "tail": ("MATCH (h:Concept)-[f:FACT]->(t:Concept {uri: $uri})", ""),
    # UNWIND + a key lookup per uri: `c.uri IN $uris` alone scans the whole table.
    "among": ("UNWIND $uris AS u MATCH (h:Concept {uri: u})-[f:FACT]->(t:Concept)",
              "t.uri IN $uris"),
    "all": (_MATCH_FACT, ""),
    # Second hop: facts of the neighbours $uris of $uri. Walking out from $uri lets the planner
    # start at one indexed node instead of testing every fact against the list.
    "via_head": ("MATCH (s:Concept {uri: $uri})-[:FACT]-(h:Concept)-[f:FACT]->(t:Concept)",
                 "h.uri IN $uris"),
    "via_tail": ("MATCH (s:Concept {uri: $uri})-[:FACT]-(t:Concept)<-[f:FACT]-(h:Concept)",
                 "t.uri IN $uris"),
}
_FACT_RETURN = f"RETURN h.uri, f.relation, t.uri, f.weight, {SOURCE}, f.edge_id, f.predicate, f.key"
# The provenance of the facts a read returned: one key lookup each (a join in the fact query cost
# 4-5x the query itself; this lookup about 1x).
PROVENANCE_TEXTS = "p.dataset, p.surface_text, p.contributors"
GET_PROVENANCE = (
    f"UNWIND $keys AS k MATCH (p:Provenance {{key: k}}) RETURN p.key, {PROVENANCE_TEXTS}"
)
# Every fact with its provenance, joined in one pass: key lookups cost 14 us a fact over the whole
# graph, 5x the scan itself; the join about 2.3x (1M facts: 17-19 s, 7.1-7.4 s, 3.2 s).
ALL_FACTS_WITH_PROVENANCE = (
    f"{_MATCH_FACT} OPTIONAL MATCH (p:Provenance {{key: f.key}}) {_FACT_RETURN}, {PROVENANCE_TEXTS}"
)


def _where(condition: str, parts: ViewParts) -> str:
    clauses = ([condition] if condition else []) + [VIEW_CLAUSES[p] for p in sorted(parts)]
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


@lru_cache(maxsize=256)
def fact_query(anchor: str, *, relations: bool, parts: ViewParts, limit: int | None) -> str:
    """Facts best first. `limit` is an int spliced in: LIMIT as a parameter costs ~0.6 ms a query."""
    match, condition = ANCHORS[anchor]
    if relations:
        condition = " AND ".join(c for c in (condition, "f.relation IN $relations") if c)
    order = "" if limit is None else (
        f" ORDER BY f.weight DESC, {EDGE_ID} ASC LIMIT {int(limit)}")
    distinct = " WITH DISTINCT h, f, t" if anchor.startswith("via_") else ""
    return f"{match} {_where(condition, parts)}{distinct} {_FACT_RETURN}{order}"


@lru_cache(maxsize=64)
def count_query(group_by: str, parts: ViewParts) -> str:
    """Fact counts per `relation` or `source`."""
    column = {"relation": "f.relation", "source": SOURCE}[group_by]
    return f"{_MATCH_FACT} {_where('', parts)} RETURN {column} AS k, count(*) ORDER BY k"


def _ends_in_view(parts: ViewParts) -> str:
    """The concepts of a partial view: the ends of its facts."""
    return f"{_MATCH_FACT} {_where('', parts)} WITH h, t UNWIND [h, t] AS c"


@lru_cache(maxsize=64)
def concepts_in_view(parts: ViewParts) -> str:
    return (f"{_ends_in_view(parts)} WITH DISTINCT c "
            f"{_CONCEPT_RETURN} ORDER BY c.uri")


@lru_cache(maxsize=64)
def count_concepts_in_view(parts: ViewParts) -> str:
    return f"{_ends_in_view(parts)} RETURN count(DISTINCT c)"


GET_CONCEPTS = f"UNWIND $uris AS u MATCH (c:Concept {{uri: u}}) {_CONCEPT_RETURN}"
ALL_CONCEPTS = f"MATCH (c:Concept) {_CONCEPT_RETURN} ORDER BY c.uri"
COUNT_CONCEPTS = "MATCH (c:Concept) RETURN count(c)"
COUNT_FACTS = "MATCH ()-[f:FACT]->() RETURN count(f)"
COUNT_IMAGES = "MATCH (i:Image) RETURN count(i)"
COUNT_OBJECTS = "MATCH (o:Object) RETURN count(o)"
COUNT_PREDICATES = "MATCH ()-[p:PREDICATE]->() RETURN count(p)"
