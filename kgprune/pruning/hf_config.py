"""A Hugging Face config that describes a pruned model, when one can: what makes a saved folder load
with plain `from_pretrained`.

A config holds one size per tower (`intermediate_size`, `num_attention_heads`), so only a plan that
keeps the same count in every layer of a tower (the "uniform" policy) can be described, and heads
only where the config states `head_dim`: BERT-style attention (ViLT, BLIP, CLIP) derives the head
size from `hidden_size / num_attention_heads`, so fewer heads there would change the head size.
Every config returned is checked by building the architecture from it (on the meta device, no
memory) and comparing every tensor shape with the pruned model's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from kgprune.pruning.plan import GroupPlan, PruningPlan
from kgprune.pruning.units import UnitGroup

_SUB_CONFIGS = {"vision": "vision_config", "text": "text_config", "language": "text_config",
                "decoder": "text_config"}
_FFN_SIZES = ("intermediate_size", "ffn_dim")


def _config_for(config: Any, tower: str) -> Any:
    """The (sub-)config that sizes the layers of `tower`."""
    sub = getattr(config, _SUB_CONFIGS.get(tower, ""), None)
    return sub if callable(getattr(sub, "to_dict", None)) else config


def heads_expressible(model: nn.Module, group: UnitGroup | GroupPlan) -> bool:
    """True when the model's config can state a smaller head count for `group`'s tower."""
    config = getattr(model, "config", None)
    return config is not None and isinstance(getattr(_config_for(config, group.tower), "head_dim",
                                                     None), int)


def fixed_head_groups(model: nn.Module, groups: Iterable[UnitGroup]) -> tuple[str, ...]:
    """Keys of head groups whose head count the config cannot describe (to protect them)."""
    return tuple(g.key for g in groups if g.kind == "heads" and not heads_expressible(model, g))


def _set(config: Any, names: Iterable[str], value: int) -> bool:
    for name in names:
        if isinstance(getattr(config, name, None), int):
            setattr(config, name, value)
            return True
    return False


def pruned_config(model: nn.Module, plan: PruningPlan) -> Any | None:
    """A copy of `model.config` whose architecture has exactly the pruned model's shapes, or None
    when no config can say it (counts differ between layers of a tower, or heads that the config
    cannot count were removed)."""
    config = getattr(model, "config", None)
    if config is None or not callable(getattr(config, "to_dict", None)):
        return None
    updated = copy.deepcopy(config)
    sizes: dict[tuple[int, str], set[tuple[int, int | None]]] = {}
    owners: dict[int, Any] = {}
    for group in plan.groups:
        if len(group.kept) == group.total and group.kept_kv is None:
            continue
        sub = _config_for(updated, group.tower)
        owners[id(sub)] = sub
        kv = None if group.kept_kv is None else len(group.kept_kv)
        sizes.setdefault((id(sub), group.kind), set()).add((len(group.kept), kv))
    for (owner, kind), counts in sizes.items():
        if len(counts) != 1:
            return None
        (kept, kv), sub = next(iter(counts)), owners[owner]
        if kind == "neurons" and not _set(sub, _FFN_SIZES, kept):
            return None
        if kind == "heads":
            if not isinstance(getattr(sub, "head_dim", None), int) or \
                    not _set(sub, ("num_attention_heads",), kept):
                return None
            if kv is not None and not _set(sub, ("num_key_value_heads",), kv):
                return None
    return updated if _same_shapes(model, updated) else None


def _same_shapes(model: nn.Module, config: Any) -> bool:
    try:
        with torch.device("meta"):
            fresh = type(model)(config)
    except (TypeError, ValueError, RuntimeError):
        return False
    actual = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    built = {k: tuple(v.shape) for k, v in fresh.state_dict().items()}
    return actual == built
