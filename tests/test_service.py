"""`kgprune serve`: the HTTP service on loopback, over the bundled KG, with a real HTTP client."""

from __future__ import annotations

import http.client
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kgprune.errors import BackendUnavailableError, ConfigError, Errors
from kgprune.kg import bundled
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.records import Concept, Fact
from kgprune.kg.store import GraphBatch
from kgprune.kg.uri import concept_uri
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.linker import Linker
from kgprune.retrieval.cache import RetrievalCache
from kgprune.retrieval.facts import FactRetriever
from kgprune.retrieval.relation_detector import RelationDetector
from kgprune.service import DEFAULT_MAX_CONNECTIONS, RetrievalServer, create_server

HOT_DOG = "What is the hot dog on the plate made of?"
UMBRELLA = {"sample_id": "umbrella-1", "question": "What is this used for?",
            "image_objects": ["umbrella"]}
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Parts:
    store: LadybugStore
    linker: Linker
    detector: RelationDetector
    cache: RetrievalCache


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def code(self) -> str:
        return self.body["error"]["code"]


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parts]:
    root = tmp_path_factory.mktemp("service")
    store = LadybugStore(root / "kg.lbdb")
    store.ensure_schema()
    bundled.load_bundled(store)
    cache = RetrievalCache(root / "cache.sqlite", kg_version=store.version())
    yield Parts(store, Linker(store), RelationDetector(HashingEncoder()), cache)
    cache.close()
    store.close()


@contextmanager
def running(parts: Parts, **options: Any) -> Iterator[RetrievalServer]:
    server = create_server(parts.store, parts.linker, parts.detector, port=0, cache=parts.cache,
                           **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def server(parts: Parts) -> Iterator[RetrievalServer]:
    with running(parts, max_body=MAX_BODY) as s:
        yield s


def connect(server: RetrievalServer, timeout: float = 10) -> http.client.HTTPConnection:
    host, port = server.server_address[:2]
    return http.client.HTTPConnection(str(host), int(port), timeout=timeout)


def read(conn: http.client.HTTPConnection) -> Reply:
    resp = conn.getresponse()
    return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(resp.read()))


def call(server: RetrievalServer, method: str, path: str, body: Any = None, *,
         raw: bytes | None = None, headers: dict[str, str] | None = None,
         conn: http.client.HTTPConnection | None = None) -> Reply:
    """One request; on `conn` if given (keep-alive), else on a connection of its own."""
    own = conn is None
    conn = conn or connect(server)
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    try:
        conn.request(method, path, body=data,
                     headers={"Content-Type": "application/json", **(headers or {})})
        return read(conn)
    finally:
        if own:
            conn.close()


def test_health(server: RetrievalServer, parts: Parts) -> None:
    reply = call(server, "GET", "/health")
    stats = parts.store.stats()
    assert reply.status == 200
    assert reply.body == {"status": "ok", "store": parts.store.url,
                          "kg_version": parts.store.version(), "concepts": stats.concepts,
                          "facts": stats.facts, "index": False,
                          "encoder": HashingEncoder().identity}


def test_link_question(server: RetrievalServer) -> None:
    reply = call(server, "POST", "/link", {"text": HOT_DOG})
    assert reply.status == 200
    concepts = reply.body["concepts"]
    assert [c["uri"] for c in concepts] == ["/c/en/hot_dog", "/c/en/plate"]
    assert all(HOT_DOG[c["start"]:c["end"]] == c["mention"] and c["method"] == "exact"
               for c in concepts)
    assert "objects" not in reply.body


def test_link_batch_objects_and_detections(server: RetrievalServer) -> None:
    reply = call(server, "POST", "/link", {"texts": [HOT_DOG, "Where is the umbrella?"],
                                           "objects": ["umbrella", "dining table"]})
    assert reply.status == 200
    assert [[c["uri"] for c in cs] for cs in reply.body["concepts"]] == [
        ["/c/en/hot_dog", "/c/en/plate"], ["/c/en/umbrella"]]
    assert [o["uri"] for o in reply.body["objects"]] == ["/c/en/umbrella", "/c/en/table"]

    detections = [{"label": "cup", "score": 0.9, "box": [1, 2, 3, 4]},
                  {"label": "dog", "score": 0.1}]
    reply = call(server, "POST", "/link", {"image": detections})
    assert [(o["uri"], o["box"]) for o in reply.body["objects"]] == [("/c/en/cup", [1, 2, 3, 4])]
    assert "concepts" not in reply.body

    reply = call(server, "POST", "/link", {"image": {"no": "objects"}})
    assert (reply.status, reply.code, reply.body["error"]["field"]) == (422, "K108", "image")


def test_facts_for_an_umbrella(server: RetrievalServer, parts: Parts) -> None:
    reply = call(server, "POST", "/facts", UMBRELLA)
    assert reply.status == 200
    assert "stay dry" in [a["text"] for a in reply.body["answers"]]
    assert reply.body["image_concepts"] == ["/c/en/umbrella"]
    assert reply.body["sample_id"] == "umbrella-1"
    assert reply.body["kg_version"] == parts.store.version()


def test_facts_takes_the_link_field_names_and_detections(server: RetrievalServer) -> None:
    expected = call(server, "POST", "/facts", UMBRELLA).body
    question, objects = UMBRELLA["question"], UMBRELLA["image_objects"]
    detections = [{"label": name, "score": 0.9, "box": [0, 0, 5, 5]} for name in objects]
    detections.append({"label": "dog", "score": 0.1})
    for body in ({"text": question, "objects": objects},
                 {"question": question, "image": detections},
                 {"text": question, "image": {"objects": [{"names": [n]} for n in objects]}}):
        reply = call(server, "POST", "/facts", {"sample_id": UMBRELLA["sample_id"], **body})
        assert reply.status == 200, reply.body
        assert reply.body == expected
    both = call(server, "POST", "/facts", {"question": question, "text": question})
    assert (both.status, both.body["error"]["field"]) == (400, "text")
    bad = call(server, "POST", "/facts", {"text": question, "image": [{"score": 1}]})
    assert (bad.status, bad.body["error"]["field"]) == (422, "image")


def test_coverage_view_sees_a_subset(server: RetrievalServer) -> None:
    full = call(server, "POST", "/facts", {**UMBRELLA, "top_k": 200}).body["facts"]
    part = call(server, "POST", "/facts", {**UMBRELLA, "top_k": 200, "coverage": 0.5,
                                           "seed": 3}).body["facts"]
    full_ids, part_ids = {f["edge_id"] for f in full}, {f["edge_id"] for f in part}
    assert part_ids < full_ids


def test_batch_equals_single_queries(server: RetrievalServer) -> None:
    queries = [UMBRELLA,
               {"question": HOT_DOG, "image_objects": ["plate"], "coverage": 0.5, "seed": 1},
               {"question": "Where can you find a cup?", "hops": 2, "top_k": 5}]
    reply = call(server, "POST", "/facts", {"queries": queries})
    assert reply.status == 200
    assert reply.body["results"] == [call(server, "POST", "/facts", q).body for q in queries]
    assert len(reply.body["results"][2]["facts"]) == 5


@pytest.mark.parametrize(("raw", "code"), [
    (b'{"question": "What is', "K200"),
    (b'\xff\xfe', "K200"),
    (b'{"question": NaN}', "K200"),
    (b'["What is this?"]', "K201"),
])
def test_malformed_body_is_400(server: RetrievalServer, raw: bytes, code: str) -> None:
    reply = call(server, "POST", "/facts", raw=raw)
    assert (reply.status, reply.code) == (400, code)


@pytest.mark.parametrize(("path", "body", "field", "code"), [
    ("/facts", {"question": 3}, "question", "K201"),
    ("/facts", {"question": "x", "coverage": 1.5}, "coverage", "K202"),
    ("/facts", {"question": "x", "coverage": True}, "coverage", "K201"),
    ("/facts", {"question": "x", "hops": 3}, "hops", "K202"),
    ("/facts", {"question": "x", "top_k": 201}, "top_k", "K202"),
    ("/facts", {"question": "x" * 2001}, "question", "K208"),
    ("/facts", {"question": "x", "image_objects": ["cup", 7]}, "image_objects[1]", "K201"),
    ("/facts", {"question": "x", "strategy": "random"}, "strategy", "K201"),
    ("/facts", {"question": "x", "strategy": "source"}, "source", "K017"),
    ("/facts", {"question": "x", "covrage": 0.5}, "covrage", "K203"),
    ("/facts", {}, "question", "K204"),
    ("/facts", {"queries": [{"question": "x"}, {"question": "y", "coverage": "half"}]},
     "queries[1].coverage", "K201"),
    ("/facts", {"queries": [{"question": "x"}] * 257}, "queries", "K207"),
    ("/link", {"text": "a", "texts": ["b"]}, "texts", "K205"),
    ("/link", {"texts": "not a list"}, "texts", "K201"),
    ("/link", {}, None, "K206"),
])
def test_invalid_field_is_400_naming_it(server: RetrievalServer, path: str, body: dict[str, Any],
                                        field: str | None, code: str) -> None:
    reply = call(server, "POST", path, body)
    assert (reply.status, reply.code, reply.body["error"]["field"]) == (400, code, field)


@pytest.mark.parametrize("expect_continue", [False, True])
def test_oversized_body_is_refused_unread(server: RetrievalServer, expect_continue: bool) -> None:
    """Only headers are sent: a server waiting for the body would outlast the client's timeout."""
    conn = connect(server, timeout=3)
    conn.putrequest("POST", "/facts")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(MAX_BODY + 1))
    if expect_continue:
        conn.putheader("Expect", "100-continue")
    conn.endheaders()
    reply = read(conn)
    conn.close()
    assert (reply.status, reply.code, reply.headers["connection"]) == (413, "K212", "close")


def test_stalled_body_is_408(parts: Parts) -> None:
    with running(parts, read_timeout=0.3) as quick:
        conn = connect(quick, timeout=5)
        conn.putrequest("POST", "/facts")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", "100")
        conn.endheaders(b'{"question": ')
        reply = read(conn)
        conn.close()
    assert (reply.status, reply.code, reply.headers["connection"]) == (408, "K213", "close")


def test_missing_content_length_is_411(server: RetrievalServer) -> None:
    conn = connect(server, timeout=3)
    conn.putrequest("POST", "/facts")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    reply = read(conn)
    conn.close()
    assert (reply.status, reply.code) == (411, "K210")


def test_wrong_method_is_405_with_allow(server: RetrievalServer) -> None:
    reply = call(server, "GET", "/facts")
    assert (reply.status, reply.code, reply.headers["allow"]) == (405, "K215", "POST")
    reply = call(server, "DELETE", "/health")
    assert (reply.status, reply.headers["allow"]) == (405, "GET")


def test_unknown_path_is_404(server: RetrievalServer) -> None:
    for method in ("GET", "POST"):
        reply = call(server, method, "/nope", {})
        assert (reply.status, reply.code) == (404, "K214")


def test_wrong_content_type_is_415(server: RetrievalServer) -> None:
    reply = call(server, "POST", "/facts", UMBRELLA, headers={"Content-Type": "text/plain"})
    assert (reply.status, reply.code) == (415, "K209")


@pytest.mark.parametrize(("error", "status", "code"), [
    (BackendUnavailableError(Errors.K006.format(uri="bolt://x", reason="refused")), 503, "K006"),
    (ConfigError(Errors.K010.format(value=2)), 422, "K010"),
    (RuntimeError("secret /etc/passwd"), 500, "K217"),
])
def test_library_errors_map_to_status(server: RetrievalServer, monkeypatch: pytest.MonkeyPatch,
                                      caplog: pytest.LogCaptureFixture, error: Exception,
                                      status: int, code: str) -> None:
    def fail(self: FactRetriever, queries: object) -> None:
        raise error

    monkeypatch.setattr(FactRetriever, "retrieve_batch", fail)
    with caplog.at_level(logging.INFO, logger="kgprune.service"):
        reply = call(server, "POST", "/facts", UMBRELLA)
    assert (reply.status, reply.code) == (status, code)
    assert "secret" not in json.dumps(reply.body)
    assert any(r.exc_info for r in caplog.records) == (status == 500)


def test_request_log_has_no_body(server: RetrievalServer, caplog: pytest.LogCaptureFixture) -> None:
    """The line is logged once the reply is sent, so the client may see the reply first."""
    with caplog.at_level(logging.INFO, logger="kgprune.service"):
        call(server, "POST", "/link", {"text": HOT_DOG})
        deadline = time.monotonic() + 5
        while not any(r.getMessage().startswith("POST /link 200 ") for r in caplog.records):
            assert time.monotonic() < deadline, "no request line logged"
            time.sleep(0.01)
    assert "hot dog" not in caplog.text


def test_concurrent_load_matches_serial(server: RetrievalServer) -> None:
    requests = [("POST", "/facts", UMBRELLA),
                ("POST", "/facts", {"question": HOT_DOG, "coverage": 0.5, "seed": 2}),
                ("POST", "/facts", {"queries": [UMBRELLA, {"question": "Where is the cup?"}]}),
                ("POST", "/link", {"texts": [HOT_DOG, "Where is the umbrella?"]}),
                ("GET", "/health", None)]
    expected = [call(server, *r).body for r in requests]

    def client(worker: int) -> list[tuple[int, Reply]]:
        conn = connect(server)
        try:
            picks = [(worker + i) % len(requests) for i in range(10)]
            return [(k, call(server, *requests[k], conn=conn)) for k in picks]
        finally:
            conn.close()

    with ThreadPoolExecutor(16) as pool:
        replies = [r for rs in pool.map(client, range(16), timeout=60) for r in rs]
    assert len(replies) == 160
    assert all(r.status == 200 or (r.status == 503 and "retry-after" in r.headers)
               for _, r in replies)
    ok = [(k, r) for k, r in replies if r.status == 200]
    assert len(ok) > len(replies) // 2
    assert all(r.body == expected[k] for k, r in ok)


def test_busy_server_answers_503(parts: Parts, monkeypatch: pytest.MonkeyPatch) -> None:
    entered, release = threading.Event(), threading.Event()
    original = FactRetriever.retrieve_batch

    def held(self: FactRetriever, queries: Any) -> Any:
        entered.set()
        release.wait(10)
        return original(self, queries)

    monkeypatch.setattr(FactRetriever, "retrieve_batch", held)
    with running(parts, max_concurrent=1, slot_wait=0.05) as busy, ThreadPoolExecutor(1) as pool:
        try:
            first = pool.submit(call, busy, "POST", "/facts", UMBRELLA)
            assert entered.wait(5)
            second = call(busy, "POST", "/facts", UMBRELLA)
        finally:
            release.set()
        assert first.result(timeout=10).status == 200
    assert (second.status, second.code, second.headers["retry-after"]) == (503, "K216", "1")


def test_port_in_use_is_a_config_error(server: RetrievalServer, parts: Parts) -> None:
    with pytest.raises(ConfigError, match="K218"):
        create_server(parts.store, parts.linker, parts.detector, port=server.server_address[1])


def test_serve_command_prints_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "kgprune", "serve", "--port", "0", "--encoder", "hashing",
               "--store", f"ladybug://{tmp_path / 'kg.lbdb'}"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "the server printed no URL within 30 s"
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/health")
        health = read(conn)
        conn.close()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (health.status, health.body["concepts"], proc.returncode) == (200, 0, 0)
    assert "GET /health 200" in stderr


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/link", '{"text": "hot \\ud800 dog"}', "text"),
    ("/link", '{"texts": ["cup", "\\udfff"]}', "texts[1]"),
    ("/link", '{"objects": ["\\ud800"]}', "objects[0]"),
    ("/link", '{"image": {"objects": [{"names": ["\\ud83d"]}]}}', "image.objects[0].names[0]"),
    ("/link", '{"\\ud800": 1}', "?"),
    ("/facts", '{"question": "\\ud800"}', "question"),
    ("/facts", '{"question": "x", "sample_id": "\\ud800"}', "sample_id"),
    ("/facts", '{"question": "x", "image_objects": ["\\udc00"]}', "image_objects[0]"),
    ("/facts", '{"question": "x", "strategy": "\\ud800"}', "strategy"),
    ("/facts", '{"queries": [{"question": "x"}, {"question": "\\ud800"}]}',
     "queries[1].question"),
])
def test_lone_surrogate_is_400_naming_the_field(server: RetrievalServer, path: str, body: str,
                                               field: str) -> None:
    reply = call(server, "POST", path, raw=body.encode())
    assert (reply.status, reply.code, reply.body["error"]["field"]) == (400, "K219", field)


def test_a_surrogate_pair_is_text(server: RetrievalServer) -> None:
    reply = call(server, "POST", "/link", raw=b'{"text": "a cup \\ud83d\\ude00"}')
    assert reply.status == 200


def test_stored_non_finite_weight_is_served_as_null(tmp_path: Path) -> None:
    """Whatever an older loader stored, /facts answers strict JSON, not 500."""
    store = LadybugStore(tmp_path / "odd.lbdb")
    store.ensure_schema()
    names = ("umbrella", "rain", "sun")
    store.write(GraphBatch(
        concepts=[Concept(concept_uri(n), n, "en") for n in names],
        facts=[Fact(concept_uri("umbrella"), "UsedFor", concept_uri(tail), weight, "conceptnet",
                    "/d/test", f"/a/{tail}") for tail, weight in
               (("rain", float("nan")), ("sun", float("inf")))]))
    cache = RetrievalCache(tmp_path / "cache.sqlite", kg_version=store.version())
    odd = Parts(store, Linker(store), RelationDetector(HashingEncoder()), cache)
    try:
        with running(odd) as server:
            reply = call(server, "POST", "/facts", UMBRELLA)
    finally:
        cache.close()
        store.close()
    assert reply.status == 200, reply.body
    weights = [f["weight"] for f in reply.body["facts"]]
    assert weights and all(w is None for w in weights)


def _raw_post(sock: Any, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    sock.sendall(b"POST /facts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)


def _raw_reply(sock: Any, method: str = "POST") -> Reply:
    resp = http.client.HTTPResponse(sock, method=method)
    resp.begin()
    body = resp.read()
    return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                 json.loads(body) if body else None)


def test_a_burst_of_200_posts_each_gets_an_answer(parts: Parts) -> None:
    """All connect while the server is not yet accepting: the backlog must hold them, and each
    gets 200 or a prompt 503 with Retry-After, none a reset or silence."""
    server = create_server(parts.store, parts.linker, parts.detector, port=0, cache=parts.cache)
    socks = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    try:
        for _ in range(200):
            socks.append(socket.create_connection(server.server_address[:2], timeout=2))
        for sock in socks:
            sock.settimeout(10)
            _raw_post(sock, UMBRELLA)
        started = time.monotonic()
        thread.start()
        replies = [_raw_reply(sock) for sock in socks]
        elapsed = time.monotonic() - started
    finally:
        for sock in socks:
            sock.close()
        server.shutdown() if thread.is_alive() else None
        server.server_close()
    assert all(r.status == 200 or (r.status == 503 and r.headers.get("retry-after") == "1"
                                   and r.code in ("K216", "K220")) for r in replies)
    assert sum(r.status == 200 for r in replies) >= 8
    assert elapsed < 10


def test_slow_headers_get_408_and_threads_stay_bounded(parts: Parts) -> None:
    """100 clients sending their headers a byte at a time: each holds a thread at most
    read_timeout, and past max_connections they get no thread at all."""
    head = b"POST /facts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    baseline = threading.active_count()
    with running(parts, read_timeout=1.5) as server:
        socks = [socket.create_connection(server.server_address[:2], timeout=5)
                 for _ in range(100)]
        peak, replies = 0, {}
        deadline = time.monotonic() + 8
        for i in range(len(head)):
            if len(replies) == len(socks) or time.monotonic() > deadline:
                break
            for k, sock in enumerate(socks):
                if k not in replies:
                    try:
                        sock.send(head[i:i + 1])
                    except OSError:
                        replies[k] = None
            time.sleep(0.1)
            peak = max(peak, threading.active_count() - baseline)
            for k, sock in enumerate(socks):
                if k not in replies and select.select([sock], [], [], 0)[0]:
                    replies[k] = _raw_reply(sock)
        for sock in socks:
            sock.close()
    statuses = [r.status for r in replies.values() if r is not None]
    assert len(statuses) == 100, f"{100 - len(statuses)} slow clients got no answer"
    assert statuses.count(408) == DEFAULT_MAX_CONNECTIONS
    assert statuses.count(503) == 100 - DEFAULT_MAX_CONNECTIONS
    assert peak <= DEFAULT_MAX_CONNECTIONS + 3, f"{peak} threads for 100 slow clients"


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("TRACE", "/health", 405, "K215"),
    ("BREW", "/facts", 405, "K215"),
    ("GET", "/" + "x" * 70_000, 414, "K223"),
    ("GET /health HTTP/9.9", None, 505, "K221"),
])
def test_odd_methods_and_lines_answer_json(server: RetrievalServer, method: str,
                                           path: str | None, status: int, code: str) -> None:
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        line = method if path is None else f"{method} {path} HTTP/1.1"
        sock.sendall(line.encode() + b"\r\nHost: x\r\n\r\n")
        reply = _raw_reply(sock)
    assert (reply.status, reply.code) == (status, code)
    assert reply.headers["content-type"].startswith("application/json")


def test_head_answers_headers_only(server: RetrievalServer) -> None:
    conn = connect(server)
    conn.request("HEAD", "/health")
    resp = conn.getresponse()
    assert (resp.status, resp.read(), resp.getheader("Connection")) == (405, b"", "close")
    assert resp.getheader("Allow") == "GET"
    assert resp.getheader("Content-Type").startswith("application/json")
    conn.close()
