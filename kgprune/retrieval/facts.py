"""Facts for a sample: linked concepts -> neighbourhood facts -> ranked facts + grounded answers.

The `KnowledgeContext` a retrieval returns is what the knowledge loss consumes: the facts that bear
on the question, and the answers those facts support (the far ends of facts whose relation is the
one the question asks about), with weights that sum to one.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from kgprune.errors import ConfigError, Errors
from kgprune.kg.coverage import FULL_VIEW, CoverageView
from kgprune.kg.records import Fact
from kgprune.kg.relations import is_symmetric
from kgprune.kg.store import GraphStore
from kgprune.linking.encoder import EntityEncoder
from kgprune.linking.image import ImageObject, link_objects
from kgprune.linking.linker import Linker
from kgprune.retrieval.cache import RetrievalCache
from kgprune.retrieval.relation_detector import Direction, RelationDetector, RelationGuess

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class RetrievalQuery:
    """A sample as retrieval sees it: its question and the names of objects in its image."""

    sample_id: str
    question: str
    image_objects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AnswerCandidate:
    text: str
    concept: str
    weight: float
    support: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KnowledgeContext:
    sample_id: str
    question_concepts: tuple[str, ...]
    image_concepts: tuple[str, ...]
    relations: tuple[RelationGuess, ...]
    facts: tuple[Fact, ...]
    answers: tuple[AnswerCandidate, ...]
    kg_version: str

    def answer_distribution(self) -> dict[str, float]:
        return {a.text: a.weight for a in self.answers}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KnowledgeContext:
        return cls(
            sample_id=data["sample_id"],
            question_concepts=tuple(data["question_concepts"]),
            image_concepts=tuple(data["image_concepts"]),
            relations=tuple(RelationGuess(g["relation"], Direction(g["direction"]), g["score"],
                                          g["method"]) for g in data["relations"]),
            facts=tuple(Fact(**{**f, "contributors": tuple(f["contributors"])}) for f in data["facts"]),
            answers=tuple(AnswerCandidate(a["text"], a["concept"], a["weight"], tuple(a["support"]))
                          for a in data["answers"]),
            kg_version=data["kg_version"],
        )


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    """How much to fetch and how to rank it; its fingerprint keys the cache."""

    hops: int = 1
    per_concept_limit: int = 100
    top_k: int = 20
    weight_share: float = 0.5
    relation_bonus: float = 1.0
    link_bonus: float = 0.5
    max_answers: int = 10
    max_ranked: int = 400
    asked_relations: tuple[str, ...] = field(default_factory=tuple)

    def fingerprint(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def relation_phrase(relation: str) -> str:
    """`UsedFor` -> `used for`, `dbpedia/genus` -> `genus`."""
    return _CAMEL.sub(" ", relation.rsplit("/", 1)[-1]).lower()


def concept_name(uri: str) -> str:
    return uri.split("/")[3].replace("_", " ") if uri.count("/") >= 3 else uri


def fact_text(fact: Fact) -> str:
    return f"{concept_name(fact.head)} {relation_phrase(fact.relation)} {concept_name(fact.tail)}"


FACT_MEMO_SIZE = 200_000
"""Fact embeddings kept (least recently used go first): ~300 MB at 384 dimensions."""


class FactEmbeddings:
    """Fact-text embeddings, each text encoded once: neighbourhoods of the same concepts recur
    question after question (and view after view), and encoding is most of a retrieval's time.
    Share one across retrievers that use its encoder."""

    def __init__(self, encoder: EntityEncoder, *, size: int = FACT_MEMO_SIZE) -> None:
        self.encoder = encoder
        self.size = size
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._memo)

    def __contains__(self, text: object) -> bool:
        return text in self._memo

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if new:
            self._memo.update(zip(new, self.encoder.encode(new), strict=True))
        vectors = np.stack([self._memo[t] for t in texts])
        for t in texts:
            self._memo.move_to_end(t)
        while len(self._memo) > self.size:
            self._memo.popitem(last=False)
        return vectors


class FactRetriever:
    """Retrieves a `KnowledgeContext` per sample, through an optional on-disk cache."""

    def __init__(
        self,
        store: GraphStore,
        linker: Linker,
        detector: RelationDetector,
        *,
        config: RetrievalConfig = RetrievalConfig(),
        view: CoverageView = FULL_VIEW,
        cache: RetrievalCache | None = None,
        embeddings: FactEmbeddings | None = None,
    ) -> None:
        self.store = store
        self.linker = linker
        self.detector = detector
        self.config = config
        self.view = view
        self.cache = cache
        self._encoder = detector.encoder
        self.embeddings = FactEmbeddings(self._encoder) if embeddings is None else embeddings
        if self.embeddings.encoder.identity != self._encoder.identity:
            raise ConfigError(Errors.K112.format(shared=self.embeddings.encoder.identity,
                                                 encoder=self._encoder.identity))

    def cache_key(self, query: RetrievalQuery) -> str:
        """The sample id and a digest of what it asks: benchmarks (and their variants) reuse
        question ids for other questions, and grounding changes a sample's objects."""
        v = self.view.canonical()
        asked = hashlib.sha256(json.dumps([query.question, list(query.image_objects)],
                                          ensure_ascii=False).encode("utf-8")).hexdigest()[:16]
        return (f"{query.sample_id}|{asked}|{v.strategy}:{v.level}:{v.seed}:{v.source}"
                f"|{self.config.fingerprint()}|{self._encoder.identity}")

    def retrieve(self, query: RetrievalQuery) -> KnowledgeContext:
        return self.retrieve_batch([query])[0]

    def retrieve_batch(self, queries: Sequence[RetrievalQuery]) -> list[KnowledgeContext]:
        version = self.store.version()
        found: dict[int, KnowledgeContext] = {}
        if self.cache is not None:
            hits = self.cache.get_many([self.cache_key(q) for q in queries if q.sample_id],
                                       kg_version=version)
            for i, q in enumerate(queries):
                cached = hits.get(self.cache_key(q)) if q.sample_id else None
                if cached is not None:
                    found[i] = KnowledgeContext.from_dict(cached)
        missing = [i for i in range(len(queries)) if i not in found]
        if missing:
            # Samples asking the same question about the same objects share one retrieval:
            # templated benchmarks repeat them thousands of times.
            asked: dict[tuple[str, tuple[str, ...]], list[int]] = {}
            for i in missing:
                asked.setdefault((queries[i].question, tuple(queries[i].image_objects)), []).append(i)
            firsts = [indices[0] for indices in asked.values()]
            questions = [queries[i].question for i in firsts]
            linked = self.linker.link_batch(questions)
            vectors = self._encoder.encode(questions)  # one batch: most of the encoder's work
            fresh: dict[int, KnowledgeContext] = {}
            for indices, concepts, vector in zip(asked.values(), linked, vectors, strict=True):
                context = self._retrieve(queries[indices[0]], [c.uri for c in concepts], version,
                                         vector)
                for i in indices:
                    fresh[i] = replace(context, sample_id=queries[i].sample_id)
            found.update(fresh)
            if self.cache is not None:
                self.cache.put_many({self.cache_key(queries[i]): ctx.to_dict()
                                     for i, ctx in fresh.items() if queries[i].sample_id},
                                    kg_version=version)
        return [found[i] for i in range(len(queries))]

    def _image_concepts(self, names: Sequence[str]) -> list[str]:
        direct = [n for n in names if n.startswith("/c/")]
        objects = [ImageObject(index=i, names=(n,)) for i, n in enumerate(names) if not n.startswith("/c/")]
        linked = [o.uri for o in link_objects(objects, self.linker)] if objects else []
        return list(dict.fromkeys(direct + linked))

    def _retrieve(self, query: RetrievalQuery, question_concepts: list[str], version: str,
                  question_vector: np.ndarray) -> KnowledgeContext:
        image_concepts = self._image_concepts(query.image_objects)
        question_concepts = list(dict.fromkeys(question_concepts))
        guesses = self.detector.detect(query.question)
        if self.config.asked_relations:
            guesses = [g for g in guesses if g.relation in self.config.asked_relations]
        seeds = list(dict.fromkeys(image_concepts + question_concepts))
        facts = self._gather(seeds, guesses)
        ranked = self._rank(question_vector, facts, seeds, guesses)
        return KnowledgeContext(
            sample_id=query.sample_id,
            question_concepts=tuple(question_concepts),
            image_concepts=tuple(image_concepts),
            relations=tuple(guesses),
            facts=tuple(ranked[: self.config.top_k]),
            answers=tuple(self._answers(facts, seeds, guesses)),
            kg_version=version,
        )

    def _gather(self, seeds: list[str], guesses: list[RelationGuess]) -> dict[str, Fact]:
        """The neighbourhood of every seed, plus its facts of the asked relations in full."""
        cfg, facts = self.config, {}
        asked = sorted({g.relation for g in guesses})
        for uri in seeds:
            if asked:
                for f in self.store.neighbors(uri, relations=asked, hops=1,
                                              limit=cfg.per_concept_limit, view=self.view):
                    facts[f.edge_id] = f
            for f in self.store.neighbors(uri, hops=cfg.hops, limit=cfg.per_concept_limit,
                                          view=self.view):
                facts.setdefault(f.edge_id, f)
        return facts

    def _rank(self, question: np.ndarray, facts: dict[str, Fact], seeds: list[str],
              guesses: list[RelationGuess]) -> list[Fact]:
        if not facts:
            return []
        cfg = self.config
        by_weight = sorted(facts.values(), key=lambda f: (-f.weight, f.edge_id))[: cfg.max_ranked]
        top = max(f.weight for f in by_weight) or 1.0
        relevance = self.embeddings.vectors([fact_text(f) for f in by_weight]) @ question
        asked = {g.relation for g in guesses}
        seed_set = set(seeds)
        scored = []
        for f, rel in zip(by_weight, relevance.tolist(), strict=True):
            score = (cfg.weight_share * math.log1p(f.weight) / math.log1p(top)
                     + (1 - cfg.weight_share) * rel
                     + cfg.relation_bonus * (f.relation in asked)
                     + cfg.link_bonus * (f.head in seed_set and f.tail in seed_set))
            scored.append((-score, f.edge_id, f))
        return [f for _, _, f in sorted(scored)]

    def _answers(self, facts: dict[str, Fact], seeds: list[str],
                 guesses: list[RelationGuess]) -> list[AnswerCandidate]:
        """Far ends of facts of an asked relation, weighted by fact weight and guess confidence."""
        seed_set = set(seeds)
        weights: dict[str, float] = {}
        support: dict[str, list[str]] = {}
        for guess in guesses:
            for f in facts.values():
                if f.relation != guess.relation:
                    continue
                for near, far, direction in ((f.head, f.tail, Direction.TAIL),
                                             (f.tail, f.head, Direction.HEAD)):
                    wanted = direction is guess.direction or is_symmetric(f.relation)
                    if wanted and near in seed_set and far not in seed_set:
                        weights[far] = weights.get(far, 0.0) + f.weight * guess.score
                        support.setdefault(far, []).append(f.edge_id)
        best = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[: self.config.max_answers]
        total = sum(w for _, w in best)
        return [AnswerCandidate(concept_name(uri), uri, w / total, tuple(support[uri]))
                for uri, w in best]
