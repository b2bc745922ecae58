"""Per-head and per-neuron gates, put in place by forward pre-hooks and removed on exit.

A gate scales its unit's slice of the input of the output (or down) projection. At 1 nothing
changes, at 0 the unit is gone, and d loss / d gate at 1 is the first-order effect of removing
the unit, which is what gradient importance measures. The same hooks can record how large each
unit's activation is (for the `activation` criterion) and what its mean is (for bias compensation).
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

import torch
from torch import nn

from kgprune.pruning.units import UnitGroup, UnitSet


class Gates:
    """Gates for `units` of `model`; use as a context manager so the hooks never outlive it.

    `values[key]` holds one scale per unit of the group (query heads, neurons). With
    `requires_grad=True` the gates collect gradients while the model's weights can stay frozen.
    With `record=True`, `activation_norm(key)` is the mean L2 norm of each unit's slice over every
    token seen and `activation_mean(key)` its mean vector (neurons: the mean activation).
    """

    def __init__(self, model: nn.Module, units: UnitSet | Iterable[UnitGroup], *,
                 requires_grad: bool = False, record: bool = False) -> None:
        self.model = model
        self.groups = tuple(units)
        device = next(model.parameters()).device
        self.values: dict[str, torch.Tensor] = {
            g.key: torch.ones(g.size, device=device, requires_grad=requires_grad)
            for g in self.groups}
        self.record = record
        self._norm_sums: dict[str, torch.Tensor] = {}
        self._sums: dict[str, torch.Tensor] = {}
        self._tokens: dict[str, int] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def __enter__(self) -> Gates:
        modules = dict(self.model.named_modules())
        for group in self.groups:
            site = modules[group.gate_site]
            self._handles.append(site.register_forward_pre_hook(self._hook(group)))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, group: UnitGroup):  # noqa: ANN202 - a torch hook signature
        key, width = group.key, group.gate_width

        def scale(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
            x = args[0]
            units = x.unflatten(-1, (group.size, width))
            if self.record:
                self._observe(key, units.detach())
            gated = units * self.values[key].to(x.dtype)[:, None]
            return (gated.flatten(-2), *args[1:])

        return scale

    def _observe(self, key: str, units: torch.Tensor) -> None:
        flat = units.reshape(-1, *units.shape[-2:]).float()
        norms = flat.norm(dim=-1).sum(dim=0)
        sums = flat.sum(dim=0)
        if key in self._norm_sums:
            self._norm_sums[key] += norms
            self._sums[key] += sums
            self._tokens[key] += flat.shape[0]
        else:
            self._norm_sums[key], self._sums[key], self._tokens[key] = norms, sums, flat.shape[0]

    def tokens_seen(self, key: str) -> int:
        return self._tokens.get(key, 0)

    def activation_norm(self, key: str) -> torch.Tensor:
        """Mean L2 norm per unit over the tokens recorded so far."""
        return self._norm_sums[key] / max(1, self._tokens[key])

    def activation_mean(self, key: str) -> torch.Tensor:
        """Mean activation vector per unit, shape [units, width]."""
        return self._sums[key] / max(1, self._tokens[key])

    def grads(self) -> dict[str, torch.Tensor]:
        """The gates' gradients (zeros where none arrived), detached."""
        return {k: (v.grad.detach().clone() if v.grad is not None else torch.zeros_like(v))
                for k, v in self.values.items()}

    def zero_grad(self) -> None:
        for value in self.values.values():
            value.grad = None

    def set_mask(self, kept: dict[str, Iterable[int]]) -> None:
        """Gate every unit not listed in `kept[key]` to 0 (groups absent from `kept` stay open)."""
        with torch.no_grad():
            for key, indices in kept.items():
                mask = torch.zeros_like(self.values[key])
                mask[list(indices)] = 1.0
                self.values[key].copy_(mask)
