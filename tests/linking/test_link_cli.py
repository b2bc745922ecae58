"""`kgprune link`: build-index and query as a user meets them, JSON parsed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgprune.cli import app
from kgprune.errors import ConfigError
from kgprune.kg import bundled
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.linking.index import IndexMismatchError, read_manifest

runner = CliRunner()


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cli") / "kg.lbdb"
    with LadybugStore(path) as store:
        store.ensure_schema()
        bundled.load_bundled(store)
    return f"ladybug://{path}"


def _query(store_url: str, text: str, *extra: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["link", "query", text, "--store", store_url, "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_query_without_an_index_is_exact_only(store_url: str) -> None:
    result = runner.invoke(app, ["link", "query", "Is the umbrela on the hot dog?",
                                 "--store", store_url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{
        "uri": "/c/en/hot_dog", "name": "hot dog", "mention": "hot dog", "start": 22, "end": 29,
        "score": 1.0, "method": "exact",
    }]
    assert "build-index" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_build_index_then_query_finds_fuzzy_matches(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    built = runner.invoke(app, ["link", "build-index", "--store", store_url,
                                "--encoder", "hashing", "--out", str(out)])
    assert built.exit_code == 0, built.output
    assert "flat index" in built.stdout and "hashing-v1-d384" in built.stdout
    assert read_manifest(out).num_concepts > 1000
    linked = _query(store_url, "what is this kitchen tool used for, umbrela?", "--index", str(out))
    assert [(c["mention"], c["uri"], c["method"]) for c in linked] == [
        ("kitchen", "/c/en/kitchen", "exact"), ("tool", "/c/en/tool", "exact"),
        ("umbrela", "/c/en/umbrella", "fuzzy")]
    table = runner.invoke(app, ["link", "query", "umbrela", "--store", store_url,
                                "--index", str(out)])
    assert table.exit_code == 0 and "/c/en/umbrella" in table.stdout and "fuzzy" in table.stdout


def test_default_index_location_is_found(store_url: str) -> None:
    built = runner.invoke(app, ["link", "build-index", "--store", store_url,
                                "--encoder", "hashing"])
    assert built.exit_code == 0, built.output
    result = runner.invoke(app, ["link", "query", "umbrela", "--store", store_url, "--json"])
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)[0]["method"] == "fuzzy"
    assert _query(store_url, "zorblax") == []


def test_bad_encoder_and_stale_index_are_coded_errors(store_url: str, tmp_path: Path,
                                                      conceptnet_csv: Path) -> None:
    bad = runner.invoke(app, ["link", "build-index", "--store", store_url, "--encoder", "glove"])
    assert isinstance(bad.exception, ConfigError) and "[K100]" in str(bad.exception)
    url = f"ladybug://{tmp_path / 'small.lbdb'}"
    out = str(tmp_path / "idx")
    loaded = runner.invoke(app, ["kg", "load", "conceptnet", str(conceptnet_csv), "--store", url])
    assert loaded.exit_code == 0
    assert runner.invoke(app, ["link", "build-index", "--store", url, "--encoder", "hashing",
                               "--out", out]).exit_code == 0
    with LadybugStore(tmp_path / "small.lbdb") as store:
        bundled.load_bundled(store)
    stale = runner.invoke(app, ["link", "query", "cup", "--store", url, "--index", out])
    assert isinstance(stale.exception, IndexMismatchError) and "[K105]" in str(stale.exception)
