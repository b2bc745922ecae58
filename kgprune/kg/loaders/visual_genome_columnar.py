"""Visual Genome staged by DuckDB: the same images, objects, relations and facts as the reference.

DuckDB reads each JSON array one element per row (`read_json_objects`, the element's own text),
unnests objects, attributes and relationships, joins them per image, recovers relationship ends
missing from the objects, and aggregates subject-predicate-object triples into weighted facts.
An image is decided in SQL only where its values have the types SQL reads exactly as Python does
(strings, integers, finite numbers, string lists, each key once, no control characters or
surrogates, escaped or not, no trailing commas);
any other image is staged by the reference's own `_stage_image`, and its rows join the same tables.
Name normalisation (conceptnet5's `standardize_text`) runs in Python once per distinct string.
Anything the reference would refuse (a malformed file, files that disagree, a bad image id) raises
`NeedsReference`: the caller runs the reference, which raises its own coded error (or, where DuckDB
alone cannot read a file, stages it). Memory is bounded by the engine's limit and spills to disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kgprune.errors import InputFormatError
from kgprune.kg.loaders.conceptnet import ProgressFn
from kgprune.kg.loaders.visual_genome import (
    PREDICATE_RELATIONS,
    _attributes,
    _stage_image,
    _Where,
    normalize_predicate,
)
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
from kgprune.kg.store import GraphBatch
from kgprune.kg.uri import concept_uri, standardize_text

FETCH_ROWS = 50_000
# One image's entry, at most (a larger one is read by the reference).
MAX_ELEMENT_BYTES = 64 << 20
# One sequence number orders every event as the reference meets them: image, then its objects
# (position), then its relationships (3 slots each: subject recovered, object recovered, skipped).
IMAGE_SHIFT = 1 << 32
RELATIONSHIP_PHASE = 1 << 31


class NeedsReference(Exception):
    """The reference loader must decide this directory (it raises the coded error, if any)."""


_MACROS = r"""
CREATE MACRO jt(x) AS coalesce(json_type(x), 'MISSING');
CREATE MACRO nodup_keys(k) AS len(k) = len(list_distinct(k));
CREATE MACRO is_obj(t) AS starts_with(ltrim(t, e' \t\n\r'), '{');
CREATE MACRO is_arr(t) AS starts_with(ltrim(t, e' \t\n\r'), '[');
CREATE MACRO is_int(x) AS jt(x) IN ('BIGINT', 'UBIGINT')
  AND TRY_CAST(x ->> '$' AS BIGINT) IS NOT NULL;
CREATE MACRO slist_ok(x) AS jt(x) IN ('MISSING', 'NULL') OR (jt(x) = 'ARRAY' AND coalesce(
  list_bool_and(list_transform(TRY_CAST(x AS JSON[]), lambda e: json_type(e) = 'VARCHAR')), true));
CREATE MACRO slist(x) AS CASE WHEN jt(x) = 'ARRAY'
  THEN list_transform(TRY_CAST(x AS JSON[]), lambda e: e ->> '$') ELSE []::VARCHAR[] END;
CREATE MACRO pyint(x) AS CASE jt(x)
  WHEN 'BIGINT' THEN TRY_CAST(x ->> '$' AS BIGINT) WHEN 'UBIGINT' THEN TRY_CAST(x ->> '$' AS BIGINT)
  WHEN 'BOOLEAN' THEN CASE WHEN x ->> '$' = 'true' THEN 1 ELSE 0 END
  WHEN 'DOUBLE' THEN TRY_CAST(trunc(TRY_CAST(x ->> '$' AS DOUBLE)) AS BIGINT) ELSE 0 END;
CREATE MACRO num_ok(x) AS jt(x) NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE') OR pyint(x) IS NOT NULL;
CREATE MACRO opt_int(x) AS CASE WHEN jt(x) IN ('BIGINT', 'UBIGINT', 'BOOLEAN') THEN pyint(x) END;
CREATE MACRO text_ok(t) AS t IS NULL OR NOT regexp_matches(t,
  '\\u(?:[dD][89a-fA-F]|00[01])|[\x00-\x09\x0b\x0c\x0e-\x1f]|,\s*[\]}]');
CREATE MACRO openers(t) AS length(t) - length(replace(replace(t, '[', ''), '{', ''));
CREATE MACRO shallow(t) AS t IS NULL OR openers(t) < 512
  OR openers(json_structure(t)::VARCHAR) < 512;
CREATE MACRO image_id_of(x) AS CASE WHEN list_contains(json_keys(x), 'image_id')
  THEN x -> '$.image_id' ELSE x -> '$.id' END;
CREATE MACRO id_of(k, p) AS CASE WHEN list_contains(k, 'image_id') THEN p[1] ELSE p[2] END;
"""


_OBJECT_PATHS = ("['$.object_id', '$.names', '$.name', '$.synsets', '$.attributes', "
                 "'$.x', '$.y', '$.w', '$.h']")


def _object_columns(o: str) -> str:
    """What `_instance` reads from the object dict `o`, and whether SQL reads it exactly.

    `o` is parsed twice (its keys, then every field at once); the checks read the small fields.
    """
    return f"""
      list_contains(k, 'object_id') AS has_id, TRY_CAST(p[1] ->> '$' AS BIGINT) AS oid,
      isobj AND nodup_keys(k) AND (NOT list_contains(k, 'object_id') OR is_int(p[1]))
        AND slist_ok(p[2]) AND jt(p[3]) IN ('MISSING', 'NULL', 'VARCHAR')
        AND slist_ok(p[4]) AND slist_ok(p[5])
        AND num_ok(p[6]) AND num_ok(p[7]) AND num_ok(p[8]) AND num_ok(p[9]) AS ok,
      CASE WHEN len(slist(p[2])) > 0 THEN slist(p[2])
        WHEN coalesce(p[3] ->> '$', '') <> '' THEN [p[3] ->> '$'] ELSE []::VARCHAR[] END AS names,
      slist(p[4]) AS synsets, slist(p[5]) AS own_attrs,
      pyint(p[6]) AS x, pyint(p[7]) AS y, pyint(p[8]) AS w, pyint(p[9]) AS h
    FROM (SELECT *, is_obj({o}) AS isobj, json_keys({o}) AS k,
      json_extract({o}, {_OBJECT_PATHS}) AS p"""


_END_OK = """(CASE WHEN is_obj(p[{i}]) THEN jt(p[{i}] -> '$.object_id') IN ('MISSING', 'NULL')
    OR is_int(p[{i}] -> '$.object_id') ELSE jt(p[{i}]) IN ('MISSING', 'NULL')
    AND (jt(p[{j}]) IN ('MISSING', 'NULL') OR is_int(p[{j}])) END)"""
_END_OID = """CASE WHEN is_obj(p[{i}]) THEN TRY_CAST(p[{i}] ->> '$.object_id' AS BIGINT)
    ELSE TRY_CAST(p[{j}] ->> '$' AS BIGINT) END"""

# Each entry's text is parsed once for its keys and once for its fields (`*_parts`, in
# `_entries`); the lists are cast once. JSON functions hold every parsed document of a vector in
# memory, so no function is applied to a whole entry more than needed.
_TABLES = f"""
CREATE TABLE ent_json AS SELECT idx, TRY_CAST(op[3] AS JSON[]) AS objs,
  TRY_CAST(rels_text AS JSON[]) AS rels, TRY_CAST(ap[3] AS JSON[]) AS attrs,
  is_obj(oj) AND nodup_keys(ok_) AND (op[3] IS NULL OR is_arr(op[3]))
    AND (rels_text IS NULL OR is_arr(rels_text))
    AND (rj IS NULL OR (is_obj(rj) AND nodup_keys(rk)))
    AND (aj IS NULL OR (is_obj(aj) AND nodup_keys(ak) AND (ap[3] IS NULL OR is_arr(ap[3]))))
    AND text_ok(oj) AND text_ok(rj) AND text_ok(aj) AS ok
FROM ent_parts;
CREATE TABLE o_all AS SELECT idx, pos, {_object_columns('o')} FROM (
  SELECT idx, unnest(objs) AS o, generate_subscripts(objs, 1) AS pos FROM ent_json));
CREATE TABLE a_all AS SELECT idx, pos, list_contains(k, 'object_id') AS has_id,
  TRY_CAST(p[1] ->> '$' AS BIGINT) AS oid, slist(p[2]) AS attrs,
  is_obj(a) AND nodup_keys(k) AND slist_ok(p[2])
    AND (NOT list_contains(k, 'object_id') OR is_int(p[1])) AS ok
FROM (SELECT *, json_keys(a) AS k, json_extract(a, ['$.object_id', '$.attributes']) AS p FROM (
  SELECT idx, unnest(attrs) AS a, generate_subscripts(attrs, 1) AS pos FROM ent_json));
CREATE TABLE r_all AS SELECT idx, pos, p[3] AS subject, p[4] AS object,
  TRY_CAST(p[1] ->> '$' AS BIGINT) AS rid, coalesce(p[2] ->> '$', '') AS pred,
  is_obj(p[3]) AS s_dict, {_END_OID.format(i=3, j=5)} AS s_oid,
  is_obj(p[4]) AS o_dict, {_END_OID.format(i=4, j=6)} AS o_oid,
  is_obj(r) AND nodup_keys(k) AND is_int(p[1]) AND jt(p[2]) IN ('MISSING', 'VARCHAR')
    AND {_END_OK.format(i=3, j=5)} AND {_END_OK.format(i=4, j=6)} AS ok
FROM (SELECT *, json_keys(r) AS k, json_extract(r, ['$.relationship_id', '$.predicate',
    '$.subject', '$.object', '$.subject_id', '$.object_id']) AS p FROM (
  SELECT idx, unnest(rels) AS r, generate_subscripts(rels, 1) AS pos FROM ent_json));
CREATE TABLE bad0 AS SELECT idx FROM ent_json WHERE NOT ok
  UNION SELECT idx FROM o_all WHERE NOT ok UNION SELECT idx FROM a_all WHERE NOT ok
  UNION SELECT idx FROM r_all WHERE NOT ok;
DROP TABLE ent_json;
CREATE TABLE amap AS SELECT idx, oid, arg_max(attrs, pos) AS attrs FROM a_all
  WHERE has_id GROUP BY idx, oid;
CREATE TABLE objs AS SELECT o.idx, o.pos, o.oid, o.names, o.synsets, o.x, o.y, o.w, o.h,
  CASE WHEN len(m.attrs) > 0 THEN m.attrs ELSE o.own_attrs END AS attrs
FROM (SELECT * FROM o_all ANTI JOIN bad0 USING (idx) WHERE has_id
      QUALIFY row_number() OVER (PARTITION BY idx, oid ORDER BY pos) = 1) o
LEFT JOIN amap m ON m.idx = o.idx AND m.oid = o.oid;
CREATE TABLE rels AS SELECT idx, pos, rid, pred, s_dict, s_oid, o_dict, o_oid
  FROM r_all ANTI JOIN bad0 USING (idx);
CREATE TABLE recovered AS SELECT * FROM (
  SELECT idx, pos, 0 AS role, s_oid AS oid FROM rels WHERE s_dict AND s_oid IS NOT NULL
  UNION ALL SELECT idx, pos, 1, o_oid FROM rels
    WHERE o_dict AND s_oid IS NOT NULL AND o_oid IS NOT NULL) e
  ANTI JOIN objs o ON o.idx = e.idx AND o.oid = e.oid
  QUALIFY row_number() OVER (PARTITION BY e.idx, e.oid ORDER BY e.pos, e.role) = 1;
-- Only the ends recovered are read as objects; an image with one SQL cannot read is Python's.
CREATE TABLE e_all AS SELECT idx, pos, role, {_object_columns('e')} FROM (
  SELECT c.idx, c.pos, c.role, CASE c.role WHEN 0 THEN r.subject ELSE r.object END AS e
  FROM recovered c JOIN r_all r ON r.idx = c.idx AND r.pos = c.pos));
CREATE TABLE bad AS SELECT idx FROM bad0 UNION SELECT idx FROM e_all WHERE NOT ok;
CREATE TABLE stream AS
  SELECT idx, idx * {IMAGE_SHIFT} + pos AS seq, -1 AS kord, oid, names, synsets, attrs,
    x, y, w, h FROM objs ANTI JOIN bad USING (idx)
  UNION ALL SELECT c.idx, c.idx * {IMAGE_SHIFT} + {RELATIONSHIP_PHASE} + c.pos * 3 + c.role,
    c.pos * 2 + c.role, c.oid, e.names, e.synsets, e.own_attrs, e.x, e.y, e.w, e.h
  FROM recovered c JOIN e_all e ON e.idx = c.idx AND e.pos = c.pos AND e.role = c.role
  ANTI JOIN bad b ON b.idx = c.idx;
CREATE TABLE syn_map AS SELECT s, synset_concept(s) AS c
  FROM (SELECT DISTINCT unnest(synsets) AS s FROM stream);
CREATE TABLE name_map AS SELECT n, name_concept(n) AS c
  FROM (SELECT DISTINCT unnest(names) AS n FROM stream);
CREATE TABLE stream_concept AS SELECT seq, arg_min(c, prio) AS concept FROM (
  SELECT seq, prio, c FROM (
    SELECT seq, unnest(synsets) AS s, generate_subscripts(synsets, 1) AS prio FROM stream)
    JOIN syn_map USING (s)
  UNION ALL SELECT seq, {IMAGE_SHIFT} + prio, c FROM (
    SELECT seq, unnest(names) AS n, generate_subscripts(names, 1) AS prio FROM stream)
    JOIN name_map USING (n)) WHERE c IS NOT NULL GROUP BY seq;
CREATE TABLE known AS SELECT s.idx, s.oid, s.kord, c.concept FROM stream s
  LEFT JOIN stream_concept c USING (seq);
-- Both ends are looked up once the relationship's own dict ends are recovered.
CREATE TABLE rel_ends AS SELECT r.*, ks.concept AS head, ko.concept AS tail,
  r.s_oid IS NOT NULL AND r.o_oid IS NOT NULL
    AND ks.oid IS NOT NULL AND ks.kord < r.pos * 2 + 2
    AND ko.oid IS NOT NULL AND ko.kord < r.pos * 2 + 2 AS staged
FROM (SELECT * FROM rels ANTI JOIN bad USING (idx)) r
  LEFT JOIN known ks ON ks.idx = r.idx AND ks.oid = r.s_oid
  LEFT JOIN known ko ON ko.idx = r.idx AND ko.oid = r.o_oid;
CREATE TABLE pred_map AS SELECT pred, predicate_norm(pred) AS npred
  FROM (SELECT DISTINCT pred FROM rel_ends WHERE staged);
"""

# Tables the images staged in Python write to; the SQL images' rows are unioned with them.
_PY_TABLES = """
CREATE TABLE py_objects (seq BIGINT, idx BIGINT, oid BIGINT, name VARCHAR, concept VARCHAR,
  x BIGINT, y BIGINT, w BIGINT, h BIGINT, synsets VARCHAR[], attrs VARCHAR[]);
CREATE TABLE py_relations (seq BIGINT, rid BIGINT, s_oid BIGINT, o_oid BIGINT, pred VARCHAR,
  iid BIGINT);
CREATE TABLE py_triples (seq BIGINT, relation VARCHAR, head VARCHAR, tail VARCHAR, npred VARCHAR);
CREATE TABLE py_events (seq BIGINT, kind VARCHAR, n BIGINT);
"""

_RESULTS = f"""
CREATE TABLE all_objects AS
  SELECT s.seq, s.oid, i.iid, coalesce(s.names[1], '') AS name, c.concept, s.x, s.y, s.w, s.h,
    s.synsets, s.attrs
  FROM stream s JOIN ent_ids i USING (idx) LEFT JOIN stream_concept c USING (seq)
  UNION ALL SELECT p.seq, p.oid, i.iid, p.name, p.concept, p.x, p.y, p.w, p.h, p.synsets, p.attrs
  FROM py_objects p JOIN ent_ids i USING (idx);
CREATE TABLE all_relations AS
  SELECT r.idx * {IMAGE_SHIFT} + {RELATIONSHIP_PHASE} + r.pos * 3 AS seq, r.rid, r.s_oid, r.o_oid,
    r.pred, i.iid FROM rel_ends r JOIN ent_ids i USING (idx) WHERE staged
  UNION ALL SELECT seq, rid, s_oid, o_oid, pred, iid FROM py_relations;
CREATE TABLE all_triples AS
  SELECT r.idx * {IMAGE_SHIFT} + {RELATIONSHIP_PHASE} + r.pos * 3 AS seq,
    predicate_relation(m.npred) AS relation, r.head, r.tail, m.npred
  FROM rel_ends r JOIN pred_map m USING (pred)
  WHERE staged AND r.head IS NOT NULL AND r.tail IS NOT NULL AND r.head <> r.tail AND m.npred <> ''
  UNION ALL SELECT seq, relation, head, tail, npred FROM py_triples;
CREATE TABLE all_events AS
  SELECT idx * {IMAGE_SHIFT} + pos AS seq, 'object_without_id' AS kind, 1 AS n
    FROM o_all ANTI JOIN bad USING (idx) WHERE NOT has_id
  UNION ALL SELECT s.seq, 'object_without_name', 1 FROM stream s
    LEFT JOIN stream_concept c USING (seq) WHERE s.kord = -1 AND c.concept IS NULL
  UNION ALL SELECT seq, 'object_recovered_from_relationship', 1 FROM stream WHERE kord >= 0
  UNION ALL SELECT idx * {IMAGE_SHIFT} + {RELATIONSHIP_PHASE} + pos * 3 + 2,
    'relationship_missing_object', 1 FROM rel_ends WHERE NOT staged
  UNION ALL SELECT seq, kind, n FROM py_events;
CREATE TABLE facts AS SELECT relation, head, tail, sum(n) AS weight,
  arg_min(npred, [-n, first]) AS predicate FROM (
    SELECT relation, head, tail, npred, count(*) AS n, min(seq) AS first FROM all_triples
    GROUP BY relation, head, tail, npred) GROUP BY relation, head, tail;
"""


def _synset_concept(synset: str | None) -> str | None:
    lemma = (synset or "").rsplit(".", 2)[0]
    return concept_uri(lemma) if lemma and standardize_text(lemma) else None


def _name_concept(name: str | None) -> str | None:
    return concept_uri(name) if name and standardize_text(name) else None


def _predicate_relation(predicate: str | None) -> str:
    return PREDICATE_RELATIONS.get(predicate or "", "RelatedTo")


def _register_functions(con: duckdb.DuckDBPyConnection) -> None:
    for name, fn in (("synset_concept", _synset_concept), ("name_concept", _name_concept),
                     ("predicate_norm", lambda p: normalize_predicate(p or "")),
                     ("predicate_relation", _predicate_relation)):
        con.create_function(name, fn, ["VARCHAR"], "VARCHAR", side_effects=False,
                            null_handling="special")


def _read(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> None:
    con.execute(f"CREATE TABLE {table} AS SELECT row_number() OVER () - 1 AS idx, json AS j "
                "FROM read_json_objects($path, format='array', maximum_object_size=$max_size)",
                {"path": str(path), "max_size": MAX_ELEMENT_BYTES})


@dataclass(slots=True)
class _ImageSink:
    """Collects what the reference `_stage_image` stages for one image, in the order it does."""

    idx: int
    image_id: int
    objects: list[tuple]
    relations: list[tuple]
    triples: list[tuple]
    rank: int = 0

    def _seq(self) -> int:
        self.rank += 1
        return self.idx * IMAGE_SHIFT + self.rank

    def add_object(self, o: ObjectInstance) -> None:
        self.objects.append((self._seq(), self.idx, o.object_id, o.name, o.concept, o.x, o.y, o.w,
                             o.h, list(o.synsets), list(o.attributes)))

    def add_relation(self, rel: ObjectRelation, head: str | None, tail: str | None) -> None:
        seq = self._seq()
        self.relations.append((seq, rel.relationship_id, rel.subject_id, rel.object_id,
                               rel.predicate, rel.image_id))
        predicate = normalize_predicate(rel.predicate)
        if head and tail and head != tail and predicate:
            self.triples.append((seq, PREDICATE_RELATIONS.get(predicate, "RelatedTo"), head, tail,
                                 predicate))


def _stage_in_python(con: duckdb.DuckDBPyConnection, scene_graphs: bool, report: LoadReport) -> int:
    """Stage the images SQL cannot read exactly with the reference code; errors go to it too."""
    rows = con.execute("SELECT e.idx, i.iid, e.oj, e.aj, e.rj FROM ent_parts e "
                       "JOIN ent_ids i USING (idx) "
                       "SEMI JOIN bad USING (idx) ORDER BY idx").fetchall()
    objects: list[tuple] = []
    relations: list[tuple] = []
    triples: list[tuple] = []
    events: list[tuple] = []
    for idx, image_id, oj, aj, rj in rows:
        sink = _ImageSink(idx, image_id, objects, relations, triples)
        image_report = LoadReport(source=SOURCE_VISUAL_GENOME, path="")
        try:
            entry = json.loads(oj)
            if scene_graphs:
                parts, attributes = (entry.get("objects", []), entry.get("relationships", [])), {}
            else:
                attributes = _attributes(json.loads(aj) if aj is not None else {})
                rels = json.loads(rj) if rj is not None else {}
                parts = (entry.get("objects", []), rels.get("relationships", []))
            _stage_image(sink, image_id, parts, attributes, image_report, _Where("", ""))
        except (InputFormatError, ValueError, TypeError, KeyError, AttributeError, OverflowError,
                RecursionError):
            raise NeedsReference from None
        report.facts_parsed += image_report.facts_parsed
        events.extend((idx * IMAGE_SHIFT + rank, kind, n)
                      for rank, (kind, n) in enumerate(image_report.skipped.items()))
    for table, values, width in (("py_objects", objects, 11), ("py_relations", relations, 6),
                                 ("py_triples", triples, 5), ("py_events", events, 3)):
        try:
            if values:
                con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * width)})", values)
        except duckdb.InvalidInputException:  # an integer beyond 64 bits: the reference's case
            raise NeedsReference from None
    return len(rows)


class ColumnarVisualGenome:
    """A staged Visual Genome directory held in DuckDB tables, read back as one `GraphBatch`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, python_images: int) -> None:
        self.con = con
        self.python_images = python_images  # images staged by the reference code, not SQL

    def _rows(self, sql: str) -> Iterator[tuple]:
        result = self.con.cursor().execute(sql)
        while rows := result.fetchmany(FETCH_ROWS):
            yield from rows

    def iter_concepts(self) -> Iterator[Concept]:
        for (uri,) in self._rows("SELECT concept FROM all_objects WHERE concept IS NOT NULL "
                                 "GROUP BY concept ORDER BY min(seq)"):
            name = uri.rsplit("/", 1)[-1].replace("_", " ")
            yield Concept(uri=uri, name=name, lang="en", source=SOURCE_VISUAL_GENOME)

    def iter_facts(self) -> Iterator[Fact]:
        for relation, head, tail, weight, predicate in self._rows(
                "SELECT relation, head, tail, weight, predicate FROM facts "
                "ORDER BY relation, head, tail"):
            yield Fact(head=head, relation=relation, tail=tail, weight=float(weight),
                       source=SOURCE_VISUAL_GENOME, dataset="/d/visual_genome",
                       edge_id=assertion_uri(relation, head, tail) + "#visual_genome",
                       predicate=predicate)

    def iter_images(self) -> Iterator[Image]:
        for iid, url, width, height, coco, flickr in self._rows(
                "SELECT iid, url, width, height, coco_id, flickr_id FROM images ORDER BY idx"):
            yield Image(image_id=iid, url=url, width=width, height=height, coco_id=coco,
                        flickr_id=flickr)
        for (iid,) in self._rows("SELECT iid FROM all_objects ANTI JOIN images USING (iid) "
                                 "GROUP BY iid ORDER BY min(seq)"):
            yield Image(image_id=iid)

    def iter_objects(self) -> Iterator[ObjectInstance]:
        for oid, iid, name, concept, x, y, w, h, synsets, attrs in self._rows(
                "SELECT oid, iid, name, concept, x, y, w, h, synsets, attrs FROM all_objects "
                "ORDER BY seq"):
            yield ObjectInstance(oid, iid, name, concept, x, y, w, h, tuple(synsets), tuple(attrs))

    def iter_relations(self) -> Iterator[ObjectRelation]:
        for rid, sid, oid, predicate, iid in self._rows(
                "SELECT rid, s_oid, o_oid, pred, iid FROM all_relations ORDER BY seq"):
            yield ObjectRelation(rid, sid, oid, predicate, iid)

    def batch(self) -> GraphBatch:
        return GraphBatch(concepts=self.iter_concepts(), facts=self.iter_facts(),
                          images=self.iter_images(), objects=self.iter_objects(),
                          object_relations=self.iter_relations())


_IMAGES = """
CREATE TABLE images_all AS SELECT idx, TRY_CAST(image_id_of(j) ->> '$' AS BIGINT) AS iid,
  coalesce(j ->> '$.url', '') AS url, pyint(j -> '$.width') AS width,
  pyint(j -> '$.height') AS height, opt_int(j -> '$.coco_id') AS coco_id,
  opt_int(j -> '$.flickr_id') AS flickr_id,
  json_type(j) = 'OBJECT' AND nodup_keys(json_keys(j)) AND text_ok(j) AND is_int(image_id_of(j))
    AND jt(j -> '$.url') IN ('MISSING', 'NULL', 'VARCHAR') AND num_ok(j -> '$.width')
    AND num_ok(j -> '$.height') AS ok
FROM image_raw;
CREATE TABLE images AS SELECT * FROM images_all
  QUALIFY row_number() OVER (PARTITION BY iid ORDER BY idx) = 1;
"""


def _check(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Leave to the reference what it would refuse (it raises the coded error)."""
    if con.execute(sql).fetchone()[0]:
        raise NeedsReference


def _entries(con: duckdb.DuckDBPyConnection, directory: Path) -> bool:
    """Tables `ent_parts` (idx; oj, aj, rj: the aligned entries' texts; their keys and the fields
    read) and `ent_ids`; True for scene graphs."""
    if (directory / "objects.json").is_file():
        files = [name for name in ("attributes", "relationships")
                 if (directory / f"{name}.json").is_file()]
        _read(con, "objects_raw", directory / "objects.json")
        for name in files:
            _read(con, f"{name}_raw", directory / f"{name}.json")
        joins = " ".join(f"FULL JOIN {n}_raw {n[0]} USING (idx)" for n in files)
        cols = ", ".join(f"{n[0]}.j AS {n[0]}j" if n in files else f"NULL::JSON AS {n[0]}j"
                         for n in ("attributes", "relationships"))
        con.execute(f"CREATE TABLE ent AS SELECT idx, o.j AS oj, {cols} FROM objects_raw o {joins}")
        scene_graphs = False
    elif (directory / "scene_graphs.json").is_file():
        _read(con, "sg_raw", directory / "scene_graphs.json")
        con.execute("CREATE TABLE ent AS SELECT idx, j AS oj, NULL::JSON AS aj, NULL::JSON AS rj "
                    "FROM sg_raw")
        files = []
        scene_graphs = True
    else:
        raise NeedsReference
    _check(con, "SELECT count(*) FROM ent WHERE NOT (shallow(oj) AND shallow(aj) AND shallow(rj))")
    con.execute(
        "CREATE TABLE ent_parts AS SELECT idx, oj, aj, rj, json_keys(oj) AS ok_, "
        "json_extract(oj, ['$.image_id', '$.id', '$.objects', '$.relationships']) AS op, "
        "json_keys(aj) AS ak, json_extract(aj, ['$.image_id', '$.id', '$.attributes']) AS ap, "
        "json_keys(rj) AS rk, json_extract(rj, ['$.image_id', '$.id', '$.relationships']) AS rp, "
        f"{'op[4]' if scene_graphs else 'rp[3]'} AS rels_text FROM ent")
    # The texts are held once (they spill to disk when larger than the engine's memory).
    con.execute("DROP TABLE ent")
    for raw in ("objects_raw", "attributes_raw", "relationships_raw", "sg_raw"):
        con.execute(f"DROP TABLE IF EXISTS {raw}")
    # Every file lists every image, with an integer id, the same in each (else the reference
    # raises its error).
    others = [(f"{n[0]}j", f"{n[0]}k", f"{n[0]}p") for n in files]
    for j, k, parts in (("oj", "ok_", "op"), *others):
        _check(con, f"SELECT count(*) FROM ent_parts WHERE {j} IS NULL OR NOT (is_obj({j}) "
                    f"AND is_int(id_of({k}, {parts}))) OR TRY_CAST(id_of({k}, {parts}) ->> '$' "
                    "AS BIGINT) <> TRY_CAST(id_of(ok_, op) ->> '$' AS BIGINT)")
    con.execute("CREATE TABLE ent_ids AS SELECT idx, TRY_CAST(id_of(ok_, op) ->> '$' AS BIGINT) "
                "AS iid FROM ent_parts")
    return scene_graphs


def parse_visual_genome(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    *,
    report: LoadReport,
    on_progress: ProgressFn | None = None,
) -> ColumnarVisualGenome:
    """Stage a whole directory in `con`; raises `NeedsReference` where the reference must decide."""
    if not (directory / "image_data.json").is_file():
        raise NeedsReference
    _register_functions(con)
    con.execute(_MACROS)
    try:
        _read(con, "image_raw", directory / "image_data.json")
        con.execute(_IMAGES)
        _check(con, "SELECT count(*) FROM images_all WHERE NOT ok")
        # Deep nesting is the reference's to judge: Python's decoder has a recursion limit.
        _check(con, "SELECT count(*) FROM image_raw WHERE NOT shallow(j)")
        scene_graphs = _entries(con, directory)
        con.execute(_TABLES)
    except (duckdb.InvalidInputException, duckdb.IOException, duckdb.ConversionException):
        raise NeedsReference from None
    con.execute(_PY_TABLES)
    python_images = _stage_in_python(con, scene_graphs, report)
    con.execute(_RESULTS)
    report.lines_read = con.execute("SELECT count(*) FROM ent_parts").fetchone()[0]
    report.facts_parsed += con.execute("SELECT count(*) FROM rel_ends WHERE staged").fetchone()[0]
    skipped = con.execute("SELECT kind, sum(n)::BIGINT FROM all_events GROUP BY kind "
                          "ORDER BY min(seq)").fetchall()
    report.skipped = {kind: count for kind, count in skipped}
    if on_progress is not None:
        size = sum(p.stat().st_size for p in directory.glob("*.json"))
        on_progress(size, size)
    return ColumnarVisualGenome(con, python_images)
