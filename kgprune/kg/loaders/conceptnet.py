"""Stream ConceptNet 5.7 assertions (`.csv` or `.csv.gz`: 5 tab-separated columns, JSON info).

Rows are split on tabs, never with `csv` quoting: the info JSON may contain quotes but never a tab.
Both ends must be concepts of the chosen languages; `/r/ExternalURL` and non-concept ends are
skipped and counted. Sense-tagged ends collapse to their term; the POS is kept on the concept.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kgprune.errors import ConfigError, Errors, InputFormatError, KgpruneError
from kgprune.kg.records import SOURCE_CONCEPTNET, Concept, Fact, LoadReport, assertion_uri
from kgprune.kg.relations import relation_from_uri
from kgprune.kg.uri import ParsedConcept, parse_concept_uri

_LANG_CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]+)*$")
MAX_REPORTED_BAD_LINES = 5

ProgressFn = Callable[[int, int], None]


def parse_languages(spec: str) -> frozenset[str] | None:
    """`en` / `en,de` -> a set of codes; `all` -> None (every language)."""
    codes = [c.strip().lower() for c in spec.split(",") if c.strip()]
    if codes == ["all"]:
        return None
    bad = [c for c in codes if not _LANG_CODE.match(c)]
    if bad or not codes:
        raise ConfigError(Errors.K005.format(codes=", ".join(bad) or repr(spec)))
    return frozenset(codes)


@dataclass(frozen=True, slots=True)
class ConceptNetEdge:
    head: Concept
    tail: Concept
    fact: Fact


class BadLine(ValueError):
    """A malformed row; the loader names its file and line, or skips it with --skip-bad-lines."""


def _concept(parsed: ParsedConcept) -> Concept:
    return Concept(uri=parsed.uri, name=parsed.name, lang=parsed.lang, pos=parsed.pos)


def _parse_end(uri: str) -> ParsedConcept:
    if "\x00" in uri:
        raise BadLine(f"bad concept URI {uri!r}: it contains a NUL byte")
    try:
        return parse_concept_uri(uri)
    except KgpruneError as e:
        raise BadLine(f"bad concept URI '{uri}'") from e


def _parse_info(raw: str) -> dict:
    try:
        info = json.loads(raw)
    except json.JSONDecodeError as e:
        raise BadLine(f"info column is not valid JSON ({e.msg} at char {e.pos})") from e
    weight = info.get("weight") if isinstance(info, dict) else None
    if not isinstance(weight, int | float) or isinstance(weight, bool):
        raise BadLine("info JSON must be an object with a numeric 'weight'")
    if not math.isfinite(weight):
        raise BadLine(f"the weight {weight} is not a finite number")
    return info


def contributors_of(info: dict) -> tuple[str, ...]:
    """Who asserted an edge: each source's contributor, else its process, else its activity."""
    sources = info.get("sources")
    if not isinstance(sources, list):
        return ()
    return tuple(
        str(s.get("contributor") or s.get("process") or s.get("activity") or "")
        for s in sources
        if isinstance(s, dict)
    )


def parse_line(
    line: str, langs: frozenset[str] | None, report: LoadReport
) -> ConceptNetEdge | None:
    """The reference parse of one row: an edge, None (skipped and counted) or `BadLine`."""
    cols = line.rstrip("\r\n").split("\t")
    if len(cols) != 5:
        raise BadLine(f"expected 5 tab-separated columns, found {len(cols)}")
    _, rel_uri, start, end, raw_info = cols
    if rel_uri == "/r/ExternalURL":
        report.skip("external_url")
        return None
    try:
        relation = relation_from_uri(rel_uri)
    except KgpruneError as e:
        raise BadLine(f"unknown relation '{rel_uri}'") from e
    if not (start.startswith("/c/") and end.startswith("/c/")):
        report.skip("non_concept_end")
        return None
    head, tail = _parse_end(start), _parse_end(end)
    if langs is not None and (head.lang not in langs or tail.lang not in langs):
        report.skip("language")
        return None
    info = _parse_info(raw_info)
    fact = Fact(
        head=head.uri,
        relation=relation,
        tail=tail.uri,
        weight=float(info["weight"]),
        source=SOURCE_CONCEPTNET,
        dataset=str(info.get("dataset", "")),
        edge_id=assertion_uri(relation, head.uri, tail.uri),
        surface_text=str(info.get("surfaceText", "")),
        contributors=contributors_of(info),
    )
    return ConceptNetEdge(head=_concept(head), tail=_concept(tail), fact=fact)


def check_input_file(path: Path) -> None:
    """A dump must be a readable file: a directory or a missing path is a coded error."""
    if path.is_dir():
        raise InputFormatError(Errors.K025.format(path=path))
    if not path.is_file():
        raise InputFormatError(Errors.K002.format(path=path))


def _open(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """The raw file (its position drives progress) and the stream of decompressed bytes."""
    raw = path.open("rb")
    if path.suffix == ".gz":
        return raw, gzip.GzipFile(fileobj=raw, mode="rb")
    return raw, raw


def _decode(raw_line: bytes) -> str:
    try:
        return raw_line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadLine(f"not UTF-8 ({e.reason} at byte {e.start})") from None


def iter_conceptnet(
    path: Path,
    *,
    langs: frozenset[str] | None = frozenset({"en"}),
    report: LoadReport,
    skip_bad_lines: bool = False,
    on_progress: ProgressFn | None = None,
) -> Iterator[ConceptNetEdge]:
    """Yield one edge per usable row; malformed rows raise (naming file and line) or are skipped."""
    check_input_file(path)
    total = path.stat().st_size
    raw, stream = _open(path)
    lineno = 0
    try:
        with raw, stream:
            for lineno, raw_line in enumerate(stream, start=1):
                report.lines_read = lineno
                try:
                    edge = parse_line(_decode(raw_line), langs, report)
                except BadLine as e:
                    if not skip_bad_lines:
                        raise InputFormatError(
                            Errors.K003.format(path=path, line=lineno, problem=e)
                        ) from None
                    report.skip("bad_line")
                    if len(report.bad_lines) < MAX_REPORTED_BAD_LINES:
                        report.bad_lines.append(f"{path}:{lineno}: {e}")
                    continue
                if edge is not None:
                    report.facts_parsed += 1
                    yield edge
                if on_progress is not None and lineno % 50_000 == 0:
                    on_progress(raw.tell(), total)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise InputFormatError(Errors.K002.format(path=path)) from e
        raise InputFormatError(
            Errors.K004.format(path=path, problem=f"{type(e).__name__} after line {lineno}: {e}")
        ) from e
    if on_progress is not None:
        on_progress(total, total)
