"""The paper's studies as typed specs, and the cells each one expands into.

A spec is shared `Settings` (model, data, knowledge graph, training budget) plus the study's own
grid. A spec expands into `Cell`s: one prune-fine-tune-evaluate run each, identified by a stable
`cell_id` that resuming relies on. The dataclass defaults are the shipped default config of every
study; `kgprune.experiments.config` reads config files and `--set` overrides into specs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from itertools import product
from typing import Any, ClassVar

from kgprune.errors import Errors, ExperimentError
from kgprune.experiments.coerce import LayerRange, format_layer_range
from kgprune.kg.coverage import Strategy

FULL = "full"
"""The unpruned model: ratio 0, one cell per seed (and per evaluation set or quantization)."""
QUANTIZE_MODES: tuple[str, ...] = ("none", "int8")
DATA_FREE: tuple[str, ...] = ("magnitude", "random")
"""Criteria that read no samples: how many are labelled cannot matter to them."""
HEADLINE_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
"""Seeds of the studies whose comparisons are the paper's claims (Table 1, criteria, labels,
budget); the secondary studies keep three."""
STRATEGIES: tuple[str, ...] = tuple(s.value for s in Strategy if s is not Strategy.SOURCE)


@dataclass(frozen=True, slots=True)
class Settings:
    """What every study shares; the cell runner reads these, the cells vary the rest."""

    model: str = "kgvqa"  # 'kgvqa' (built-in, trained on first use), a checkpoint or HF folder
    data: str = ""  # a benchmark directory; "" = the built-in synthetic benchmark
    store: str = ""  # knowledge-graph store URL; "" = the embedded store with the bundled KG
    images: int = 8000  # images in the built-in benchmark (kgprune.vqa.benchmark_run)
    rounds: int = 1  # prune / fine-tune rounds (1: the one-shot model is the pruned one)
    steps: int = 30  # fine-tuning steps per round, where the study does not vary it
    batch_size: int = 32
    lr: float = 5e-4  # fine-tuning learning rate
    lam: float = 0.5  # λ of L_knowledge in fine-tuning, where the study does not vary it
    importance_samples: int = 1024  # N, the samples importance is estimated on
    normalize: str = "tower_kind"  # planner normalisation, where the study does not vary it
    eval_split: str = "test"
    quick: bool = False  # tiny settings for CI (QUICK_SETTINGS), applied before explicit values


QUICK_SETTINGS: Mapping[str, Any] = {"images": 60, "rounds": 1, "steps": 3, "batch_size": 8,
                                     "importance_samples": 16}
QUICK_SEEDS: tuple[int, ...] = (0, 1)


@dataclass(frozen=True, slots=True)
class Cell:
    """One run: prune with `method` to `ratio`, fine-tune with `lam`, evaluate. Fields that
    cannot matter are normalised (the full model has no ratio; full coverage has no strategy), so
    cells meaning the same run are equal and share one id."""

    study: str
    method: str
    ratio: float
    seed: int
    lam: float
    coverage: float = 1.0  # share of the KG that importance and fine-tuning see
    strategy: str = "edge"  # how that share is sampled (kgprune.kg.coverage)
    tower: str = ""  # prune only this tower; "" = every tower
    layer_range: LayerRange | None = None  # prune only these layers (inclusive); None = all
    train_data: str = ""  # prune and fine-tune on this dataset; "" = Settings.data
    eval_data: str = ""  # evaluate on this dataset; "" = the training data
    quantize: str = "none"  # "int8": dynamic 8-bit quantization after pruning
    normalize: str = ""  # planner normalisation; "" = Settings.normalize
    steps: int | None = None  # fine-tuning steps per round; None = Settings.steps
    labels: int | None = None
    """Human-answered samples importance may read: None = every scoring sample keeps its answers;
    0 = none (questions and images only, answers withheld); k = only k labelled samples."""

    def __post_init__(self) -> None:
        if self.method == FULL:
            for name, value in (("ratio", 0.0), ("lam", 0.0), ("tower", ""),
                                ("layer_range", None), ("coverage", 1.0), ("normalize", ""),
                                ("steps", None), ("labels", None)):
                object.__setattr__(self, name, value)
        if self.method in DATA_FREE:
            object.__setattr__(self, "labels", None)
        if self.coverage >= 1.0:
            object.__setattr__(self, "strategy", "edge")

    @property
    def cell_id(self) -> str:
        """Readable and stable: 'knowledge-r0.3-lam0.5-cov0.5-walk-s1'."""
        parts = [self.method]
        if self.method != FULL:
            parts += [f"r{self.ratio:g}", f"lam{self.lam:g}"]
        if self.coverage < 1.0:
            parts += [f"cov{self.coverage:g}", self.strategy]
        if self.tower or self.layer_range is not None:
            parts.append(self.tower or "all")
        if self.layer_range is not None:
            parts.append(f"L{format_layer_range(self.layer_range)}")
        if self.train_data:
            parts += ["on", self.train_data]
        if self.eval_data:
            parts += ["eval", self.eval_data]
        if self.quantize != "none":
            parts.append(self.quantize)
        if self.normalize:
            parts += ["norm", self.normalize]
        if self.steps is not None:
            parts.append(f"ft{self.steps}")
        if self.labels is not None:
            parts.append(f"labels{self.labels}")
        return "-".join([*parts, f"s{self.seed}"])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["layer_range"] = None if self.layer_range is None else list(self.layer_range)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cell:
        layers = data.get("layer_range")
        return cls(study=str(data["study"]), method=str(data["method"]),
                   ratio=float(data["ratio"]), seed=int(data["seed"]), lam=float(data["lam"]),
                   coverage=float(data.get("coverage", 1.0)),
                   strategy=str(data.get("strategy", "edge")), tower=str(data.get("tower", "")),
                   layer_range=None if layers is None else (int(layers[0]), int(layers[1])),
                   train_data=str(data.get("train_data", "")),
                   eval_data=str(data.get("eval_data", "")),
                   quantize=str(data.get("quantize", "none")),
                   normalize=str(data.get("normalize", "")),
                   steps=_optional_int(data.get("steps")),
                   labels=_optional_int(data.get("labels")))


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


CELL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Cell))


@dataclass(frozen=True)
class StudySpec(ABC):
    """A study: shared settings, seeds, and a grid `cells()` expands."""

    name: ClassVar[str]
    summary: ClassVar[str]
    compares_criteria: ClassVar[bool] = False
    """Cells record their criterion's rank agreement with itself on other samples and with the
    study's other criteria (kgprune.experiments.agreement)."""
    settings: Settings = Settings()
    seeds: tuple[int, ...] = (0, 1, 2)

    @abstractmethod
    def cells(self) -> tuple[Cell, ...]:
        """Every run of the study, in the order they run."""

    def _grid(self, methods: Sequence[str], ratios: Sequence[float],
              lams: Sequence[float] | None = None,
              **axes: Sequence[Any]) -> tuple[Cell, ...]:
        """Seeds outermost (a whole table fills early), the last axis innermost (runs that share
        a pruned model follow each other, so a runner can reuse it)."""
        found: dict[str, Cell] = {}
        for seed, ratio, method, lam in product(self.seeds, ratios, methods,
                                                (self.settings.lam,) if lams is None else lams):
            for combo in product(*axes.values()):
                cell = Cell(self.name, method, ratio, seed, lam, **dict(zip(axes, combo)))
                if found.setdefault(cell.cell_id, cell) != cell:
                    raise ExperimentError(Errors.K606.format(study=self.name,
                                                             cell_id=cell.cell_id))
        return tuple(found.values())

    def to_dict(self) -> dict[str, Any]:
        """Flat: `study`, the study's keys, then the settings' keys; what a config file holds."""
        data: dict[str, Any] = {"study": self.name}
        for f in fields(self):
            if f.name != "settings":
                data[f.name] = plain_value(getattr(self, f.name))
        return data | {k: plain_value(v) for k, v in asdict(self.settings).items()}


def plain_value(value: Any) -> Any:
    """A field's value as JSON and TOML hold it: lists, layer ranges as '0-6'."""
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return [format_layer_range(v) for v in value]
        return list(value)
    return value


STUDIES: dict[str, type[StudySpec]] = {}


def study(cls: type[StudySpec]) -> type[StudySpec]:
    """Register a study under its name; its command and config key follow from it."""
    STUDIES[cls.name] = cls
    return cls


@study
@dataclass(frozen=True)
class SweepSpec(StudySpec):
    name: ClassVar[str] = "sweep"
    compares_criteria: ClassVar[bool] = True
    summary: ClassVar[str] = "Table 1: every method at every compression ratio and seed."
    seeds: tuple[int, ...] = HEADLINE_SEEDS
    methods: tuple[str, ...] = (FULL, "random", "magnitude", "task", "knowledge")
    ratios: tuple[float, ...] = (0.2, 0.3, 0.5, 0.7)

    def cells(self) -> tuple[Cell, ...]:
        return self._grid(self.methods, self.ratios)


@study
@dataclass(frozen=True)
class AblateLossSpec(StudySpec):
    name: ClassVar[str] = "ablate-loss"
    summary: ClassVar[str] = "Fine-tuning without (λ = 0) and with the knowledge loss."
    seeds: tuple[int, ...] = HEADLINE_SEEDS
    methods: tuple[str, ...] = ("knowledge",)
    ratios: tuple[float, ...] = (0.3,)
    lams: tuple[float, ...] = (0.0, 0.5)

    def cells(self) -> tuple[Cell, ...]:
        return self._grid(self.methods, self.ratios, self.lams)


@study
@dataclass(frozen=True)
class AblateImportanceSpec(StudySpec):
    name: ClassVar[str] = "ablate-importance"
    compares_criteria: ClassVar[bool] = True
    summary: ClassVar[str] = ("Importance criteria compared at the same ratio and fine-tuning, "
                              "under each planner normalisation.")
    seeds: tuple[int, ...] = HEADLINE_SEEDS
    methods: tuple[str, ...] = ("knowledge", "task", "magnitude", "taylor", "activation")
    ratios: tuple[float, ...] = (0.5,)
    normalizations: tuple[str, ...] = ("tower_kind", "tower", "none")

    def cells(self) -> tuple[Cell, ...]:
        return self._grid(self.methods, self.ratios, normalize=self.normalizations)


@study
@dataclass(frozen=True)
class BudgetSpec(StudySpec):
    name: ClassVar[str] = "budget"
    summary: ClassVar[str] = ("Fine-tuning budget: how many steps per round return every "
                              "method to the full model (0 steps is the one-shot column).")
    seeds: tuple[int, ...] = HEADLINE_SEEDS
    methods: tuple[str, ...] = (FULL, "random", "magnitude", "task", "knowledge")
    ratios: tuple[float, ...] = (0.5, 0.7)
    budgets: tuple[int, ...] = (10, 30, 100)

    def cells(self) -> tuple[Cell, ...]:
        return self._grid(self.methods, self.ratios, steps=self.budgets)


@study
@dataclass(frozen=True)
class LabelFreeSpec(StudySpec):
    name: ClassVar[str] = "label-free"
    compares_criteria: ClassVar[bool] = True
    summary: ClassVar[str] = ("Knowledge without labels: importance from questions and images "
                              "alone (KG targets) against task gradients on few labelled "
                              "samples and against magnitude; the same labelled fine-tuning "
                              "for all.")
    seeds: tuple[int, ...] = HEADLINE_SEEDS
    unlabeled_methods: tuple[str, ...] = ("knowledge",)
    """Scored on Settings.importance_samples samples whose answers are withheld."""
    labelled_methods: tuple[str, ...] = ("task",)
    """Scored on each count of `labels` human-answered samples."""
    labels: tuple[int, ...] = (16, 64, 256)
    baselines: tuple[str, ...] = (FULL, "random", "magnitude", "task")
    """Scored as in every study: data-free, or on importance_samples labelled samples."""
    ratios: tuple[float, ...] = (0.3, 0.5, 0.7)

    def cells(self) -> tuple[Cell, ...]:
        parts = (self._grid(self.baselines, self.ratios)
                 + self._grid(self.unlabeled_methods, self.ratios, labels=(0,))
                 + self._grid(self.labelled_methods, self.ratios, labels=self.labels))
        found: dict[str, Cell] = {}
        for cell in sorted(parts, key=lambda c: c.seed):  # stable: each seed's table together
            if found.setdefault(cell.cell_id, cell) != cell:
                raise ExperimentError(Errors.K606.format(study=self.name, cell_id=cell.cell_id))
        return tuple(found.values())


@study
@dataclass(frozen=True)
class AblateCoverageSpec(StudySpec):
    name: ClassVar[str] = "ablate-coverage"
    summary: ClassVar[str] = "An incomplete knowledge graph: coverage levels x sampling strategies."
    methods: tuple[str, ...] = ("knowledge",)
    ratios: tuple[float, ...] = (0.3,)
    coverages: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    strategies: tuple[str, ...] = STRATEGIES

    def cells(self) -> tuple[Cell, ...]:
        return self._grid(self.methods, self.ratios, coverage=self.coverages,
                          strategy=self.strategies)


@study
@dataclass(frozen=True)
class SensitivitySpec(StudySpec):
    name: ClassVar[str] = "sensitivity"
    summary: ClassVar[str] = "Layer sensitivity: prune inside one range of layers of one tower."
    methods: tuple[str, ...] = (FULL, "knowledge")
    ratios: tuple[float, ...] = (0.4,)
    towers: tuple[str, ...] = ("vision", "text", "fusion")
    layer_ranges: tuple[LayerRange, ...] = ((0, 0), (1, 1))

    def cells(self) -> tuple[Cell, ...]:
        return self._grid(self.methods, self.ratios, tower=self.towers,
                          layer_range=self.layer_ranges)


@study
@dataclass(frozen=True)
class CrossDomainSpec(StudySpec):
    name: ClassVar[str] = "cross-domain"
    summary: ClassVar[str] = "Table 2: prune on one dataset, evaluate on others."
    methods: tuple[str, ...] = (FULL, "magnitude", "knowledge")
    ratios: tuple[float, ...] = (0.3,)
    train_data: str = "standard"
    eval_data: tuple[str, ...] = ("standard", "paraphrase", "degraded", "compositional", "text")

    def cells(self) -> tuple[Cell, ...]:
        return self._grid(self.methods, self.ratios, train_data=(self.train_data,),
                          eval_data=self.eval_data)


@study
@dataclass(frozen=True)
class QuantizeSpec(StudySpec):
    name: ClassVar[str] = "quantize"
    summary: ClassVar[str] = "8-bit quantization alone and after pruning."
    methods: tuple[str, ...] = (FULL, "knowledge", "magnitude")
    ratios: tuple[float, ...] = (0.3, 0.5)
    quantize: tuple[str, ...] = QUANTIZE_MODES

    def cells(self) -> tuple[Cell, ...]:
        return self._grid(self.methods, self.ratios, quantize=self.quantize)


@study
@dataclass(frozen=True)
class OverheadSpec(StudySpec):
    name: ClassVar[str] = "overhead"
    summary: ClassVar[str] = ("Cost: importance time, and fine-tuning step time with and "
                              "without the knowledge loss.")
    methods: tuple[str, ...] = ("knowledge", "magnitude")
    ratios: tuple[float, ...] = (0.3,)
    lams: tuple[float, ...] = (0.0, 0.5)

    def cells(self) -> tuple[Cell, ...]:
        return self._grid(self.methods, self.ratios, self.lams)


def study_class(name: str) -> type[StudySpec]:
    if name not in STUDIES:
        raise ExperimentError(Errors.K605.format(name=name, known=", ".join(STUDIES)))
    return STUDIES[name]
