"""The built-in knowledge-grounded VQA benchmark, generated offline and reproducibly from the KG.

Images of simple shapes stand for everyday objects; questions ask what the KG knows about them.
Files follow Visual Genome (scene graphs) and OK-VQA / VQA-v2 (questions, annotations) layouts.
"""

from kgprune.vqa.synthetic.generate import (
    GENERATOR_VERSION,
    PRETRAIN,
    SPLITS,
    VARIANTS,
    BenchmarkManifest,
    BenchmarkObject,
    annotations_name,
    benchmark_objects,
    check_arguments,
    generate_benchmark,
    image_path,
    questions_name,
)
from kgprune.vqa.synthetic.questions import OBJECT_TERMS, RELATIONS

__all__ = [
    "GENERATOR_VERSION", "OBJECT_TERMS", "PRETRAIN", "RELATIONS", "SPLITS", "VARIANTS", "BenchmarkManifest",
    "BenchmarkObject", "annotations_name", "benchmark_objects", "check_arguments",
    "generate_benchmark", "image_path", "questions_name",
]
