"""`kgprune serve`: linking and retrieval over HTTP, for training jobs in other processes."""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from kgprune.commands.common import StoreOpt, err, out
from kgprune.commands.link import IndexOpt
from kgprune.kg.store import GraphStore, open_store
from kgprune.linking.encoder import (
    ENCODER_NAMES,
    EntityEncoder,
    encoder_by_name,
    encoder_for_identity,
)
from kgprune.linking.index import ConceptIndex, default_index_dir, index_exists, read_manifest
from kgprune.linking.linker import Linker
from kgprune.retrieval.cache import RetrievalCache, default_cache_path
from kgprune.retrieval.relation_detector import RelationDetector
from kgprune.service import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT,
    RetrievalServer,
    create_server,
)

HostOpt = Annotated[str, typer.Option(help="Address to bind; beyond loopback anyone who can reach "
                                      "it may query, unauthenticated.")]
PortOpt = Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")]
EncoderOpt = Annotated[str | None, typer.Option(
    help=f"Entity encoder: {', '.join(ENCODER_NAMES)} (default: the index's, else auto).")]
MaxBodyOpt = Annotated[int, typer.Option(min=1, help="Largest request body, in bytes.")]
MaxConcurrentOpt = Annotated[int, typer.Option(
    min=1, help="Requests processed at once; others wait briefly, then get 503.")]
MaxConnectionsOpt = Annotated[int, typer.Option(
    min=1, help="Open connections served at once (one thread each); more get 503.")]
ReadTimeoutOpt = Annotated[float, typer.Option(
    min=0.1, help="Seconds a client may take to send a request.")]


def serve_cmd(
    store: StoreOpt = None,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    encoder: EncoderOpt = None,
    index: IndexOpt = None,
    max_body: MaxBodyOpt = DEFAULT_MAX_BODY,
    max_concurrent: MaxConcurrentOpt = DEFAULT_MAX_CONCURRENT,
    read_timeout: ReadTimeoutOpt = DEFAULT_READ_TIMEOUT,
    max_connections: MaxConnectionsOpt = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Serve /health, /link and /facts over HTTP until SIGINT or SIGTERM; print the URL."""
    _log_to_stderr(logging.getLogger("kgprune"))
    with open_store(store) as s:
        concept_index, enc = _index_and_encoder(s, index, encoder)
        cache = RetrievalCache(default_cache_path(s.url), kg_version=s.version())
        try:
            server = create_server(s, Linker(s, index=concept_index), RelationDetector(enc),
                                   host=host, port=port, max_body=max_body, cache=cache,
                                   max_concurrent=max_concurrent, read_timeout=read_timeout,
                                   max_connections=max_connections)
            with server, _stopped_by_signals(server):
                linking = "fuzzy and exact" if concept_index else "exact-only"
                err.print(f"Serving {s.url} ({linking} linking, encoder {enc.identity}); "
                          "Ctrl+C stops.", highlight=False, soft_wrap=True)
                if not _is_loopback(host):
                    err.print(f"[yellow]warning:[/] {host} is not loopback and the service has no "
                              "authentication.", highlight=False, soft_wrap=True)
                out.print(server.url, highlight=False, soft_wrap=True)
                server.serve_forever()
        finally:
            cache.close()


def _index_and_encoder(store: GraphStore, directory: Path | None,
                       encoder: str | None) -> tuple[ConceptIndex | None, EntityEncoder]:
    """The concept index (a named one must exist) and the encoder its vectors need."""
    if directory is None and not index_exists(default_index_dir(store.url)):
        err.print(f"No concept index at {default_index_dir(store.url)}: exact matches only. "
                  "Run `kgprune link build-index` for fuzzy matches.", highlight=False,
                  soft_wrap=True)
        return None, encoder_by_name(encoder or "auto")
    directory = directory or default_index_dir(store.url)
    enc = encoder_by_name(encoder) if encoder else encoder_for_identity(
        read_manifest(directory).encoder)
    return ConceptIndex.load(directory, encoder=enc, store=store), enc


@contextmanager
def _stopped_by_signals(server: RetrievalServer) -> Iterator[None]:
    """SIGINT and SIGTERM stop `serve_forever`; `shutdown` blocks, so it runs on its own thread."""
    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _log_to_stderr(logger: logging.Logger) -> None:
    """One line per request, and tracebacks of failures, on stderr whatever the root logger does."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
