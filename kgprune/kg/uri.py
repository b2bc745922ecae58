"""ConceptNet concept URIs: text -> URI the way conceptnet5 standardises it, and sense collapsing.

ConceptNet does no lemmatisation: it case-folds, tokenises, drops English articles and a leading
"to", and joins tokens with underscores. Sense-tagged URIs (`/c/en/dog/n/wn/animal`) collapse to the
term (`/c/en/dog`); the part of speech is kept separately. KagNet-style `split('/')[-1]` parsing maps
`/c/en/trial/n/wn/act` to `act`; taking the first three segments avoids that bug.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kgprune.errors import ConfigError, Errors

_TOKEN = re.compile(r"\w+(?:['’.]\w+)*", re.UNICODE)
_ENGLISH_DROP = frozenset({"a", "an", "the"})
POS_TAGS = frozenset({"n", "v", "a", "s", "r"})


def tokenize(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text.replace("_", " ")).casefold()
    return [t.replace("’", "'") for t in _TOKEN.findall(text)]


def standardize_text(text: str, lang: str = "en") -> str:
    """`a hot-dog` -> `hot_dog`, `to eat` -> `eat`, `U.S.A.` -> `u.s.a`."""
    tokens = tokenize(text)
    if lang == "en":
        kept = [t for t in tokens if t not in _ENGLISH_DROP]
        if kept and kept[0] == "to":
            kept = kept[1:]
        tokens = kept or tokens
    return "_".join(tokens)


def concept_uri(text: str, lang: str = "en") -> str:
    return f"/c/{lang}/{standardize_text(text, lang)}"


@dataclass(frozen=True, slots=True)
class ParsedConcept:
    uri: str
    lang: str
    term: str
    pos: str

    @property
    def name(self) -> str:
        return self.term.replace("_", " ")


def parse_concept_uri(uri: str) -> ParsedConcept:
    """Split `/c/<lang>/<term>[/<pos>[/...]]` into the term-level URI, language, term and POS."""
    parts = uri.split("/")
    if len(parts) < 4 or parts[0] != "" or parts[1] != "c" or not parts[2] or not parts[3]:
        raise ConfigError(Errors.K013.format(uri=uri))
    pos = parts[4] if len(parts) > 4 and parts[4] in POS_TAGS else ""
    return ParsedConcept(uri="/".join(parts[:4]), lang=parts[2], term=parts[3], pos=pos)
