"""Mention candidates: every n-gram of up to four words that could name a ConceptNet concept.

Grounding follows KagNet / MHGRN / QA-GNN (lemma n-grams; stop-word-only and blacklisted candidates
dropped) with three differences:

- keys are ConceptNet term keys built like `standardize_text` (never the last URI segment, which
  mis-reads sense-tagged URIs);
- a candidate starts and ends on a content word. KagNet drops every question concept holding a
  stop word; inner ones are kept here ("body of water", "cup of tea"), edge ones add nothing a
  tighter span lacks ("in the kitchen" -> "kitchen") and would triple the candidates to look up;
- overlaps are resolved by the linker (longest exact match), not by keeping the three shortest.

spaCy runs on a length-preserving lower-cased copy of the text, so the lookup lemmatizer (whose
tables are lower-case) sees "Dogs" as "dogs" and every character offset still points into the
original text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import spacy
from spacy.attrs import IDX, LEMMA, LENGTH, SPACY
from spacy.language import Language
from spacy.lookups import load_lookups
from spacy.tokens import Doc

from kgprune.kg.uri import standardize_text, tokenize

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
_JOINERS = frozenset({"-", "\u2013", "/", "'", "\u2019"})  # hyphen, en dash, slash, apostrophes
_ENGLISH_DROP = frozenset({"a", "an", "the"})


@dataclass(frozen=True, slots=True)
class Mention:
    """A span of the text and the concept keys it may stand for, most literal first.

    `keys` holds the surface key, then the key with the last word lemmatised ("cutting boards" ->
    "cutting_board"), then every word lemmatised ("cut_board"); duplicates removed.
    `num_content` counts words that are neither stop words nor blacklisted; `content` marks single
    content words (and noun chunks), the mentions worth a fuzzy look-up when nothing matches;
    `known` marks single words of the English vocabulary, which no spelling fix turns into another.
    """

    text: str
    start: int
    end: int
    keys: tuple[str, ...]
    num_words: int
    num_content: int
    content: bool
    known: bool

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


@functools.cache
def english_vocabulary() -> Callable[[str], bool]:
    """Whether a lower-case word is English: a form or a lemma of spaCy's lookup table."""
    table = load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")
    lemmas = frozenset(table.values())
    return lambda word: word in lemmas or word in table


def _lower_keep_length(text: str) -> str:
    """Lower-case each character unless that would change its length ("İ" -> "i̇")."""
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


class MentionExtractor:
    """Turns texts into `Mention`s; build one and reuse it, loading a pipeline takes a while."""

    def __init__(self, nlp: Language | None = None, *, max_ngram: int = MAX_NGRAM) -> None:
        self.nlp = nlp or load_nlp()
        self.max_ngram = max_ngram
        self.stop_words = frozenset(self.nlp.Defaults.stop_words) - _CONTENT_STOP_WORDS
        self.is_english = english_vocabulary()

    def extract(self, text: str) -> list[Mention]:
        return self.extract_batch([text])[0]

    def extract_batch(self, texts: Sequence[str]) -> list[list[Mention]]:
        docs = self.nlp.pipe(_lower_keep_length(t) for t in texts)
        return [self._mentions(text, doc) for text, doc in zip(texts, docs, strict=True)]

    def term_keys(self, text: str) -> tuple[str, ...]:
        """The keys of the whole text as one term (an object label such as "hot dogs")."""
        words = [w for segment in self._segments(self.nlp(_lower_keep_length(text)))
                 for w in segment]
        grown = list(self._grow(text, words, set(), content_ends=False)) if words else []
        return grown[-1].keys if grown and grown[-1].num_words == len(words) else ()

    def _mentions(self, text: str, doc: Doc) -> list[Mention]:
        chunk_spans = self._noun_chunks(doc)
        found: list[Mention] = []
        for segment in self._segments(doc):
            for i, first in enumerate(segment):
                if first.content:
                    found.extend(self._grow(text, segment[i : i + self.max_ngram], chunk_spans))
        return found

    def _segments(self, doc: Doc) -> list[list[_Word]]:
        """Runs of word tokens; a hyphen or slash glued to both neighbours joins ("hot-dog").

        Reads the doc's attribute array rather than its `Token` objects, which cost more to
        create than everything else done per token here.
        """
        segments: list[list[_Word]] = []
        run: list[_Word] = []
        rows = doc.to_array([IDX, LENGTH, SPACY, LEMMA]).tolist()
        lowered = doc.text
        for i, (start, length, space, lemma) in enumerate(rows):
            token = lowered[start : start + length]
            pieces = _pieces(token)
            if pieces:
                lower = token.lower()
                lemma_text = doc.vocab.strings[lemma].lower() if lemma else lower
                run.append(_Word(
                    start=start, end=start + length, lower=lower, pieces=pieces,
                    lemma_pieces=_pieces(lemma_text), glued=not space,
                    content=lower not in self.stop_words and lower not in BLACKLIST,
                ))
            elif not (token in _JOINERS and run and run[-1].glued and not space
                      and i + 1 < len(rows)):
                if run:
                    segments.append(run)
                run = []
        if run:
            segments.append(run)
        return segments

    def _grow(self, text: str, words: list[_Word], chunks: set[tuple[int, int]], *,
              content_ends: bool = True) -> Iterator[Mention]:
        """The mentions of `words[:1]`, `words[:2]`, ... (those ending on a content word if
        `content_ends`): each key grows from the previous one.

        Keys come from per-token pieces; `standardize_text` of the span itself only once tokens
        touch ("don't", "dog's"), where its tokenizer joins what spaCy split.
        """
        surface: list[str] = []
        lemmas: list[str] = []
        num_content = 0
        glued = False
        start = words[0].start if words else 0
        for n, word in enumerate(words, 1):
            last = _term_key(surface + list(word.lemma_pieces))
            surface += word.pieces
            lemmas += word.lemma_pieces
            num_content += word.content
            if word.content or not content_ends:
                key = _standardize(text[start : word.end]) if glued else _term_key(surface)
                keys = tuple(k for k in dict.fromkeys((key, last, _term_key(lemmas)))
                             if k and k not in BLACKLIST)
                if keys:
                    single = n == 1 and word.lower.replace("-", "").replace("'", "").isalpha()
                    yield Mention(text=text[start : word.end], start=start, end=word.end,
                                  keys=keys, num_words=n, num_content=num_content,
                                  content=single or (start, word.end) in chunks,
                                  known=single and self.is_english(word.lower))
            glued = glued or word.glued

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


@dataclass(frozen=True, slots=True)
class _Word:
    """A word token, pre-digested once so each of its n-grams costs only list joins."""

    start: int
    end: int
    lower: str
    pieces: tuple[str, ...]
    lemma_pieces: tuple[str, ...]
    glued: bool
    content: bool


@functools.lru_cache(maxsize=1 << 16)
def _pieces(text: str) -> tuple[str, ...]:
    return tuple(tokenize(text))


@functools.lru_cache(maxsize=1 << 16)
def _standardize(text: str) -> str:
    return standardize_text(text)


def _term_key(tokens: list[str]) -> str:
    """`standardize_text` for text already split by `tokenize`: the same English rules."""
    kept = [t for t in tokens if t not in _ENGLISH_DROP]
    if kept and kept[0] == "to":
        kept = kept[1:]
    return "_".join(kept or tokens)
