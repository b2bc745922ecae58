"""Save a pruned (and perhaps int8-quantised) model to a directory and load it back, without pickle.

Any model can be saved: a kgprune adapter (kgvqa, ViLT, BLIP, LLaVA-style), any `transformers`
model, or a plain `nn.Module`. The directory holds what rebuilds the *unpruned* base (kgvqa: its
config and answer vocabulary; Hugging Face: `base_config.json` and the processor files when there
is a processor; a plain module: its class name, the caller passes an unpruned instance back), the
plan relative to that base, and the weights. Loading builds the base with random weights, slices
it with the plan to get the shapes, and loads the weights strictly:

    model.safetensors   weights; metadata: format "pt", kgprune version, plan sha256, quantisation
    config.json         only when it describes the pruned shapes (a "uniform" plan): plain
                        transformers `from_pretrained` then loads the folder too
    base_config.json + processor files   (Hugging Face models)
    README.md           the model card: method, ratio, removed per tower, data, KG view, how to load
    manifest.json       format, family, base, plan, kept units, criterion, quantisation, caller
                        info, sha256 of every other file; written last

Everything is written into a temporary sibling directory that is renamed into place at the end,
so a crash leaves no half-written output, and an existing non-empty directory is never touched.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import torch
import transformers
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn

from kgprune import __version__
from kgprune.checksum import file_sha256
from kgprune.errors import ConfigError, Errors, InputFormatError, PruningError
from kgprune.pruning.card import model_card
from kgprune.pruning.hf_config import pruned_config
from kgprune.pruning.module_adapter import HUGGINGFACE, MODULE, ModuleAdapter
from kgprune.pruning.plan import PruningPlan
from kgprune.pruning.quantize import (
    SCALE,
    ZERO_POINT,
    QuantizationInfo,
    load_quantized_state,
    quantization_info,
    quantize_int8,
    quantized_linears,
    quantized_state,
)
from kgprune.pruning.surgery import apply_plan
from kgprune.vqa.adapters.base import ModelAdapter
from kgprune.vqa.adapters.hf_loading import ARCHITECTURES, FAMILIES
from kgprune.vqa.adapters.kgvqa import KgVqa, KgVqaAdapter, KgVqaConfig

FORMAT = "kgprune-pruned-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "model.safetensors"
HF_CONFIG = "config.json"
BASE_CONFIG = "base_config.json"
CARD = "README.md"
KGVQA = "kgvqa"
_REQUIRED = ("family", "base", "plan", "plan_sha256", "files")


def plan_sha256(plan: PruningPlan) -> str:
    """The plan's fingerprint: sha256 of its canonical JSON."""
    text = json.dumps(plan.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def known_families() -> tuple[str, ...]:
    return (KGVQA, *sorted(FAMILIES), HUGGINGFACE, MODULE)


def is_pruned_dir(path: str | Path) -> bool:
    """True when `path` holds a manifest written by `save_pruned` (its files are not checked)."""
    try:
        data = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def _input_dirs(adapter: ModelAdapter) -> list[Path]:
    """The folders the model was loaded from, as far as the model records them."""
    names = [getattr(adapter.model, "name_or_path", ""),
             getattr(getattr(adapter.model, "config", None), "_name_or_path", "")]
    return [Path(n).resolve() for n in names if isinstance(n, str) and n and Path(n).is_dir()]


def _check_out_dir(out: Path, adapter: ModelAdapter) -> None:
    if out.resolve() in _input_dirs(adapter):
        raise ConfigError(Errors.K535.format(path=out))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(Errors.K534.format(path=out))


def _json_info(info: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(dict(info), allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ConfigError(Errors.K545.format(problem=e)) from e


def _base(adapter: ModelAdapter) -> dict[str, Any]:
    """The manifest's description of the unpruned base the loader rebuilds."""
    if adapter.family == KGVQA:
        assert isinstance(adapter, KgVqaAdapter)
        return {"kind": KGVQA, "config": adapter.config.to_dict(), "answers": list(adapter.answers),
                "words": list(adapter.words)}
    if adapter.family == MODULE:
        cls = type(adapter.model)
        return {"kind": MODULE, "class": f"{cls.__module__}.{cls.__qualname__}"}
    processor = getattr(adapter, "processor", None)
    config = getattr(adapter.model, "config", None)
    architecture = type(adapter.model).__name__
    if config is None or getattr(transformers, architecture, None) is not type(adapter.model):
        raise PruningError(Errors.K544.format(
            problem=f"family '{adapter.family}' has no config, or {architecture} is not a "
                    "transformers class"))
    if adapter.family in FAMILIES and processor is None:
        raise PruningError(Errors.K544.format(problem=f"the {adapter.family} adapter has no "
                                                      "processor"))
    return {"kind": "huggingface", "architecture": architecture, "config": BASE_CONFIG,
            "processor": type(processor).__name__ if processor is not None else None}


def _skeleton(family: str, base: Mapping[str, Any], config: Any, vocab_size: int) -> nn.Module:
    """The unpruned base with uninitialised (meta) weights: shapes only, for the save-time check."""
    with torch.device("meta"):
        if family == KGVQA:
            return KgVqa(KgVqaConfig.from_dict(dict(base["config"])), len(base["answers"]),
                         vocab_size, pretrained=False)
        return getattr(transformers, base["architecture"])(config)


def _check_shapes(adapter: ModelAdapter, plan: PruningPlan, base: Mapping[str, Any],
                  actual: Mapping[str, torch.Tensor], source: str) -> None:
    """Slicing the base with `plan` must give exactly the tensors about to be saved."""
    if base["kind"] == MODULE:
        return  # no skeleton without the class: `load_pruned` checks the shapes strictly
    vocab = getattr(getattr(getattr(adapter.model, "text", None), "config", None), "vocab_size", 0)
    skeleton = _skeleton(adapter.family, base, getattr(adapter.model, "config", None), vocab)
    try:
        apply_plan(skeleton, plan)
    except PruningError as e:
        raise PruningError(Errors.K543.format(source=source, problem=e)) from e
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    wrong = [f"{k}: model {tuple(actual[k].shape)}, plan {shape}" for k, shape in expected.items()
             if k in actual and tuple(actual[k].shape) != shape]
    missing = sorted(set(expected) - set(actual))
    extra = sorted(k for k in set(actual) - set(expected)
                   if not k.endswith((f".{SCALE}", f".{ZERO_POINT}")))
    if wrong or missing or extra:
        problem = "; ".join(wrong[:3] + [f"missing {m}" for m in missing[:3]]
                            + [f"unexpected {m}" for m in extra[:3]])
        raise PruningError(Errors.K543.format(source=source, problem=problem))


def _kept_units(plan: PruningPlan) -> dict[str, dict[str, Any]]:
    kept: dict[str, dict[str, Any]] = {"heads": {}, "neurons": {}}
    for group in plan.groups:
        entry: dict[str, Any] = {"tower": group.tower, "layer": group.layer,
                                 "total": group.total, "kept": list(group.kept)}
        if group.kept_kv is not None:
            entry["kept_kv"] = list(group.kept_kv)
        kept.setdefault(group.kind, {})[group.key] = entry
    return kept


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _floating_dtype(name: object) -> torch.dtype | None:
    """The floating torch dtype a manifest names, or None."""
    dtype = getattr(torch, str(name), None)
    return dtype if isinstance(dtype, torch.dtype) and dtype.is_floating_point else None


def _dtype(model: nn.Module) -> str:
    """The floating dtype of the model's parameters, which the loader casts the skeleton to
    (buffers saved in another dtype are named in `buffer_dtypes`)."""
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if len(dtypes) > 1:
        raise PruningError(Errors.K544.format(
            problem=f"its parameters mix {sorted(str(d) for d in dtypes)}; cast it to one dtype"))
    return _dtype_name(dtypes.pop() if dtypes else torch.float32)


def _buffer_dtypes(model: nn.Module, dtype: str) -> dict[str, str]:
    """Floating buffers whose dtype is not the parameters' (a rotary `inv_freq` kept in float32 by
    `from_pretrained` beside bfloat16 weights): casting them with the skeleton would change the
    outputs, and the non-persistent ones are not in the weights file to say so."""
    return {name: _dtype_name(buffer.dtype) for name, buffer in model.named_buffers()
            if buffer.is_floating_point() and _dtype_name(buffer.dtype) != dtype}


def _cast_skeleton(model: nn.Module, dtype: torch.dtype, manifest: Mapping[str, Any],
                   path: Path) -> None:
    """Cast the rebuilt model to `dtype`, but each buffer the manifest names to its own dtype, from
    its value before the cast (older manifests name none)."""
    recorded = manifest.get("buffer_dtypes", {})
    if not isinstance(recorded, dict):
        raise InputFormatError(Errors.K537.format(path=path, field="buffer_dtypes",
                                                  problem="is not an object"))
    buffers = dict(model.named_buffers())
    kept: dict[str, torch.Tensor] = {}
    for name, dtype_name in recorded.items():
        own = _floating_dtype(dtype_name)
        if name not in buffers or not buffers[name].is_floating_point():
            problem = f"names {name!r}, not a floating buffer of the model"
        elif own is None:
            problem = f"gives {name!r} the dtype {dtype_name!r}, not a floating dtype"
        else:
            kept[name] = buffers[name].to(own)
            continue
        raise InputFormatError(Errors.K537.format(path=path, field="buffer_dtypes",
                                                  problem=problem))
    model.to(dtype)
    for name, buffer in kept.items():
        owner, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(owner), leaf, buffer)


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def save_pruned(model: ModelAdapter | nn.Module, plan: PruningPlan, out_dir: str | Path, *,
                info: Mapping[str, Any] | None = None) -> Path:
    """Write the pruned `model` (an adapter or any module) to the new directory `out_dir`.

    `plan` is relative to the original unpruned model (`compose` the rounds' plans); for a model
    that was only quantised pass `keep_all(units)`. `info` is recorded as given (data, KG view,
    seeds, "metrics" for the model card ...). The model may be int8-quantised (`quantize_int8`).
    """
    adapter = model if isinstance(model, ModelAdapter) else ModuleAdapter(model)
    out = Path(out_dir)
    _check_out_dir(out, adapter)
    info_json = _json_info(info or {})
    base = _base(adapter)
    quant = quantization_info(adapter.model)
    tensors = quantized_state(adapter.model) if quant else adapter.model.state_dict()
    _check_shapes(adapter, plan, base, tensors, source=f"plan for {out}")
    sha = plan_sha256(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
    temp.mkdir()  # not mkdtemp: its 0700 mode would stay on the renamed directory
    try:
        metadata = {"format": "pt", "kgprune_version": __version__, "plan_sha256": sha,
                    "quantization": quant.method if quant else "none"}
        if quant:
            save_file(tensors, str(temp / WEIGHTS), metadata=metadata)
        else:
            save_model(adapter.model, str(temp / WEIGHTS), metadata=metadata)
        loadable = base["kind"] == "huggingface" and _write_hf_files(adapter, plan, base, temp,
                                                                      quantized=bool(quant))
        dtype = _dtype(adapter.model)
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "kgprune_version": __version__,
            "family": adapter.family, "base": base, "plan": plan.to_dict(), "plan_sha256": sha,
            "kept": _kept_units(plan), "criterion": plan.criterion, "dtype": dtype,
            "buffer_dtypes": _buffer_dtypes(adapter.model, dtype),
            "quantization": quant.to_dict() if quant else None, "info": info_json,
            "loader": "transformers" if loadable else "kgprune"}
        (temp / CARD).write_text(model_card(manifest, loadable=loadable), encoding="utf-8")
        manifest["files"] = {p.relative_to(temp).as_posix(): file_sha256(p)
                             for p in sorted(temp.rglob("*")) if p.is_file()}
        _write_json(temp / MANIFEST, manifest)
        os.replace(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return out


def _write_hf_files(adapter: ModelAdapter, plan: PruningPlan, base: Mapping[str, Any],
                    folder: Path, *, quantized: bool) -> bool:
    """The unpruned config, the processor, and a config.json of the pruned shapes when one can
    describe them (never for int8 weights); True when config.json was written."""
    config = copy.deepcopy(adapter.model.config)  # type: ignore[union-attr]
    config.architectures = [base["architecture"]]
    (folder / BASE_CONFIG).write_text(config.to_json_string(), encoding="utf-8")
    processor = getattr(adapter, "processor", None)
    if processor is not None:
        processor.save_pretrained(folder)
    pruned = None if quantized else pruned_config(adapter.model, plan)
    if pruned is None:
        return False
    pruned.architectures = [base["architecture"]]
    pruned.save_pretrained(folder)
    return True


def _field(manifest: Mapping[str, Any], name: str, kind: type, path: Path) -> Any:
    value = manifest.get(name)
    if not isinstance(value, kind):
        problem = "is missing" if name not in manifest else f"is not a {kind.__name__}"
        raise InputFormatError(Errors.K537.format(path=path, field=name, problem=problem))
    return value


def _inside(directory: Path, name: str, manifest: Path) -> Path:
    """The file a manifest lists, which must lie inside the model folder: a manifest naming
    `/etc/shadow`, `../x` or a symlink out would make loading read (and hash) the user's files."""
    relative = PurePosixPath(name)
    file = directory / relative
    if (relative.is_absolute() or ".." in relative.parts or "\\" in name
            or not file.resolve().is_relative_to(directory.resolve())):
        raise InputFormatError(Errors.K537.format(
            path=manifest, field="files",
            problem=f"lists {name[:200]!r}, which is not a file inside the model folder"))
    return file


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of a saved pruned model, after checking its format and every file's sha256."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise InputFormatError(Errors.K536.format(path=directory, missing=MANIFEST))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputFormatError(Errors.K538.format(path=path, problem=e)) from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise InputFormatError(Errors.K537.format(
            path=path, field="format", problem=f"is {found!r}, expected {FORMAT!r}"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InputFormatError(Errors.K539.format(
            path=path, found=manifest.get("format_version"), expected=FORMAT_VERSION,
            version=manifest.get("kgprune_version", "unknown")))
    for name in _REQUIRED:
        _field(manifest, name, dict if name in ("base", "plan", "files") else str, path)
    files = manifest["files"]
    if WEIGHTS not in files:
        raise InputFormatError(Errors.K537.format(path=path, field="files",
                                                  problem=f"does not list {WEIGHTS}"))
    for name, digest in files.items():
        file = _inside(directory, name, path)
        if not file.is_file():
            raise InputFormatError(Errors.K536.format(path=directory, missing=name))
        if file_sha256(file) != digest:
            raise InputFormatError(Errors.K540.format(path=file))
    return manifest


def _plan(manifest: Mapping[str, Any], directory: Path) -> PruningPlan:
    plan = PruningPlan.from_dict(manifest["plan"], source=f"{directory / MANIFEST} field 'plan'")
    try:
        with safe_open(str(directory / WEIGHTS), framework="pt") as f:
            saved = (f.metadata() or {}).get("plan_sha256")
    except (SafetensorError, OSError) as e:
        raise InputFormatError(Errors.K533.format(source=directory / WEIGHTS, problem=e)) from e
    actual = plan_sha256(plan)
    if actual != manifest["plan_sha256"] or actual != saved:
        raise InputFormatError(Errors.K542.format(path=directory, manifest=actual[:12],
                                                  weights=str(saved)[:12]))
    return plan


def _rebuild(manifest: Mapping[str, Any], directory: Path,
             model: nn.Module | None) -> ModelAdapter:
    """The unpruned base with random weights (nothing is downloaded) and its processor; for a
    plain module, a copy of the caller's unpruned `model`."""
    family, base = manifest["family"], manifest["base"]
    path = directory / MANIFEST
    if family not in known_families():
        raise InputFormatError(Errors.K541.format(path=path, family=family,
                                                  known=", ".join(known_families())))
    if family == KGVQA:
        try:
            config = KgVqaConfig.from_dict(dict(base["config"]))
            answers = [str(a) for a in base["answers"]]
            words = [str(w) for w in base.get("words", ())]
        except (KeyError, TypeError, ValueError, ConfigError) as e:
            raise InputFormatError(Errors.K537.format(path=path, field="base",
                                                      problem=f"is unusable: {e}")) from e
        with torch.random.fork_rng(devices=[]):
            return KgVqaAdapter.build(config, answers, words=words, pretrained=False)
    if family == MODULE:
        return _module_base(base, path, model)
    config = _hf_config(base, directory)
    architecture = str(base.get("architecture"))
    if family in FAMILIES and ARCHITECTURES.get(architecture) != family:
        raise InputFormatError(Errors.K537.format(
            path=path, field="family", problem=f"says {family}, but the base is {architecture}"))
    model_cls = getattr(transformers, architecture, None)
    if not isinstance(model_cls, type) or architecture not in (config.architectures or []):
        raise InputFormatError(Errors.K537.format(
            path=path, field="base.architecture",
            problem=f"is {architecture!r}, {base['config']} lists {config.architectures}"))
    with torch.random.fork_rng(devices=[]):
        built = model_cls(config)
    if base.get("processor") is None:
        return ModuleAdapter(built)
    processor_cls = getattr(transformers, str(base.get("processor")), None)
    if not (isinstance(processor_cls, type)
            and issubclass(processor_cls, transformers.ProcessorMixin)):
        raise InputFormatError(Errors.K537.format(
            path=path, field="base.processor",
            problem=f"names no processor class: {base.get('processor')!r}"))
    processor = processor_cls.from_pretrained(directory, local_files_only=True)
    return FAMILIES[family]()(built, processor)  # type: ignore[call-arg]


def _hf_config(base: Mapping[str, Any], directory: Path) -> Any:
    """The unpruned base's config: `base_config.json`, or config.json in folders written before."""
    name = str(base.get("config"))
    path = directory / name
    if name not in (BASE_CONFIG, HF_CONFIG) or not path.is_file():
        raise InputFormatError(Errors.K536.format(path=directory, missing=name))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        config_cls = transformers.AutoConfig.for_model(data.pop("model_type")).__class__
        return config_cls.from_dict(data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, ValueError) as e:
        raise InputFormatError(Errors.K538.format(path=path, problem=e)) from e


def _module_base(base: Mapping[str, Any], path: Path, model: nn.Module | None) -> ModelAdapter:
    """The caller's unpruned instance of the saved module's class."""
    expected = str(base.get("class"))
    if model is None:
        raise ConfigError(Errors.K592.format(path=path.parent, cls=expected))
    cls = type(model)
    if f"{cls.__module__}.{cls.__qualname__}" != expected:
        raise ConfigError(Errors.K593.format(path=path.parent, cls=expected,
                                             given=f"{cls.__module__}.{cls.__qualname__}"))
    return ModuleAdapter(copy.deepcopy(model))


def _load_weights(model: nn.Module, manifest: Mapping[str, Any], directory: Path) -> nn.Module:
    weights = directory / WEIGHTS
    record = manifest.get("quantization")
    try:
        if record is None:
            missing, unexpected = load_model(model, str(weights), strict=False)
            if missing or unexpected:
                raise PruningError(Errors.K533.format(
                    source=weights, problem=f"missing {sorted(missing)[:5]}, "
                                            f"unexpected {sorted(unexpected)[:5]}"))
            return model
        if not isinstance(record, dict):
            raise PruningError(Errors.K532.format(source=directory / MANIFEST,
                                                  problem="field 'quantization' is not an object"))
        info = QuantizationInfo.from_dict(record, source=str(directory / MANIFEST))
        quantized = quantize_int8(model)
        paths = tuple(path for path, _ in quantized_linears(quantized))
        if paths != info.modules:
            raise PruningError(Errors.K532.format(
                source=directory / MANIFEST, problem=f"it lists {len(info.modules)} quantised "
                                                     f"layers, the model has {len(paths)}"))
        load_quantized_state(quantized, load_file(str(weights)), source=str(weights))
        return quantized
    except (SafetensorError, RuntimeError, OSError, ValueError) as e:
        raise PruningError(Errors.K533.format(source=weights, problem=e)) from e


def load_pruned(directory: str | Path, *, model: nn.Module | None = None) -> ModelAdapter:
    """The adapter of a directory written by `save_pruned`, in eval mode, with identical outputs
    (a `ModuleAdapter` for a model saved without one). A plain module's folder needs `model`, an
    unpruned instance of its class, which is left unchanged."""
    return load_with_manifest(directory, model=model)[0]


def load_with_manifest(directory: str | Path, *,
                       model: nn.Module | None = None) -> tuple[ModelAdapter, dict[str, Any]]:
    """`load_pruned`, and the manifest it checked."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    plan = _plan(manifest, directory)
    adapter = _rebuild(manifest, directory, model)
    try:
        apply_plan(adapter.model, plan)
    except PruningError as e:
        raise PruningError(Errors.K543.format(source=directory / MANIFEST, problem=e)) from e
    dtype = _floating_dtype(manifest.get("dtype", "float32"))
    if dtype is None:
        raise InputFormatError(Errors.K537.format(path=directory / MANIFEST, field="dtype",
                                                  problem=f"is {manifest.get('dtype')!r}, not a "
                                                          "floating dtype"))
    _cast_skeleton(adapter.model, dtype, manifest, directory / MANIFEST)
    adapter.model = _load_weights(adapter.model, manifest, directory)
    adapter.model.name_or_path = str(directory)
    adapter.model.eval()
    return adapter, manifest
