"""The HTTP side: a threading server, its handler, and the service that answers requests."""

from __future__ import annotations

import copy
import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from kgprune import jsontext
from kgprune.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    Errors,
    InputFormatError,
    KgpruneError,
)
from kgprune.kg.coverage import CoverageView
from kgprune.kg.store import GraphStats, GraphStore
from kgprune.linking.image import (
    ImageObject,
    LinkedObject,
    link_image,
    link_objects,
)
from kgprune.linking.linker import Linker
from kgprune.retrieval.cache import RetrievalCache
from kgprune.retrieval.facts import FactRetriever, RetrievalConfig
from kgprune.retrieval.relation_detector import RelationDetector
from kgprune.service.connections import DRAIN_S, DeadlineReader, Refuser
from kgprune.service.requests import (
    ENDPOINTS,
    FactsRequest,
    LinkRequest,
    RequestError,
    parse_facts,
    parse_link,
)
from kgprune.service.serial_store import SerialStore

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_BODY = 1 << 20
DEFAULT_MAX_CONCURRENT = 8
DEFAULT_MAX_CONNECTIONS = 64
LISTEN_BACKLOG = 1024
MAX_REQUEST_LINE = 16_384
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_SLOT_WAIT = 0.5
RETRY_AFTER_S = 1
DRAIN_TIMEOUT_S = 30.0
MAX_RETRIEVERS = 256

log = logging.getLogger("kgprune.service")

_CODE = re.compile(r"\[(K\d{3})\] ")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class RetrievalService:
    """Linking and retrieval for many threads: bounded concurrency, one lock on the store.

    The service links through a copy of `linker` bound to the locked store, so `linker` must link
    against `store`. It keeps one `FactRetriever` per coverage view and config, sharing `cache`.
    """

    def __init__(self, store: GraphStore, linker: Linker, detector: RelationDetector, *,
                 cache: RetrievalCache | None = None, max_concurrent: int = DEFAULT_MAX_CONCURRENT,
                 slot_wait: float = DEFAULT_SLOT_WAIT) -> None:
        self.store = SerialStore(store)
        self.linker = copy.copy(linker)
        self.linker.store = self.store
        self.detector = detector
        self.cache = cache
        self.max_concurrent = max_concurrent
        self.slot_wait = slot_wait
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._retrievers: dict[tuple[CoverageView, RetrievalConfig], FactRetriever] = {}
        self._retrievers_lock = threading.Lock()
        self._stats: tuple[str, GraphStats] | None = None
        self._drained: bool | None = None

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.slot_wait):
            message = Errors.K216.format(slots=self.max_concurrent, seconds=RETRY_AFTER_S)
            raise RequestError(503, message, headers={"Retry-After": str(RETRY_AFTER_S)})
        try:
            yield
        finally:
            self._slots.release()

    def drain(self, timeout: float = DRAIN_TIMEOUT_S) -> bool:
        """Take every slot for good: requests in flight finish, later ones get 503.

        True if every slot came free within `timeout`; a second call returns at once.
        """
        if self._drained is None:
            deadline = time.monotonic() + timeout
            self._drained = all(self._slots.acquire(timeout=max(0.0, deadline - time.monotonic()))
                                for _ in range(self.max_concurrent))
        return self._drained

    def health(self) -> dict[str, Any]:
        with self._slot():
            version = self.store.version()
            if self._stats is None or self._stats[0] != version:
                self._stats = (version, self.store.stats())
            stats = self._stats[1]
        return {"status": "ok", "store": self.store.url, "kg_version": version,
                "concepts": stats.concepts, "facts": stats.facts,
                "index": self.linker.index is not None, "encoder": self.detector.encoder.identity}

    def link(self, request: LinkRequest) -> dict[str, Any]:
        result: dict[str, Any] = {}
        with self._slot():
            if request.texts is not None:
                linked = [[asdict(c) for c in cs] for cs in self.linker.link_batch(request.texts)]
                result["concepts"] = linked if request.batch else linked[0]
            if request.objects is not None or request.image is not None:
                result["objects"] = [asdict(o) for o in self._link_objects(request)]
        return result

    def _link_objects(self, request: LinkRequest) -> list[LinkedObject]:
        if request.objects is not None:
            names = [ImageObject(index=i, names=(n,)) for i, n in enumerate(request.objects)]
            return link_objects(names, self.linker)
        try:
            return link_image(request.image, self.linker, min_score=request.min_score)
        except InputFormatError as e:
            raise RequestError(422, str(e), field="image") from e

    def facts(self, request: FactsRequest) -> dict[str, Any]:
        groups: dict[tuple[CoverageView, RetrievalConfig], list[int]] = {}
        for i, q in enumerate(request.queries):
            groups.setdefault((q.view, q.config), []).append(i)
        results: dict[int, dict[str, Any]] = {}
        with self._slot():
            for (view, config), members in groups.items():
                contexts = self._retriever(view, config).retrieve_batch(
                    [request.queries[i].query for i in members])
                results.update((i, ctx.to_dict()) for i, ctx in zip(members, contexts, strict=True))
        ordered = [results[i] for i in range(len(request.queries))]
        return {"results": ordered} if request.batch else ordered[0]

    def _retriever(self, view: CoverageView, config: RetrievalConfig) -> FactRetriever:
        with self._retrievers_lock:
            retriever = self._retrievers.get((view, config))
            if retriever is None:
                if len(self._retrievers) >= MAX_RETRIEVERS:
                    self._retrievers.pop(next(iter(self._retrievers)))
                retriever = self._retrievers[(view, config)] = FactRetriever(
                    self.store, self.linker, self.detector, config=config, view=view,
                    cache=self.cache)
            return retriever


def _error_json(message: str, field: str | None = None) -> dict[str, Any]:
    """`{"error": {"code", "message", "field"}}`; the code is the message's `[Kxxx]` prefix."""
    match = _CODE.match(message)
    code = match.group(1) if match else None
    return {"error": {"code": code, "message": message[match.end():] if match else message,
                      "field": field}}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_broken(text: str) -> bool:
    """True when `text` holds a lone surrogate (a `\\ud800` escape), which is not Unicode."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def _broken_text(data: Any) -> str | None:
    """The field path of the first string or key in `data` holding a lone surrogate, if any.

    Checked once for the whole body, so no field reaches linking (or an error message) with text
    that cannot be encoded. Iterative: the parser accepts nesting deeper than Python recursion.
    """
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str) and _is_broken(value):
            return where or "(body)"
        if isinstance(value, list):
            stack.extend((f"{where}[{i}]", v) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, dict):
            for key, v in reversed(list(value.items())):
                name = _SURROGATE.sub("?", key)
                path = f"{where}.{name}" if where else name
                if _is_broken(key):
                    return path
                stack.append((path, v))
    return None


class _Handler(BaseHTTPRequestHandler):
    """One connection; one `_handle` per request, answering JSON whatever goes wrong.

    Every method goes to `_handle` (an unknown one gets 405 naming the allowed method), and the
    request line and headers must arrive within the read timeout, in total (else 408).
    """

    protocol_version = "HTTP/1.1"
    server_version = "kgprune"
    server: RetrievalServer
    _body_read: bool
    _reader: DeadlineReader

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        self.timeout = self.server.read_timeout
        super().setup()
        self._reader = DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self.command, self.path, self.request_version = "", "", "HTTP/1.1"
        self._reader.start(self.server.read_timeout)
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self._refuse(414, Errors.K223.format(limit=MAX_REQUEST_LINE))
                return
            if not self.parse_request():
                return
        except TimeoutError:
            if self._reader.received:
                self._refuse(408, Errors.K222.format(seconds=self.server.read_timeout))
            self.close_connection = True
            return
        except OSError:
            self.close_connection = True
            return
        self._handle()

    def parse_request(self) -> bool:
        self._body_read = False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """The standard library's own refusals (bad request line, too many headers), as JSON."""
        problem = message or self.responses.get(code, ("error",))[0]
        self.request_version = self.protocol_version  # a status line even for a 0.9-looking line
        self._refuse(code, Errors.K221.format(problem=problem[:200]))

    def _refuse(self, status: int, message: str) -> None:
        """Answer an unparsed or unfinished request, then close: what follows it is unknown.

        The rest of what the client sends is read and dropped first (for a few seconds at most):
        closing with unread bytes resets the connection, which can lose the answer."""
        self.close_connection = True
        self._send(status, _encode(_error_json(message)), {}, time.perf_counter(), close=True)
        self._reader.start(DRAIN_S)
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while self.rfile.read1(1 << 16):
                pass
        except OSError:
            pass

    def handle_expect_100(self) -> bool:
        """Refuse an `Expect: 100-continue` request before its client sends the body."""
        started = time.perf_counter()
        try:
            self._preflight()
        except RequestError as e:
            self._send(e.status, _encode(_error_json(str(e), e.field)), e.headers, started)
            return False
        return super().handle_expect_100()

    def _path(self) -> str:
        return urlsplit(self.path).path if self.path else ""

    def _handle(self) -> None:
        started = time.perf_counter()
        try:
            status, body, headers = 200, _encode(self._dispatch()), {}
        except Exception as e:  # noqa: BLE001 -- the HTTP boundary: every failure gets a reply
            status, payload, headers = self._error_reply(e)
            body = _encode(payload)
        self._send(status, body, headers, started)

    def _dispatch(self) -> Any:
        path, length = self._preflight()
        service = self.server.service
        if path == "/health":
            return service.health()
        body = self._read_json(length)
        if path == "/link":
            return service.link(parse_link(body))
        return service.facts(parse_facts(body))

    def _preflight(self) -> tuple[str, int]:
        """Route, method and body headers: everything that can be refused before reading a byte."""
        path = self._path()
        method = ENDPOINTS.get(path)
        if method is None:
            raise RequestError(404, Errors.K214.format(path=path[:100], known=", ".join(ENDPOINTS)))
        if self.command != method:
            message = Errors.K215.format(method=self.command, path=path, allowed=method)
            raise RequestError(405, message, headers={"Allow": method})
        if method != "POST":
            return path, 0
        content_type = self.headers.get("Content-Type", "")
        if self.headers.get_content_type() != "application/json":
            raise RequestError(415, Errors.K209.format(got=content_type[:100]))
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths or "Transfer-Encoding" in self.headers:
            raise RequestError(411, Errors.K210)
        raw = lengths[0].strip()
        if len(set(lengths)) > 1 or not (raw.isascii() and raw.isdigit()):
            raise RequestError(400, Errors.K211.format(value=", ".join(lengths)[:40]))
        if int(raw) > self.server.max_body:
            raise RequestError(413, Errors.K212.format(size=int(raw), limit=self.server.max_body))
        return path, int(raw)

    def _read_json(self, length: int) -> Any:
        body = self._read_body(length)
        try:
            data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise RequestError(400, Errors.K200.format(problem=str(e)[:200])) from e
        field = _broken_text(data)
        if field is not None:
            raise RequestError(400, Errors.K219.format(field=field), field=field)
        return data

    def _read_body(self, length: int) -> bytes:
        """The body, if it arrives in full within the read timeout (per read and in total)."""
        timeout = self.server.read_timeout
        deadline = time.monotonic() + timeout
        self._reader.start(timeout)
        chunks, remaining = [], length
        try:
            while remaining:
                if time.monotonic() > deadline:
                    raise RequestError(408, Errors.K213.format(seconds=timeout))
                chunk = self.rfile.read1(min(remaining, 1 << 16))
                if not chunk:
                    problem = f"the body ended after {length - remaining} of {length} bytes"
                    raise RequestError(400, Errors.K200.format(problem=problem))
                chunks.append(chunk)
                remaining -= len(chunk)
        except TimeoutError as e:
            raise RequestError(408, Errors.K213.format(seconds=timeout)) from e
        except OSError as e:
            problem = f"the connection failed after {length - remaining} of {length} bytes"
            raise RequestError(400, Errors.K200.format(problem=problem)) from e
        self._body_read = True
        return b"".join(chunks)

    def _error_reply(self, error: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
        if isinstance(error, RequestError):
            return error.status, _error_json(str(error), error.field), error.headers
        if isinstance(error, BackendUnavailableError):
            return 503, _error_json(str(error)), {"Retry-After": str(RETRY_AFTER_S)}
        if isinstance(error, KgpruneError) and not isinstance(error, BackendError):
            return 422, _error_json(str(error)), {}
        log.error("%s %s failed", self.command, self._path(), exc_info=error)
        return 500, _error_json(Errors.K217), {}

    def _has_unread_body(self) -> bool:
        return not self._body_read and (self.headers.get("Content-Length", "0").strip() != "0"
                                        or "Transfer-Encoding" in self.headers)

    def _send(self, status: int, body: bytes, headers: Mapping[str, str], started: float, *,
              close: bool = False) -> None:
        """Answer; a body left unread would be taken for the next request, so then close.

        A HEAD answer has no body, but a client may not know that: close after it too."""
        close = close or self.command == "HEAD" or self._has_unread_body()
        try:
            self.connection.settimeout(self.server.read_timeout)
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            if close:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            close = True
        self.close_connection = self.close_connection or close
        path = self._path()
        log.info("%s %s %d %.1f ms", self.command, path if path in ENDPOINTS else repr(path[:100]),
                 status, (time.perf_counter() - started) * 1000)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: `_send` logs each request once, without the query string."""

    def log_message(self, format: str, *args: Any) -> None:
        log.info(format, *args)


def _encode(payload: Any) -> bytes:
    """Strict JSON: a stored non-finite weight is null, a stored lone surrogate an escape."""
    return jsontext.dumps(payload).encode("utf-8")


class RetrievalServer(ThreadingHTTPServer):
    """A threading HTTP server for one `RetrievalService`; `server_close` drains it.

    At most `max_connections` connections get a thread; one more is answered 503 from the
    accepting thread. The listen backlog holds a burst of clients until they are accepted.
    """

    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], service: RetrievalService, *, max_body: int,
                 read_timeout: float, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        self.service = service
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self._connections = 0
        self._connections_lock = threading.Lock()
        self._refuser = Refuser()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        try:
            super().__init__(address, _Handler)
        except OSError as e:
            host, port = address
            raise ConfigError(Errors.K218.format(host=host, port=port, reason=e)) from e

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            admitted = self._connections < self.max_connections
            self._connections += admitted
        if admitted:
            super().process_request(request, client_address)
        else:
            self._refuser.refuse(request, self._busy_reply())

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections -= 1

    def _busy_reply(self) -> bytes:
        message = Errors.K220.format(connections=self.max_connections, seconds=RETRY_AFTER_S)
        body = _encode(_error_json(message))
        head = ("HTTP/1.1 503 Service Unavailable\r\nServer: kgprune\r\n"
                "Content-Type: application/json; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nRetry-After: {RETRY_AFTER_S}\r\n"
                "Connection: close\r\n\r\n")
        return head.encode("ascii") + body

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"

    def server_close(self) -> None:
        """Stop listening, then wait for requests in flight so the store can be closed after."""
        super().server_close()
        self._refuser.close()
        if not self.service.drain():
            log.warning("Requests still running after %.0f s; closing anyway.", DRAIN_TIMEOUT_S)


def create_server(store: GraphStore, linker: Linker, detector: RelationDetector, *,
                  host: str = DEFAULT_HOST, port: int = 0, max_body: int = DEFAULT_MAX_BODY,
                  max_concurrent: int = DEFAULT_MAX_CONCURRENT, cache: RetrievalCache | None = None,
                  read_timeout: float = DEFAULT_READ_TIMEOUT,
                  slot_wait: float = DEFAULT_SLOT_WAIT,
                  max_connections: int = DEFAULT_MAX_CONNECTIONS) -> RetrievalServer:
    """A bound server (port 0 picks a free port): `serve_forever()` it, `shutdown()` to stop.

    Closing the server drains it; the caller then closes `store` and `cache`.
    """
    service = RetrievalService(store, linker, detector, cache=cache, max_concurrent=max_concurrent,
                               slot_wait=slot_wait)
    return RetrievalServer((host, port), service, max_body=max_body, read_timeout=read_timeout,
                           max_connections=max_connections)

