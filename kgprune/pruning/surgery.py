"""Physical surgery: slice the heads and neurons a plan removes out of the model, in place.

Gating a unit to 0 and slicing it out give the same function; slicing also frees the parameters
and the compute. Heads lose their q/k/v output rows and the output projection's input columns
(for BLIP's fused `qkv`, their rows in each of the three parts); neurons lose their rows in every
up projection and their column in the down projection. Changed layers become new `nn.Linear`
objects of the new shape, so hooks registered on the old ones (a `Gates` context) do not carry over.

Each attention module's head-count attributes (`num_heads`, `num_attention_heads`, `all_head_size`,
`num_key_value_heads`, `num_key_value_groups`) are updated because the forwards reshape with them;
a module that reads its head count from the shared config only (Llama) gets a `num_heads` of its own
so that `discover_units` sees the truth. `head_dim` never changes, and `embed_dim` stays the hidden
size. BLIP's vision attention splits with `embed_dim // num_heads`, so a sliced one becomes a
`SlicedBlipAttention`, whose state-dict keys are the same.

Hugging Face `config` objects are left alone: after surgery the layers are no longer uniform, so
the config cannot describe them; the saved manifest (the plan) holds the true shapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import torch
from torch import nn

from kgprune.errors import Errors, PruningError
from kgprune.pruning.plan import GroupPlan, PruningPlan, check_plan
from kgprune.pruning.units import (
    FUSED_QKV,
    HeadGroup,
    NeuronGroup,
    UnitGroup,
    UnitSet,
    discover_units,
)

_HEAD_COUNTS = ("num_heads", "num_attention_heads")


@dataclass(frozen=True, slots=True)
class _HeadCut:
    """The query and key/value heads that stay, sorted, and the query heads per key/value head."""

    heads: tuple[int, ...]
    kv_heads: tuple[int, ...]
    group_size: int


@dataclass(frozen=True, slots=True)
class _Cut:
    group: UnitGroup
    kept: tuple[int, ...]
    head_cut: _HeadCut | None
    mean: torch.Tensor | None


def apply_plan(model: nn.Module, plan: PruningPlan, *, units: UnitSet | None = None,
               compensation: Mapping[str, torch.Tensor] | None = None) -> UnitSet:
    """Slice the units `plan` removes out of `model` and return the model's new units.

    `compensation[key]` is a group's mean unit activation (`Gates(record=True).activation_mean`,
    one row per unit); the removed units' mean contribution is folded into the output (down)
    projection's bias, which is created where there is none. Everything is checked before the
    first layer changes, so a refused plan leaves the model as it was.
    """
    units = discover_units(model) if units is None else units
    check_plan(plan, units)
    compensation = dict(compensation or {})
    known = {g.key for g in units}
    for key in compensation:
        if key not in known:
            raise PruningError(Errors.K508.format(key=key, problem="the model has no such group"))
    modules = dict(model.named_modules())
    cuts = [cut for gp in plan.groups
            if (cut := _cut(units[gp.key], gp, compensation.get(gp.key), modules)) is not None]
    for cut in cuts:
        if isinstance(cut.group, HeadGroup):
            _slice_heads(model, modules, cut)
        else:
            _slice_neurons(model, modules, cut)
    return discover_units(model)


def _cut(group: UnitGroup, gp: GroupPlan, mean: torch.Tensor | None,
         modules: Mapping[str, nn.Module]) -> _Cut | None:
    """The checked cut of one group, or None when the plan keeps all of it."""
    head_cut = _head_cut(group, gp) if isinstance(group, HeadGroup) else None
    if isinstance(group, NeuronGroup) and gp.kept_kv is not None:
        raise PruningError(Errors.K507.format(
            key=gp.key, problem="a feed-forward group has no key/value heads to list in kept_kv"))
    if len(gp.kept) == group.size and (head_cut is None or
                                       len(head_cut.kv_heads) == group.num_kv_heads):
        return None
    _check_layers(group, modules)
    if mean is not None:
        width = group.gate_width
        if mean.dim() == 0 or mean.shape[0] != group.size or mean.numel() != group.size * width:
            raise PruningError(Errors.K508.format(
                key=gp.key, problem=f"shape {tuple(mean.shape)}, expected [{group.size}, {width}]"
                + (f" or [{group.size}]" if width == 1 else "")))
    return _Cut(group, tuple(sorted(gp.kept)), head_cut, mean)


def _head_cut(group: HeadGroup, gp: GroupPlan) -> _HeadCut:
    """Which key/value heads stay, after checking that the query heads fit them."""
    size, kept = group.group_size, sorted(gp.kept)
    if gp.kept_kv is not None:
        kv = sorted(gp.kept_kv)
        if not kv or len(set(kv)) != len(kv) or any(not 0 <= i < group.num_kv_heads for i in kv):
            raise PruningError(Errors.K507.format(
                key=gp.key, problem=f"kept_kv {list(gp.kept_kv)} must list distinct key/value "
                                    f"heads in 0..{group.num_kv_heads - 1}, at least one"))
        expected = [g * size + i for g in kv for i in range(size)]
        if kept != expected:
            raise PruningError(Errors.K505.format(key=gp.key, kept_kv=kv, expected=expected,
                                                  kept=kept, size=size))
        return _HeadCut(tuple(kept), tuple(kv), size)
    if not group.is_gqa:
        return _HeadCut(tuple(kept), tuple(kept), 1)
    counts = [sum(1 for h in kept if h // size == g) for g in range(group.num_kv_heads)]
    if len(set(counts)) != 1:
        raise PruningError(Errors.K506.format(key=gp.key, groups=group.num_kv_heads,
                                              counts=counts))
    return _HeadCut(tuple(kept), tuple(range(group.num_kv_heads)), counts[0])


def _check_layers(group: UnitGroup, modules: Mapping[str, nn.Module]) -> None:
    """The group's layers exist, are plain `nn.Linear` and have the widths the group says."""
    if isinstance(group, HeadGroup):
        inner = group.num_heads * group.head_dim
        kv = group.num_kv_heads * group.head_dim
        if group.layout == FUSED_QKV:
            widths = {group.q: ("out", 3 * inner)}
            attention = modules.get(group.attrs)
            if attention is not None and not isinstance(attention, _blip_attention()):
                raise PruningError(Errors.K510.format(path=group.attrs,
                                                      cls=type(attention).__name__))
        else:
            widths = {group.q: ("out", inner), group.k: ("out", kv), group.v: ("out", kv)}
        widths[group.o] = ("in", inner)
    else:
        widths = {name: ("out", group.size) for name in group.up}
        widths[group.down] = ("in", group.size)
    for path, (side, width) in widths.items():
        layer = modules.get(path)
        if type(layer) is not nn.Linear:
            raise PruningError(Errors.K509.format(
                path=path, problem=f"expected an nn.Linear, found {type(layer).__name__}"))
        found = layer.out_features if side == "out" else layer.in_features
        if found != width:
            raise PruningError(Errors.K509.format(
                path=path, problem=f"{found} {side}put features, the units say {width}"))


def _rows(units: Sequence[int], width: int) -> list[int]:
    """Feature indices of `units` when each unit spans `width` consecutive features."""
    return [u * width + j for u in units for j in range(width)]


def _slice_heads(model: nn.Module, modules: Mapping[str, nn.Module], cut: _Cut) -> None:
    group, heads = cut.group, cut.head_cut
    assert isinstance(group, HeadGroup) and heads is not None
    d = group.head_dim
    if group.layout == FUSED_QKV:
        part = group.num_heads * d
        rows = [p * part + r for p in range(3) for r in _rows(heads.heads, d)]
        _replace(model, group.q, rows=rows)
    else:
        _replace(model, group.q, rows=_rows(heads.heads, d))
        if len(heads.kv_heads) != group.num_kv_heads:
            _replace(model, group.k, rows=_rows(heads.kv_heads, d))
            _replace(model, group.v, rows=_rows(heads.kv_heads, d))
    _replace(model, group.o, cols=_rows(heads.heads, d),
             bias_shift=_shift(modules[group.o], cut, d))
    _set_head_counts(modules[group.attrs], group, heads)


def _slice_neurons(model: nn.Module, modules: Mapping[str, nn.Module], cut: _Cut) -> None:
    group = cut.group
    assert isinstance(group, NeuronGroup)
    for name in group.up:
        _replace(model, name, rows=list(cut.kept))
    _replace(model, group.down, cols=list(cut.kept), bias_shift=_shift(modules[group.down], cut, 1))


def _shift(layer: nn.Module, cut: _Cut, width: int) -> torch.Tensor | None:
    """The removed units' mean contribution to `layer`'s output: W[:, removed] @ mean[removed]."""
    if cut.mean is None:
        return None
    assert isinstance(layer, nn.Linear)
    keep = set(cut.kept)
    removed = _rows([u for u in range(cut.group.size) if u not in keep], width)
    weight = layer.weight.detach()
    mean = cut.mean.detach().reshape(-1).to(device=weight.device, dtype=torch.float32)
    index = torch.tensor(removed, device=weight.device, dtype=torch.long)
    return weight.index_select(1, index).float() @ mean.index_select(0, index)


def _set_head_counts(attention: nn.Module, group: HeadGroup, heads: _HeadCut) -> None:
    """Make the module's head-count attributes true for the sliced projections."""
    count, kv = len(heads.heads), len(heads.kv_heads)
    found = False
    for name in _HEAD_COUNTS:
        if isinstance(getattr(attention, name, None), int):
            setattr(attention, name, count)
            found = True
    if not found:
        attention.num_heads = count
    if isinstance(getattr(attention, "all_head_size", None), int):
        attention.all_head_size = count * group.head_dim
    if isinstance(getattr(attention, "num_key_value_heads", None), int):
        attention.num_key_value_heads = kv
    if isinstance(getattr(attention, "num_key_value_groups", None), int):
        attention.num_key_value_groups = heads.group_size
    if group.layout == FUSED_QKV:
        attention.__class__ = _sliced_blip_attention()


def _replace(model: nn.Module, path: str, *, rows: Sequence[int] | None = None,
             cols: Sequence[int] | None = None, bias_shift: torch.Tensor | None = None) -> None:
    """Swap the layer at `path` for a new `nn.Linear` holding only `rows` / `cols` of it."""
    old = model.get_submodule(path)
    assert isinstance(old, nn.Linear)
    weight, bias = old.weight.detach(), None if old.bias is None else old.bias.detach()
    if rows is not None:
        index = torch.tensor(rows, device=weight.device, dtype=torch.long)
        weight = weight.index_select(0, index)
        bias = None if bias is None else bias.index_select(0, index)
    if cols is not None:
        weight = weight.index_select(1, torch.tensor(cols, device=weight.device, dtype=torch.long))
    if bias_shift is not None:
        base = torch.zeros(weight.shape[0], device=weight.device) if bias is None else bias.float()
        bias = (base + bias_shift).to(weight.dtype)
    grad = old.weight.requires_grad
    new = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, device="meta")
    new.weight = nn.Parameter(weight.clone(), requires_grad=grad)
    if bias is not None:
        bias_grad = old.bias.requires_grad if old.bias is not None else grad
        new.bias = nn.Parameter(bias.clone(), requires_grad=bias_grad)
    new.train(old.training)
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent), name, new)


@cache
def _blip_attention() -> type[nn.Module]:
    from transformers.models.blip.modeling_blip import BlipAttention

    return BlipAttention


@cache
def _sliced_blip_attention() -> type[nn.Module]:
    """BLIP's vision attention, splitting `qkv` with `head_dim` instead of `hidden // num_heads`."""
    base = _blip_attention()

    def forward(self: nn.Module, hidden_states: torch.Tensor,
                **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
        bsz, tgt_len, _ = hidden_states.size()
        mixed = (self.qkv(hidden_states)
                 .reshape(bsz, tgt_len, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4))
        scores = torch.matmul(mixed[0], mixed[1].transpose(-1, -2)) * self.scale
        probs = self.dropout(nn.functional.softmax(scores, dim=-1))
        context = torch.matmul(probs, mixed[2]).permute(0, 2, 1, 3)
        context = context.reshape(bsz, tgt_len, self.num_heads * self.head_dim)
        return self.projection(context), probs

    return type("SlicedBlipAttention", (base,), {
        "forward": forward, "__module__": __name__,
        "__doc__": "BlipAttention whose heads were sliced: the split uses `head_dim`."})
