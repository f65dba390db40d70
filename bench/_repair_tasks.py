"""bench_repair's tasks and fault injectors: three small offline tasks, and the faults.

Tasks (all offline, CPU-cheap, deterministic for a seed):

* ``digits_mlp``: scikit-learn's bundled 8×8 digits (1797 images, pixels / 16), an MLP
  64→64→64→10; the two hidden ``Linear`` layers are repaired.
* ``digits_cnn``: the same images, two 3×3 convolutions (1→8→16 channels), a 2×2 max
  pool and a ``Linear`` 256→10; the two convolutions are repaired.
* ``char_transformer``: next-character prediction on text that ships with Python (the
  docstrings of a fixed list of stdlib modules via ``inspect.getdoc``, and ``this.s``
  decoded), one pre-norm transformer block (d_model 32, 2 heads, feed-forward 64, context
  32); its ``qkv``, ``ff1`` and ``ff2`` layers are repaired. Accuracy is next-character
  accuracy on the held-out last 10 % of the text.

Faults, injected into a hidden layer's output *before* GoldenRepair sees it:
:class:`FaultyForward` is set as the module's instance ``forward`` before the repair
attaches, so the repair's check wraps it. (A forward hook would run after the module's
``forward``, and so after the repair's check inside it: the repair would never see the
fault.) At each chosen step it sets 1 % of the output's elements to NaN, ±Inf or ±spike.
:class:`LearningRateBurst` multiplies the optimiser's learning rate for a few steps.
"""

from __future__ import annotations

import codecs
import contextlib
import inspect
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

#: Stdlib modules whose docstrings make the transformer's text (deterministic per Python).
TEXT_MODULES = (
    "json", "collections", "functools", "itertools", "re", "string", "textwrap", "random",
    "statistics", "argparse", "logging", "pathlib", "subprocess", "threading", "typing",
    "dataclasses", "heapq", "bisect", "fractions", "decimal",
)  # fmt: skip
CONTEXT = 32  # characters of context for the transformer


@dataclass
class Task:
    """One task: its data and how to build, batch and score its model."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    make_model: Any  # () -> nn.Module
    layers: tuple[str, ...]  # the hidden layers GoldenRepair watches (and faults hit)
    lr: float
    batch: int


def load_text() -> str:
    """The transformer's text: stdlib docstrings and the Zen of Python, in a fixed order."""
    import importlib

    parts = []
    for name in TEXT_MODULES:
        doc = inspect.getdoc(importlib.import_module(name))
        if doc:
            parts.append(doc)
    with contextlib.redirect_stdout(io.StringIO()):  # its first import prints the Zen
        import this

    parts.append(codecs.decode(this.s, "rot13"))
    return "\n\n".join(parts)


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(1234))
    return x[order], y[order]


class CharTransformer(nn.Module):
    """One pre-norm transformer block over characters, causal attention."""

    def __init__(self, vocab: int, d_model: int = 32, heads: int = 2, ff: int = 64) -> None:
        super().__init__()
        self.heads = heads
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.Parameter(torch.zeros(CONTEXT, d_model))
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff1 = nn.Linear(d_model, ff)
        self.ff2 = nn.Linear(ff, d_model)
        self.norm_out = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, t = tokens.shape
        h = self.embed(tokens) + self.position[:t]
        q, k, v = self.qkv(self.norm1(h)).chunk(3, dim=-1)
        split = lambda a: a.view(b, t, self.heads, -1).transpose(1, 2)  # noqa: E731
        attend = nn.functional.scaled_dot_product_attention
        att = attend(split(q), split(k), split(v), is_causal=True)
        h = h + self.proj(att.transpose(1, 2).reshape(b, t, -1))
        h = h + self.ff2(torch.relu(self.ff1(self.norm2(h))))
        return self.head(self.norm_out(h))


def _windows(codes: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    starts = torch.arange(0, len(codes) - CONTEXT - 1, step)
    idx = starts[:, None] + torch.arange(CONTEXT)[None, :]
    return codes[idx], codes[idx + 1]


def make_tasks(names: Iterable[str] | None = None) -> dict[str, Task]:
    """The tasks by name (all three when ``names`` is None)."""
    wanted = set(names) if names is not None else {"digits_mlp", "digits_cnn", "char_transformer"}
    tasks: dict[str, Task] = {}
    if wanted & {"digits_mlp", "digits_cnn"}:
        x, y = _digits()
        split = 1500
        if "digits_mlp" in wanted:
            tasks["digits_mlp"] = Task(
                "digits_mlp", x[:split], y[:split], x[split:], y[split:],
                lambda: nn.Sequential(
                    nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
                ),
                ("0", "2"), lr=3e-3, batch=64,
            )  # fmt: skip
        if "digits_cnn" in wanted:
            images = x.view(-1, 1, 8, 8)
            tasks["digits_cnn"] = Task(
                "digits_cnn", images[:split], y[:split], images[split:], y[split:],
                lambda: nn.Sequential(
                    nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1),
                    nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 10),
                ),
                ("0", "2"), lr=3e-3, batch=64,
            )  # fmt: skip
    if "char_transformer" in wanted:
        text = load_text()
        vocab = sorted(set(text))
        codes = torch.tensor([vocab.index(c) for c in text], dtype=torch.long)
        cut = int(len(codes) * 0.9)
        x_train, y_train = _windows(codes[:cut], 3)
        x_test, y_test = _windows(codes[cut:], CONTEXT)
        tasks["char_transformer"] = Task(
            "char_transformer", x_train, y_train, x_test, y_test,
            lambda: CharTransformer(len(vocab)), ("qkv", "ff1", "ff2"), lr=3e-3, batch=32,
        )  # fmt: skip
    return tasks


# ---------------------------------------------------------------------------- the faults
FAULT_KINDS = ("nan", "inf", "spike_1e4", "spike_1e6", "lr_burst")
SPIKES = {"spike_1e4": 1e4, "spike_1e6": 1e6}
FAULT_SHARE = 0.01  # of the layer's activations, at each faulted step


class FaultyForward:
    """A module's ``forward`` that corrupts its output at chosen training steps, and counts
    the elements of every output (the activations a repair around it checks).

    ``kind``: ``nan``, ``inf``, ``spike_1e4``/``spike_1e6`` (the value ±1e4/±1e6), or None
    (a counter only). Set :attr:`step` before each training step; a fault fires when the
    module is training and ``step`` is in ``steps``; :attr:`fired` lists the steps it hit,
    :attr:`injected` counts the elements it corrupted and :attr:`last_where` holds the flat
    indices it corrupted last.
    """

    def __init__(
        self, module: nn.Module, kind: str | None, steps: Iterable[int], seed: int
    ) -> None:
        if kind is not None and kind not in ("nan", "inf", *SPIKES):
            raise ValueError(
                f"The argument 'kind' must be one of nan, inf, {', '.join(SPIKES)} or None. "
                f"{kind!r} is invalid."
            )
        self.original = module.forward
        self.module = module
        self.kind = kind
        self.steps = frozenset(steps)
        self.generator = torch.Generator().manual_seed(seed)
        self.step = -1
        self.fired: list[int] = []
        self.injected = 0
        self.last_where: torch.Tensor | None = None
        self.elements = 0

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        out = self.original(*args, **kwargs)
        self.elements += out.numel()
        if self.kind is None or not self.module.training or self.step not in self.steps:
            return out
        if self.fired and self.fired[-1] == self.step:
            return out  # one fault per step
        self.fired.append(self.step)
        flat = out.reshape(-1)
        count = max(1, int(flat.numel() * FAULT_SHARE))
        self.injected += count
        where = torch.randperm(flat.numel(), generator=self.generator)[:count]
        self.last_where = where
        sign = torch.randint(0, 2, (count,), generator=self.generator).float() * 2 - 1
        if self.kind == "nan":
            values = torch.full((count,), math.nan)
        elif self.kind == "inf":
            values = sign * math.inf
        else:
            values = sign * SPIKES[self.kind]
        flat = flat.clone()
        flat[where] = values.to(flat.dtype)
        return flat.view_as(out)


class SpikeAudit:
    """Counts the injected spike values a GoldenRepair left beyond its threshold band.

    Forward hooks on the faulted module, active at the steps its :class:`FaultyForward`
    fires: before the forward they copy the repair's running statistics (the ones its check
    uses), after it (module hooks see the repaired output) they take the z-score of each
    corrupted element and count those with |z| above the repair's threshold. The standard
    deviation is floored as GoldenRepair floors it (``_repair_detect.refresh_scale``).
    """

    def __init__(self, module: nn.Module, name: str, fault: FaultyForward, repair: Any) -> None:
        self.fault = fault
        self.repair = repair
        self.name = name
        self.feature_dim = 1 if isinstance(module, nn.modules.conv._ConvNd) else -1
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None
        self.audited = 0  # injected spike values looked at
        self.left = 0  # of those, still beyond the threshold band after the repair
        module.register_forward_pre_hook(self._before)
        module.register_forward_hook(self._after)

    def _before(self, module: nn.Module, args: Any) -> None:
        fault = self.fault
        if module.training and fault.step in fault.steps and fault.step not in fault.fired:
            self.stats = self.repair.running_stats(self.name)

    def _after(self, module: nn.Module, args: Any, out: torch.Tensor) -> None:
        if self.stats is None:
            return
        mean, var = self.stats
        self.stats = None
        std = torch.maximum(var, var.mean() * 1e-4 + 1e-8).sqrt()
        shape = [1] * out.dim()
        shape[self.feature_dim] = -1
        where = self.fault.last_where
        centre = mean.view(shape).expand_as(out).reshape(-1)[where]
        spread = std.view(shape).expand_as(out).reshape(-1)[where]
        z = (out.detach().reshape(-1)[where] - centre) / spread
        self.audited += where.numel()
        self.left += int((z.abs() > self.repair.threshold * (1 + 1e-4)).sum())


def install_faults(
    model: nn.Module,
    layers: Iterable[str],
    fault_layer: str | None,
    kind: str | None,
    steps: Iterable[int],
    seed: int,
) -> list[FaultyForward]:
    """A :class:`FaultyForward` on each of ``layers`` (the fault on ``fault_layer`` only);
    call before GoldenRepair attaches, so that the repair's check wraps it."""
    named = dict(model.named_modules())
    out = []
    for name in layers:
        module = named[name]
        wrapper = FaultyForward(module, kind if name == fault_layer else None, steps, seed)
        module.forward = wrapper
        out.append(wrapper)
    return out


class LearningRateBurst:
    """Multiplies every param group's learning rate by ``factor`` for ``steps`` (a set of
    step numbers) and restores it on the other steps; call :meth:`apply` before each step."""

    def __init__(self, optimizer: torch.optim.Optimizer, factor: float, steps: Iterable[int]):
        self.optimizer = optimizer
        self.factor = factor
        self.steps = frozenset(steps)
        self.base = [group["lr"] for group in optimizer.param_groups]

    def apply(self, step: int) -> None:
        scale = self.factor if step in self.steps else 1.0
        for group, base in zip(self.optimizer.param_groups, self.base, strict=True):
            group["lr"] = base * scale
