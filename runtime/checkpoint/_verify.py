"""Check a repaired state_dict on the user's model class: strict load and a finite forward.

``--model-class`` names the class as ``package.module:Class`` (importable, the current
directory is put on ``sys.path`` like ``python -m`` does) or ``path/to/file.py:Class``.
The forward pass uses a seeded random input of ``--input-shape``: standard normal floats,
or integers in ``[0, input_high)`` for models that start with an embedding.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from runtime.checkpoint._errors import CheckpointError
from runtime.errors import ConfigError

_INPUT_SEED = 0


@dataclass(frozen=True)
class ForwardCheck:
    """Outcome of one forward pass: ``finite`` is False if any output element is not."""

    finite: bool
    outputs: int
    nonfinite_elements: int

    def describe(self) -> str:
        """``finite`` or ``non-finite (k of n elements)``."""
        if self.finite:
            return "finite"
        return f"non-finite ({self.nonfinite_elements} of {self.outputs} elements)"


def parse_input_shape(text: str) -> tuple[int, ...]:
    """``"1,16"`` → ``(1, 16)``; ConfigError naming ``--input-shape`` otherwise."""
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if not shape or any(size < 1 for size in shape):
        raise ConfigError(
            f"--input-shape {text!r} is not a shape: give positive sizes separated by commas, "
            "e.g. --input-shape 1,16 (batch of one, 16 features)."
        )
    return shape


def parse_model_kwargs(text: str | None) -> dict[str, Any]:
    """``--model-kwargs`` JSON object → keyword arguments."""
    if text is None:
        return {}
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"--model-kwargs {text!r} is not valid JSON ({exc.msg}); pass an object, e.g. "
            "--model-kwargs '{\"d_model\": 64}'."
        ) from exc
    if not isinstance(kwargs, dict):
        raise ConfigError(
            f"--model-kwargs {text!r} must be a JSON object of keyword arguments, e.g. "
            "'{\"d_model\": 64}'."
        )
    return kwargs


def build_model(spec: str, kwargs: Mapping[str, Any]) -> torch.nn.Module:
    """Import ``module:Class`` (or ``file.py:Class``) and instantiate it with ``kwargs``."""
    module_name, sep, attr_path = spec.rpartition(":")
    if not sep or not module_name or not attr_path:
        raise ConfigError(
            f"--model-class {spec!r} must look like module:Class, e.g. mypackage.models:Net "
            "or ./model.py:Net."
        )
    module = _import(module_name, spec)
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise ConfigError(
                f"--model-class {spec!r}: {module_name!r} has no attribute {part!r}; check the "
                "class name after the colon."
            )
        obj = getattr(obj, part)
    try:
        model = obj(**kwargs)
    except Exception as exc:
        raise ConfigError(
            f"--model-class {spec!r} could not be built with --model-kwargs {dict(kwargs)!r}: "
            f"{type(exc).__name__}: {exc}. Pass the constructor's arguments as JSON."
        ) from exc
    if not isinstance(model, torch.nn.Module):
        raise ConfigError(
            f"--model-class {spec!r} built a {type(model).__name__}, not a torch.nn.Module."
        )
    return model


def load_into(model: torch.nn.Module, state: Mapping[str, torch.Tensor], spec: str) -> None:
    """``model.load_state_dict(state, strict=True)``; CheckpointError naming the mismatch."""
    try:
        model.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:4])
        raise CheckpointError(
            f"the checkpoint does not load into --model-class {spec!r} (strict=True): "
            f"{detail[:600]}. Check --model-class and --model-kwargs match the checkpoint."
        ) from exc


def check_forward(
    model: torch.nn.Module,
    input_shape: tuple[int, ...],
    input_dtype: str = "float32",
    input_high: int = 2,
) -> ForwardCheck:
    """Run ``model`` in eval mode on a seeded random input; count non-finite outputs."""
    generator = torch.Generator().manual_seed(_INPUT_SEED)
    if input_dtype == "long":
        x = torch.randint(0, input_high, input_shape, generator=generator)
    else:
        x = torch.randn(input_shape, generator=generator, dtype=getattr(torch, input_dtype))
    model.eval()
    try:
        with torch.no_grad():
            output = model(x)
    except Exception as exc:
        raise ConfigError(
            f"the forward pass on --input-shape {','.join(map(str, input_shape))} "
            f"(--input-dtype {input_dtype}) failed: {type(exc).__name__}: {exc}. Give the "
            "shape (and dtype) of one real input batch."
        ) from exc
    tensors = [t for t in _tensors_in(output) if t.is_floating_point() or t.is_complex()]
    if not tensors:
        raise ConfigError(
            f"the forward pass returned {type(output).__name__} with no floating-point "
            "tensors; there is nothing to check for finiteness."
        )
    total = sum(t.numel() for t in tensors)
    bad = sum(int((~torch.isfinite(t)).sum()) for t in tensors)
    return ForwardCheck(bad == 0, total, bad)


def _tensors_in(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _tensors_in(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors_in(v)]
    return []


def _import(module_name: str, spec: str) -> Any:
    try:
        if module_name.endswith(".py"):
            path = Path(module_name).resolve()
            if not path.is_file():
                raise ConfigError(f"--model-class {spec!r}: the file {str(path)!r} does not exist.")
            loader_spec = importlib.util.spec_from_file_location(
                f"_kintsugi_model_{abs(hash(str(path)))}", path
            )
            if loader_spec is None or loader_spec.loader is None:
                raise ConfigError(f"--model-class {spec!r}: cannot import {str(path)!r}.")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[loader_spec.name] = module
            loader_spec.loader.exec_module(module)
            return module
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
        return importlib.import_module(module_name)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"--model-class {spec!r}: importing {module_name!r} failed: "
            f"{type(exc).__name__}: {exc}. Give an importable module (run from its project "
            "directory) or a path to a .py file."
        ) from exc
