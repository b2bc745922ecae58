"""Which relation a question asks about: "used for" -> UsedFor, "made of" -> MadeOf, ...

Question patterns come first (precise, and they give the direction: "what is this used for?"
asks for the tail of UsedFor(this, ?), "what is used to cut bread?" for the head). When no pattern
fires, the question is compared with sentences built from ConceptNet's own surface templates
("[[x]] is used for [[y]]") by the entity encoder, which still catches paraphrases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from kgprune.linking.encoder import EntityEncoder


class Direction(StrEnum):
    TAIL = "tail"  # the question names the head; the answer is the tail: what is X used for?
    HEAD = "head"  # the question names the tail; the answer is the head: what is used to cut?


@dataclass(frozen=True, slots=True)
class RelationGuess:
    relation: str
    direction: Direction
    score: float
    method: str  # "pattern" or "embedding"


_T, _H = Direction.TAIL, Direction.HEAD
_DET = r"(?:this|that|these|those|it|they|the|a|an|he|she|his|her|its|their)"

# (pattern, relation, direction, score); the first match of each (relation, direction) counts.
QUESTION_PATTERNS: tuple[tuple[str, str, Direction, float], ...] = (
    (r"\b(?:what|which) (?:\w+ )?(?:is|are) used (?:to|for)\b", "UsedFor", _H, 0.95),
    (r"\bwhat (?:do|would|can|could|should|might) (?:you|one|people|we|i) use (?:to|for)\b", "UsedFor", _H, 0.95),
    (r"\bused (?:for|to)\b", "UsedFor", _T, 0.9),
    (rf"\b(?:use|uses) {_DET}(?: \w+)? (?:for|to)\b", "UsedFor", _T, 0.9),
    (r"\bpurpose\b|\bgood for\b|\bwhat (?:is|are) .*\bfor\??$", "UsedFor", _T, 0.8),
    (r"\bwhat (?:do|does|would|can) (?:you|one|people|we) do with\b", "UsedFor", _T, 0.7),
    (r"\bwhat (?:can|could|would|might|will) (?:you|one|people|we|i) (?:find|see|buy|get) (?:in|at|on|inside)\b", "AtLocation", _H, 0.9),
    (r"\bwhat (?:is|are) (?:usually |often |typically |commonly )?(?:found|kept|stored|sold|seen) (?:in|at|on)\b", "AtLocation", _H, 0.9),
    (r"\bwhere\b", "AtLocation", _T, 0.85),
    (r"\b(?:what|which|in what) (?:room|place|store|shop|location|building|part of the house)\b", "AtLocation", _T, 0.85),
    (r"\bwhat (?:is|are) (?:made|built) (?:of|from|out of)\b", "MadeOf", _H, 0.9),
    (r"\bmade (?:of|from|out of)\b|\bmaterials?\b|\bconsists? of\b", "MadeOf", _T, 0.9),
    (r"\bwhat (?:kind|type|sort|category|class|group) of\b|\bwhat (?:kind|type|sort)\b", "IsA", _T, 0.9),
    (rf"\bwhat (?:is|are) {_DET}(?: \w+)?\s*\??$", "IsA", _T, 0.6),
    (r"\bis (?:this|that|it) an? \w+", "IsA", _T, 0.5),
    (r"\b(?:which|what) (?:animal|animals|thing|things|object|objects|tool|tools|vehicle|vehicles|one)s? (?:can|could)\b", "CapableOf", _H, 0.85),
    (rf"\bwhat (?:can|could|does|do|might|will|would) {_DET}(?: \w+)? do\b", "CapableOf", _T, 0.85),
    (r"\bable to\b|\bcapable of\b|\bwhat can\b", "CapableOf", _T, 0.7),
    (r"\bwhat (?:colou?r|shape|texture|temperature|size)\b|\bhow (?:does|do|is|are) .* (?:feel|taste|look|smell)\b", "HasProperty", _T, 0.85),
    (r"\bwhat (?:is|are) .* like\b|\bproperty\b|\bdescribe\b", "HasProperty", _T, 0.6),
    (r"\bpart of\b", "PartOf", _T, 0.85),
    (r"\bwhat (?:parts?|does .* have|do .* have)\b|\bhas what\b", "HasA", _T, 0.8),
    (r"\bwhat (?:can|do|does|would|should) (?:you|one|people|we) do to\b", "ReceivesAction", _T, 0.8),
    (r"\bwhat (?:does|do) .* (?:want|like|desire|love)\b", "Desires", _T, 0.8),
    (r"\bcause[sd]?\b|\bresult (?:of|in)\b|\bwhat happens\b", "Causes", _T, 0.8),
    (r"\bwho (?:makes|made|created|builds|built|invented|produces|produced)\b|\b(?:made|created|built) by\b", "CreatedBy", _T, 0.85),
    (r"\bneeds?\b|\brequires?\b|\bbefore you\b", "HasPrerequisite", _T, 0.7),
    (r"\bnext to\b|\bnear\b|\bbeside\b|\bclose to\b", "LocatedNear", _T, 0.7),
    (r"\bopposite\b", "Antonym", _T, 0.9),
    (r"\banother (?:word|name) for\b|\bsynonym\b|\bmeans the same\b", "Synonym", _T, 0.9),
)

# Sentences in the manner of ConceptNet's surface templates, for the embedding fallback.
SURFACE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "UsedFor": ("it is used for this", "you use it to do this", "it is for this purpose"),
    "AtLocation": ("you are likely to find it in this place", "where it is kept", "it is found at this location"),
    "MadeOf": ("it is made of this material", "it is built from this"),
    "IsA": ("it is a type of this", "what kind of thing it is", "it belongs to this category"),
    "CapableOf": ("it can do this", "what it is able to do"),
    "HasProperty": ("it is this colour or has this quality", "how it feels, looks or tastes"),
    "PartOf": ("it is part of this whole",),
    "HasA": ("it has this part", "it contains this"),
    "ReceivesAction": ("you can do this to it", "it can be done to it"),
    "Desires": ("it wants this", "it likes this"),
    "Causes": ("it causes this", "the effect or result of it"),
    "CreatedBy": ("it is created by this maker",),
    "HasPrerequisite": ("it needs this first", "it requires this"),
    "LocatedNear": ("it is usually near this", "it is next to this"),
}


class RelationDetector:
    """Relations a question asks about, best first, each with the side of the fact it wants."""

    def __init__(self, encoder: EntityEncoder, *, min_similarity: float = 0.25, max_guesses: int = 3) -> None:
        self.encoder = encoder
        self._min_similarity = min_similarity
        self._max = max_guesses
        self._patterns = [(re.compile(p), r, d, s) for p, r, d, s in QUESTION_PATTERNS]
        self._labels = [(r, t) for r, ts in SURFACE_TEMPLATES.items() for t in ts]
        self._prototypes = encoder.encode([t for _, t in self._labels])

    def detect(self, question: str) -> list[RelationGuess]:
        text = " ".join(question.lower().split())
        if not text:
            return []
        guesses = self._by_pattern(text) or self._by_embedding(text)
        return guesses[: self._max]

    def _by_pattern(self, text: str) -> list[RelationGuess]:
        found: dict[tuple[str, Direction], RelationGuess] = {}
        for pattern, relation, direction, score in self._patterns:
            if (relation, direction) not in found and pattern.search(text):
                found[(relation, direction)] = RelationGuess(relation, direction, score, "pattern")
        ranked = sorted(found.values(), key=lambda g: -g.score)
        first_direction: dict[str, Direction] = {}
        for g in ranked:
            first_direction.setdefault(g.relation, g.direction)
        # One direction per relation: the more specific pattern ("what is used to") wins.
        return [g for g in ranked if first_direction[g.relation] is g.direction]

    def _by_embedding(self, text: str) -> list[RelationGuess]:
        similarities = self._prototypes @ self.encoder.encode([text])[0]
        best: dict[str, float] = {}
        for (relation, _), sim in zip(self._labels, similarities.tolist(), strict=True):
            best[relation] = max(best.get(relation, -1.0), sim)
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        return [RelationGuess(r, Direction.TAIL, float(np.clip(s, 0.0, 1.0)), "embedding")
                for r, s in ranked if s >= self._min_similarity]
