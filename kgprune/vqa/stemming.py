"""OK-VQA v1.1's answer stemming, applied to a prediction before it is scored (FORMATS.md §3).

v1.1 stores stemmed answers ("surfing" -> "surf", "hot dogs" -> "hot dog"), so an unstemmed
correct prediction would score 0. The published evaluation (open_flamingo's `OKVQAStemmer`)
stems word by word: a manual override table first; a word ending in "-ing" becomes its verb
lemma (nltk's WordNet lemmatiser); a word nltk's tagger calls a plural noun is singularised
(the `inflection` package). WordNet and the tagger model are downloads, so this module applies
the same three steps offline and deterministically: "-ing" lemmas come from suffix rules
(undouble "running" -> "run", restore the "e" of "hiking" -> "hike"), a plural is a word that
English plural rules can singularise and that is not a known singular ("bus", "glass", "news"),
and an override table holds the words those rules get wrong. Words are split on whitespace,
not nltk's Treebank tokeniser, whose "do n't" for "don't" never matches a released answer.
Punctuation around a word is kept, so the official normalisation still sees it.
"""

from __future__ import annotations

import re

OVERRIDES: dict[str, str] = {
    # Words whose stem the rules below get wrong: FORMATS.md's clothes -> cloth, and "-ing"
    # forms where WordNet's verb lexicon decides (no verb "morn", a verb "change").
    "clothes": "cloth", "rollerblading": "rollerblade", "morning": "morning",
    "pudding": "pudding", "changing": "change", "arranging": "arrange", "focusing": "focus",
}
NOT_PLURAL = frozenset({
    "always", "athletics", "atlas", "bias", "canvas", "chaos", "christmas", "diabetes", "does",
    "economics", "electronics", "gas", "gymnastics", "has", "his", "its", "lens", "mathematics",
    "measles", "news", "paris", "perhaps", "physics", "politics", "rabies", "series", "species",
    "texas", "this", "was", "whereas", "yes", "aerobics", "mumps", "bus", "plus",
})
IRREGULAR_PLURALS: dict[str, str] = {
    "people": "person", "men": "man", "women": "woman", "children": "child", "teeth": "tooth",
    "feet": "foot", "mice": "mouse", "geese": "goose", "oxen": "ox", "buses": "bus",
    "movies": "movie", "shoes": "shoe", "toes": "toe", "canoes": "canoe", "knives": "knife",
    "wives": "wife", "lives": "life", "quizzes": "quiz", "data": "datum",
}
UNCOUNTABLE = frozenset({"equipment", "information", "rice", "money", "fish", "sheep", "deer",
                         "moose", "bison", "aircraft", "police", "jeans"})
_WORD = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)
_VOWELS = frozenset("aeiou")
_NO_UNDOUBLE = frozenset("lsz")
_THING = frozenset({"anything", "everything", "nothing", "something", "plaything"})


def _vowel(word: str, i: int) -> bool:
    """A vowel, with "y" one after a consonant ("sky", not "yes"), as Porter counts them."""
    c = word[i]
    return c in _VOWELS or (c == "y" and i > 0 and not _vowel(word, i - 1))


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel-consonant sequences ("hik" 1, "visit" 2)."""
    pattern = "".join("v" if _vowel(stem, i) else "c" for i in range(len(stem)))
    return len(re.findall(r"v+c+", pattern))


def _short_cvc(stem: str) -> bool:
    """Ends consonant-vowel-consonant, the last not w/x/y: "hik", "rid", not "eat" or "snow"."""
    n = len(stem)
    return (n >= 3 and not _vowel(stem, n - 3) and _vowel(stem, n - 2) and not _vowel(stem, n - 1)
            and stem[-1] not in "wxy")


def verb_lemma(word: str) -> str:
    """The verb of an "-ing" form, by suffix rules that stand in for WordNet's verb lexicon."""
    stem = word[:-3]
    if word in _THING or not any(_vowel(stem, i) for i in range(len(stem))):
        return word  # nothing, something; king, ring, sing, thing
    if len(stem) >= 2 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS | _NO_UNDOUBLE:
        return stem[:-1]  # running, swimming, shopping (not falling, dressing, buzzing)
    needs_e = (
        (_measure(stem) == 1 and _short_cvc(stem))  # hiking, riding, skating
        or (len(stem) == 2 and not _vowel(stem, 1))  # using, icing, aging
        or stem.endswith(("v", "c", "th", "iz"))  # driving, dancing, bathing
        or re.search(r"[^aeiou]at$", stem) is not None  # decorating (not eating, boating)
        or re.search(r"[bcdfgkptz]l$", stem) is not None  # cycling, juggling
        or re.search(r"[^n]g$", stem) is not None  # charging (not singing)
        or re.search(r"[aeiou]s$|[^z]z$", stem) is not None  # raising, freezing
    )
    return stem + "e" if needs_e else stem


def is_plural(word: str) -> bool:
    """Whether a word reads as a plural noun: "dogs", "glasses", "people"; not "bus", "grass"."""
    if word in IRREGULAR_PLURALS:
        return True
    return (len(word) > 3 and word.endswith("s") and word not in NOT_PLURAL
            and not word.endswith(("ss", "us", "is", "ous")))


def singular(word: str) -> str:
    """English plural rules: cities -> city, boxes -> box, wolves -> wolf, dogs -> dog."""
    if word in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[word]
    if word in UNCOUNTABLE:
        return word
    for suffix, replacement in (("ies", "y"), ("lves", "lf"), ("rves", "rf"), ("eaves", "eaf"),
                                ("oaves", "oaf"), ("ieves", "ief"), ("sses", "ss"),
                                ("shes", "sh"), ("ches", "ch"), ("xes", "x"), ("zzes", "zz"),
                                ("oes", "o")):
        if word.endswith(suffix) and (suffix != "ies" or word[-4] not in _VOWELS):
            return word[: -len(suffix)] + replacement
    return word[:-1]


def stem_word(word: str) -> str:
    lower = word.lower()
    if lower in OVERRIDES:
        return OVERRIDES[lower]
    if lower.endswith("ing"):
        lemma = verb_lemma(lower)
    elif is_plural(lower):
        lemma = singular(lower)
    else:
        return word
    return word if lemma == lower else lemma


def stem_answer(text: str) -> str:
    """A prediction stemmed the way OK-VQA v1.1 stemmed its answers, word by word."""
    words = []
    for token in text.split():
        lead, core, trail = _WORD.match(token).groups()  # type: ignore[union-attr]
        words.append(lead + (stem_word(core) if core else "") + trail)
    return " ".join(words)
