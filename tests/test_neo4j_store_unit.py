"""Neo4jStore against a mocked driver: the exact statements and parameters it sends; its errors."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from unittest.mock import ANY, MagicMock, call

import neo4j
import pytest
from neo4j.exceptions import AuthError, ClientError, ServiceUnavailable

from kgprune.errors import BackendError, BackendUnavailableError, ConfigError
from kgprune.kg.backends import neo4j as backend
from kgprune.kg.backends.neo4j import Neo4jStore
from kgprune.kg.coverage import CoverageView, stable_unit
from kgprune.kg.cypher import neo4j as q
from kgprune.kg.records import Concept, Fact
from kgprune.kg.relations import ALL_RELATIONS
from kgprune.kg.store import GraphBatch

READ = {"routing_": neo4j.RoutingControl.READ, "database_": "kg"}
ALL_TYPES = [r.replace("/", "_") for r in ALL_RELATIONS]


def _view_params(*, shift: float = 0.0, fact_level: float = 1.0) -> dict[str, Any]:
    """The coverage-view parameters of an edge view (or the full graph)."""
    return {"cov_shift": shift, "fact_level": fact_level, "concept_level": 1.0,
            "rel_levels": dict.fromkeys(ALL_TYPES, 1.0), "source": "", "every_edge": True,
            "edge_ids": []}


def _result(*records: dict[str, Any]) -> neo4j.EagerResult:
    return neo4j.EagerResult(list(records), MagicMock(), list(records[0]) if records else [])


def _fact_record(
    edge_id: str, head: str, rel_type: str, tail: str, weight: float
) -> dict[str, Any]:
    return {"head": head, "rel_type": rel_type, "tail": tail, "weight": weight,
            "source": "conceptnet", "dataset": "/d/conceptnet/4/en", "edge_id": edge_id,
            "surface_text": None, "contributors": '["/s/contributor/omcs/x"]', "predicate": None}


def _fact(edge_id: str, relation: str, head: str = "/c/en/cup", tail: str = "/c/en/b") -> Fact:
    return Fact(head=head, relation=relation, tail=tail, weight=1.0, source="conceptnet",
                dataset="/d/x", edge_id=edge_id, contributors=("/s/x",))


def _fact_row(f: Fact) -> dict[str, Any]:
    return {"head": f.head, "tail": f.tail, "edge_id": f.edge_id, "weight": f.weight,
            "source": f.source, "dataset": f.dataset, "surface_text": f.surface_text,
            "contributors": json.dumps(list(f.contributors)), "predicate": f.predicate,
            "cov": stable_unit(f.edge_id)}


@pytest.fixture
def driver() -> MagicMock:
    mock = MagicMock(spec=neo4j.Driver)
    mock.execute_query.return_value = _result()
    return mock


@pytest.fixture
def store(driver: MagicMock) -> Neo4jStore:
    return Neo4jStore(driver, "kg")


@pytest.fixture
def tx(driver: MagicMock) -> MagicMock:
    """The explicit transaction of `write`; each statement reports one creation per row."""
    transaction = driver.session.return_value.__enter__.return_value.begin_transaction.return_value

    def run(statement: str, params: dict[str, Any]) -> MagicMock:
        created = len(params.get("rows", []))
        result = MagicMock()
        result.consume.return_value.counters = neo4j.SummaryCounters(
            {"nodes-created": created, "relationships-created": created}
        )
        return result

    transaction.run.side_effect = run
    return transaction


def test_neighbors_sends_relation_types_and_coverage_view(
    store: Neo4jStore, driver: MagicMock
) -> None:
    view = CoverageView(0.5, seed=1)
    driver.execute_query.return_value = _result(
        _fact_record("/a/1", "/c/en/cup", "dbpedia_genre", "/c/en/jazz", 2.0)
    )
    facts = store.neighbors("/c/en/cup", relations=["UsedFor", "dbpedia/genre"], limit=1, view=view)
    driver.execute_query.assert_called_once_with(
        q.NEIGHBORS,
        {"uri": "/c/en/cup", "limit": 1, "rel_types": ["UsedFor", "dbpedia_genre"],
         **_view_params(shift=view.shift, fact_level=0.5)},
        **READ,
    )
    assert facts == [Fact(head="/c/en/cup", relation="dbpedia/genre", tail="/c/en/jazz", weight=2.0,
                          source="conceptnet", dataset="/d/conceptnet/4/en", edge_id="/a/1",
                          contributors=("/s/contributor/omcs/x",))]


def test_second_hop_starts_from_the_other_ends_and_skips_hop_one_facts(
    store: Neo4jStore, driver: MagicMock
) -> None:
    driver.execute_query.side_effect = [
        _result(_fact_record("/a/1", "/c/en/cup", "IsA", "/c/en/container", 2.0),
                _fact_record("/a/2", "/c/en/table", "AtLocation", "/c/en/cup", 1.0)),
        _result(_fact_record("/a/3", "/c/en/table", "IsA", "/c/en/furniture", 1.5)),
    ]
    facts = store.neighbors("/c/en/cup", hops=2, limit=5)
    assert [f.edge_id for f in facts] == ["/a/1", "/a/2", "/a/3"]
    assert driver.execute_query.call_args == call(
        q.NEIGHBORS_SECOND_HOP,
        {"uris": ["/c/en/container", "/c/en/table"], "exclude": ["/a/1", "/a/2"], "limit": 3,
         "rel_types": ALL_TYPES, **_view_params()},
        **READ,
    )


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s.neighbors("/c/en/cup", relations=["IsA", "LikesToEat"]),
        lambda s: s.neighbors("/c/en/cup", relations=["IsA`]->() DETACH DELETE (n) //"]),
        lambda s: s.facts_among(["/c/en/cup"], relations=["IN_IMAGE"]),
        lambda s: s.neighbors("/c/en/cup", hops=3),
    ],
)
def test_bad_arguments_are_refused_before_any_query(
    store: Neo4jStore, driver: MagicMock, read: Any
) -> None:
    with pytest.raises(ConfigError):
        read(store)
    driver.execute_query.assert_not_called()


def test_write_groups_facts_by_relation_type_in_one_transaction(
    store: Neo4jStore, driver: MagicMock, tx: MagicMock
) -> None:
    cup = Concept("/c/en/cup", "cup", "en")
    facts = [_fact("/a/1", "IsA"), _fact("/a/2", "dbpedia/genre"), _fact("/a/3", "IsA")]
    counts = store.write(GraphBatch(concepts=[cup], facts=facts))
    concept_row = {"uri": cup.uri, "name": "cup", "lang": "en", "pos": "", "source": "conceptnet",
                   "cov": stable_unit(cup.uri)}
    assert tx.run.call_args_list == [
        call(q.merge_concepts("conceptnet"), {"rows": [concept_row]}),
        call(q.merge_facts("IsA"), {"rows": [_fact_row(facts[0]), _fact_row(facts[2])]}),
        call(q.merge_facts("dbpedia/genre"), {"rows": [_fact_row(facts[1])]}),
        call(q.SET_META, {"key": "version", "value": ANY}),
    ]
    assert "[r:`dbpedia_genre` {edge_id: row.edge_id}]" in q.merge_facts("dbpedia/genre")
    driver.session.assert_called_once_with(database="kg")
    tx.commit.assert_called_once_with()
    tx.rollback.assert_not_called()
    assert (counts.concepts, counts.facts) == (1, 3)


def test_write_sends_full_batches_while_streaming(
    store: Neo4jStore, tx: MagicMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend, "ROWS_PER_STATEMENT", 2)
    facts = (_fact(f"/a/{i}", "UsedFor" if i == 2 else "IsA") for i in range(6))
    store.write(GraphBatch(facts=facts))
    runs = tx.run.call_args_list[:-1]
    sent = [(c.args[0], [row["edge_id"] for row in c.args[1]["rows"]]) for c in runs]
    assert sent == [
        (q.merge_facts("IsA"), ["/a/0", "/a/1"]),
        (q.merge_facts("IsA"), ["/a/3", "/a/4"]),
        (q.merge_facts("UsedFor"), ["/a/2"]),
        (q.merge_facts("IsA"), ["/a/5"]),
    ]


def test_write_that_creates_nothing_keeps_the_version(store: Neo4jStore, tx: MagicMock) -> None:
    counts = store.write(GraphBatch())
    assert counts.total == 0
    tx.run.assert_not_called()
    tx.commit.assert_called_once_with()


def test_failed_write_rolls_back(store: Neo4jStore, tx: MagicMock) -> None:
    run = tx.run.side_effect

    def fail_on_facts(statement: str, params: dict[str, Any]) -> MagicMock:
        if statement == q.merge_facts("IsA"):
            raise ClientError("Neo.ClientError.Statement.SyntaxError")
        return run(statement, params)

    tx.run.side_effect = fail_on_facts
    batch = GraphBatch(concepts=[Concept("/c/en/cup", "cup", "en")], facts=[_fact("/a/1", "IsA")])
    with pytest.raises(BackendError) as raised:
        store.write(batch)
    assert "[K012]" in str(raised.value) and isinstance(raised.value.__cause__, ClientError)
    tx.rollback.assert_called_once_with()
    tx.commit.assert_not_called()


def test_unknown_relation_in_a_write_rolls_back(store: Neo4jStore, tx: MagicMock) -> None:
    batch = GraphBatch(concepts=[Concept("/c/en/cup", "cup", "en")], facts=[_fact("/a/1", "Eats")])
    with pytest.raises(ConfigError):
        store.write(batch)
    assert [c.args[0] for c in tx.run.call_args_list] == [q.merge_concepts("conceptnet")]
    tx.rollback.assert_called_once_with()
    tx.commit.assert_not_called()


def test_unreachable_server_is_backend_unavailable(store: Neo4jStore, driver: MagicMock) -> None:
    cause = ServiceUnavailable("Couldn't connect to localhost:7687")
    driver.execute_query.side_effect = cause
    with pytest.raises(BackendUnavailableError) as raised:
        store.version()
    assert str(raised.value).startswith("[K006]") and raised.value.__cause__ is cause


def test_refused_credentials_never_show_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_USER", "alice")
    monkeypatch.setenv("NEO4J_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("NEO4J_DATABASE", "kg")
    driver = MagicMock(spec=neo4j.Driver)
    cause = AuthError("The client is unauthorized due to authentication failure.")
    driver.execute_query.side_effect = cause
    factory = MagicMock(return_value=driver)
    monkeypatch.setattr(neo4j.GraphDatabase, "driver", factory)

    store = Neo4jStore.from_url("bolt://alice:s3cret-pw@localhost:7687")
    with pytest.raises(BackendUnavailableError) as raised:
        store.ensure_schema()

    factory.assert_called_once_with(
        "bolt://localhost:7687", auth=("alice", "s3cret-pw"),
        connection_timeout=backend.CONNECT_TIMEOUT_S,
        connection_acquisition_timeout=backend.CONNECT_TIMEOUT_S,
    )
    message = str(raised.value)
    assert message.startswith("[K007]") and "alice" in message
    assert "bolt://localhost:7687" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in store.url
    assert raised.value.__cause__ is cause
    assert driver.execute_query.call_args.kwargs == {"database_": "kg"}


def test_iter_concepts_pages_by_uri(store: Neo4jStore, driver: MagicMock) -> None:
    def concept(uri: str) -> dict[str, Any]:
        return {"uri": uri, "name": uri[6:], "lang": "en", "pos": None, "source": "conceptnet"}

    driver.execute_query.side_effect = [
        _result(concept("/c/en/a"), concept("/c/en/b")),
        _result(concept("/c/en/c"), concept("/c/en/d")),
        _result(),
    ]
    pages = list(store.iter_concepts(batch_size=2))
    uris = [[c.uri for c in page] for page in pages]
    assert uris == [["/c/en/a", "/c/en/b"], ["/c/en/c", "/c/en/d"]]
    assert pages[0][0] == Concept("/c/en/a", "a", "en")
    afters = [c.args[1]["after"] for c in driver.execute_query.call_args_list]
    assert afters == ["", "/c/en/b", "/c/en/d"]
    assert {c.args[0] for c in driver.execute_query.call_args_list} == {q.ITER_CONCEPTS}


def test_stats_in_a_partial_view_count_concepts_at_fact_ends(
    store: Neo4jStore, driver: MagicMock
) -> None:
    driver.execute_query.side_effect = [
        _result({"concepts": 10, "images": 2, "objects": 8, "object_relations": 5}),
        _result({"concepts": 4}),
        _result({"rel_type": "IsA", "source": "conceptnet", "facts": 3},
                {"rel_type": "dbpedia_genre", "source": "conceptnet", "facts": 1},
                {"rel_type": "IsA", "source": "visual_genome", "facts": 2}),
    ]
    stats = store.stats(CoverageView(0.25))
    assert (stats.concepts, stats.facts, stats.images, stats.objects, stats.object_relations) == (
        4, 6, 2, 8, 5
    )
    assert stats.by_relation == {"IsA": 5, "dbpedia/genre": 1}
    assert stats.by_source == {"conceptnet": 4, "visual_genome": 2}
    view_params = {"rel_types": ALL_TYPES, **_view_params(fact_level=0.25)}
    concepts_call = call(q.COUNT_CONCEPTS_IN_VIEW, view_params, **READ)
    assert driver.execute_query.call_args_list[1] == concepts_call


def test_unit_scores_replace_the_run_in_one_transaction(
    store: Neo4jStore, tx: MagicMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend, "ROWS_PER_STATEMENT", 2)
    rows = [{"relation": "UsedFor", "uid": f"r1|fusion.0.mlp|{i}", "group": "fusion.0.mlp",
             "index": i, "kind": "neurons", "tower": "fusion", "layer": 0, "kept": i != 1,
             "score": 1.0 / (i + 1), "rank": i, "criterion": "knowledge"} for i in range(3)]
    written = store.write_unit_scores("r1", rows)
    assert tx.run.call_args_list == [
        call(q.DELETE_RUN_UNIT_SCORES, {"run": "r1"}),
        call(q.MERGE_UNIT_SCORES, {"rows": [{**rows[0], "run": "r1"}, {**rows[1], "run": "r1"}]}),
        call(q.MERGE_UNIT_SCORES, {"rows": [{**rows[2], "run": "r1"}]}),
    ]
    assert written == 3
    tx.commit.assert_called_once_with()


def _closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("userinfo", ["admin:S3cret@", "admin:S3cr%40t%3A@", ""])
def test_unreachable_server_fails_fast_with_one_line_and_no_password(
        userinfo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real driver against a closed port: no retries for a minute, no credentials shown."""
    monkeypatch.setenv("NEO4J_PASSWORD", "S3cret-env")
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as raised:
        Neo4jStore.from_url(f"bolt://{userinfo}127.0.0.1:{_closed_port()}")
    assert time.monotonic() - started < 10
    shown = f"{raised.value}\n{raised.value.__cause__!r}"
    assert str(raised.value).startswith("[K006] Cannot reach Neo4j at bolt://127.0.0.1:")
    assert "\n" not in str(raised.value)
    assert "S3cr" not in shown and "admin" not in shown


def test_credentials_in_the_url_are_used_and_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_USER", "env-user")
    monkeypatch.setenv("NEO4J_PASSWORD", "env-pw")
    factory = MagicMock(return_value=MagicMock(spec=neo4j.Driver))
    monkeypatch.setattr(neo4j.GraphDatabase, "driver", factory)
    store = Neo4jStore.from_url("neo4j://bob:p%40ss%3Aword@db.example:7687")
    assert factory.call_args.args == ("neo4j://db.example:7687",)
    assert factory.call_args.kwargs["auth"] == ("bob", "p@ss:word")
    assert store.url == "neo4j://db.example:7687"


def test_a_url_the_driver_refuses_is_a_coded_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\[K019\] Store URL 'bolt://127.0.0.1:1\?policy=x'"):
        Neo4jStore.from_url("bolt://admin:S3cret@127.0.0.1:1?policy=x")
