"""Int8 dynamic quantisation of every `nn.Linear`, and its pickle-free tensor form for safetensors.

Dynamic quantisation stores each Linear weight as int8 with one scale and zero point and quantises
activations on the fly, so it needs no calibration data and composes with pruning: a sliced model
is still made of plain Linear layers. PyTorch keeps the int8 weight in an opaque packed object that
`state_dict` can only pickle; `quantized_state` unpacks it into plain int8/float tensors and
`load_quantized_state` packs them back, bit for bit, so a saved quantised model answers exactly as
the one that was saved. The quantised kernels exist for CPU only.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear
from torch.ao.quantization import quantize_dynamic

from kgprune.errors import Errors, PruningError

METHOD = "dynamic-int8.v1"
"""Recorded in manifests; bump it when the stored tensor layout changes."""

WEIGHT, SCALE, ZERO_POINT, BIAS = "weight", "weight_scale", "weight_zero_point", "bias"


@dataclass(frozen=True, slots=True)
class QuantizationInfo:
    """What a manifest records so `load_pruned` can quantise the rebuilt model the same way."""

    method: str
    dtype: str
    qscheme: str
    engine: str
    modules: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "dtype": self.dtype, "qscheme": self.qscheme,
                "engine": self.engine, "modules": list(self.modules)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str) -> QuantizationInfo:
        try:
            info = cls(method=str(data["method"]), dtype=str(data["dtype"]),
                       qscheme=str(data["qscheme"]), engine=str(data["engine"]),
                       modules=tuple(str(m) for m in data["modules"]))
        except (KeyError, TypeError) as e:
            raise PruningError(Errors.K532.format(source=source,
                                                  problem=f"missing field {e}")) from e
        if info.method != METHOD:
            raise PruningError(Errors.K532.format(
                source=source, problem=f"method {info.method!r}; this version reads {METHOD!r}"))
        return info


def quantized_linears(model: nn.Module) -> Iterator[tuple[str, QuantizedLinear]]:
    """(path, module) of every dynamically quantised Linear, in module order."""
    for path, module in model.named_modules():
        if isinstance(module, QuantizedLinear):
            yield path, module


def is_quantized(model: nn.Module) -> bool:
    return next(quantized_linears(model), None) is not None


def quantization_info(model: nn.Module) -> QuantizationInfo | None:
    """The manifest record of a quantised model; None for a float model."""
    modules = [(path, m) for path, m in quantized_linears(model)]
    if not modules:
        return None
    weight = modules[0][1].weight()
    return QuantizationInfo(method=METHOD, dtype=str(weight.dtype).removeprefix("torch."),
                            qscheme=str(weight.qscheme()).removeprefix("torch."),
                            engine=torch.backends.quantized.engine,
                            modules=tuple(path for path, _ in modules))


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of `model` with every `nn.Linear` replaced by an int8 dynamically quantised one."""
    devices = {p.device.type for p in model.parameters()}
    if devices - {"cpu"}:
        raise PruningError(Errors.K530.format(device=", ".join(sorted(devices))))
    if is_quantized(model):
        raise PruningError(Errors.K531.format(model=type(model).__name__))
    with warnings.catch_warnings():
        # torch.ao.quantization warns that it moves to torchao; it is what the installed torch has.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantized = quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8,
                                     inplace=True)
    return quantized.eval()


def quantized_bytes(module: QuantizedLinear) -> tuple[int, int]:
    """(values, bytes) held by one quantised Linear: int8 weight, float bias, scale, zero point."""
    weight, bias = module._weight_bias()
    values, size = weight.numel(), weight.numel() * weight.element_size()
    if weight.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        size += 16 * weight.q_per_channel_scales().numel()  # float64 scale + int64 zero point
    else:
        size += 16
    if bias is not None:
        values, size = values + bias.numel(), size + bias.numel() * bias.element_size()
    return values, size


def quantized_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every tensor of a quantised model as plain tensors: int8 weights with their scale and zero
    point, and the float state of everything else. Tensors that share memory (tied weights, and
    a quantised Linear's bias with the parameter it was tied to) are copied: safetensors stores no
    aliases, and loading writes every name anyway."""
    tensors: dict[str, torch.Tensor] = {}
    prefixes = []
    for path, module in quantized_linears(model):
        weight, bias = module._weight_bias()
        if weight.qscheme() != torch.per_tensor_affine:
            raise PruningError(Errors.K532.format(
                source=path,
                problem=f"qscheme {weight.qscheme()}; only per-tensor affine is stored"))
        tensors[f"{path}.{WEIGHT}"] = weight.int_repr().contiguous()
        tensors[f"{path}.{SCALE}"] = torch.tensor(weight.q_scale(), dtype=torch.float64)
        tensors[f"{path}.{ZERO_POINT}"] = torch.tensor(weight.q_zero_point(), dtype=torch.int64)
        if bias is not None:
            tensors[f"{path}.{BIAS}"] = bias.detach().contiguous()
        prefixes.append(f"{path}.")
    for name, value in model.state_dict().items():
        if isinstance(value, torch.Tensor) and not name.startswith(tuple(prefixes)):
            tensors[name] = value.detach().contiguous()
    seen: set[int] = set()
    for name, value in tensors.items():
        storage = value.untyped_storage().data_ptr()
        if storage in seen and value.numel():
            tensors[name] = value.clone()
        seen.add(storage)
    return tensors


def load_quantized_state(model: nn.Module, tensors: Mapping[str, torch.Tensor], *,
                         source: str) -> None:
    """Put `quantized_state` tensors into `model`, a quantised skeleton of the same shapes.

    Strict: a missing or unexpected tensor or a shape mismatch raises K533 naming `source`.
    """
    expected: set[str] = set()
    for path, module in quantized_linears(model):
        names = [f"{path}.{n}" for n in (WEIGHT, SCALE, ZERO_POINT)]
        has_bias = module._weight_bias()[1] is not None
        if has_bias:
            names.append(f"{path}.{BIAS}")
        missing = [n for n in names if n not in tensors]
        if missing:
            raise PruningError(Errors.K533.format(source=source,
                                                  problem=f"missing tensors {missing}"))
        int8 = tensors[names[0]]
        shape = (module.out_features, module.in_features)
        if int8.dtype != torch.int8 or tuple(int8.shape) != shape:
            raise PruningError(Errors.K533.format(
                source=source, problem=f"{names[0]} is {int8.dtype} {tuple(int8.shape)}, "
                                       f"the model needs int8 {shape}"))
        weight = torch._make_per_tensor_quantized_tensor(
            int8, float(tensors[names[1]]), int(tensors[names[2]]))
        bias = tensors[names[3]] if has_bias else None
        if bias is not None and tuple(bias.shape) != (module.out_features,):
            raise PruningError(Errors.K533.format(
                source=source, problem=f"{names[3]} has shape {tuple(bias.shape)}, "
                                       f"the model needs ({module.out_features},)"))
        module.set_weight_bias(weight, bias)
        expected.update(names)
    rest = {k: v for k, v in tensors.items() if k not in expected}
    prefixes = tuple(f"{path}." for path, _ in quantized_linears(model))
    # load_state_dict would ask the quantised modules for their pickled packed params: copy instead.
    targets = {k: v for k, v in model.state_dict(keep_vars=True).items()
               if isinstance(v, torch.Tensor) and not k.startswith(prefixes)}
    missing, unexpected = sorted(set(targets) - set(rest)), sorted(set(rest) - set(targets))
    if missing or unexpected:
        raise PruningError(Errors.K533.format(
            source=source, problem=f"missing tensors {missing[:5]}, unexpected {unexpected[:5]}"))
    wrong = [f"{k}: file {tuple(rest[k].shape)}, model {tuple(v.shape)}"
             for k, v in targets.items() if v.shape != rest[k].shape]
    if wrong:
        raise PruningError(Errors.K533.format(source=source, problem="; ".join(wrong[:3])))
    with torch.no_grad():
        for name, target in targets.items():
            target.copy_(rest[name])
