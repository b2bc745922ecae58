"""Study specs: config files, --set overrides, their errors, and the cells each study expands to."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgprune.errors import ExperimentError
from kgprune.experiments.config import load_spec, spec_from_dict, to_toml
from kgprune.experiments.spec import FULL, QUICK_SETTINGS, STUDIES, Cell


@pytest.mark.parametrize(("study", "count"), [
    ("sweep", 5 * (1 + 4 * 4)),            # full once per seed + 4 methods x 4 ratios
    ("ablate-loss", 5 * 2),                # λ 0 and 0.5
    ("ablate-importance", 5 * 5 * 3),      # 5 criteria x 3 normalisations
    ("budget", 5 * (1 + 4 * 2 * 3)),       # full + 4 methods x 2 ratios x 3 budgets
    # full + (random, magnitude, task on all labels, knowledge on none, task on 3 counts) x 3
    ("label-free", 5 * (1 + 7 * 3)),
    ("ablate-coverage", 3 * (3 * 4 + 1)),  # 3 partial levels x 4 strategies + full coverage
    ("sensitivity", 3 * (1 + 3 * 2)),      # full + 3 towers x 2 layer ranges
    ("cross-domain", 3 * (5 + 2 * 5)),     # full and 2 methods, each on 5 evaluation sets
    ("quantize", 3 * (2 + 2 * 2 * 2)),     # full +-int8, 2 methods x 2 ratios x +-int8
    ("overhead", 3 * 2 * 2),
])
def test_default_studies_expand_to_the_documented_cells(study: str, count: int) -> None:
    cells = STUDIES[study]().cells()
    assert len(cells) == count
    assert len({c.cell_id for c in cells}) == count
    assert {c.study for c in cells} == {study}


def test_cell_ids_are_readable_and_stable() -> None:
    assert Cell("sweep", FULL, 0.5, 2, 0.5).cell_id == "full-s2"
    assert Cell("x", "knowledge", 0.3, 1, 0.5, coverage=0.5, strategy="walk").cell_id == \
        "knowledge-r0.3-lam0.5-cov0.5-walk-s1"
    assert Cell("x", "knowledge", 0.4, 0, 0.5, tower="vision", layer_range=(0, 6)).cell_id == \
        "knowledge-r0.4-lam0.5-vision-L0-6-s0"
    assert Cell("x", "magnitude", 0.3, 0, 0.0, train_data="standard", eval_data="text",
                quantize="int8").cell_id == "magnitude-r0.3-lam0-on-standard-eval-text-int8-s0"


def test_new_axes_show_in_ids_and_mean_nothing_where_they_cannot_matter() -> None:
    cell = Cell("x", "knowledge", 0.5, 1, 0.5, normalize="none", steps=10, labels=0)
    assert cell.cell_id == "knowledge-r0.5-lam0.5-norm-none-ft10-labels0-s1"
    assert Cell.from_dict(cell.to_dict()) == cell
    assert Cell("x", "magnitude", 0.5, 0, 0.5, labels=16).labels is None  # reads no samples
    full = Cell("x", FULL, 0.5, 0, 0.5, normalize="tower", steps=10, labels=0)
    assert (full.normalize, full.steps, full.labels, full.cell_id) == ("", None, None, "full-s0")
    old = {k: v for k, v in cell.to_dict().items() if k not in ("normalize", "steps", "labels")}
    assert Cell.from_dict(old) == Cell("x", "knowledge", 0.5, 1, 0.5)  # records before them


def test_label_free_cells_score_each_condition_once_per_seed() -> None:
    spec = load_spec("label-free", sets=["seeds=0,1", "ratios=0.5", "labels=16,64"])
    cells = spec.cells()
    assert [c.seed for c in cells] == sorted(c.seed for c in cells), "seeds outermost"
    assert {(c.method, c.labels) for c in cells if c.seed == 0} == {
        (FULL, None), ("random", None), ("magnitude", None), ("task", None),
        ("knowledge", 0), ("task", 16), ("task", 64)}
    with pytest.raises(ExperimentError, match=r"\[K601\].*labels"):
        load_spec("label-free", sets=["labels=0"])  # no labels is the unlabeled methods' job


def test_normalisation_is_a_setting_and_an_ablation_axis() -> None:
    spec = load_spec("ablate-importance", sets=["seeds=0", "methods=knowledge",
                                                "normalizations=none,tower"])
    assert [c.normalize for c in spec.cells()] == ["none", "tower"]
    assert load_spec("sweep", sets=["normalize=none"]).settings.normalize == "none"
    with pytest.raises(ExperimentError, match=r"\[K601\].*normalize.*tower_kind, tower, none"):
        load_spec("sweep", sets=["normalize=layer"])
    budget = load_spec("budget", sets=["seeds=0", "methods=knowledge", "ratios=0.5",
                                       "budgets=0,10"])
    assert [c.steps for c in budget.cells()] == [0, 10]


def test_cells_that_mean_the_same_run_are_equal() -> None:
    full = Cell("s", FULL, 0.3, 0, 0.5, coverage=0.5, tower="vision", layer_range=(1, 2))
    assert (full.ratio, full.lam, full.coverage, full.tower, full.layer_range) == \
        (0.0, 0.0, 1.0, "", None)
    assert Cell("s", "knowledge", 0.3, 0, 0.5, coverage=1.0, strategy="walk") == \
        Cell("s", "knowledge", 0.3, 0, 0.5)
    cell = Cell("s", "knowledge", 0.4, 1, 0.5, tower="text", layer_range=(2, 3), eval_data="x")
    assert Cell.from_dict(cell.to_dict()) == cell


def test_config_file_then_set_overrides_then_types(tmp_path: Path) -> None:
    config = tmp_path / "sweep.toml"
    config.write_text('study = "sweep"\nseeds = [4, 5]\nratios = [0.25]\nsteps = 7\n'
                      'model = "runs/base"\n', encoding="utf-8")
    spec = load_spec("sweep", config, ["steps=9", "methods=full,magnitude", "quick=yes"])
    assert spec.seeds == (4, 5) and spec.ratios == (0.25,)
    assert spec.methods == (FULL, "magnitude")
    assert spec.settings.steps == 9 and spec.settings.model == "runs/base"
    # quick=yes applies the quick profile first; explicit values still win over it
    assert spec.settings.quick and spec.settings.rounds == QUICK_SETTINGS["rounds"]
    layers = load_spec("sensitivity", sets=["layer_ranges=0-6,16-24", "towers=language"])
    assert layers.layer_ranges == ((0, 6), (16, 24)) and layers.towers == ("language",)
    assert [c.layer_range for c in layers.cells() if c.method != FULL][:2] == [(0, 6), (16, 24)]


def test_quick_shrinks_budgets_and_seeds() -> None:
    spec = load_spec("ablate-loss", quick=True)
    assert spec.seeds == (0, 1)
    assert spec.settings.images == QUICK_SETTINGS["images"] and spec.settings.quick
    assert len(spec.cells()) == 2 * 2


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_spec_round_trips_through_its_toml_and_dict(study: str, tmp_path: Path) -> None:
    spec = load_spec(study, sets=["seeds=3,1", "lr=0.001", "data=/d/x y"], quick=True)
    config = tmp_path / "config.toml"
    config.write_text(to_toml(spec), encoding="utf-8")
    assert load_spec(study, config) == spec
    assert spec_from_dict(study, spec.to_dict(), "inputs.json") == spec


def test_unknown_key_names_the_key_and_the_known_ones() -> None:
    with pytest.raises(ExperimentError, match=r"K600.*'ratio'.*--set ratio=0.3.*seeds.*ratios"):
        load_spec("sweep", sets=["ratio=0.3"])


def test_unknown_key_in_a_config_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("stepz = 3\n", encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"K600.*'stepz'.*c\.toml"):
        load_spec("overhead", config)


@pytest.mark.parametrize(("override", "pattern"), [
    ("seeds=a,b", r"K601.*'seeds'.*integers"),
    ("ratios=0.2,1.0", r"K601.*'ratios'.*between 0 and 1"),
    ("ratios=0.2,0.2", r"K601.*'ratios'.*distinct"),
    ("seeds=", r"K601.*'seeds'"),
    ("steps=3.5", r"K601.*'steps'.*an integer"),
    ("lr=0", r"K601.*'lr'.*> 0"),
    ("quick=maybe", r"K601.*'quick'.*true or false"),
    ("methods=knowledge,magnitud", r"K601.*'methods'.*from full, knowledge"),
])
def test_bad_values_name_the_field(override: str, pattern: str) -> None:
    with pytest.raises(ExperimentError, match=pattern):
        load_spec("sweep", sets=[override])


def test_bad_values_of_study_specific_fields() -> None:
    with pytest.raises(ExperimentError, match=r"K601.*'strategies'.*edge, concept"):
        load_spec("ablate-coverage", sets=["strategies=edge,source"])
    with pytest.raises(ExperimentError, match=r"K601.*'coverages'"):
        load_spec("ablate-coverage", sets=["coverages=0,0.5"])
    with pytest.raises(ExperimentError, match=r"K601.*'layer_ranges'.*like 0-6"):
        load_spec("sensitivity", sets=["layer_ranges=6-2"])
    with pytest.raises(ExperimentError, match=r"K601.*'quantize'"):
        load_spec("quantize", sets=["quantize=int4"])


def test_toml_types_are_checked(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('seeds = "zero"\n', encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"K601.*'seeds'.*c\.toml"):
        load_spec("sweep", config)
    config.write_text("quick = 1\n", encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"K601.*'quick'"):
        load_spec("sweep", config)


def test_malformed_inputs_have_their_own_codes(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError, match=r"K602.*'seeds'"):
        load_spec("sweep", sets=["seeds"])
    bad = tmp_path / "bad.toml"
    bad.write_text("seeds = [0, 1\n", encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"K603.*bad\.toml"):
        load_spec("sweep", bad)
    with pytest.raises(ExperimentError, match="K603"):
        load_spec("sweep", tmp_path / "missing.toml")
    other = tmp_path / "other.toml"
    other.write_text('study = "overhead"\n', encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"K604.*'overhead'.*not 'sweep'"):
        load_spec("sweep", other)
    with pytest.raises(ExperimentError, match=r"K605.*'table1'.*sweep, ablate-loss"):
        load_spec("table1")
