"""A saved pruned model loads back with identical outputs; damaged directories give clear errors."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from kgprune.checksum import file_sha256
from kgprune.errors import ConfigError, InputFormatError, PruningError
from kgprune.pruning.plan import PruningPlan, compose
from kgprune.pruning.saved import (
    MANIFEST,
    WEIGHTS,
    is_pruned_dir,
    load_pruned,
    plan_sha256,
    read_manifest,
    save_pruned,
)
from kgprune.pruning.surgery import apply_plan
from kgprune.pruning.units import discover_units
from kgprune.vqa.adapters.base import ModelAdapter
from kgprune.vqa.adapters.hf_loading import load_hf_adapter, save_adapter, tiny_adapter
from kgprune.vqa.adapters.kgvqa import KgVqaAdapter, KgVqaConfig
from tests.pruning.models import QUESTIONS, images, num_params, random_plan

ANSWERS = ("[UNK]", "yes", "no", "2", "red", "dog")
TARGETS = [{"yes": 0.7, "red": 0.3}, {"2": 1.0}]
INFO = {"data": "synthetic/val", "kg_view": "conceptnet+vg", "seeds": [0, 1]}


def kgvqa_adapter(seed: int = 0) -> KgVqaAdapter:
    config = KgVqaConfig(dim=32, num_heads=4, mlp_dim=64, image_size=16, patch_size=8)
    return KgVqaAdapter.build(config, ANSWERS, seed=seed, pretrained=False)


def build(family: str) -> ModelAdapter:
    torch.manual_seed(0)
    adapter = kgvqa_adapter() if family == "kgvqa" else tiny_adapter(family)
    adapter.model.eval()
    return adapter


def pruned(family: str, seed: int = 1) -> tuple[ModelAdapter, PruningPlan]:
    adapter = build(family)
    plan = random_plan(discover_units(adapter.model), seed=seed)
    apply_plan(adapter.model, plan)
    return adapter, plan


def outputs(adapter: ModelAdapter) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Predictions, the per-sample answer loss and the raw scores (logits / question states).

    Seeded before each forward: ViLT draws the order of its image patches at random.
    """
    inputs = adapter.prepare(images(), list(QUESTIONS))
    with torch.no_grad():
        torch.manual_seed(0)
        loss = adapter.answer_losses(inputs, TARGETS)[0]
        torch.manual_seed(0)
        if isinstance(adapter, KgVqaAdapter):
            raw = adapter.logits(inputs)
        elif adapter.family == "blip":
            raw = adapter._question_states(inputs)
        else:
            raw = adapter.model(**inputs).logits
    torch.manual_seed(0)
    return adapter.predict(inputs), loss, raw


def assert_same(a: ModelAdapter, b: ModelAdapter) -> None:
    (pred_a, loss_a, raw_a), (pred_b, loss_b, raw_b) = outputs(a), outputs(b)
    assert pred_a == pred_b
    assert torch.equal(loss_a, loss_b)
    assert torch.equal(raw_a, raw_b)


@pytest.mark.parametrize("family", ["kgvqa", "vilt", "blip", "llava"])
def test_round_trip_gives_identical_outputs(family: str, tmp_path: Path) -> None:
    adapter, plan = pruned(family)
    sizes = {g.key: len(g.kept) for g in plan.groups}
    assert any(n != g.total for n, g in zip(sizes.values(), plan.groups)), "plan must prune"
    assert len(set(sizes.values())) > 1, "plan must be non-uniform"

    out = save_pruned(adapter, plan, tmp_path / "out", info=INFO)
    loaded = load_pruned(out)

    assert type(loaded) is type(adapter) and loaded.family == family
    assert not loaded.model.training
    assert num_params(loaded.model) == num_params(adapter.model)
    assert_same(adapter, loaded)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["info"] == INFO and manifest["family"] == family
    assert PruningPlan.from_dict(manifest["plan"]) == plan
    assert manifest["plan_sha256"] == plan_sha256(plan)
    kept = {**manifest["kept"]["heads"], **manifest["kept"]["neurons"]}
    assert {k: len(v["kept"]) for k, v in kept.items()} == sizes
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {MANIFEST}
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no temporary directory is left"


def test_composed_two_round_plan_round_trips(tmp_path: Path) -> None:
    adapter = build("kgvqa")
    first = random_plan(discover_units(adapter.model), seed=1)
    units = apply_plan(adapter.model, first)
    then = random_plan(units, seed=2)
    apply_plan(adapter.model, then)

    with pytest.raises(PruningError, match=r"\[K543\].*compose"):
        save_pruned(adapter, then, tmp_path / "second-only", info={})
    assert not (tmp_path / "second-only").exists()

    loaded = load_pruned(save_pruned(adapter, compose(first, then), tmp_path / "out", info={}))
    assert_same(adapter, loaded)
    assert num_params(loaded.model) == num_params(adapter.model)


def test_loaded_model_saves_again(tmp_path: Path) -> None:
    """A loaded model saves again (its own directory is refused) and the copy loads the same."""
    adapter, plan = pruned("vilt")
    first = load_pruned(save_pruned(adapter, plan, tmp_path / "a", info={}))
    with pytest.raises(ConfigError, match=r"\[K535\]"):
        save_pruned(first, plan, tmp_path / "a", info={})
    assert_same(adapter, load_pruned(save_pruned(first, plan, tmp_path / "b", info={})))


def test_half_precision_model_keeps_its_dtype(tmp_path: Path) -> None:
    adapter, plan = pruned("vilt")
    adapter.model.to(torch.bfloat16)
    loaded = load_pruned(save_pruned(adapter, plan, tmp_path / "bf16", info={}))
    state, loaded_state = adapter.model.state_dict(), loaded.model.state_dict()
    assert state.keys() == loaded_state.keys()
    for key, value in state.items():
        assert loaded_state[key].dtype == value.dtype and torch.equal(loaded_state[key], value), key


def test_buffers_keep_the_dtype_from_pretrained_gave_them(tmp_path: Path) -> None:
    """`from_pretrained` reads a bfloat16 LLaVA with its rotary `inv_freq` in float32 (a buffer
    the weights file does not hold): it loads back so, with identical outputs."""
    torch.manual_seed(0)
    tiny = tiny_adapter("llava")
    tiny.model.to(torch.bfloat16)
    adapter = load_hf_adapter(save_adapter(tiny, tmp_path / "model"))
    adapter.model.eval()
    buffers = {n: b for n, b in adapter.model.named_buffers() if b.is_floating_point()}
    assert buffers and {b.dtype for b in buffers.values()} == {torch.float32}
    plan = random_plan(discover_units(adapter.model), seed=1)
    apply_plan(adapter.model, plan)
    out = save_pruned(adapter, plan, tmp_path / "out", info={})
    assert read_manifest(out)["buffer_dtypes"] == dict.fromkeys(buffers, "float32")
    loaded = load_pruned(out)
    loaded_buffers = dict(loaded.model.named_buffers())
    for name, buffer in buffers.items():
        assert loaded_buffers[name].dtype == torch.float32, name
        assert torch.equal(loaded_buffers[name], buffer), name
    assert_same(adapter, loaded)
    name = next(iter(buffers))
    damaged = damaged_copy(out, tmp_path, edit_manifest(
        lambda m: m["buffer_dtypes"].update({name: "int8"})))
    with pytest.raises(InputFormatError, match=rf"K537.*'buffer_dtypes' gives '{name}'.*int8"):
        load_pruned(damaged)


def test_refuses_existing_non_empty_directory(tmp_path: Path) -> None:
    adapter, plan = pruned("kgvqa")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"\[K534\]"):
        save_pruned(adapter, plan, out, info={})
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert is_pruned_dir(save_pruned(adapter, plan, empty, info={}))
    assert not is_pruned_dir(out) and not is_pruned_dir(tmp_path / "missing")


def test_refuses_the_hf_model_input_folder(tmp_path: Path) -> None:
    source = save_adapter(build("vilt"), tmp_path / "model")
    adapter = load_hf_adapter(source)
    plan = random_plan(discover_units(adapter.model), seed=1)
    apply_plan(adapter.model, plan)
    with pytest.raises(ConfigError, match=r"\[K535\]"):
        save_pruned(adapter, plan, source, info={})


def test_failed_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, plan = pruned("kgvqa")

    def crash(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("kgprune.pruning.saved._write_json", crash)
    with pytest.raises(OSError, match="disk full"):
        save_pruned(adapter, plan, tmp_path / "out", info={})
    assert list(tmp_path.iterdir()) == []


def test_info_must_be_json(tmp_path: Path) -> None:
    adapter, plan = pruned("kgvqa")
    with pytest.raises(ConfigError, match=r"\[K545\]"):
        save_pruned(adapter, plan, tmp_path / "out", info={"path": tmp_path})


@pytest.fixture(scope="module")
def saved_vilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    adapter, plan = pruned("vilt")
    return save_pruned(adapter, plan, tmp_path_factory.mktemp("saved") / "vilt", info=INFO)


def damaged_copy(saved: Path, tmp_path: Path, edit: Callable[[Path], None]) -> Path:
    copy = tmp_path / "copy"
    copy.mkdir()
    for file in saved.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    edit(copy)
    return copy


def edit_manifest(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(directory: Path) -> None:
        manifest = json.loads((directory / MANIFEST).read_text())
        change(manifest)
        (directory / MANIFEST).write_text(json.dumps(manifest))
    return edit


def truncate_weights(directory: Path) -> None:
    data = (directory / WEIGHTS).read_bytes()
    (directory / WEIGHTS).write_bytes(data[: len(data) // 2])


def truncate_weights_and_rehash(directory: Path) -> None:
    truncate_weights(directory)
    edit_manifest(lambda m: m["files"].update({WEIGHTS: file_sha256(directory / WEIGHTS)}))(
        directory)


def list_outside_file(name: Callable[[Path], str], link: bool = False) -> Callable[[Path], None]:
    """List a file outside the model folder in the manifest, with its true sha256."""
    def edit(directory: Path) -> None:
        outside = directory.parent / "outside.txt"
        outside.write_text("not the model's")
        if link:
            (directory / name(directory)).symlink_to(outside)
        edit_manifest(lambda m: m["files"].update({name(directory): file_sha256(outside)}))(
            directory)
    return edit


def drop_kept_head(manifest: dict) -> None:
    group = next(g for g in manifest["plan"]["groups"] if len(g["kept"]) > 1)
    group["kept"] = group["kept"][:-1]


DAMAGE = {
    "manifest missing": (lambda d: (d / MANIFEST).unlink(), InputFormatError, r"K536.*manifest"),
    "corrupt json": (lambda d: (d / MANIFEST).write_text('{"format": '), InputFormatError,
                     r"K538.*manifest.json"),
    "missing field": (edit_manifest(lambda m: m.pop("plan")), InputFormatError,
                      r"K537.*field 'plan' is missing"),
    "unknown format version": (edit_manifest(lambda m: m.update(format_version=99)),
                               InputFormatError, r"K539.*version 99"),
    "unknown family": (edit_manifest(lambda m: m.update(family="gpt9")), InputFormatError,
                       r"K541.*'gpt9'"),
    "weights missing": (lambda d: (d / WEIGHTS).unlink(), InputFormatError,
                        r"K536.*model.safetensors"),
    "truncated weights": (truncate_weights, InputFormatError, r"K540.*model.safetensors"),
    "truncated weights, rehashed": (truncate_weights_and_rehash, InputFormatError,
                                    r"K533.*model.safetensors"),
    "edited plan": (edit_manifest(drop_kept_head), InputFormatError, r"K542"),
    "edited plan and sha": (edit_manifest(lambda m: (drop_kept_head(m), m.update(
        plan_sha256=plan_sha256(PruningPlan.from_dict(m["plan"]))))), InputFormatError, r"K542"),
    "edited config": (lambda d: (d / "base_config.json").write_text("{}"), InputFormatError,
                      r"K540.*base_config.json"),
    "absolute path": (list_outside_file(lambda d: str(d.parent / "outside.txt")),
                      InputFormatError, r"K537.*field 'files'.*outside.txt"),
    "parent path": (list_outside_file(lambda d: "../outside.txt"), InputFormatError,
                    r"K537.*field 'files'.*\.\./outside.txt"),
    "symlink out": (list_outside_file(lambda d: "notes.txt", link=True), InputFormatError,
                    r"K537.*field 'files'.*notes.txt"),
    "buffer dtypes not an object": (edit_manifest(lambda m: m.update(buffer_dtypes=[])),
                                    InputFormatError, r"K537.*'buffer_dtypes' is not an object"),
    "unknown buffer": (edit_manifest(lambda m: m.update(buffer_dtypes={"nope": "float32"})),
                       InputFormatError, r"K537.*'buffer_dtypes' names 'nope'"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_directory_gives_a_clear_error(case: str, saved_vilt: Path,
                                               tmp_path: Path) -> None:
    edit, error, message = DAMAGE[case]
    with pytest.raises(error, match=message):
        load_pruned(damaged_copy(saved_vilt, tmp_path, edit))


def test_manifest_records_everything(saved_vilt: Path) -> None:
    manifest = read_manifest(saved_vilt)
    assert manifest["format_version"] == 1 and manifest["kgprune_version"]
    assert manifest["base"]["architecture"] == "ViltForQuestionAnswering"
    assert manifest["quantization"] is None
    config = json.loads((saved_vilt / "base_config.json").read_text())
    assert config["intermediate_size"] == 64, "base_config.json describes the unpruned base"
    assert not (saved_vilt / "config.json").exists(), "no config.json that from_pretrained misreads"
    assert manifest["loader"] == "kgprune"
    card = (saved_vilt / "README.md").read_text()
    assert "kgprune.load_pruned" in card and "no `config.json`" in card
    assert manifest["kept"]["heads"] and manifest["kept"]["neurons"]


def test_no_pickle_when_saving_or_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter, plan = pruned("blip")

    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("pickle used")

    for target in (pickle, torch):
        for name in ("dump", "dumps", "load", "loads", "save"):
            if hasattr(target, name):
                monkeypatch.setattr(target, name, forbidden)
    out = save_pruned(adapter, plan, tmp_path / "out", info={})
    loaded = load_pruned(out)
    monkeypatch.undo()
    assert_same(adapter, loaded)
    for file in out.iterdir():
        data = file.read_bytes()
        if file.suffix == ".safetensors":  # an 8-byte header length, then a JSON header
            json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
            continue
        assert not data.startswith(b"\x80") and b"PK\x03\x04" not in data[:4], file.name
        if file.suffix == ".json":
            json.loads(data)
    assert load_file(str(out / WEIGHTS)), "weights are plain safetensors"
