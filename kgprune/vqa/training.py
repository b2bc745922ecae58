"""Training `kgvqa` with L_total = L_task + λ·L_knowledge, resumable from safetensors checkpoints.

The run is a pure function of the seed, the data and torch's thread count (which sets the order
of float sums; the built-in model's test accuracy moved by 10 points between 1 and 2 threads): the
model has no dropout, each epoch's order is a permutation seeded by (seed, epoch), and the
learning rate is computed from the global step.
So a checkpoint needs only weights, AdamW moments and the step, and a resumed run ends with the
same weights as an uninterrupted one. Checkpoints are written file by file (temp file, then
rename); `state.json` goes last and records each file's SHA-256, so a torn or damaged checkpoint is
reported, never silently loaded. Nothing is pickled.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from kgprune.atomic import atomic_path, write_atomic
from kgprune.checksum import file_sha256
from kgprune.errors import ConfigError, Errors, InputFormatError
from kgprune.linking import grounding
from kgprune.linking.grounding import PlacedObject
from kgprune.retrieval.facts import FactRetriever, KnowledgeContext, RetrievalQuery
from kgprune.vqa.adapters.kgvqa import (
    KgVqaAdapter,
    KgVqaConfig,
    build_vocabulary,
    build_word_vocabulary,
)
from kgprune.vqa.datasets import VqaSample, load_okvqa, read_json
from kgprune.vqa.knowledge_loss import batch_losses, knowledge_targets, task_targets
from kgprune.vqa.metrics import normalize_answer, score_answer
from kgprune.vqa.synthetic import PRETRAIN, annotations_name, image_path, questions_name

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"
FORMAT_VERSION = 1
TOKEN_KEYS = ("input_ids", "attention_mask")
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class TrainReport:
    steps: int
    epochs: int
    resumed_from: int
    """The step the run started from: 0 for a fresh run."""
    train_loss: float
    """Mean L_total over the steps this call ran (NaN when it ran none)."""
    val_accuracy: float | None
    """VQA accuracy x100 on the validation samples, when any were given."""
    checkpoint_dir: Path


def sample_id(sample: VqaSample) -> str:
    return str(sample.question_id)


def load_synthetic_split(data_dir: Path, split: str) -> list[VqaSample]:
    """A split of a `kgprune vqa make-synthetic` benchmark, with each sample's image path
    (`pretrain` asks about the training images)."""
    data_dir = Path(data_dir)
    if not (data_dir / "manifest.json").is_file():
        raise InputFormatError(Errors.K408.format(path=data_dir))
    dataset = load_okvqa(data_dir / questions_name(split), data_dir / annotations_name(split))
    folder = "train" if split == PRETRAIN else split
    return [replace(s, image_path=data_dir / image_path(folder, int(s.image_id)))
            for s in dataset.samples]


def scene_objects(data_dir: Path) -> dict[int, tuple[PlacedObject, ...]]:
    """Each image's objects as its scene graph places them (names, attributes, box)."""
    graphs = read_json(Path(data_dir) / "scene_graphs.json", "Visual Genome scene graphs")
    return {g["image_id"]: tuple(PlacedObject(tuple(o["names"]), (o["x"], o["y"], o["w"], o["h"]),
                                              tuple(o.get("attributes", ())))
                                 for o in g["objects"]) for g in graphs}


def synthetic_queries(data_dir: Path, samples: Sequence[VqaSample], *,
                      ground: bool = True) -> list[RetrievalQuery]:
    """Retrieval queries naming the image's objects: with `ground`, only the one the question
    refers to ("the object on the left"), else every object in the picture."""
    objects = scene_objects(data_dir)
    queries = []
    for s in samples:
        placed = objects.get(s.image_id, ())
        chosen = grounding.ground(s.question, placed) if ground else placed
        queries.append(RetrievalQuery(sample_id(s), s.question,
                                      tuple(n for o in chosen for n in o.names)))
    return queries


def build_contexts(retriever: FactRetriever,
                   queries: Sequence[RetrievalQuery]) -> dict[str, KnowledgeContext]:
    """Retrieve once, before training, so no step waits on the graph store."""
    return {q.sample_id: ctx for q, ctx in zip(queries, retriever.retrieve_batch(queries),
                                                strict=True)}


def majority_accuracy(train_samples: Sequence[VqaSample],
                      val_samples: Sequence[VqaSample]) -> float:
    """VQA accuracy x100 of always answering the most frequent training answer: the bar to beat."""
    counts = Counter(normalize_answer(a) for s in train_samples for a in s.answers)
    answer = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return 100 * sum(score_answer(answer, s) for s in val_samples) / len(val_samples)


def open_image(sample: VqaSample) -> Image.Image:
    try:
        with Image.open(sample.image_path) as image:  # type: ignore[arg-type]
            return image.convert("RGB")
    except (OSError, TypeError, ValueError) as e:
        raise InputFormatError(Errors.K407.format(path=sample.image_path, qid=sample.question_id,
                                                  problem=e)) from e


def encode_samples(adapter: KgVqaAdapter, samples: Sequence[VqaSample],
                   batch_size: int = 64) -> dict[str, torch.Tensor]:
    """All inputs as tensors once: images are small, and decoding PNGs every epoch is the cost.
    Questions are padded to the longest; `batch_rows` trims a batch back to its own longest."""
    parts = [adapter.prepare([open_image(s) for s in samples[i:i + batch_size]],
                             [s.question for s in samples[i:i + batch_size]])
             for i in range(0, len(samples), batch_size)]
    width = max(p["input_ids"].shape[1] for p in parts)
    for part in parts:
        for key in TOKEN_KEYS:
            part[key] = F.pad(part[key], (0, width - part[key].shape[1]))
    return {key: torch.cat([p[key] for p in parts]) for key in parts[0]}


def batch_rows(inputs: Mapping[str, torch.Tensor], index: torch.Tensor | slice) -> dict[str, Any]:
    """A batch's rows, its question tokens cut to its longest: padding is masked, not computed."""
    rows = {key: value[index] for key, value in inputs.items()}
    width = max(1, int(rows["attention_mask"].sum(dim=1).max()))
    return rows | {key: rows[key][:, :width] for key in TOKEN_KEYS}


def accuracy(adapter: KgVqaAdapter, samples: Sequence[VqaSample],
             inputs: Mapping[str, torch.Tensor] | None = None, batch_size: int = 64) -> float:
    """VQA accuracy x100 of the arg-max answers."""
    if not samples:
        return 0.0
    inputs = inputs if inputs is not None else encode_samples(adapter, samples, batch_size)
    predictions: list[str] = []
    for i in range(0, len(samples), batch_size):
        predictions += adapter.predict(batch_rows(inputs, slice(i, i + batch_size)))
    scores = [score_answer(p, s) for p, s in zip(predictions, samples, strict=True)]
    return 100 * sum(scores) / len(scores)


def learning_rate(step: int, total: int, peak: float) -> float:
    """Linear warm-up over 5% of the run, then cosine decay to zero; a function of the step only."""
    warmup = max(1, total // 20)
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], str]:
    state = optimizer.state_dict()
    tensors = {f"{index}.{key}": torch.as_tensor(value).detach().clone().contiguous()
               for index, entries in state["state"].items() for key, value in entries.items()}
    return tensors, json.dumps(state["param_groups"])


def _load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                    param_groups: list[dict[str, Any]]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = tensor
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})


def save_checkpoint(directory: Path, adapter: KgVqaAdapter, optimizer: torch.optim.Optimizer, *,
                    step: int, epoch: int, run: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().contiguous() for k, v in adapter.model.state_dict().items()}
    with atomic_path(directory / MODEL_FILE) as temp:
        save_file(weights, str(temp))
    tensors, groups = _optimizer_tensors(optimizer)
    with atomic_path(directory / OPTIMIZER_FILE) as temp:
        save_file(tensors, str(temp))
    state = {"format": FORMAT_VERSION, "step": step, "epoch": epoch,
             "config": adapter.config.to_dict(), "answers": list(adapter.answers),
             "words": list(adapter.words), "run": run,
             "optimizer_param_groups": json.loads(groups),
             "sha256": {name: file_sha256(directory / name) for name in (MODEL_FILE, OPTIMIZER_FILE)}}
    write_atomic(directory / STATE_FILE, json.dumps(state, indent=1) + "\n")


def has_checkpoint(directory: Path) -> bool:
    return (Path(directory) / STATE_FILE).is_file()


def read_state(directory: Path) -> dict[str, Any]:
    """`state.json`, after checking the weight files it names are present and intact."""
    directory = Path(directory)
    path = directory / STATE_FILE
    if not path.is_file():
        raise InputFormatError(Errors.K400.format(path=directory, missing=STATE_FILE))
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        hashes = state["sha256"]
        KgVqaConfig.from_dict(state["config"])
        int(state["step"]), list(state["answers"])
    except (ValueError, KeyError, TypeError) as e:
        raise InputFormatError(Errors.K401.format(path=path, problem=e)) from e
    for name in (MODEL_FILE, OPTIMIZER_FILE):
        if not (directory / name).is_file():
            raise InputFormatError(Errors.K400.format(path=directory, missing=name))
        if file_sha256(directory / name) != hashes.get(name):
            raise InputFormatError(Errors.K401.format(
                path=directory / name, problem="its SHA-256 differs from the one in state.json"))
    return state


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise InputFormatError(Errors.K401.format(path=path, problem=e)) from e


def load_trained(directory: Path) -> KgVqaAdapter:
    """The model of a checkpoint, rebuilt from its saved config and answer vocabulary."""
    directory = Path(directory)
    state = read_state(directory)
    adapter = KgVqaAdapter.build(KgVqaConfig.from_dict(state["config"]), state["answers"],
                                 words=state.get("words", ()), pretrained=False)
    try:
        adapter.model.load_state_dict(_load_tensors(directory / MODEL_FILE))
    except RuntimeError as e:
        raise InputFormatError(Errors.K401.format(path=directory / MODEL_FILE, problem=e)) from e
    return adapter


def _check_same_run(directory: Path, state: dict[str, Any], adapter: KgVqaAdapter,
                    run: dict[str, Any]) -> None:
    saved = {"config": state["config"], "answers": state["answers"],
             "words": state.get("words", []), **state["run"]}
    requested = {"config": adapter.config.to_dict(), "answers": list(adapter.answers),
                 "words": list(adapter.words), **run}
    for key in sorted(set(saved) | set(requested)):
        if saved.get(key) != requested.get(key):
            if key in ("answers", "words"):
                saved[key], requested[key] = f"other {key}", f"these {key}"
            raise ConfigError(Errors.K405.format(path=directory, field=key, saved=saved.get(key),
                                                 requested=requested.get(key)))


@dataclass(frozen=True, slots=True)
class _Phase:
    """Epochs over some rows of the training inputs, starting at a global step and epoch."""

    rows: torch.Tensor
    epochs: int
    per_epoch: int
    start: int
    first_epoch: int

    @property
    def steps(self) -> int:
        return self.epochs * self.per_epoch


def _phases(samples: Sequence[VqaSample], curriculum: Sequence[VqaSample], curriculum_epochs: int,
            epochs: int, batch_size: int) -> list[_Phase]:
    row_of = {sample_id(s): i for i, s in enumerate(samples)}
    strays = [sample_id(s) for s in curriculum if sample_id(s) not in row_of]
    if strays:
        raise ConfigError(Errors.K410.format(count=len(strays), first=strays[0]))
    plan = [(torch.tensor([row_of[sample_id(s)] for s in curriculum], dtype=torch.long),
             curriculum_epochs), (torch.arange(len(samples)), epochs)]
    phases: list[_Phase] = []
    start = first_epoch = 0
    for rows, count in plan:
        if count and len(rows):
            phase = _Phase(rows, count, math.ceil(len(rows) / batch_size), start, first_epoch)
            phases.append(phase)
            start, first_epoch = start + phase.steps, first_epoch + count
    return phases


def _locate(phases: Sequence[_Phase], step: int) -> tuple[_Phase, int, int]:
    """The phase a global step lies in, its global epoch and its batch within that epoch."""
    phase = next(p for p in phases if step < p.start + p.steps)
    epoch, position = divmod(step - phase.start, phase.per_epoch)
    return phase, phase.first_epoch + epoch, position


def _epochs_done(phases: Sequence[_Phase], step: int) -> int:
    return sum(min(p.epochs, max(0, step - p.start) // p.per_epoch) for p in phases)


def train(
    adapter: KgVqaAdapter,
    train_samples: Sequence[VqaSample],
    *,
    val_samples: Sequence[VqaSample] = (),
    contexts: Mapping[str, KnowledgeContext],
    checkpoint_dir: Path,
    lam: float = 0.5,
    epochs: int = 5,
    max_steps: int | None = None,
    batch_size: int = 32,
    lr: float = 2e-3,
    weight_decay: float = 0.01,
    seed: int = 0,
    checkpoint_every: int = 50,
    curriculum: Sequence[VqaSample] = (),
    curriculum_epochs: int = 0,
    max_grad_norm: float = 1.0,
    on_progress: ProgressFn | None = None,
) -> TrainReport:
    """Train, resuming from `checkpoint_dir` when it holds a checkpoint of the same run.

    `curriculum` (some of `train_samples`) is trained on alone for `curriculum_epochs` first, then
    `epochs` over all; the learning-rate schedule restarts with each phase. `max_steps` stops the
    run early at that global step (a budget: calling again without it resumes where this one
    stopped). Gradients are clipped to `max_grad_norm` (global L2 norm), as transformers are:
    without it a run of 2 + 3 epochs ended at 2% test accuracy where 2 + 2 and 2 + 4 reached 32%
    and 87%.
    """
    if not train_samples:
        raise InputFormatError(Errors.K406.format(path=checkpoint_dir))
    missing = [sample_id(s) for s in train_samples if sample_id(s) not in contexts]
    if missing:
        raise ConfigError(Errors.K409.format(samples=len(train_samples), missing=len(missing),
                                             first=missing[0]))
    checkpoint_dir = Path(checkpoint_dir)
    phases = _phases(train_samples, curriculum, curriculum_epochs, epochs, batch_size)
    total = sum(p.steps for p in phases)
    stop = total if max_steps is None else min(total, max_steps)
    run = {"lam": lam, "epochs": epochs, "batch_size": batch_size, "lr": lr,
           "weight_decay": weight_decay, "seed": seed, "train_samples": len(train_samples),
           "max_grad_norm": max_grad_norm}
    if curriculum and curriculum_epochs:
        run |= {"curriculum": len(curriculum), "curriculum_epochs": curriculum_epochs}
    # The fused kernel: on CPU it steps ~3x faster, most of it on the text embedding table.
    optimizer = torch.optim.AdamW(adapter.model.parameters(), lr=lr, weight_decay=weight_decay,
                                  fused=True)
    step = 0
    if has_checkpoint(checkpoint_dir):
        state = read_state(checkpoint_dir)
        _check_same_run(checkpoint_dir, state, adapter, run)
        adapter.model.load_state_dict(_load_tensors(checkpoint_dir / MODEL_FILE))
        _load_optimizer(optimizer, _load_tensors(checkpoint_dir / OPTIMIZER_FILE),
                        state["optimizer_param_groups"])
        step = int(state["step"])
    resumed_from = step
    inputs = encode_samples(adapter, train_samples)
    task = [task_targets(s.answers) for s in train_samples]
    knowledge = [knowledge_targets(contexts[sample_id(s)]) for s in train_samples]
    losses: list[float] = []
    adapter.model.train()
    while step < stop:
        phase, epoch, position = _locate(phases, step)
        order = phase.rows[torch.randperm(len(phase.rows), generator=torch.Generator().manual_seed(
            seed * 100_003 + epoch))]
        batch = order[position * batch_size:(position + 1) * batch_size]
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step - phase.start, phase.steps, lr)
        parts = batch_losses(adapter, batch_rows(inputs, batch),
                             task=[task[i] for i in batch.tolist()],
                             knowledge=[knowledge[i] for i in batch.tolist()], lam=lam)
        optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        torch.nn.utils.clip_grad_norm_(adapter.model.parameters(), max_grad_norm)
        optimizer.step()
        losses.append(parts.total.item())
        step += 1
        done = _epochs_done(phases, step)
        if step % checkpoint_every == 0 or done != _epochs_done(phases, step - 1) or step == stop:
            save_checkpoint(checkpoint_dir, adapter, optimizer, step=step, epoch=done, run=run)
        if on_progress is not None:
            on_progress(step, stop)
    adapter.model.eval()
    val = accuracy(adapter, val_samples) if val_samples else None
    return TrainReport(steps=step, epochs=_epochs_done(phases, step), resumed_from=resumed_from,
                       train_loss=sum(losses) / len(losses) if losses else float("nan"),
                       val_accuracy=val, checkpoint_dir=checkpoint_dir)


def default_config(size: str, image_size: int) -> KgVqaConfig:
    """The architecture `kgprune train` uses: patches of a sixth of the side (8 px at 48 px),
    4-16 px; 8 heads of 16 dimensions, so one head is a small share of what pruning can remove;
    tiny reads whole words of its training questions, so its parameters sit in heads and neurons.
    One fusion block, image first, read out over all question tokens, with patch coordinates:
    the design that learned to pick the referred object among several (a second fusion block
    stalled at chance in the same budget; see `KgVqaConfig.cross_first`)."""
    patch = max(4, min(16, image_size // 6))
    while image_size % patch:
        patch -= 1
    return KgVqaConfig(size=size, image_size=image_size, patch_size=patch, num_heads=8,
                       mlp_dim=512, vocabulary="words" if size == "tiny" else "minilm",
                       fusion_layers=1, coordinates=True, cross_first=True, readout="mean")


def new_model(size: str, image_size: int, train_samples: Sequence[VqaSample], *,
              seed: int = 0) -> KgVqaAdapter:
    """A fresh kgvqa for these training samples: the default architecture, answers from their
    human answers and (tiny) words from their questions."""
    config = default_config(size, image_size)
    words = (build_word_vocabulary(s.question for s in train_samples)
             if config.vocabulary == "words" else ())
    return KgVqaAdapter.build(config, build_vocabulary(s.answers for s in train_samples),
                              words=words, seed=seed)


def with_perception(data_dir: Path, samples: Sequence[VqaSample],
                    contexts: Mapping[str, KnowledgeContext], kg_version: str
                    ) -> tuple[list[VqaSample], dict[str, KnowledgeContext], list[VqaSample]]:
    """Training samples plus a synthetic benchmark's perception questions (`pretrain`), which
    teach the model to recognise the objects whose knowledge the other questions ask for; and the
    perception questions alone, a curriculum for `train`. They get empty contexts: a name is
    seen, not known, so they add nothing to L_knowledge."""
    perception = (load_synthetic_split(data_dir, PRETRAIN)
                  if (Path(data_dir) / questions_name(PRETRAIN)).is_file() else [])
    empty = {sample_id(s): KnowledgeContext(sample_id(s), (), (), (), (), (), kg_version)
             for s in perception}
    return [*samples, *perception], {**contexts, **empty}, perception
