"""Retrieval as an HTTP service, so training jobs in other processes or on other machines share one
graph store, one concept index and one retrieval cache.

Standard library only: `ThreadingHTTPServer`, JSON in and out, HTTP/1.1 keep-alive. Endpoints:

- `GET /health`: store URL, KG version, concept and fact counts, whether fuzzy linking has an
  index, the encoder identity;
- `POST /link`: `{"text": str}` or `{"texts": [str]}`, optionally `"objects": [names]` or
  `"image"` (a Visual Genome scene-graph entry or a detections list), to linked concepts;
- `POST /facts`: one query (`question`, `image_objects`, `sample_id`, coverage view fields,
  `hops`, `top_k`) or `{"queries": [...]}`, to `KnowledgeContext.to_dict()` per query.

Errors are `{"error": {"code", "message", "field"}}`, whatever the method or however malformed the
request line. A request is refused from its headers alone where they suffice (404, 405, 411, 413,
415), before any of its body is read; its line and headers, then its body, must each arrive within
the read timeout (408). At most `max_connections` connections get a thread, and one more gets 503
at once; at most `max_concurrent` requests are processed at once, and one that finds no free
slot within `slot_wait` seconds gets 503 with `Retry-After`. Every store call goes through
one lock: the embedded LadybugDB connection must not be used from two threads at once.
"""

from kgprune.service.server import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PORT,
    DEFAULT_READ_TIMEOUT,
    RetrievalServer,
    RetrievalService,
    create_server,
)

__all__ = [
    "DEFAULT_HOST", "DEFAULT_MAX_BODY", "DEFAULT_MAX_CONCURRENT", "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_PORT", "DEFAULT_READ_TIMEOUT", "RetrievalServer", "RetrievalService", "create_server",
]
