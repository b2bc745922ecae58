"""The DuckDB ConceptNet parser against the pure-Python reference: the same reports, the same graph,
byte for byte in `kg stats --json` and `kg neighbors --json`."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from kgprune.cli import app
from kgprune.errors import InputFormatError
from kgprune.kg import bundled
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.ingest import load_conceptnet, load_visual_genome, stage_conceptnet
from kgprune.kg.loaders import conceptnet_columnar
from kgprune.kg.loaders.conceptnet import parse_languages
from kgprune.kg.loaders.conceptnet_columnar import FileNotSplittable, connect, parse_conceptnet
from kgprune.kg.records import LoadReport

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = FIXTURES / "conceptnet-hostile.csv"
runner = CliRunner()


def _reference(path: Path, langs: str, skip: bool) -> tuple[LoadReport, list, list]:
    report = LoadReport(source="conceptnet", path=str(path))
    with stage_conceptnet(path, report, langs=parse_languages(langs), skip_bad_lines=skip) as b:
        concepts = sorted(b.concepts, key=lambda c: c.uri)
        facts = sorted(b.facts, key=lambda f: f.edge_id)
    return report, concepts, facts


def _columnar(path: Path, langs: str, skip: bool, tmp: Path) -> tuple[LoadReport, list, list]:
    report = LoadReport(source="conceptnet", path=str(path))
    con = connect(tmp)
    staged = parse_conceptnet(con, path, langs=parse_languages(langs), report=report,
                              skip_bad_lines=skip)
    concepts = sorted(staged.iter_concepts(), key=lambda c: c.uri)
    facts = sorted(staged.iter_facts(), key=lambda f: f.edge_id)
    con.close()
    return report, concepts, facts


@pytest.mark.parametrize("langs", ["en", "en,de", "all"])
@pytest.mark.parametrize("name", ["conceptnet-assertions.csv", "conceptnet-hostile.csv"])
def test_parses_like_the_reference(name: str, langs: str, tmp_path: Path) -> None:
    path = FIXTURES / name
    expected = _reference(path, langs, skip=True)
    assert _columnar(path, langs, True, tmp_path) == expected
    if name == "conceptnet-hostile.csv":
        report = expected[0]
        assert report.skipped["bad_line"] == 13 and report.duplicates_merged >= 3


def test_bundled_parses_like_the_reference(tmp_path: Path) -> None:
    path = bundled.conceptnet_path()
    assert _columnar(path, "en", False, tmp_path) == _reference(path, "en", skip=False)


_FIXTURE_LINES = (FIXTURES / "conceptnet-assertions.csv").read_text(encoding="utf-8").splitlines()
_KINDS = {
    "ok": _FIXTURE_LINES[0],
    "language": _FIXTURE_LINES[9],
    "external_url": _FIXTURE_LINES[12],
    "non_concept_end": "/a/[/r/RelatedTo/,/c/en/cup/,/x/mug/]\t/r/RelatedTo\t/c/en/cup\t/x/mug\t"
                       '{"dataset": "/d/verbosity", "weight": 0.5}',
    "bad": "only\ttwo columns",
    # Two English ends, yet skipped or bad: a language test alone would keep them.
    "external_url_en": "/a/[/r/ExternalURL/,/c/en/cup/,/c/en/mug/]\t/r/ExternalURL\t/c/en/cup\t"
                       '/c/en/mug\t{"dataset": "/d/dbpedia/en", "weight": 0.5}',
    "bad_en": "/a/x\t/r/IsA\t/c/en/cup\t/c/en/mug\t{}\tsixth column",
    # The four info keys nested in a source do not count; a repeated top-level one does.
    "nested_keys": "/a/[/r/IsA/,/c/en/mug/,/c/en/cup/]\t/r/IsA\t/c/en/mug\t/c/en/cup\t"
                   '{"dataset": "/d/a", "sources": [{"contributor": "/s/x", "weight": 9, '
                   '"dataset": "/d/b"}], "weight": 2.0}',
    "repeated_key": "/a/[/r/IsA/,/c/en/bowl/,/c/en/dish/]\t/r/IsA\t/c/en/bowl\t/c/en/dish\t"
                    '{"dataset": "/d/a", "weight": 1.0, "dataset": "/d/b"}',
}


def _assertion(relation: str, start: str, end: str, info: str) -> str:
    return f"/a/[/r/{relation}/,{start}/,{end}/]\t/r/{relation}\t{start}\t{end}\t{info}"


def test_parts_of_speech_pooled_like_the_reference(tmp_path: Path) -> None:
    """A concept met with several parts of speech (sense-tagged URIs, a tag that is not a part of
    speech, rows the reference parser decides) keeps every tag once, in the reference's order."""
    plain = '{"dataset": "/d/wordnet/3.1", "weight": 1.0}'
    # A `\u` escape could spell a key, so the reference parser decides the row.
    odd = '{"dataset": "/d/word\\u006eet/3.1", "weight": 1.0}'
    lines = [
        _assertion("IsA", "/c/en/run/v", "/c/en/move/v", plain),
        _assertion("IsA", "/c/en/run/n/wn/act", "/c/en/race/n", plain),
        _assertion("RelatedTo", "/c/en/run", "/c/en/fast/r", plain),
        _assertion("RelatedTo", "/c/en/fast/a", "/c/en/run/x", plain),
        _assertion("RelatedTo", "/c/en/fast/s", "/c/en/quick/a", odd),
        _assertion("Synonym", "/c/en/run/a", "/c/en/sprint/v", odd),
        _assertion("IsA", "/c/en/run/v/wn/motion", "/c/en/move/v", plain),
    ]
    path = tmp_path / "pos.csv"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    expected = _reference(path, "en", skip=False)
    assert _columnar(path, "en", False, tmp_path) == expected
    pooled = {c.uri: c.pos for c in expected[1]}
    assert (pooled["/c/en/run"], pooled["/c/en/fast"], pooled["/c/en/move"]) == ("anv", "ars", "v")


@pytest.mark.parametrize("kinds", [
    "",
    "language",
    "external_url language non_concept_end language external_url",
    "ok language language",
    "language ok bad external_url external_url",
    "non_concept_end ok ok language",
    "nested_keys repeated_key ok",
    "external_url_en language external_url bad_en ok",
    "language external_url external_url_en ok external_url_en",
    "bad_en bad external_url_en",
])
def test_skip_counts_streamed_like_the_reference(kinds: str, tmp_path: Path) -> None:
    """Skipped rows are counted as they stream past, not stored: totals, order of first occurrence
    and line count stay the reference's whatever kind the file starts or ends with."""
    path = tmp_path / "kinds.csv"
    path.write_text("".join(_KINDS[k] + "\n" for k in kinds.split()), encoding="utf-8")
    report, concepts, facts = _reference(path, "en", skip=True)
    assert _columnar(path, "en", True, tmp_path) == (report, concepts, facts)
    assert report.lines_read == len(kinds.split())
    skips = {"language", "external_url", "non_concept_end", "bad", "external_url_en", "bad_en"}
    assert sum(report.skipped.values()) == sum(k in skips for k in kinds.split())


def test_first_bad_line_is_the_reference_error(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError) as reference:
        _reference(HOSTILE, "en", skip=False)
    with pytest.raises(InputFormatError) as columnar:
        _columnar(HOSTILE, "en", False, tmp_path)
    assert str(columnar.value) == str(reference.value)
    assert f"{HOSTILE}:5:" in str(columnar.value)


def test_files_duckdb_cannot_split_go_to_the_reference(tmp_path: Path, conceptnet_csv: Path) -> None:
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(conceptnet_csv.read_bytes().replace(b"\n", b"\r\n"))
    with pytest.raises(FileNotSplittable):
        _columnar(crlf, "en", False, tmp_path)
    store = LadybugStore(tmp_path / "kg.lbdb")
    report = load_conceptnet(store, crlf)
    assert report.facts_added == 14 and report.lines_read == 19
    store.close()


def _json(*args: str) -> str:
    """The command's JSON, with the store's name (which every KG read reports) made neutral."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout.replace("python.lbdb", "<store>").replace("duckdb.lbdb", "<store>")


def _store(tmp_path: Path, name: str, parser: str, conceptnet: Path, vg: Path | None) -> str:
    store = LadybugStore(tmp_path / name)
    load_conceptnet(store, conceptnet, skip_bad_lines=True, parser=parser)  # type: ignore[arg-type]
    if vg is not None:
        load_visual_genome(store, vg)
    uris = sorted(c.uri for batch in store.iter_concepts() for c in batch)
    store.close()
    return uris


@pytest.mark.parametrize("source", ["fixture", "hostile", "bundled", "gzip"])
def test_cli_json_is_byte_identical(source: str, tmp_path: Path, conceptnet_csv: Path,
                                    vg_dir: Path) -> None:
    conceptnet, vg = {
        "fixture": (conceptnet_csv, vg_dir),
        "hostile": (HOSTILE, None),
        "bundled": (bundled.conceptnet_path(), bundled.visual_genome_dir()),
        "gzip": (tmp_path / "assertions.csv.gz", None),
    }[source]
    if source == "gzip":
        with conceptnet_csv.open("rb") as src, gzip.open(conceptnet, "wb") as dst:
            shutil.copyfileobj(src, dst)
    uris = _store(tmp_path, "python.lbdb", "python", conceptnet, vg)
    assert uris == _store(tmp_path, "duckdb.lbdb", "duckdb", conceptnet, vg)
    stores = [f"ladybug://{tmp_path / name}" for name in ("python.lbdb", "duckdb.lbdb")]
    views = [[], ["--coverage", "0.5", "--seed", "3"], ["--coverage", "0.4", "--strategy", "concept"],
             ["--coverage", "0.5", "--strategy", "walk"]]
    for view in views:
        a, b = (_json("kg", "stats", "--store", s, "--json", *view) for s in stores)
        assert a == b
    for uri in uris[:: max(1, len(uris) // 10)]:
        # A small limit orders ties by edge id, which the bulk-loaded store spells from the triple.
        for extra in (["--hops", "1"], ["--hops", "2"], ["--limit", "2"],
                      ["--limit", "3", "--coverage", "0.6", "--strategy", "walk"]):
            a, b = (_json("kg", "neighbors", uri, *extra, "--store", s, "--json") for s in stores)
            assert a == b


@pytest.mark.parametrize("chunk_rows", [4096, 1000])
def test_parquet_files_hold_at_most_chunk_rows(chunk_rows: int, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole row groups per file (4096) or exact ranges (1000): the same rows, no file too big."""
    monkeypatch.setattr(conceptnet_columnar, "ROW_GROUP_ROWS", 2048)
    path = tmp_path / "assertions.csv"
    path.write_text("".join(f"/a/{i}\t/r/RelatedTo\t/c/en/w{i}\t/c/en/w{i + 1}/n\t"
                            f'{{"weight": {i % 7}.5, "dataset": "/d/x"}}\n' for i in range(6000)))
    rows = {}
    for name, chunk in (("chunked", chunk_rows), ("whole", 10**6)):
        con = connect(tmp_path)
        staged = parse_conceptnet(con, path, langs=parse_languages("en"),
                                  report=LoadReport(source="conceptnet", path=str(path)))
        out = tmp_path / name
        out.mkdir()
        facts, _ = staged.write_facts(out, existing=None, chunk_rows=chunk)
        counts = [duckdb.sql(f"SELECT count(*) FROM '{f}'").fetchall()[0][0] for f in facts.paths]
        assert all(0 < c <= chunk for c in counts) and sum(counts) == facts.rows == 6000
        # Chunks of whole row groups are written in one pass into a folder, smaller ones by range.
        assert all((f.parent == out / "facts") == (chunk >= 2048) for f in facts.paths)
        rows[name] = sorted(duckdb.sql(
            f"SELECT * FROM read_parquet({[str(f) for f in facts.paths]})").fetchall())
    assert len(rows["chunked"]) == 6000 and rows["chunked"] == rows["whole"]
