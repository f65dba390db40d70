"""VWPR: value-weighted pathway reinforcement, an optimiser with two update streams.

Every *pathway* (an output unit, i.e. a row along dim 0 of a parameter tensor, or with
``granularity="layer"`` a whole parameter tensor) carries a learnable ``value_weight``.

* **Value stream.** The pathway's ``local_loss`` is the norm of its gradient this step (the
  share of the error signal that reached it), normalised by its layer's mean so that β is
  scale-free. The raw value ``ρ`` moves by ``+β·(local_loss − 1)`` (the layer-mean part of
  ``+β·local_loss`` would be removed by normalisation anyway; dropping it keeps ρ bounded),
  minus an L1 pull ``λ·sign(value_weight − 1)`` toward neutral. Then
  ``value_weight = clamp(softplus(ρ) / mean(softplus(ρ)), value_min, value_max)``: softplus
  keeps it positive, normalisation keeps the layer's overall step size.
* **Model stream.** Parameters are updated with value-weighted gradients: with
  ``base="sgd"`` the gradient row is multiplied by its value weight before momentum; with
  ``base="adam"`` Adam's per-element normalisation would cancel such a factor, so the value
  weight multiplies Adam's step instead (for SGD the two are the same thing).

``weighted_loss`` (the seed's "ceremonial loss") is ``Σ value_weight·local_loss`` of the last
step, a diagnostic. Control: intensity scales β; gentle mode caps it at 1/φ. A bounded
history of value weights is kept every ``history_every`` steps; :meth:`VWPR.plot_value_weights`
draws their distributions.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from runtime.golden import apply_gentle_cap
from runtime.training._repair_blend import accept_intensity
from runtime.training._validate import check_float, raise_config_error

_TINY = 1e-12


class VWPR(torch.optim.Optimizer):
    """Value-weighted pathway reinforcement on top of SGD (momentum) or Adam.

    ``lr``, ``betas``, ``eps``, ``momentum``, ``weight_decay``: the base rule's usual
    hyper-parameters (decoupled weight decay). ``value_lr``: β, the value stream's rate at
    intensity 1. ``l1``: λ, the L1 pull toward neutral. ``value_min``/``value_max``: clamp.
    ``granularity``: ``"unit"`` (one value weight per output unit) or ``"layer"`` (one per
    parameter tensor). ``history_every``: steps between snapshots (0 = none), at most
    ``history_len`` kept. Pass ``model.named_parameters()`` to get names in the history.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        *,
        base: str = "adam",
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        value_lr: float = 0.05,
        l1: float = 1e-3,
        value_min: float = 0.25,
        value_max: float = 4.0,
        granularity: str = "unit",
        history_every: int = 0,
        history_len: int = 200,
    ) -> None:
        if base not in ("adam", "sgd"):
            raise_config_error(f"The argument 'base' must be 'adam' or 'sgd'; {base!r} is invalid.")
        if granularity not in ("unit", "layer"):
            raise_config_error(
                f"The argument 'granularity' must be 'unit' or 'layer'; {granularity!r} is invalid."
            )
        check_float("lr", lr, low=0.0, low_inclusive=False)
        check_float("value_lr", value_lr, low=0.0)
        check_float("l1", l1, low=0.0)
        check_float("value_min", value_min, low=0.0, low_inclusive=False)
        check_float("value_max", value_max, low=value_min)
        check_float("momentum", momentum, low=0.0, high=0.999)
        check_float("weight_decay", weight_decay, low=0.0)
        for i, b in enumerate(betas):
            check_float(f"betas[{i}]", b, low=0.0, high=0.9999)
        if not isinstance(history_every, int) or history_every < 0:
            raise_config_error(
                f"The argument 'history_every' must be an integer ≥ 0. {history_every!r} is "
                "invalid."
            )
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            momentum=momentum,
            weight_decay=weight_decay,
            value_lr=value_lr,
            l1=l1,
            value_min=value_min,
            value_max=value_max,
        )
        super().__init__(params, defaults)
        self.base = base
        self.granularity = granularity
        self.intensity = 1.0
        self.gentle = False
        self.history_every = history_every
        self.history: deque[dict[str, Any]] = deque(maxlen=max(1, history_len))
        self.steps = 0
        self.weighted_loss = 0.0
        self._weighted_loss_t: torch.Tensor | None = None

    # ------------------------------------------------------------------------- control
    def apply_control(self, intensity: float, gentle: bool) -> None:
        """Scale β by ``intensity`` (capped at 1/φ in gentle mode: ``runtime.golden``).

        The intensity is read as :meth:`GoldenRepair.apply_control` reads it: as sent, a
        negative value as 0 and a NaN or infinite one as the baseline 1.0.
        """
        intensity = accept_intensity(intensity, "VWPR")
        self.intensity = apply_gentle_cap(intensity, gentle)
        self.gentle = bool(gentle)

    # ------------------------------------------------------------------------ the step
    def _names(self) -> list[tuple[str, torch.Tensor]]:
        out = []
        index = 0
        for group in self.param_groups:
            names = group.get("param_names")
            for i, p in enumerate(group["params"]):
                out.append((names[i] if names else f"param{index}", p))
                index += 1
        return out

    @staticmethod
    def _units(p: torch.Tensor) -> int:
        return p.shape[0] if p.dim() >= 1 else 1

    def _state(self, p: torch.Tensor, size: int) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["rho"] = torch.full((size,), _softplus_inverse(1.0), device=p.device)
            state["value_weight"] = torch.ones(size, device=p.device)
            if self.base == "adam":
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            else:
                state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def _update_values(
        self, group: dict[str, Any], rho: torch.Tensor, local: torch.Tensor
    ) -> torch.Tensor:
        """One value-stream update of ρ in place; returns the new value weights."""
        beta = group["value_lr"] * self.intensity
        normalised = local / local.mean().clamp_min(_TINY)
        rho.add_(normalised - 1.0, alpha=beta)
        value = F.softplus(rho)
        value = value / value.mean().clamp_min(_TINY)
        rho.sub_(torch.sign(value - 1.0), alpha=group["l1"])
        return value.clamp_(group["value_min"], group["value_max"])

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        """One dual-stream update; ``closure`` re-evaluates the loss as in torch optimisers."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        weighted = []
        if self.granularity == "layer":
            weighted.append(self._layer_values())
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise_config_error("VWPR does not support sparse gradients; use dense ones.")
                units = self._units(p) if self.granularity == "unit" else 1
                state = self._state(p, units)
                if self.granularity == "unit":
                    local = p.grad.reshape(units, -1).norm(dim=1)
                    state["value_weight"] = self._update_values(group, state["rho"], local)
                    weighted.append((state["value_weight"] * local).sum())
                self._param_update(group, p, state)
        self.steps += 1
        if weighted:  # stays on the device: read only by value_summary()
            device = weighted[0].device
            self._weighted_loss_t = torch.stack([w.float().to(device) for w in weighted]).sum()
        if self.history_every and self.steps % self.history_every == 0:
            self.history.append(
                {
                    "step": self.steps,
                    "value_weights": {
                        name: self.state[p]["value_weight"].detach().cpu().clone()
                        for name, p in self._names()
                        if p in self.state and "value_weight" in self.state[p]
                    },
                }
            )
        return loss

    def _layer_values(self) -> torch.Tensor:
        """Layer granularity: one value weight per parameter tensor, normalised across them."""
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        if not params:
            return torch.zeros(())
        group = self.param_groups[0]
        device = params[0].device
        local = torch.stack([p.grad.norm().float().to(device) for p in params])
        rho = torch.cat([self._state(p, 1)["rho"].float().to(device) for p in params])
        value = self._update_values(group, rho, local)
        for i, p in enumerate(params):
            state = self.state[p]
            state["rho"].copy_(rho[i : i + 1])
            state["value_weight"] = value[i : i + 1].to(p.device)
        return (value * local).sum()

    def _param_update(self, group: dict[str, Any], p: torch.Tensor, state: dict[str, Any]) -> None:
        grad = p.grad
        units = state["value_weight"].numel()
        shape = (
            [units] + [1] * (p.dim() - 1) if p.dim() >= 1 and units > 1 else [1] * max(p.dim(), 1)
        )
        value = (
            state["value_weight"].view(shape) if p.dim() >= 1 else state["value_weight"].reshape(())
        )
        lr = group["lr"]
        state["step"] += 1
        if group["weight_decay"]:
            p.mul_(1.0 - lr * group["weight_decay"])
        if self.base == "sgd":
            buf = state["momentum_buffer"]
            buf.mul_(group["momentum"]).add_(grad * value)
            p.sub_(buf, alpha=lr)
            return
        beta1, beta2 = group["betas"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1.0 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        step = state["step"]
        bias1 = 1.0 - beta1**step
        bias2 = 1.0 - beta2**step
        denom = (exp_avg_sq / bias2).sqrt_().add_(group["eps"])
        p.sub_((exp_avg / denom) * value, alpha=lr / bias1)

    # ------------------------------------------------------------------------ reading out
    def value_weights(self) -> dict[str, torch.Tensor]:
        """Current value weights per parameter (copies), keyed by name."""
        return {
            name: self.state[p]["value_weight"].detach().cpu().clone()
            for name, p in self._names()
            if p in self.state and "value_weight" in self.state[p]
        }

    def value_summary(self) -> dict[str, Any]:
        """min / mean / max of all value weights, β in force and the last weighted loss."""
        weights = list(self.value_weights().values())
        if self._weighted_loss_t is not None:
            self.weighted_loss = float(self._weighted_loss_t)
        if not weights:
            return {"min": None, "mean": None, "max": None, "beta": self._beta(), "steps": 0}
        flat = torch.cat([w.reshape(-1) for w in weights])
        return {
            "min": float(flat.min()),
            "mean": float(flat.mean()),
            "max": float(flat.max()),
            "beta": self._beta(),
            "weighted_loss": self.weighted_loss,
            "steps": self.steps,
        }

    def _beta(self) -> float:
        return self.param_groups[0]["value_lr"] * self.intensity

    def plot_value_weights(self, path: str | Path) -> Path:
        """Save histograms of the value weights: first vs last snapshot of the history.

        Without a history (``history_every=0``) the current weights are drawn alone.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        snapshots = list(self.history) or [
            {"step": self.steps, "value_weights": self.value_weights()}
        ]
        chosen = [snapshots[0]] if len(snapshots) == 1 else [snapshots[0], snapshots[-1]]
        fig, ax = plt.subplots(figsize=(7, 4))
        for snap in chosen:
            values = torch.cat([w.reshape(-1) for w in snap["value_weights"].values()])
            ax.hist(values.numpy(), bins=40, alpha=0.6, label=f"step {snap['step']}")
        ax.set_xlabel("value_weight")
        ax.set_ylabel("pathways")
        ax.legend()
        fig.tight_layout()
        target = Path(path)
        fig.savefig(target)
        plt.close(fig)
        return target


def _softplus_inverse(y: float) -> float:
    """ρ with softplus(ρ) = y (so value weights start neutral at 1)."""
    return y + math.log(-math.expm1(-y))
