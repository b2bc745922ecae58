"""A FAISS index over the names of every concept of a store, for fuzzy entity linking.

The index type follows the size: exact `IndexFlatIP` up to `FLAT_MAX_CONCEPTS` (200k concepts; a
query there costs about a millisecond on two cores), `IndexHNSWFlat` with the inner-product metric
above, where exhaustive search grows linearly (4 ms a query at 1M concepts). HNSW's settings
(M=32, efConstruction=100, efSearch=256) were measured on hashed synthetic names: at 1M, the true
top-1 for 99.6% of misspelled queries at 0.7 ms (benchmarks/linking.py); at 300k,
efConstruction=40 found it for 84% only. `flat_max` moves the threshold (tests force HNSW on a
small graph).

On disk an index is a directory of three files, replaced as a whole:

    index.faiss     faiss.write_index output
    ids.json        {"uris": [...], "names": [...]} in index order
    manifest.json   format, encoder identity, dim, index type, size, the store's version and url,
                    the language and coverage view indexed

`load` checks the manifest against the encoder and the store it is given, so vectors from another
encoder, or an index of a graph that has changed since, are refused rather than silently wrong.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import faiss
import numpy as np

from kgprune import __version__
from kgprune.errors import ConfigError, Errors, InputFormatError, KgpruneError
from kgprune.kg.coverage import FULL_VIEW, CoverageView
from kgprune.kg.store import GraphStore, data_home
from kgprune.linking.encoder import EntityEncoder

FORMAT_VERSION = 1
FLAT_MAX_CONCEPTS = 200_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 256
ENCODE_BATCH = 8192
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.json"
MANIFEST_FILE = "manifest.json"

ProgressFn = Callable[[int, int], None]


class IndexMismatchError(KgpruneError):
    """A saved concept index does not fit the encoder or the store it is loaded with."""


class ConceptHit(NamedTuple):
    uri: str
    name: str
    score: float


@dataclass(frozen=True, slots=True)
class IndexManifest:
    format_version: int
    encoder: str
    dim: int
    index_type: str
    num_concepts: int
    store_version: str
    store_url: str
    lang: str | None
    coverage: dict[str, Any]
    created: str
    kgprune_version: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexManifest:
        return cls(**{f.name: data[f.name] for f in fields(cls)})


def default_index_dir(store_url: str) -> Path:
    """`<data home>/index/<sha1(store url)[:12]>`: one default index per store."""
    return data_home() / "index" / hashlib.sha1(store_url.encode("utf-8")).hexdigest()[:12]


def index_exists(directory: Path) -> bool:
    return (Path(directory) / MANIFEST_FILE).is_file()


def _read_json(path: Path, directory: Path) -> Any:
    if not path.is_file():
        raise InputFormatError(Errors.K102.format(path=directory, missing=path.name, url="URL"))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        problem = f"{path.name}: {e}"
        raise InputFormatError(Errors.K103.format(path=directory, problem=problem)) from e


def read_manifest(directory: Path) -> IndexManifest:
    directory = Path(directory)
    data = _read_json(directory / MANIFEST_FILE, directory)
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        problem = f"{MANIFEST_FILE} is format {version}, this kgprune reads {FORMAT_VERSION}"
        raise InputFormatError(Errors.K103.format(path=directory, problem=problem))
    try:
        return IndexManifest.from_json(data)
    except (KeyError, TypeError) as e:
        problem = f"{MANIFEST_FILE} lacks {e}"
        raise InputFormatError(Errors.K103.format(path=directory, problem=problem)) from e


def _new_faiss_index(dim: int, num_concepts: int, flat_max: int) -> tuple[faiss.Index, str]:
    if num_concepts <= flat_max:
        return faiss.IndexFlatIP(dim), "flat"
    index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index, "hnsw"


class ConceptIndex:
    """Concept names embedded by one encoder, searchable by text or by vector."""

    def __init__(self, index: faiss.Index, uris: list[str], names: list[str],
                 encoder: EntityEncoder, manifest: IndexManifest) -> None:
        self._index = index
        self.uris = uris
        self.names = names
        self.encoder = encoder
        self.manifest = manifest

    def __len__(self) -> int:
        return len(self.uris)

    @property
    def faiss_index(self) -> faiss.Index:
        return self._index

    @property
    def index_type(self) -> str:
        return self.manifest.index_type

    @classmethod
    def build(cls, store: GraphStore, *, encoder: EntityEncoder, lang: str | None = "en",
              view: CoverageView = FULL_VIEW, batch_size: int = ENCODE_BATCH,
              flat_max: int = FLAT_MAX_CONCEPTS,
              on_progress: ProgressFn | None = None) -> ConceptIndex:
        """Index every concept of `store` in `lang` (None: all languages) within `view` by name.

        Linking reads English, so other languages would only add look-alike names ("/c/fr/table").
        The version is read first: a write during the build leaves the index stale, never
        wrongly current.
        """
        version = store.version()
        uris: list[str] = []
        names: list[str] = []
        for batch in store.iter_concepts(batch_size=batch_size, view=view):
            for concept in batch:
                if lang is None or concept.lang == lang:
                    uris.append(concept.uri)
                    names.append(concept.name or concept.uri.rsplit("/", 1)[-1].replace("_", " "))
        if not uris:
            raise ConfigError(Errors.K106.format(url=store.url))
        return cls.build_from_names(uris, names, encoder=encoder, store_version=version,
                                    store_url=store.url, lang=lang, view=view,
                                    batch_size=batch_size, flat_max=flat_max,
                                    on_progress=on_progress)

    @classmethod
    def build_from_names(cls, uris: list[str], names: list[str], *, encoder: EntityEncoder,
                         store_version: str = "", store_url: str = "", lang: str | None = None,
                         view: CoverageView = FULL_VIEW, batch_size: int = ENCODE_BATCH,
                         flat_max: int = FLAT_MAX_CONCEPTS,
                         on_progress: ProgressFn | None = None) -> ConceptIndex:
        """Encode `names` in batches and add them; `build` reads a store and calls this."""
        if len(uris) != len(names):
            raise ConfigError(Errors.K110.format(uris=len(uris), names=len(names)))
        index, index_type = _new_faiss_index(encoder.dim, len(names), flat_max)
        total = len(names)
        if on_progress:
            on_progress(0, total)
        for begin in range(0, total, batch_size):
            index.add(encoder.encode(names[begin : begin + batch_size]))
            if on_progress:
                on_progress(min(begin + batch_size, total), total)
        manifest = IndexManifest(
            format_version=FORMAT_VERSION, encoder=encoder.identity, dim=encoder.dim,
            index_type=index_type, num_concepts=total, store_version=store_version,
            store_url=store_url, lang=lang, coverage=asdict(view),
            created=datetime.now(UTC).isoformat(timespec="seconds"), kgprune_version=__version__,
        )
        return cls(index, list(uris), list(names), encoder, manifest)

    def search(self, queries: Sequence[str] | np.ndarray, k: int = 5) -> list[list[ConceptHit]]:
        """The `k` nearest concepts of each query text or vector, best first, scored by cosine."""
        if len(queries) == 0 or k < 1:
            return [[] for _ in range(len(queries))]
        if isinstance(queries, np.ndarray):
            vectors = np.ascontiguousarray(queries, dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[1] != self.manifest.dim:
                raise ConfigError(Errors.K109.format(shape=queries.shape, dim=self.manifest.dim))
        else:
            vectors = self.encoder.encode(list(queries))
        scores, ids = self._index.search(vectors, min(k, len(self.uris)))
        return [
            [ConceptHit(self.uris[i], self.names[i], float(s))
             for s, i in zip(row_scores, row_ids, strict=True) if i >= 0]
            for row_scores, row_ids in zip(scores, ids, strict=True)
        ]

    def save(self, directory: Path) -> Path:
        """Write the index directory atomically: built beside it, then renamed into place."""
        directory = Path(directory)
        if directory.exists() and not index_exists(directory) and (
            not directory.is_dir() or any(directory.iterdir())
        ):
            raise ConfigError(Errors.K107.format(path=directory))
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.with_name(f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}")
        tmp.mkdir()
        try:
            faiss.write_index(self._index, str(tmp / INDEX_FILE))
            ids = {"uris": self.uris, "names": self.names}
            (tmp / IDS_FILE).write_text(json.dumps(ids, ensure_ascii=False), encoding="utf-8")
            (tmp / MANIFEST_FILE).write_text(
                json.dumps(asdict(self.manifest), indent=2, sort_keys=True), encoding="utf-8"
            )
            _replace_dir(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return directory

    @classmethod
    def load(cls, directory: Path, *, encoder: EntityEncoder, store: GraphStore) -> ConceptIndex:
        """Open a saved index, refusing another encoder's vectors or a store that has changed.

        The store's version decides: a copy of the built store at another URL is accepted.
        """
        directory = Path(directory)
        manifest = read_manifest(directory)
        if manifest.encoder != encoder.identity:
            raise IndexMismatchError(Errors.K104.format(path=directory, built=manifest.encoder,
                                                        given=encoder.identity))
        current = store.version()
        if manifest.store_version != current and manifest.store_url != store.url:
            raise IndexMismatchError(Errors.K111.format(path=directory, url=store.url,
                                                        built_url=manifest.store_url))
        if manifest.store_version != current:
            raise IndexMismatchError(Errors.K105.format(
                path=directory, built=manifest.store_version or "(none)", url=store.url,
                current=current or "(none)"))
        ids = _read_json(directory / IDS_FILE, directory)
        if not (directory / INDEX_FILE).is_file():
            raise InputFormatError(
                Errors.K102.format(path=directory, missing=INDEX_FILE, url=store.url))
        try:
            index = faiss.read_index(str(directory / INDEX_FILE))
        except RuntimeError as e:
            raise InputFormatError(
                Errors.K103.format(path=directory, problem=f"{INDEX_FILE}: {str(e).strip()}")
            ) from e
        uris, names = _check_ids(ids, index, manifest, encoder, directory)
        if manifest.index_type == "hnsw":
            hnsw: Any = faiss.downcast_index(index)
            hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index, uris, names, encoder, manifest)


def _check_ids(ids: Any, index: faiss.Index, manifest: IndexManifest, encoder: EntityEncoder,
               directory: Path) -> tuple[list[str], list[str]]:
    """The URIs and names of `ids.json`, if all three files agree on count and dimension."""
    uris = ids.get("uris") if isinstance(ids, dict) else None
    names = ids.get("names") if isinstance(ids, dict) else None
    if (isinstance(uris, list) and isinstance(names, list)
            and len(uris) == len(names) == index.ntotal == manifest.num_concepts
            and index.d == manifest.dim == encoder.dim):
        return uris, names
    problem = (f"{IDS_FILE}, {INDEX_FILE} and {MANIFEST_FILE} disagree on the number of concepts "
               "or the dimension")
    raise InputFormatError(Errors.K103.format(path=directory, problem=problem))


def _replace_dir(new: Path, target: Path) -> None:
    """Move `new` to `target`; an older index there is moved aside first and removed after."""
    if not target.exists():
        new.rename(target)
        return
    if not index_exists(target):
        target.rmdir()
        new.rename(target)
        return
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
