"""The built-in benchmark end to end: generate it once, retrieve its knowledge, score a model.

Shared by `kgprune train` and `kgprune demo`, so both read the same data and judge the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from kgprune.kg.coverage import FULL_VIEW, CoverageView
from kgprune.kg.store import GraphStore, data_home
from kgprune.linking.encoder import encoder_by_name
from kgprune.linking.linker import Linker
from kgprune.retrieval.cache import RetrievalCache, default_cache_path
from kgprune.retrieval.facts import FactEmbeddings, FactRetriever, KnowledgeContext
from kgprune.retrieval.relation_detector import RelationDetector
from kgprune.vqa.adapters.base import ModelAdapter
from kgprune.vqa.adapters.hf_loading import load_hf_adapter
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.hallucination import hallucination_rate
from kgprune.vqa.layouts import open_benchmark
from kgprune.vqa.metrics import score_answer
from kgprune.vqa.seeing import SeeingReport, seeing_report
from kgprune.vqa.synthetic import GENERATOR_VERSION, generate_benchmark
from kgprune.vqa.synthetic.render import BACKGROUND
from kgprune.vqa.training import (
    ProgressFn,
    build_contexts,
    has_checkpoint,
    load_trained,
    majority_accuracy,
    new_model,
    open_image,
    sample_id,
    scene_objects,
    train,
    with_perception,
)

DEFAULT_IMAGES = 8000
"""Enough for >= 2,000 test questions and for the model to learn every object's answers."""
DEFAULT_IMAGE_SIZE = 48
DEFAULT_EPOCHS = 3
DEFAULT_CURRICULUM_EPOCHS = 2
"""Epochs on the perception questions alone before the knowledge questions join: naming the
referred object is learned first, and the knowledge questions then only map it to answers."""
CLIP = 1.0
"""The gradient-norm bound of the built-in model's training (part of its cache name)."""


def default_benchmark(store: GraphStore, *, seed: int, n: int = DEFAULT_IMAGES,
                      image_size: int = DEFAULT_IMAGE_SIZE, variant: str = "standard") -> Path:
    """A benchmark in the data home, generated on first use and reused after; the generator
    version is in the folder name (and so in the cached model's), so a new renderer never
    meets images or checkpoints of an old one."""
    suffix = "" if variant == "standard" else f"-{variant}"
    name = f"synthetic-g{GENERATOR_VERSION}-{n}-px{image_size}-s{seed}{suffix}"
    folder = data_home() / "benchmarks" / name
    if not (folder / "manifest.json").is_file():
        generate_benchmark(folder, store=store, n=n, seed=seed, image_size=image_size,
                           variant=variant)
    return folder


def retrieve_contexts(store: GraphStore, data_dir: Path, samples: Sequence[VqaSample], *,
                      encoder: str = "auto", view: CoverageView = FULL_VIEW,
                      embeddings: FactEmbeddings | None = None) -> dict[str, KnowledgeContext]:
    """One context per sample, through the on-disk retrieval cache; facts come from `view`.
    The image objects linked come from `data_dir`'s layout (`kgprune.vqa.layouts`).
    `embeddings` (with their encoder, which then replaces `encoder`) can be shared by calls."""
    cache = RetrievalCache(default_cache_path(store.url), kg_version=store.version())
    try:
        chosen = embeddings.encoder if embeddings is not None else encoder_by_name(encoder)
        retriever = FactRetriever(store, Linker(store), RelationDetector(chosen), view=view,
                                  cache=cache, embeddings=embeddings)
        return build_contexts(retriever, open_benchmark(data_dir).queries(samples))
    finally:
        cache.close()


def load_model(path: Path) -> ModelAdapter:
    """A `kgprune train` checkpoint, a pruned model, or a Hugging Face model folder (ViLT, BLIP,
    LLaVA-style)."""
    from kgprune.pruning.saved import is_pruned_dir, load_pruned

    if is_pruned_dir(path):
        return load_pruned(path)
    return load_trained(path) if has_checkpoint(path) else load_hf_adapter(path)


def _cache_name(data_dir: Path) -> str:
    """A synthetic folder's name says what it holds; a real dataset's folder ("okvqa") may not,
    so its resolved path's hash keeps two of them from sharing a cached model."""
    if (data_dir / "manifest.json").is_file():
        return data_dir.name
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:10]
    return f"{data_dir.name}-{digest}"


def train_builtin(store: GraphStore, data_dir: Path, *, size: str = "tiny", seed: int = 0,
                  epochs: int = DEFAULT_EPOCHS, curriculum_epochs: int = DEFAULT_CURRICULUM_EPOCHS,
                  lam: float = 0.5, lr: float = 2e-3,
                  on_progress: ProgressFn | None = None) -> Path:
    """The built-in model trained on `data_dir` with L_task + λ·L_knowledge, cached in the data
    home per (architecture, benchmark, size, epochs, λ, seed) and resumed if a run was
    interrupted. Its answer vocabulary is the training split's answers (and, on a synthetic
    benchmark, the object names its perception questions teach: `with_perception`), which are
    trained on alone for the first `curriculum_epochs`."""
    benchmark = open_benchmark(data_dir)
    train_samples = benchmark.split("train")
    contexts = retrieve_contexts(store, data_dir, train_samples)
    samples, contexts, perception = with_perception(data_dir, train_samples, contexts,
                                                    store.version())
    adapter = new_model(size, benchmark.image_size, samples, seed=seed)
    architecture = hashlib.sha256(json.dumps(adapter.config.to_dict(), sort_keys=True)
                                  .encode()).hexdigest()[:8]
    curriculum = f"-c{curriculum_epochs}" if perception and curriculum_epochs else ""
    checkpoint = (data_home() / "models" / f"kgvqa-{size}-{architecture}-{_cache_name(data_dir)}"
                                           f"{curriculum}-e{epochs}-lam{lam:g}-lr{lr:g}-g{CLIP:g}"
                                           f"-s{seed}")
    train(adapter, samples, contexts=contexts, checkpoint_dir=checkpoint, lam=lam,
          epochs=epochs, lr=lr, seed=seed, curriculum=perception, max_grad_norm=CLIP,
          curriculum_epochs=curriculum_epochs, on_progress=on_progress)
    return checkpoint


def predict(adapter: ModelAdapter, samples: Sequence[VqaSample], *, batch_size: int = 32,
            image: Callable[[VqaSample], Image.Image] | None = None) -> list[str]:
    """Answers of any adapter, in batches of images and questions; `image` replaces the
    samples' own images (blank-image checks)."""
    answers: list[str] = []
    show = image or open_image
    with torch.inference_mode():
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            inputs = adapter.prepare([show(s) for s in chunk], [s.question for s in chunk])
            answers += adapter.predict(inputs)
    return answers


def seeing(adapter: ModelAdapter, data_dir: Path, samples: Sequence[VqaSample],
           train_samples: Sequence[VqaSample]) -> SeeingReport:
    """Accuracy per number of objects, on blank images, and the question-only prior, on a
    synthetic benchmark (whose scene graphs count the objects)."""
    counts = {image_id: len(objects) for image_id, objects in scene_objects(data_dir).items()}
    size = open_benchmark(data_dir).image_size
    blank = Image.new("RGB", (size, size), BACKGROUND)
    return seeing_report(lambda chosen, image: predict(adapter, chosen, image=image), samples,
                         train_samples, counts, blank)


@dataclass(frozen=True, slots=True)
class SplitScores:
    n: int
    accuracy: float
    majority_accuracy: float
    hallucination_rate: float


def score_split(adapter: ModelAdapter, store: GraphStore, samples: Sequence[VqaSample],
                contexts: dict[str, KnowledgeContext],
                train_samples: Sequence[VqaSample]) -> SplitScores:
    """VQA accuracy, the majority-answer bar, and the hallucination rate against the full KG."""
    predictions = predict(adapter, samples)
    accuracy = 100 * sum(score_answer(p, s)
                         for p, s in zip(predictions, samples, strict=True)) / len(samples)
    report = hallucination_rate(samples, {s.question_id: p for s, p in zip(samples, predictions,
                                                                             strict=True)},
                                [contexts[sample_id(s)] for s in samples], store)
    return SplitScores(n=len(samples), accuracy=accuracy,
                       majority_accuracy=majority_accuracy(train_samples, samples),
                       hallucination_rate=100 * report.rate)
