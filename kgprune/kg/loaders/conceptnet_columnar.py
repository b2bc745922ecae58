"""ConceptNet assertions parsed by DuckDB: the same graph as `iter_conceptnet`, at decompression speed.

DuckDB reads the file one line per row (so line numbers are exact), splits the columns, filters
languages, collapses sense-tagged URIs to their term and reads the info JSON, all vectorised. A row
is decided in SQL only where SQL provably agrees with the Python reference parser; every other row
(malformed, odd JSON such as duplicate keys or trailing commas, a NUL in a URI, a non-finite weight)
goes through the reference parser itself, so errors and results are the reference's. A file DuckDB
cannot split into lines the reference's way (a carriage return, invalid UTF-8, a 0x01 byte) is
parsed by the reference entirely. Duplicates merge in SQL where a key occurs once; keys seen
several times are folded by the reference `merge_facts` in file order (contributor order depends
on it). Memory is bounded by the engine's limit; what does not fit spills to the work directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from kgprune.errors import Errors, InputFormatError
from kgprune.kg.loaders.conceptnet import (
    MAX_REPORTED_BAD_LINES,
    BadLine,
    ProgressFn,
    check_input_file,
    parse_line,
)
from kgprune.kg.records import SOURCE_CONCEPTNET, Concept, Fact, LoadReport
from kgprune.kg.relations import ALL_RELATIONS
from kgprune.kg.staging import merge_facts
from kgprune.kg.uri import POS_TAGS

FETCH_ROWS = 50_000
HASH_ROWS = 200_000
# Rows per Parquet row group of the store's input (DuckDB's default).
ROW_GROUP_ROWS = 122_880
# The engine's memory: a share of what is available, within bounds; the rest spills to disk.
MEMORY_SHARE = 0.25
MIN_MEMORY_MB, MAX_MEMORY_MB = 256, 768

# One row per line: 0x01 never occurs in a well-formed dump, so DuckDB never splits a line.
_READ = (
    "SELECT row_number() OVER () AS n, line FROM read_csv($path, columns={'line': 'VARCHAR'}, "
    "delim='\x01', quote='', escape='', header=false, auto_detect=false, new_line='\\n', "
    "strict_mode=true, compression=$compression)"
)


# Two passes. Columns first, over the file: external URLs, non-concept ends and other languages
# are skipped (`kind0`); the tests run in the reference's order (columns, ExternalURL, relation,
# concept ends, URIs, language, info). Then, for the rows left (`info`), the JSON is parsed once
# for the four fields read. SQL keeps a row (`ok`) only where DuckDB's JSON reading provably equals
# Python's: no `\\u` escapes (which could spell a key), no trailing commas (DuckDB accepts them),
# each of the four keys at most once among the object's keys (`json_keys` lists a repeated key
# twice; DuckDB keeps its first value, Python its last), a finite number as weight, strings where
# strings are read.
# Sources are read in SQL when every one is an object with one non-empty string `contributor`
# (what the reference then takes). Every other row is `python`: the reference parser decides it.
# Only the fields a row's kind needs are filled in.
_INFO_KEYS = ("weight", "dataset", "surfaceText", "sources")
_INFO_PATHS = "[" + ", ".join(f"'$.{k}'" for k in _INFO_KEYS) + "]"
_INFO_NAMES = "[" + ", ".join(f"'{k}'" for k in _INFO_KEYS) + "]"


def _is_string(value: str) -> str:
    return f"starts_with({value}, '\"')"


def _if_ok(expression: str, name: str) -> str:
    return f"CASE WHEN kind = 'ok' THEN {expression} END AS {name}"


# The parts of speech a sense-tagged URI may carry, in sorted order (how pooled tags are spelled).
_POS_LETTERS = "".join(sorted(POS_TAGS))
_POS_LIST = ", ".join(f"'{p}'" for p in _POS_LETTERS)

_OK_FIELDS = ", ".join([
    _if_ok("relation", "relation"),
    *(_if_ok(sql, name) for parts, end in (("hp", "head"), ("tp", "tail")) for sql, name in (
        (f"'/c/' || {parts}[3] || '/' || {parts}[4]", end),
        (f"CASE WHEN len({parts}) > 4 AND {parts}[5] IN ({_POS_LIST}) "
         f"THEN {parts}[5] ELSE '' END", f"{end}_pos"))),
    _if_ok("TRY_CAST(j[1] AS DOUBLE)", "weight"),
    _if_ok("coalesce(j[2] ->> '$', '')", "dataset"),
    _if_ok("coalesce(j[3] ->> '$', '')", "surface_text"),
    _if_ok("coalesce(json_extract_string(j[4], '$[*].contributor'), [])", "contributors"),
])


def _columns(source: str) -> str:
    """The lines of `source` (n, line) split into columns and decided up to their info field."""
    return f"""
SELECT *, CASE
    WHEN NOT five THEN 'python'
    WHEN rel_uri = '/r/ExternalURL' THEN 'external_url'
    WHEN NOT list_contains($relations, relation) THEN 'python'
    WHEN NOT (starts_with(start_uri, '/c/') AND starts_with(end_uri, '/c/'))
      THEN 'non_concept_end'
    WHEN len(hp) < 4 OR hp[3] = '' OR hp[4] = '' OR len(tp) < 4 OR tp[3] = '' OR tp[4] = ''
      OR contains(start_uri, chr(0)) OR contains(end_uri, chr(0)) THEN 'python'
    WHEN $filter_langs AND NOT (list_contains($langs, hp[3]) AND list_contains($langs, tp[3]))
      THEN 'language'
    ELSE 'info' END AS kind0
FROM (
  SELECT n, line, len(c) = 5 AS five, c[2] AS rel_uri,
    CASE WHEN starts_with(c[2], '/r/') THEN c[2][4:] ELSE c[2] END AS relation,
    c[3] AS start_uri, c[4] AS end_uri,
    string_split(c[3], '/') AS hp, string_split(c[4], '/') AS tp, c[5] AS info
  FROM (SELECT n, line, string_split(coalesce(line, ''), chr(9)) AS c FROM ({source})))"""


# Pass 1, in file order on one thread (the line numbers need it): every line decided up to its
# info field. Rows skipped there (most of a multilingual dump) are counted, not stored: each row
# carries the running count of every skip kind (streaming windows), and only the rows still to
# parse, the first row of each skip kind and the file's last row are kept. The last row's counts
# are the totals; storing 28M skipped rows instead spilled the engine to disk.
SKIP_KINDS = ("external_url", "non_concept_end", "language")
_SKIP_COLUMNS = ", ".join(f"skipped_{k}" for k in SKIP_KINDS)
_COUNTS = ", ".join(
    f"count(*) FILTER (WHERE kind0 = '{k}') OVER (ROWS UNBOUNDED PRECEDING) AS skipped_{k}"
    for k in SKIP_KINDS)
_KEEP = " OR ".join(f"(kind0 = '{k}' AND skipped_{k} = 1)" for k in SKIP_KINDS)
_LINES = f"""
SELECT n, kind0, CASE WHEN kind0 IN ('info', 'python') THEN line END AS line,
  {_SKIP_COLUMNS}
FROM (SELECT *, lead(n) OVER () IS NULL AS last, {_COUNTS} FROM ({_columns(_READ)}))
WHERE kind0 IN ('info', 'python') OR last OR {_KEEP}
"""

# Pass 2, over the kept lines on every core: the info JSON, parsed once for the four fields read
# (the columns are split again: cheaper in parallel than stored).
_PARSE = f"""
SELECT n, kind, CASE WHEN kind = 'python' THEN coalesce(line, '') END AS line, {_OK_FIELDS}
FROM (
  SELECT *, CASE
    WHEN kind0 <> 'info' THEN kind0
    WHEN j IS NULL OR j[1] IS NULL OR contains(info, '\\u')
      OR regexp_matches(info, ',\\s*[\\]}}]') THEN 'python'
    WHEN len(list_filter(json_keys(info), lambda k: list_contains({_INFO_NAMES}, k)))
      <> list_count(j) THEN 'python'
    WHEN NOT starts_with(j[1], '-') AND NOT (ascii(j[1]) BETWEEN 48 AND 57) THEN 'python'
    WHEN NOT isfinite(TRY_CAST(j[1] AS DOUBLE)) THEN 'python'
    WHEN j[2] IS NOT NULL AND NOT {_is_string('j[2]')} THEN 'python'
    WHEN j[3] IS NOT NULL AND NOT {_is_string('j[3]')} THEN 'python'
    WHEN j[4] IS NULL THEN 'ok'
    WHEN NOT starts_with(j[4], '[') THEN 'python'
    WHEN len(contributor_json) <> json_array_length(j[4])
      OR (len(j[4]) - len(replace(j[4], '"contributor"', ''))) // len('"contributor"')
        <> json_array_length(j[4])
      OR NOT list_bool_and(list_transform(contributor_json,
          lambda c: {_is_string('c')} AND c <> '""')) THEN 'python'
    ELSE 'ok' END AS kind
  FROM (
    SELECT *, json_extract(j[4], '$[*].contributor') AS contributor_json
    FROM (
      SELECT *, CASE WHEN kind0 = 'info' THEN try(json_extract(info, {_INFO_PATHS})) END AS j
      FROM ({_columns("SELECT n, line FROM lines WHERE kind0 IN ('info', 'python')")}))))
"""

# A concept's language and name are its URI's (`uri.parse_concept_uri`): they are read from the
# URI once per concept, not carried on every edge.
_EDGES = (
    "CREATE TABLE reference_edges (n BIGINT, relation VARCHAR, head VARCHAR, head_pos VARCHAR, "
    "tail VARCHAR, tail_pos VARCHAR, weight DOUBLE, dataset VARCHAR, surface_text VARCHAR, "
    "contributors VARCHAR[])"
)
_EDGE_FIELDS = ("n, relation, head, head_pos, tail, tail_pos, weight, dataset, surface_text, "
                "contributors")
_FACT_FIELDS = "relation, head, tail, weight, dataset, surface_text, contributors"
# A fact's edge id, its assertion URI (`records.assertion_uri`).
_EDGE_ID = "'/a/[/r/' || relation || '/,' || head || '/,' || tail || '/]'"


class FileNotSplittable(Exception):
    """DuckDB cannot read the file line by line exactly as the reference parser does."""


def _sql_path(path: Path) -> str:
    """A path kgprune created, inside a SQL string literal (file options take no parameters)."""
    return str(path).replace("'", "''")


def engine_memory_mb() -> int:
    """A share of the memory available now, so a load leaves room for everything else."""
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError):
        available = 4096
    return int(min(MAX_MEMORY_MB, max(MIN_MEMORY_MB, available * MEMORY_SHARE)))


def connect(workdir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory engine bounded in memory, spilling to `workdir`."""
    return duckdb.connect(config={
        "memory_limit": f"{engine_memory_mb()}MB",
        "temp_directory": str(workdir / "spill"),
        "preserve_insertion_order": True,
    })


def hash_columns(rows: list[tuple[bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """`stable_hash64` and `stable_unit` of every key (one UTF-8 key per row), from one blake2b
    digest each."""
    blake = hashlib.blake2b
    digests = b"".join([blake(row[0], digest_size=8).digest() for row in rows])
    signed = np.frombuffer(digests, dtype=">i8").astype(np.int64)
    unit = (np.frombuffer(digests, dtype=">u8") >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return signed, unit


def _classify(con: duckdb.DuckDBPyConnection, path: Path, langs: frozenset[str] | None) -> None:
    """Tables `lines` (pass 1: skip counts, the lines still to parse) and `parsed` (pass 2)."""
    decide = {
        "relations": list(ALL_RELATIONS),
        "filter_langs": langs is not None,
        "langs": sorted(langs or ()),
    }
    read = {"path": str(path), "compression": "gzip" if path.suffix == ".gz" else "none"}
    try:
        con.execute(f"CREATE TABLE lines AS {_LINES}", {**read, **decide})
    except (duckdb.InvalidInputException, duckdb.IOException) as e:
        message = str(e).splitlines()[0]
        if any(word in message.lower() for word in ("gzip", "compress", "inflate")):
            raise InputFormatError(Errors.K004.format(path=path, problem=message)) from None
        raise FileNotSplittable(message) from None
    con.execute(f"CREATE TABLE parsed AS {_PARSE}", decide)


def _reference_rows(con: duckdb.DuckDBPyConnection, path: Path, langs: frozenset[str] | None,
                    report: LoadReport, skip_bad_lines: bool) -> dict[str, int]:
    """Parse the rows SQL left to the reference parser; returns the first line of each skip."""
    rows = con.execute("SELECT n, line FROM parsed WHERE kind = 'python' ORDER BY n").fetchall()
    edges: list[tuple] = []
    first_seen: dict[str, int] = {}
    for n, line in rows:
        before = set(report.skipped)
        try:
            edge = parse_line(line, langs, report)
        except BadLine as e:
            if not skip_bad_lines:
                raise InputFormatError(Errors.K003.format(path=path, line=n, problem=e)) from None
            report.skip("bad_line")
            if len(report.bad_lines) < MAX_REPORTED_BAD_LINES:
                report.bad_lines.append(f"{path}:{n}: {e}")
            edge = None
        first_seen.update(dict.fromkeys(report.skipped.keys() - before, n))
        if edge is not None:
            h, t, f = edge.head, edge.tail, edge.fact
            edges.append((n, f.relation, h.uri, h.pos, t.uri, t.pos, f.weight, f.dataset,
                          f.surface_text, list(f.contributors)))
    if edges:
        con.executemany(f"INSERT INTO reference_edges ({_EDGE_FIELDS}) VALUES ({', '.join('?' * 10)})",
                        edges)
    return first_seen


def _record_counts(con: duckdb.DuckDBPyConnection, report: LoadReport,
                   first_seen: dict[str, int]) -> None:
    """Line and skip counts as the reference reports them (skips in order of first occurrence)."""
    last = con.execute(f"SELECT n, {_SKIP_COLUMNS} FROM lines ORDER BY n DESC LIMIT 1").fetchone()
    last = last or (0,) * (1 + len(SKIP_KINDS))
    report.lines_read = last[0]
    first_found = dict(con.execute(
        "SELECT kind0, min(n) FROM lines WHERE list_contains($kinds, kind0) GROUP BY kind0",
        {"kinds": list(SKIP_KINDS)}).fetchall())
    first = dict(first_seen)
    counts = dict(report.skipped)
    for kind, count in zip(SKIP_KINDS, last[1:], strict=True):
        if count:
            counts[kind] = counts.get(kind, 0) + count
            first[kind] = min(first_found[kind], first.get(kind, first_found[kind]))
    report.skipped = {k: counts[k] for k in sorted(counts, key=lambda k: first[k])}


def _merge_duplicates(con: duckdb.DuckDBPyConnection) -> int:
    """Fold keys asserted more than once, in file order, with the reference `merge_facts`."""
    con.execute("CREATE TABLE dup_keys AS SELECT relation, head, tail FROM edges "
                "GROUP BY relation, head, tail HAVING count(*) > 1")
    result = con.execute(
        f"SELECT {_FACT_FIELDS} FROM edges SEMI JOIN dup_keys USING (relation, head, tail) "
        "ORDER BY relation, head, tail, n")
    merged: list[Fact] = []
    rows_seen = 0
    while rows := result.fetchmany(FETCH_ROWS):
        for relation, head, tail, weight, dataset, surface, contributors in rows:
            rows_seen += 1
            fact = Fact(head=head, relation=relation, tail=tail, weight=weight,
                        source=SOURCE_CONCEPTNET, dataset=dataset, edge_id="",
                        surface_text=surface, contributors=tuple(contributors))
            if merged and merged[-1].key == fact.key:
                merged[-1] = merge_facts(merged[-1], fact)
            else:
                merged.append(fact)
    con.execute("CREATE TABLE merged (relation VARCHAR, head VARCHAR, tail VARCHAR, "
                "weight DOUBLE, dataset VARCHAR, surface_text VARCHAR, contributors VARCHAR[])")
    if merged:
        con.executemany(f"INSERT INTO merged ({_FACT_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(f.relation, f.head, f.tail, f.weight, f.dataset, f.surface_text,
                          list(f.contributors)) for f in merged])
    return rows_seen - len(merged)


def _add_hashes(con: duckdb.DuckDBPyConnection, table: str, key: str) -> None:
    """View `{table}`: `{table}_raw` plus `key` (stable_hash64) and `cov` (stable_unit) of `key`,
    a SQL expression over the table's columns.

    Keys are fetched and hashed `HASH_ROWS` at a time, so Python holds 16 bytes per row, not the
    keys. Both the fetch and the view read the table in insertion order, so the positional join
    pairs each row with its own hashes. The hashes are a table, not a registered array, so that a
    second cursor reads the view too. (Hashing the facts on a second cursor while the engine
    grouped the concepts did not make the load faster on two cores.)
    """
    total = con.execute(f"SELECT count(*) FROM {table}_raw").fetchone()[0]
    signed = np.empty(total, dtype=np.int64)
    unit = np.empty(total, dtype=np.float64)
    # Encoded by DuckDB: fetching bytes and hashing them beat encoding in Python by 16%.
    result = con.execute(f"SELECT encode({key}) FROM {table}_raw")
    done = 0
    while rows := result.fetchmany(HASH_ROWS):
        signed[done:done + len(rows)], unit[done:done + len(rows)] = hash_columns(rows)
        done += len(rows)
    con.register("hashes", {"key": signed, "cov": unit})
    con.execute(f"CREATE TABLE {table}_hashes AS SELECT * FROM hashes")
    con.unregister("hashes")
    con.execute(f"CREATE VIEW {table} AS SELECT * FROM {table}_raw POSITIONAL JOIN {table}_hashes")


# A concept's parts of speech, pooled over its edges: one bit per tag, spelled in sorted order.
_POS_BIT = ("CASE pos " + " ".join(f"WHEN '{p}' THEN {1 << i}" for i, p in enumerate(_POS_LETTERS))
            + " ELSE 0 END")
_POOLED_POS = " || ".join(f"CASE WHEN pos_bits & {1 << i} <> 0 THEN '{p}' ELSE '' END"
                          for i, p in enumerate(_POS_LETTERS))


def _build_tables(con: duckdb.DuckDBPyConnection) -> None:
    """`facts_raw` (one row per key) and `concepts` (POS pooled, with key and cov).

    The facts' keys are hashed by `ColumnarConceptNet.write_facts`, while the store copies the
    concepts; rows handed to other stores are keyed there. The edge id is spelled where it is
    read, not stored: a column of 10^6 URIs costs its writing.
    """
    con.execute(
        f"CREATE TABLE facts_raw AS SELECT {_FACT_FIELDS} FROM edges "
        f"ANTI JOIN dup_keys USING (relation, head, tail) UNION ALL SELECT {_FACT_FIELDS} FROM merged")
    con.execute(f"""
CREATE TABLE concepts_raw AS SELECT uri, replace(split_part(uri, '/', 4), '_', ' ') AS name,
  split_part(uri, '/', 3) AS lang, {_POOLED_POS} AS pos
FROM (SELECT uri, bit_or({_POS_BIT}) AS pos_bits FROM (
  SELECT head AS uri, head_pos AS pos FROM edges UNION ALL SELECT tail, tail_pos FROM edges)
  GROUP BY uri)""")
    _add_hashes(con, "concepts", "uri")
    con.execute("DROP VIEW edges; DROP TABLE reference_edges; DROP TABLE merged; "
                "DROP TABLE dup_keys; DROP TABLE parsed")


@dataclass(frozen=True, slots=True)
class ParquetPart:
    """One table's rows as Parquet files in the embedded store's column order, chunked for
    bounded `COPY`s."""

    paths: tuple[Path, ...]
    rows: int


# The source is NULL (reads spell it, as for facts below).
_PARQUET_CONCEPTS = "SELECT uri, name, lang, pos, NULL::VARCHAR AS source, cov FROM concepts"
# The source and the edge id (the assertion URI), which reads spell from the triple, are stored as
# NULL, and so are empty values: the store's `COPY` pays for every string it keeps.
_PARQUET_FACTS = (
    "SELECT head AS \"from\", tail AS \"to\", relation, weight, NULL::VARCHAR AS source, "
    "NULL::VARCHAR AS edge_id, NULL::VARCHAR AS predicate, key FROM facts"
)
_PARQUET_PROVENANCE = (
    "SELECT key, nullif(dataset, '') AS dataset, nullif(surface_text, '') AS surface_text, "
    "CASE WHEN len(contributors) > 0 THEN to_json(contributors)::VARCHAR END AS contributors "
    "FROM facts"
)
_HAS_PROVENANCE = " WHERE dataset <> '' OR surface_text <> '' OR len(contributors) > 0"


class ColumnarConceptNet:
    """A parsed, merged assertions file held in DuckDB: `concepts` (uri, name, lang, pos, key,
    cov) and `facts_raw` (relation, head, tail, weight, dataset, surface_text, contributors as
    VARCHAR[]); `write_facts` adds their keys as view `facts`.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def _export(self, name: str, select: str, directory: Path, chunk_rows: int,
                con: duckdb.DuckDBPyConnection | None = None) -> ParquetPart:
        """`select` as Parquet files of at most `chunk_rows` rows each, on `con` (default: the
        engine's own connection)."""
        con = con or self.con
        if chunk_rows >= ROW_GROUP_ROWS:
            written = self._export_row_groups(con, directory / name, select, chunk_rows)
            if written is not None:
                return written
        return self._export_ranges(con, name, select, directory, chunk_rows)

    @staticmethod
    def _export_row_groups(con: duckdb.DuckDBPyConnection, folder: Path, select: str,
                           chunk_rows: int) -> ParquetPart | None:
        """One pass, whole row groups per file; None (and nothing left) if a file came out larger."""
        con.execute(
            f"COPY ({select}) TO '{_sql_path(folder)}' (FORMAT parquet, "
            f"ROW_GROUP_SIZE {ROW_GROUP_ROWS}, ROW_GROUPS_PER_FILE {chunk_rows // ROW_GROUP_ROWS})")
        paths = sorted(folder.glob("*.parquet"))
        rows = dict(con.execute(
            "SELECT file_name, num_rows FROM parquet_file_metadata($paths)",
            {"paths": [str(p) for p in paths]}).fetchall()) if paths else {}
        if any(count > chunk_rows for count in rows.values()):
            shutil.rmtree(folder)
            return None
        return ParquetPart(tuple(p for p in paths if rows[str(p)]), sum(rows.values()))

    @staticmethod
    def _export_ranges(con: duckdb.DuckDBPyConnection, name: str, select: str, directory: Path,
                       chunk_rows: int) -> ParquetPart:
        """Exactly `chunk_rows` rows a file, however small: numbered once, then cut in ranges."""
        table = f"export_{name}"
        con.execute(f"CREATE TABLE {table} AS SELECT row_number() OVER () - 1 AS rid, * "
                    f"FROM ({select})")
        total = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        paths = []
        for start in range(0, total, chunk_rows):
            path = directory / f"{name}-{len(paths):04d}.parquet"
            con.execute(
                f"COPY (SELECT * EXCLUDE (rid) FROM {table} WHERE rid >= $start AND rid < $stop "
                f"ORDER BY rid) TO '{_sql_path(path)}' (FORMAT parquet)",
                {"start": start, "stop": start + chunk_rows})
            paths.append(path)
        con.execute(f"DROP TABLE {table}")
        return ParquetPart(tuple(paths), total)

    def write_concepts(self, directory: Path, *, existing: Path | None,
                       chunk_rows: int) -> ParquetPart:
        """The concepts a store lacks (uris in the `existing` Parquet file are left out)."""
        select = _PARQUET_CONCEPTS
        if existing is not None:
            select += f" ANTI JOIN read_parquet('{_sql_path(existing)}') USING (uri)"
        return self._export("concepts", select, directory, chunk_rows)

    def write_facts(self, directory: Path, *, existing: Path | None,
                    chunk_rows: int) -> tuple[ParquetPart, ParquetPart]:
        """The facts a store lacks and their provenance (keys in `existing` are left out).

        Each export reads the keys through a positional join, on one thread, so the provenance
        is written on a second cursor beside the facts. Consumes the engine: it is closed, its
        memory returned, before the store copies them.
        """
        _add_hashes(self.con, "facts", _EDGE_ID)
        new = "" if existing is None else (
            f" ANTI JOIN read_parquet('{_sql_path(existing)}') USING (key)")
        with self.con.cursor() as beside, ThreadPoolExecutor(max_workers=1) as pool:
            provenance = pool.submit(self._export, "provenance",
                                     _PARQUET_PROVENANCE + new + _HAS_PROVENANCE, directory,
                                     chunk_rows, beside)
            facts = self._export("facts", _PARQUET_FACTS + new, directory, chunk_rows)
            written = facts, provenance.result()
        self.con.close()
        return written

    def iter_concepts(self) -> Iterator[Concept]:
        result = self.con.execute("SELECT uri, name, lang, pos FROM concepts ORDER BY uri")
        while rows := result.fetchmany(FETCH_ROWS):
            for uri, name, lang, pos in rows:
                yield Concept(uri=uri, name=name, lang=lang, pos=pos, source=SOURCE_CONCEPTNET)

    def iter_facts(self) -> Iterator[Fact]:
        result = self.con.execute(
            f"SELECT head, relation, tail, weight, dataset, {_EDGE_ID} AS edge_id, surface_text, "
            "contributors FROM facts_raw ORDER BY edge_id")
        while rows := result.fetchmany(FETCH_ROWS):
            for head, relation, tail, weight, dataset, edge_id, surface, contributors in rows:
                yield Fact(head=head, relation=relation, tail=tail, weight=weight,
                           source=SOURCE_CONCEPTNET, dataset=dataset, edge_id=edge_id,
                           surface_text=surface, contributors=tuple(contributors))


def parse_conceptnet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    langs: frozenset[str] | None,
    report: LoadReport,
    skip_bad_lines: bool = False,
    on_progress: ProgressFn | None = None,
) -> ColumnarConceptNet:
    """Parse and merge a whole file into `con`; raises `FileNotSplittable` for the reference."""
    check_input_file(path)
    total = path.stat().st_size
    _classify(con, path, langs)
    con.execute(_EDGES)
    first_seen = _reference_rows(con, path, langs, report, skip_bad_lines)
    _record_counts(con, report, first_seen)
    con.execute("DROP TABLE lines")
    con.execute(f"CREATE VIEW edges AS SELECT {_EDGE_FIELDS} FROM parsed WHERE kind = 'ok' "
                f"UNION ALL SELECT {_EDGE_FIELDS} FROM reference_edges")
    report.facts_parsed = con.execute("SELECT count(*) FROM edges").fetchone()[0]
    report.duplicates_merged = _merge_duplicates(con)
    _build_tables(con)
    if on_progress is not None:
        on_progress(total, total)
    return ColumnarConceptNet(con)
