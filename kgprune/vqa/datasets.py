"""OK-VQA and FVQA in their released file formats, as typed samples (FORMATS.md sections 3-4).

Every problem names the file and the question id or field at fault, because these files are often
hand-assembled from several downloads. Missing images are reported rather than fatal: evaluation
needs only the text, and a partial image folder is common.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgprune.errors import Errors, InputFormatError

OKVQA_LAYOUT = "OK-VQA (VQA-v2 style)"
FVQA_LAYOUT = "FVQA raw release"
PREDICTIONS_LAYOUT = "VQA results ([{question_id, answer}, ...])"
_SPLIT = re.compile(r"(train|val|test)2014")


@dataclass(frozen=True, slots=True)
class FvqaFact:
    """One entry of `all_fact_triples_release.json`; `surface` keeps its `[[...]]` markup."""

    fact_id: str
    e1: str
    r: str
    e2: str
    e1_label: str
    e2_label: str
    kb: str
    surface: str


@dataclass(frozen=True, slots=True)
class VqaSample:
    """A question with its ground truth; the fact fields are filled for FVQA only.

    OK-VQA: ten `answers` (stemmed in v1.1, and then `stemmed` is set: predictions are stemmed
    before scoring) and their `raw_answers`. FVQA: one answer, `question_type` is the knowledge
    base (`kb_source`) and `answer_type` the `ans_source`.
    """

    question_id: int | str
    image_id: int | str
    question: str
    answers: tuple[str, ...]
    question_type: str
    answer_type: str
    image_path: Path | None = None
    raw_answers: tuple[str, ...] = ()
    fact_ids: tuple[str, ...] = ()
    facts: tuple[FvqaFact, ...] = ()
    visual_concept: str = ""
    stemmed: bool = False


@dataclass(frozen=True, slots=True)
class VqaDataset:
    samples: list[VqaSample]
    missing_images: list[str] = field(default_factory=list)
    version: str = ""
    """OK-VQA: "1.1" when the answers carry `raw_answer` (stemmed release), else "1.0"."""


def read_json(path: Path, layout: str) -> Any:
    path = Path(path)
    if not path.is_file():
        raise InputFormatError(Errors.K002.format(path=path))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputFormatError(Errors.K300.format(path=path, problem=e, layout=layout)) from e


def _bad(path: Path, where: str, problem: str, layout: str) -> InputFormatError:
    return InputFormatError(Errors.K301.format(path=path, where=where, problem=problem,
                                               layout=layout))


def _field(entry: Any, key: str, kind: type | tuple[type, ...], path: Path, where: str,
           layout: str, *aliases: str) -> Any:
    if not isinstance(entry, dict):
        raise _bad(path, where, f"expected an object, got {type(entry).__name__}", layout)
    for name in (key, *aliases):
        if name in entry:
            value = entry[name]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise _bad(path, where, f"field '{key}' has the wrong type "
                           f"({type(value).__name__})", layout)
            return value
    raise _bad(path, where, f"field '{key}' is missing", layout)


def _list_of(data: Any, key: str, path: Path, layout: str) -> list[Any]:
    return _field(data, key, list, path, "top level", layout)


def coco_split(path: Path) -> str:
    match = _SPLIT.search(Path(path).name)
    if match is None:
        raise InputFormatError(Errors.K305.format(path=path))
    return match.group(1)


def coco_image_name(split: str, image_id: int) -> str:
    return f"COCO_{split}2014_{image_id:012d}.jpg"


def _find_image(images_dir: Path, split: str, name: str) -> Path | None:
    for candidate in (images_dir / name, images_dir / f"{split}2014" / name):
        if candidate.is_file():
            return candidate
    return None


def _okvqa_answers(entry: dict[str, Any], path: Path,
                   where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    answers = _field(entry, "answers", list, path, where, OKVQA_LAYOUT)
    if len(answers) != 10:
        raise _bad(path, where, f"{len(answers)} answers instead of 10", OKVQA_LAYOUT)
    texts, raws = [], []
    for i, a in enumerate(answers):
        at = f"{where}, answers[{i}]"
        texts.append(_field(a, "answer", str, path, at, OKVQA_LAYOUT))
        raw = a.get("raw_answer")
        raws.append(raw if isinstance(raw, str) else texts[-1])
        if a.get("answer_confidence", "yes") not in ("yes", "no"):
            problem = f"answer_confidence is {a['answer_confidence']!r}, not 'yes' or 'no'"
            raise _bad(path, at, problem, OKVQA_LAYOUT)
    return tuple(texts), tuple(raws)


def okvqa_version(annotations: list[Any]) -> str:
    """v1.1 added `raw_answer` next to the stemmed `answer`; v1.0 has `answer` only."""
    raw = any(isinstance(a, dict) and "raw_answer" in a
              for entry in annotations if isinstance(entry, dict)
              for a in entry.get("answers") or ())
    return "1.1" if raw else "1.0"


def load_okvqa(
    questions_json: Path,
    annotations_json: Path,
    images_dir: Path | None = None,
    *,
    split: str | None = None,
    require_images: bool = False,
) -> VqaDataset:
    """Join the questions and annotations files by question id, in the questions file's order.

    v1.1 answers are marked `stemmed`, except in kgprune's synthetic benchmark (`data_type`
    synthetic_*), whose `raw_answer` holds article and plural variants of unstemmed answers.
    """
    questions_json, annotations_json = Path(questions_json), Path(annotations_json)
    questions = _list_of(read_json(questions_json, OKVQA_LAYOUT), "questions", questions_json,
                         OKVQA_LAYOUT)
    raw_annotations = read_json(annotations_json, OKVQA_LAYOUT)
    annotations = _list_of(raw_annotations, "annotations", annotations_json, OKVQA_LAYOUT)
    version = okvqa_version(annotations)
    synthetic = str(raw_annotations.get("data_type", "")).startswith("synthetic")
    stemmed = version == "1.1" and not synthetic
    by_id: dict[int, dict[str, Any]] = {}
    for i, entry in enumerate(annotations):
        qid = _field(entry, "question_id", int, annotations_json, f"annotations[{i}]", OKVQA_LAYOUT)
        if qid in by_id:
            raise InputFormatError(Errors.K303.format(path=annotations_json, qid=qid))
        by_id[qid] = entry
    if images_dir is not None and split is None:
        split = coco_split(questions_json)
    samples: list[VqaSample] = []
    missing: list[str] = []
    seen: set[int] = set()
    for i, q in enumerate(questions):
        where = f"questions[{i}]"
        qid = _field(q, "question_id", int, questions_json, where, OKVQA_LAYOUT)
        if qid in seen:
            raise InputFormatError(Errors.K303.format(path=questions_json, qid=qid))
        seen.add(qid)
        where = f"question {qid}"
        image_id = _field(q, "image_id", int, questions_json, where, OKVQA_LAYOUT)
        question = _field(q, "question", str, questions_json, where, OKVQA_LAYOUT)
        ann = by_id.get(qid)
        if ann is None:
            raise InputFormatError(Errors.K302.format(
                questions=questions_json, annotations=annotations_json,
                detail=f"question {qid} has no annotation"))
        if ann.get("image_id") != image_id:
            raise InputFormatError(Errors.K302.format(
                questions=questions_json, annotations=annotations_json,
                detail=f"question {qid} is on image {image_id} "
                       f"but annotated on image {ann.get('image_id')}"))
        answers, raws = _okvqa_answers(ann, annotations_json, where)
        image_path = None
        if images_dir is not None and split is not None:
            name = coco_image_name(split, image_id)
            image_path = _find_image(Path(images_dir), split, name)
            if image_path is None:
                missing.append(name)
        samples.append(VqaSample(
            question_id=qid, image_id=image_id, question=question, answers=answers,
            question_type=_field(ann, "question_type", str, annotations_json, where, OKVQA_LAYOUT),
            answer_type=_field(ann, "answer_type", str, annotations_json, where, OKVQA_LAYOUT),
            image_path=image_path, raw_answers=raws, stemmed=stemmed))
    extra = sorted(set(by_id) - seen)
    if extra:
        raise InputFormatError(Errors.K302.format(
            questions=questions_json, annotations=annotations_json,
            detail=f"{len(extra)} annotation(s) have no question (first: {extra[0]})"))
    if missing and require_images:
        raise InputFormatError(Errors.K307.format(count=len(missing), images_dir=images_dir,
                                                  first=missing[0]))
    return VqaDataset(samples, missing, version)


def _fvqa_fact(fact_id: str, entry: Any, path: Path) -> FvqaFact:
    where = f"fact {fact_id}"
    values = {k: _field(entry, k, str, path, where, FVQA_LAYOUT)
              for k in ("e1", "r", "e2", "e1_label", "e2_label", "KB", "surface")}
    return FvqaFact(fact_id, values["e1"], values["r"], values["e2"], values["e1_label"],
                    values["e2_label"], values["KB"], values["surface"])


def load_fvqa(qs_dict_json: Path, facts_json: Path, images_dir: Path | None = None, *,
              require_images: bool = False) -> VqaDataset:
    """`all_qs_dict_release.json` + `all_fact_triples_release.json`; `fact` lists fact ids."""
    qs_dict_json, facts_json = Path(qs_dict_json), Path(facts_json)
    raw_qs = read_json(qs_dict_json, FVQA_LAYOUT)
    raw_facts = read_json(facts_json, FVQA_LAYOUT)
    for path, data in ((qs_dict_json, raw_qs), (facts_json, raw_facts)):
        if not isinstance(data, dict):
            problem = f"expected an object keyed by id, got {type(data).__name__}"
            raise _bad(path, "top level", problem, FVQA_LAYOUT)
    samples: list[VqaSample] = []
    missing: list[str] = []
    for key, q in raw_qs.items():
        where = f"question {key}"
        fact_ids = _field(q, "fact", list, qs_dict_json, where, FVQA_LAYOUT)
        cited = []
        for fid in fact_ids:
            if not isinstance(fid, str) or fid not in raw_facts:
                raise InputFormatError(Errors.K306.format(path=qs_dict_json, qid=key, fact=fid,
                                                          facts_path=facts_json))
            cited.append(_fvqa_fact(fid, raw_facts[fid], facts_json))
        img_file = _field(q, "img_file", str, qs_dict_json, where, FVQA_LAYOUT)
        image_path = None
        if images_dir is not None:
            image_path = Path(images_dir) / img_file
            if not image_path.is_file():
                image_path = None
                missing.append(img_file)
        samples.append(VqaSample(
            question_id=str(_field(q, "question_id", (str, int), qs_dict_json, where, FVQA_LAYOUT,
                                   "question id")),
            image_id=img_file,
            question=_field(q, "question", str, qs_dict_json, where, FVQA_LAYOUT),
            answers=(_field(q, "answer", str, qs_dict_json, where, FVQA_LAYOUT),),
            question_type=_field(q, "kb_source", str, qs_dict_json, where, FVQA_LAYOUT).strip("'"),
            answer_type=_field(q, "ans_source", str, qs_dict_json, where, FVQA_LAYOUT),
            image_path=image_path,
            fact_ids=tuple(fact_ids),
            facts=tuple(cited),
            visual_concept=_field(q, "visual_concept", str, qs_dict_json, where, FVQA_LAYOUT,
                                  "visual concept"),
        ))
    if missing and require_images:
        raise InputFormatError(Errors.K307.format(count=len(missing), images_dir=images_dir,
                                                  first=missing[0]))
    return VqaDataset(samples, missing)


def load_predictions(path: Path) -> dict[int | str, str]:
    """The official results file: a JSON list of `{question_id, answer}`; ids must be unique."""
    path = Path(path)
    data = read_json(path, PREDICTIONS_LAYOUT)
    if not isinstance(data, list):
        raise _bad(path, "top level", f"expected a list, got {type(data).__name__}",
                   PREDICTIONS_LAYOUT)
    predictions: dict[int | str, str] = {}
    for i, entry in enumerate(data):
        where = f"entry {i}"
        qid = _field(entry, "question_id", (int, str), path, where, PREDICTIONS_LAYOUT)
        answer = _field(entry, "answer", str, path, f"question {qid}", PREDICTIONS_LAYOUT)
        if qid in predictions:
            raise InputFormatError(Errors.K303.format(path=path, qid=qid))
        predictions[qid] = answer
    return predictions
