from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from kgprune.errors import ConfigError, InputFormatError
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.ingest import load_conceptnet
from kgprune.kg.loaders.conceptnet import iter_conceptnet, parse_languages
from kgprune.kg.records import LoadReport


def _edges(path: Path, **kwargs: object) -> tuple[list, LoadReport]:
    report = LoadReport(source="conceptnet", path=str(path))
    return list(iter_conceptnet(path, report=report, **kwargs)), report  # type: ignore[arg-type]


def test_english_rows_are_kept_and_the_rest_counted(conceptnet_csv: Path) -> None:
    edges, report = _edges(conceptnet_csv)
    assert len(edges) == 15 and report.lines_read == 19
    assert report.skipped == {"external_url": 1, "language": 3}
    umbrella = edges[0].fact
    assert (umbrella.head, umbrella.relation, umbrella.tail) == ("/c/en/umbrella", "UsedFor", "/c/en/stay_dry")
    assert umbrella.surface_text == "[[an umbrella]] is for [[staying dry]]"
    assert umbrella.dataset == "/d/conceptnet/4/en"
    assert umbrella.contributors == ("/s/contributor/omcs/alice",)
    dog = next(e for e in edges if e.fact.relation == "IsA" and e.head.uri == "/c/en/dog")
    assert (dog.head.pos, dog.tail.uri, dog.tail.pos) == ("n", "/c/en/animal", "n")


def test_language_filters(conceptnet_csv: Path) -> None:
    edges, report = _edges(conceptnet_csv, langs=parse_languages("en,de"))
    assert {e.fact.relation for e in edges if e.head.lang == "de"} == {"Synonym", "IsA"}
    assert report.skipped["language"] == 1  # only the French row
    everything, report = _edges(conceptnet_csv, langs=parse_languages("all"))
    assert len(everything) == 18 and "language" not in report.skipped
    assert any(e.head.uri == "/c/fr/pâtes" for e in everything)
    with pytest.raises(ConfigError, match="K005"):
        parse_languages("en,Deutsch!")


def test_gzip_reads_like_plain(conceptnet_csv: Path, tmp_path: Path) -> None:
    gz = tmp_path / "assertions.csv.gz"
    with conceptnet_csv.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert [e.fact for e in _edges(gz)[0]] == [e.fact for e in _edges(conceptnet_csv)[0]]


def _with_bad_line(conceptnet_csv: Path, tmp_path: Path, bad: str) -> Path:
    lines = conceptnet_csv.read_text(encoding="utf-8").splitlines()
    lines.insert(6, bad)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("bad", "problem"),
    [("/a/x\t/r/IsA\t/c/en/a\t/c/en/b", "expected 5 tab-separated columns, found 4"),
     ("/a/x\t/r/IsA\t/c/en/a\t/c/en/b\t{\"weight\": 1.0", "not valid JSON"),
     ("/a/x\t/r/IsA\t/c/en/a\t/c/en/b\t{\"dataset\": \"/d/x\"}", "numeric 'weight'"),
     ("/a/x\t/r/IsA\t/c/en\t/c/en/b\t{\"weight\": 1.0}", "bad concept URI '/c/en'"),
     ("/a/x\t/r/LikesToEat\t/c/en/a\t/c/en/b\t{\"weight\": 1.0}", "unknown relation"),
     # Non-finite and non-numeric weights would reach JSON output as NaN / Infinity.
     ("/a/x\t/r/IsA\t/c/en/a\t/c/en/b\t{\"weight\": NaN}", "weight nan is not a finite number"),
     ("/a/x\t/r/IsA\t/c/en/a\t/c/en/b\t{\"weight\": 1e400}", "weight inf is not a finite"),
     ("/a/x\t/r/IsA\t/c/en/a\t/c/en/b\t{\"weight\": true}", "numeric 'weight'"),
     ("/a/x\t/r/IsA\t/c/en/a\x00b\t/c/en/b\t{\"weight\": 1.0}", "contains a NUL byte")],
)
@pytest.mark.parametrize("parser", ["duckdb", "python"])
def test_malformed_line_names_file_and_line_and_store_is_unchanged(
    conceptnet_csv: Path, tmp_path: Path, bad: str, problem: str, parser: str
) -> None:
    path = _with_bad_line(conceptnet_csv, tmp_path, bad)
    store = LadybugStore(tmp_path / "kg.lbdb")
    store.ensure_schema()
    with pytest.raises(InputFormatError, match=f"K003.*{path}:7: .*{problem}"):
        load_conceptnet(store, path, parser=parser)  # type: ignore[arg-type]
    assert store.stats().facts == 0 and store.stats().concepts == 0

    report = load_conceptnet(store, path, skip_bad_lines=True, parser=parser)  # type: ignore[arg-type]
    assert report.skipped["bad_line"] == 1 and report.bad_lines[0].startswith(f"{path}:7:")
    assert report.facts_added == 14
    store.close()


def test_truncated_gzip_is_a_clear_error_and_changes_nothing(conceptnet_csv: Path, tmp_path: Path) -> None:
    gz = tmp_path / "assertions.csv.gz"
    gz.write_bytes(gzip.compress(conceptnet_csv.read_bytes() * 20)[:-300])
    store = LadybugStore(tmp_path / "kg.lbdb")
    store.ensure_schema()
    with pytest.raises(InputFormatError, match="K004.*truncated"):
        load_conceptnet(store, gz)
    not_gzip = tmp_path / "plain.csv.gz"
    not_gzip.write_bytes(b"this is not gzip at all\n")
    with pytest.raises(InputFormatError, match="K004"):
        load_conceptnet(store, not_gzip)
    assert store.stats().facts == 0
    store.close()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="K002"):
        _edges(tmp_path / "nope.csv.gz")


def test_a_directory_is_named_as_one(tmp_path: Path) -> None:
    store = LadybugStore(tmp_path / "kg.lbdb")
    with pytest.raises(InputFormatError, match=f"K025.*{tmp_path} is a directory"):
        load_conceptnet(store, tmp_path)
    store.close()


def test_not_utf8_names_the_line(conceptnet_csv: Path, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(conceptnet_csv.read_bytes() + "/a/x\t/r/IsA\t/c/en/caf\xe9\t/c/en/b\t{}\n".encode("latin-1"))
    with pytest.raises(InputFormatError, match=f"K003.*{path}:20: not UTF-8"):
        _edges(path)
