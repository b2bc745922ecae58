"""Text to concepts: exact ConceptNet keys first, then a fuzzy look-up in the concept index.

Exact matching asks the store once per batch for every candidate key it has not seen since the
store last changed. Overlapping exact matches are resolved greedily: more content words first
("hot dog" over "hot" and "dog", "cutting board" over "board"), then the tighter span, then the
earlier one. Words left uncovered go to the index; a fuzzy match must clear the encoder's
threshold and never replaces an exact one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kgprune.kg.records import Concept
from kgprune.kg.store import GraphStore
from kgprune.linking.index import ConceptHit, ConceptIndex
from kgprune.linking.mentions import Mention, MentionExtractor

MIN_FUZZY_CHARS = 4
KNOWN_KEYS_MAX = 1 << 18
FUZZY_CANDIDATES = 5


@dataclass(frozen=True, slots=True)
class LinkedConcept:
    """A concept found in a text, with the span that names it; method is "exact" or "fuzzy"."""

    uri: str
    name: str
    mention: str
    start: int
    end: int
    score: float
    method: str


def _non_overlapping(ranked: Iterable[tuple[Mention, LinkedConcept]],
                     taken: list[Mention]) -> list[LinkedConcept]:
    """Keep each candidate whose span overlaps none kept before it; `taken` grows in place."""
    kept = []
    for mention, linked in ranked:
        if not any(mention.overlaps(t.start, t.end) for t in taken):
            taken.append(mention)
            kept.append(linked)
    return kept


class Linker:
    """Links texts to the concepts of `store`; without an index it links exact matches only."""

    def __init__(self, store: GraphStore, *, index: ConceptIndex | None = None,
                 extractor: MentionExtractor | None = None, fuzzy_threshold: float | None = None,
                 min_fuzzy_chars: int = MIN_FUZZY_CHARS, lang: str = "en") -> None:
        self.store = store
        self.index = index
        self.extractor = extractor or MentionExtractor()
        self.fuzzy_threshold = (
            fuzzy_threshold if fuzzy_threshold is not None
            else index.encoder.fuzzy_threshold if index is not None else 1.0
        )
        self.min_fuzzy_chars = min_fuzzy_chars
        self.lang = lang
        self._known: dict[str, Concept | None] = {}
        self._known_version: str | None = None

    def link(self, text: str) -> list[LinkedConcept]:
        return self.link_batch([text])[0]

    def link_batch(self, texts: Sequence[str]) -> list[list[LinkedConcept]]:
        """At most one store query and one index search for the whole batch."""
        mentions = self.extractor.extract_batch(texts)
        concepts = self.concepts_for_keys(k for ms in mentions for m in ms for k in m.keys)
        taken: list[list[Mention]] = [[] for _ in texts]
        exact = [self._exact(ms, concepts, t) for ms, t in zip(mentions, taken, strict=True)]
        open_mentions = [[m for m in ms if self._wants_fuzzy(m, tk)]
                         for ms, tk in zip(mentions, taken, strict=True)]
        hits = iter(self.fuzzy_lookup([m.text for ms in open_mentions for m in ms]))
        linked = []
        for found, ms, tk in zip(exact, open_mentions, taken, strict=True):
            fuzzy = [(m, h) for m in ms if (h := next(hits)) is not None]
            fuzzy.sort(key=lambda mh: (-mh[1].score, mh[0].start))
            found += _non_overlapping(
                ((m, LinkedConcept(h.uri, h.name, m.text, m.start, m.end, h.score, "fuzzy"))
                 for m, h in fuzzy), tk)
            linked.append(sorted(found, key=lambda c: (c.start, c.end)))
        return linked

    def concepts_for_keys(self, keys: Iterable[str]) -> dict[str, Concept]:
        """The store's concepts for ConceptNet term keys (`hot_dog`), in at most one query.

        Answers, found or not, are remembered until the store's version changes: the same words
        and phrases ("kitchen", "hot dog") recur in question after question.
        """
        wanted = set(keys)
        if not wanted:
            return {}
        version = self.store.version()
        if version != self._known_version or len(self._known) + len(wanted) > KNOWN_KEYS_MAX:
            self._known.clear()
            self._known_version = version
        missing = {f"/c/{self.lang}/{k}": k for k in wanted if k not in self._known}
        if missing:
            found = {c.uri: c for c in self.store.get_concepts(sorted(missing))}
            self._known.update((k, found.get(uri)) for uri, k in missing.items())
        return {k: c for k in wanted if (c := self._known[k]) is not None}

    def fuzzy_lookup(self, texts: Sequence[str]) -> list[ConceptHit | None]:
        """The best of each text's nearest index hits by the encoder's `similarity`, if that clears
        the threshold; all None without an index.

        Each distinct text is searched once: in a batch of questions the same unknown words recur.
        """
        if self.index is None or not texts:
            return [None] * len(texts)
        unique = list(dict.fromkeys(texts))
        similarity = self.index.encoder.similarity
        best: dict[str, ConceptHit | None] = {}
        for text, hits in zip(unique, self.index.search(unique, k=FUZZY_CANDIDATES), strict=True):
            scored = [h._replace(score=similarity(text, h.name, h.score)) for h in hits]
            top = max(scored, key=lambda h: h.score, default=None)
            best[text] = top if top is not None and top.score >= self.fuzzy_threshold else None
        return [best[t] for t in texts]

    def _wants_fuzzy(self, mention: Mention, taken: list[Mention]) -> bool:
        """A content word or noun chunk no exact match covers; for a spelling-only encoder, also
        one the English vocabulary does not know ("umbrela", not "better")."""
        return (mention.content and len(mention.text) >= self.min_fuzzy_chars
                and not (mention.known and self.index is not None
                         and self.index.encoder.spelling_only)
                and not any(mention.overlaps(t.start, t.end) for t in taken))

    def _exact(self, mentions: list[Mention], concepts: dict[str, Concept],
               taken: list[Mention]) -> list[LinkedConcept]:
        candidates = []
        for m in mentions:
            key = next((k for k in m.keys if k in concepts), None)
            if key is not None:
                c = concepts[key]
                candidates.append((m, LinkedConcept(c.uri, c.name, m.text, m.start, m.end, 1.0,
                                                    "exact")))
        candidates.sort(key=lambda mc: (-mc[0].num_content, mc[0].num_words, mc[0].start))
        return _non_overlapping(candidates, taken)
