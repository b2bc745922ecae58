"""Shared fixtures: the real-format fixture files and stores to load them into."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgprune.kg import bundled
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.store import GraphStore, open_store

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the user's ~/.kgprune."""
    monkeypatch.setenv("KGPRUNE_HOME", str(tmp_path / "kgprune-home"))
    monkeypatch.delenv("KGPRUNE_STORE", raising=False)


@pytest.fixture
def conceptnet_csv() -> Path:
    return FIXTURES / "conceptnet-assertions.csv"


@pytest.fixture
def vg_dir() -> Path:
    return FIXTURES / "visual_genome"


@pytest.fixture
def ladybug_store(tmp_path: Path) -> Iterator[LadybugStore]:
    store = LadybugStore(tmp_path / "kg.lbdb")
    store.ensure_schema()
    yield store
    store.close()


@pytest.fixture(scope="module")
def bundled_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LadybugStore]:
    """The bundled KG in an embedded store, shared by a module's tests: loading takes ~1 s."""
    store = LadybugStore(tmp_path_factory.mktemp("bundled") / "kg.lbdb")
    store.ensure_schema()
    bundled.load_bundled(store)
    yield store
    store.close()


def _wipe_neo4j(store: GraphStore) -> None:
    """The contract tests own the Neo4j database they are pointed at: they empty it first."""
    store._driver.execute_query("MATCH (n) DETACH DELETE n", database_=store.database)  # type: ignore[attr-defined]


def _backends() -> list[object]:
    params: list[object] = ["ladybug"]
    marks = [pytest.mark.neo4j]
    if not os.environ.get("NEO4J_URI"):
        marks.append(pytest.mark.skip(reason="set NEO4J_URI (docker compose) to run against Neo4j"))
    params.append(pytest.param("neo4j", marks=marks))
    return params


@pytest.fixture(params=_backends())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """Every backend the contract tests can reach, each starting empty."""
    if request.param == "ladybug":
        s = open_store(f"ladybug://{tmp_path / 'contract.lbdb'}")
    else:
        s = open_store(os.environ["NEO4J_URI"])
        _wipe_neo4j(s)
        s.ensure_schema()
    yield s
    s.close()


@pytest.fixture
def python_sigint() -> Iterator[None]:
    """Python's own SIGINT handler for the test. A shell that starts pytest as a background job
    hands it SIGINT ignored, and Python then never raises KeyboardInterrupt, so a Ctrl-C test
    would test the launcher."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)
