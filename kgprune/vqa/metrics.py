"""VQA accuracy exactly as the official `vqaEval.py` computes it, quirks included.

Scores must match published OK-VQA numbers, so the official normalisation is reproduced as written,
not as intended: the decimal-point regex `(?!<=\\d)(\\.)(?!\\d)` has a broken look-behind and acts
as a look-ahead only; `re.UNICODE` is passed where `sub` expects a count, so at most 32 periods are
removed; the contractions map keeps its odd entries (`somebody'd -> somebodyd`, capitalised keys
that never match lower-cased words). Normalisation runs only when the ten answers are not all
identical.

OK-VQA v1.1 stems its answers (`answer`) and keeps the original text in `raw_answer`. The loaders
score against `answer`, so `score_answer` stems a prediction the same way first when the sample's
answers are stemmed (`kgprune.vqa.stemming`).

A question without a prediction scores 0 (the official script refuses such a results file); the
report counts them in `missing` so a partial run cannot pass for a full one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kgprune.errors import Errors, InputFormatError
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.stemming import stem_answer

CONTRACTIONS: dict[str, str] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've",
    "couldnt": "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't",
    "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've",
    "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've", "somebodyll": "somebody'll",
    "somebodys": "somebody's", "someoned": "someone'd", "someoned've": "someone'd've",
    "someone'dve": "someone'd've", "someonell": "someone'll", "someones": "someone's",
    "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've",
    "whyll": "why'll", "whyre": "why're", "whys": "why's", "wont": "won't",
    "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll",
    "youre": "you're", "youve": "you've",
}
NUMBER_WORDS: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}
ARTICLES = frozenset({"a", "an", "the"})
PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<",
               "@", "`", ",", "?", "!")
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_OFFICIAL_PERIOD_COUNT = int(re.UNICODE)  # vqaEval.py passes re.UNICODE as sub's count


def clean_whitespace(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def process_punctuation(text: str) -> str:
    out = text
    digit_comma = _COMMA_STRIP.search(text) is not None
    for p in PUNCTUATION:
        if p + " " in text or " " + p in text or digit_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out, count=_OFFICIAL_PERIOD_COUNT)


def process_digit_article(text: str) -> str:
    words = [NUMBER_WORDS.get(w, w) for w in text.lower().split()]
    return " ".join(CONTRACTIONS.get(w, w) for w in words if w not in ARTICLES)


def normalize_answer(text: str) -> str:
    """The full normalisation applied when the ten answers disagree."""
    return process_digit_article(process_punctuation(text))


def vqa_accuracy(prediction: str, answers: Sequence[str]) -> float:
    """Mean over the leave-one-out subsets of min(1, matches among the others / 3), in [0, 1]."""
    gts = [clean_whitespace(a) for a in answers]
    pred = clean_whitespace(prediction)
    if len(set(gts)) > 1:
        gts = [normalize_answer(a) for a in gts]
        pred = normalize_answer(pred)
    if not gts:
        return 0.0
    matches = [a == pred for a in gts]
    total = sum(matches)
    return sum(min(1.0, (total - m) / 3) for m in matches) / len(gts)


def score_answer(prediction: str, sample: VqaSample) -> float:
    """`vqa_accuracy` against the sample's answers, the prediction stemmed when they are (v1.1).

    A sample with one answer (FVQA) is scored by exact match after the official normalisation,
    as FVQA's evaluation does (top-1): the leave-one-out formula would give every answer 0.
    """
    if len(sample.answers) == 1:
        return float(normalize_answer(clean_whitespace(prediction))
                     == normalize_answer(clean_whitespace(sample.answers[0])))
    return vqa_accuracy(stem_answer(prediction) if sample.stemmed else prediction, sample.answers)


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Accuracies x100 rounded to 2 decimals, as the official script reports them."""

    overall: float
    per_question_type: dict[str, float]
    per_answer_type: dict[str, float]
    n: int
    missing: int
    per_question: dict[str, float] = field(default_factory=dict)


def _percent(values: list[float]) -> float:
    return round(100 * sum(values) / len(values), 2) if values else 0.0


def evaluate(predictions: Mapping[int | str, str], annotations: Sequence[VqaSample]) -> EvalReport:
    """Score predictions keyed by question id (int and str ids match); unknown ids are an error."""
    by_id = {str(qid): answer for qid, answer in predictions.items()}
    known: set[str] = set()
    for sample in annotations:
        if str(sample.question_id) in known:
            raise InputFormatError(Errors.K309.format(qid=sample.question_id))
        known.add(str(sample.question_id))
    unknown = sorted(set(by_id) - known)
    if unknown:
        raise InputFormatError(Errors.K304.format(qid=unknown[0], count=len(unknown)))
    scores: dict[str, float] = {}
    by_qtype: dict[str, list[float]] = defaultdict(list)
    by_atype: dict[str, list[float]] = defaultdict(list)
    missing = 0
    for sample in annotations:
        qid = str(sample.question_id)
        if qid in by_id:
            score = score_answer(by_id[qid], sample)
        else:
            missing, score = missing + 1, 0.0
        scores[qid] = score
        by_qtype[sample.question_type].append(score)
        by_atype[sample.answer_type].append(score)
    return EvalReport(
        overall=_percent(list(scores.values())),
        per_question_type={k: _percent(v) for k, v in sorted(by_qtype.items())},
        per_answer_type={k: _percent(v) for k, v in sorted(by_atype.items())},
        n=len(scores),
        missing=missing,
        per_question=scores,
    )
