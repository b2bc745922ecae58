"""Mention candidates: every n-gram of up to four words that could name a ConceptNet concept.

Grounding follows KagNet / MHGRN / QA-GNN (lemma n-grams, stop-word-only and blacklisted candidates
dropped) with two differences: keys are ConceptNet term keys built with `standardize_text` (never the
last URI segment, which mis-reads sense-tagged URIs), and overlaps are resolved later by the linker
(longest exact match), not by keeping the three shortest candidates.

spaCy runs on a length-preserving lower-cased copy of the text, so the lookup lemmatizer (whose
tables are lower-case) sees "Dogs" as "dogs" and every character offset still points into the
original text.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Token

from kgprune.kg.uri import standardize_text

MAX_NGRAM = 4
TRAINED_PIPELINE = "en_core_web_sm"

# KagNet's blacklist plus filler nouns that name no useful concept in a question.
BLACKLIST = frozenset({
    "-pron-", "actually", "likely", "possibly", "want", "make", "my", "someone", "sometimes_people",
    "sometimes", "would", "want_to", "one", "something", "everybody", "somebody", "could",
    "could_be", "thing", "things", "kind", "kinds", "sort", "stuff", "lot",
})

# spaCy's stop list holds content words that are everyday concepts ("back", "top", "empty"); a
# question about the top of a cake should still reach /c/en/top.
_CONTENT_STOP_WORDS = frozenset({
    "back", "bottom", "front", "side", "top", "part", "empty", "full", "whole", "name", "serious",
})
_JOINERS = frozenset({"-", "–", "/", "'", "’"})
# `standardize_text` drops these at the start of a term, so the span without them is the same key.
_SKIPPED_FIRST = frozenset({"a", "an", "the", "to"})


@dataclass(frozen=True, slots=True)
class Mention:
    """A span of the text and the concept keys it may stand for, most literal first.

    `keys` holds the surface key, then the key with the last word lemmatised ("cutting boards" ->
    "cutting_board"), then every word lemmatised ("cut_board"); duplicates removed.
    `num_content` counts words that are neither stop words nor blacklisted; `content` marks single
    content words (and noun chunks), the mentions worth a fuzzy look-up when nothing matches.
    """

    text: str
    start: int
    end: int
    keys: tuple[str, ...]
    num_words: int
    num_content: int
    content: bool

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


@functools.cache
def load_nlp() -> Language:
    """`en_core_web_sm` when installed (lemmas from a tagger, noun chunks), else a blank English
    pipeline with the lookup lemmatizer, whose tables come from `spacy-lookups-data` offline."""
    if spacy.util.is_package(TRAINED_PIPELINE):
        return spacy.load(TRAINED_PIPELINE, exclude=["ner"])
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    return nlp


def _lower_keep_length(text: str) -> str:
    """Lower-case each character unless that would change its length ("İ" -> "i̇")."""
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


class MentionExtractor:
    """Turns text into `Mention`s; one instance per pipeline, reusable across threads of work."""

    def __init__(self, nlp: Language | None = None, *, max_ngram: int = MAX_NGRAM) -> None:
        self.nlp = nlp or load_nlp()
        self.max_ngram = max_ngram
        self.stop_words = frozenset(self.nlp.Defaults.stop_words) - _CONTENT_STOP_WORDS

    def extract(self, text: str) -> list[Mention]:
        return self.extract_batch([text])[0]

    def extract_batch(self, texts: Sequence[str]) -> list[list[Mention]]:
        docs = self.nlp.pipe(_lower_keep_length(t) for t in texts)
        return [self._mentions(text, doc) for text, doc in zip(texts, docs, strict=True)]

    def term_keys(self, text: str) -> tuple[str, ...]:
        """The keys of the whole text as one term (an object label such as "hot dogs")."""
        doc = self.nlp(_lower_keep_length(text))
        words = [t for t in doc if standardize_text(t.text)]
        return self._keys(text, words) if words else ()

    def _mentions(self, text: str, doc: Doc) -> list[Mention]:
        chunk_spans = self._noun_chunks(doc)
        found: list[Mention] = []
        for segment in self._segments(doc):
            for i in range(len(segment)):
                if segment[i].lower_ in _SKIPPED_FIRST:
                    continue
                for n in range(1, min(self.max_ngram, len(segment) - i) + 1):
                    mention = self._mention(text, segment[i : i + n], chunk_spans)
                    if mention is not None:
                        found.append(mention)
        return found

    def _segments(self, doc: Doc) -> Iterable[list[Token]]:
        """Runs of word tokens; a hyphen or slash glued to both neighbours joins ("hot-dog")."""
        run: list[Token] = []
        for token in doc:
            if standardize_text(token.text):
                run.append(token)
            elif not (token.text in _JOINERS and run and not run[-1].whitespace_
                      and not token.whitespace_ and token.i + 1 < len(doc)):
                if run:
                    yield run
                run = []
        if run:
            yield run

    def _mention(self, text: str, words: list[Token], chunks: set[tuple[int, int]]) -> Mention | None:
        lowers = [t.lower_ for t in words]
        num_content = sum(w not in self.stop_words and w not in BLACKLIST for w in lowers)
        if not num_content:
            return None
        keys = tuple(k for k in self._keys(text, words) if k not in BLACKLIST)
        if not keys:
            return None
        start, end = words[0].idx, words[-1].idx + len(words[-1].text)
        single = len(words) == 1 and lowers[0].replace("-", "").replace("'", "").isalpha()
        return Mention(text=text[start:end], start=start, end=end, keys=keys,
                       num_words=len(words), num_content=num_content,
                       content=single or (start, end) in chunks)

    def _keys(self, text: str, words: Sequence[Token]) -> tuple[str, ...]:
        start, end = words[0].idx, words[-1].idx + len(words[-1].text)
        lemmas = [_lemma(t) for t in words]
        surface = standardize_text(text[start:end])
        last = standardize_text(" ".join([t.lower_ for t in words[:-1]] + lemmas[-1:]))
        every = standardize_text(" ".join(lemmas))
        return tuple(dict.fromkeys(k for k in (surface, last, every) if k))

    def _noun_chunks(self, doc: Doc) -> set[tuple[int, int]]:
        """Multi-word noun chunks (trained pipelines only), without leading determiners."""
        if not doc.has_annotation("DEP"):
            return set()
        spans = set()
        for chunk in doc.noun_chunks:
            words = [t for t in chunk if t.pos_ not in ("DET", "PRON")]
            if 1 < len(words) <= self.max_ngram:
                spans.add((words[0].idx, words[-1].idx + len(words[-1].text)))
        return spans


def _lemma(token: Token) -> str:
    return token.lemma_.lower() if token.lemma_ else token.lower_
