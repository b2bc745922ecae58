"""Offline bulk load: a batch as `neo4j-admin database import full` CSV files plus its command.

For the full ConceptNet dump the bulk importer is orders of magnitude faster than `UNWIND` over
Bolt. The files hold the same graph model as `Neo4jStore.write`, so a store opened on the imported
database reads them unchanged (its `ensure_schema` then adds the constraints and indexes).

CSV is RFC 4180: quotes are doubled, never backslash-escaped; every text value is quoted and a
missing value is an empty unquoted field, so an empty string and "absent" stay apart. Lists use
U+001F (unit separator) as the array delimiter, a character that does not occur in text.
"""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from kgprune.errors import ConfigError, Errors, InputFormatError
from kgprune.kg.coverage import stable_unit
from kgprune.kg.cypher import neo4j as q
from kgprune.kg.records import Concept, Fact, Image, ObjectInstance, ObjectRelation
from kgprune.kg.relations import neo4j_type
from kgprune.kg.store import GraphBatch

ARRAY_DELIMITER = "\x1f"
ARRAY_DELIMITER_OPTION = "U+001F"
SCRIPT_NAME = "import.sh"

_Cell = str | float | None
_Row = tuple[_Cell, ...]

CONCEPT_HEADER = ("uri:ID(Concept)", "name", "lang", "pos", "source", "cov:double", ":LABEL")
FACT_HEADER = (
    ":START_ID(Concept)", ":END_ID(Concept)", ":TYPE", "edge_id", "weight:double", "source",
    "dataset", "surface_text", "contributors", "predicate", "cov:double",
)
META_HEADER = ("key:ID(Meta)", "value")
# Scene-graph ids are integers in the model, so the id column is a separate, unstored id space.
IMAGE_HEADER = (
    ":ID(Image)", "image_id:long", "url", "width:long", "height:long", "coco_id:long",
    "flickr_id:long",
)
OBJECT_HEADER = (
    ":ID(Object)", "object_id:long", "image_id:long", "name", "synsets:string[]",
    "attributes:string[]", "x:long", "y:long", "w:long", "h:long",
)
IN_IMAGE_HEADER = (":START_ID(Object)", ":END_ID(Image)")
INSTANCE_OF_HEADER = (":START_ID(Object)", ":END_ID(Concept)")
PREDICATE_HEADER = (":START_ID(Object)", ":END_ID(Object)", "relationship_id:long", "predicate")


def _cell(value: _Cell) -> str:
    """RFC 4180 with every text quoted: `""` is an empty string, an empty field is no value."""
    if value is None:
        return ""
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return repr(value)


class _Table:
    """One `<name>_header.csv` + `<name>.csv` pair, opened on its first row."""

    def __init__(self, directory: Path, name: str, header: Sequence[str]) -> None:
        self.name = name
        self.rows = 0
        self.multiline = False
        self._directory = directory
        self._header = header
        self._fh: TextIO | None = None

    @property
    def files(self) -> str:
        return f"{self.name}_header.csv,{self.name}.csv"

    def write(self, row: _Row) -> None:
        if self._fh is None:
            self._fh = self._open()
        self.multiline = self.multiline or any(
            isinstance(v, str) and ("\n" in v or "\r" in v) for v in row
        )
        self._fh.write(",".join(map(_cell, row)) + "\n")
        self.rows += 1

    def _open(self) -> TextIO:
        header = self._directory / f"{self.name}_header.csv"
        header.write_text(",".join(self._header) + "\n", encoding="utf-8")
        return (self._directory / f"{self.name}.csv").open("w", encoding="utf-8", newline="")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


@dataclass(slots=True)
class _Export:
    """The tables of one export, in the order the import command lists them."""

    directory: Path
    nodes: dict[str, tuple[str | None, _Table]] = field(default_factory=dict)
    relationships: dict[str, tuple[str | None, _Table]] = field(default_factory=dict)

    def node_table(self, name: str, header: Sequence[str], label: str | None = None) -> _Table:
        table = _Table(self.directory, name, header)
        self.nodes[name] = (label, table)
        return table

    def relationship_table(
        self, name: str, header: Sequence[str], rel_type: str | None = None
    ) -> _Table:
        table = _Table(self.directory, name, header)
        self.relationships[name] = (rel_type, table)
        return table

    def tables(self) -> list[_Table]:
        return [t for _, t in [*self.nodes.values(), *self.relationships.values()]]


def _array(values: Sequence[str], what: str) -> str | None:
    """A `string[]` cell; None (an absent property) for an empty list, which the importer drops."""
    if any(ARRAY_DELIMITER in value for value in values):
        raise InputFormatError(Errors.K016.format(what=what))
    return ARRAY_DELIMITER.join(values) if values else None


def _labels(concept: Concept) -> str:
    extra = q.SOURCE_LABELS.get(concept.source)
    return ARRAY_DELIMITER.join([q.CONCEPT, extra] if extra else [q.CONCEPT])


def _concept_row(c: Concept) -> _Row:
    return (c.uri, c.name, c.lang, c.pos, c.source, stable_unit(c.uri), _labels(c))


def _fact_row(f: Fact) -> _Row:
    contributors = json.dumps(list(f.contributors), ensure_ascii=False)
    return (f.head, f.tail, neo4j_type(f.relation), f.edge_id, float(f.weight), f.source,
            f.dataset, f.surface_text, contributors, f.predicate, stable_unit(f.edge_id))


def _image_row(i: Image) -> _Row:
    return (str(i.image_id), i.image_id, i.url, i.width, i.height, i.coco_id, i.flickr_id)


def _object_row(o: ObjectInstance) -> _Row:
    where = f"object {o.object_id}"
    return (str(o.object_id), o.object_id, o.image_id, o.name, _array(o.synsets, where),
            _array(o.attributes, where), o.x, o.y, o.w, o.h)


def _write_rows(table: _Table, rows: Iterable[_Row]) -> None:
    for row in rows:
        table.write(row)


def _write_objects(export: _Export, objects: Iterable[ObjectInstance]) -> None:
    nodes = export.node_table("objects", OBJECT_HEADER, q.OBJECT)
    in_image = export.relationship_table("in_image", IN_IMAGE_HEADER, q.IN_IMAGE)
    instance_of = export.relationship_table("instance_of", INSTANCE_OF_HEADER, q.INSTANCE_OF)
    for o in objects:
        nodes.write(_object_row(o))
        in_image.write((str(o.object_id), str(o.image_id)))
        if o.concept:
            instance_of.write((str(o.object_id), o.concept))


def _write_object_relations(export: _Export, relations: Iterable[ObjectRelation]) -> None:
    table = export.relationship_table("predicate", PREDICATE_HEADER, q.PREDICATE)
    for r in relations:
        table.write((str(r.subject_id), str(r.object_id), r.relationship_id, r.predicate))


def _write_batch(export: _Export, batch: GraphBatch) -> None:
    _write_rows(export.node_table("concepts", CONCEPT_HEADER), map(_concept_row, batch.concepts))
    _write_rows(export.node_table("images", IMAGE_HEADER, q.IMAGE), map(_image_row, batch.images))
    _write_objects(export, batch.objects)
    _write_rows(export.relationship_table("facts", FACT_HEADER), map(_fact_row, batch.facts))
    _write_object_relations(export, batch.object_relations)
    meta = export.node_table("meta", META_HEADER, q.META)
    meta.write((q.VERSION_KEY, uuid.uuid4().hex))


def _group_option(flag: str, label: str | None, table: _Table) -> str:
    prefix = f"{label}=" if label else ""
    return f"--{flag}={prefix}{table.files}"


def _import_options(export: _Export) -> list[str]:
    """Options of `neo4j-admin database import full` for the tables that received rows."""
    tables = export.tables()
    argv = [
        "--delimiter=,", '--quote="', f"--array-delimiter={ARRAY_DELIMITER_OPTION}",
        "--skip-duplicate-nodes=true", "--skip-bad-relationships=true",
    ]
    if any(t.multiline for t in tables):
        argv.append("--multiline-fields=true")
    argv += [_group_option("nodes", label, t) for label, t in export.nodes.values() if t.rows]
    argv += [
        _group_option("relationships", rel_type, t)
        for rel_type, t in export.relationships.values()
        if t.rows
    ]
    return argv


def _write_script(export: _Export) -> None:
    options = "".join(f" \\\n  {shlex.quote(option)}" for option in _import_options(export))
    script = export.directory / SCRIPT_NAME
    script.write_text(
        "#!/bin/sh\n"
        "# Written by kgprune: loads these files into a new, empty Neo4j 5 database with\n"
        "# the server stopped. Open the store with kgprune afterwards: it adds the indexes.\n"
        "# Usage: ./import.sh [DATABASE [OPTION...]]\n"
        "#   e.g. ./import.sh neo4j --overwrite-destination=true\n"
        "set -eu\n"
        'cd "$(dirname "$0")"\n'
        'database="${1:-neo4j}"\n'
        'if [ "$#" -gt 0 ]; then shift; fi\n'
        f'exec neo4j-admin database import full{options} \\\n  "$@" "$database"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)


def _check_empty(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(Errors.K014.format(path=out_dir))


def export_neo4j_admin(batch: GraphBatch, out_dir: Path) -> dict[str, int]:
    """Write the batch to `out_dir` (new or empty), all or nothing; returns rows per data file."""
    _check_empty(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    export = _Export(staging)
    try:
        try:
            _write_batch(export, batch)
        finally:
            for table in export.tables():
                table.close()
        _write_script(export)
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {t.name: t.rows for t in export.tables()}
