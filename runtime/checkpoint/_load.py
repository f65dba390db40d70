"""Read a PyTorch checkpoint safely, find its state_dict, and write a modified copy.

Checkpoints are read with ``torch.load(..., map_location="cpu", weights_only=True)``: a
pickled ``nn.Module`` could run arbitrary code on load, so it is refused with a message that
says how to save a state_dict instead. The state_dict may be the whole file or sit under a
``state_dict`` / ``model_state_dict`` / ``model`` key (the layouts of plain PyTorch, the
PyTorch tutorials and Lightning, and many research repositories); nested mappings are
flattened with dotted names. Entries that are not tensors are skipped and counted.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from runtime.checkpoint._errors import CheckpointError

logger = logging.getLogger("runtime.checkpoint")

#: Keys under which a training checkpoint keeps the model's state_dict, tried in this order.
CONTAINER_KEYS: tuple[str, ...] = ("state_dict", "model_state_dict", "model")

_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
_UNPICKLER_DETAIL = re.compile(r"WeightsUnpickler error:\s*([^\n]+)")

_SAVE_STATE_DICT_HINT = (
    "Save the weights instead: torch.save(model.state_dict(), 'model_state.pt') "
    "(or {'model_state_dict': model.state_dict(), ...} for a training checkpoint)."
)


@dataclass
class Checkpoint:
    """A loaded checkpoint: its tensors by dotted name, and what was set aside.

    ``raw`` is the object ``torch.load`` returned (kept so a repaired copy can be written in
    the same layout); ``container_key`` is the key the state_dict was found under (``None``
    when the file is the state_dict itself); ``skipped`` lists the dotted names of entries
    inside the state_dict that are not tensors.
    """

    path: Path
    raw: Any
    container_key: str | None
    tensors: dict[str, torch.Tensor]
    skipped: list[str] = field(default_factory=list)

    @property
    def numel(self) -> int:
        """Total number of elements over all tensors."""
        return sum(t.numel() for t in self.tensors.values())


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load ``path`` on the CPU with ``weights_only=True`` and find its state_dict.

    Raises :class:`CheckpointError` when the file is missing, is not a torch checkpoint,
    holds pickled Python objects (a whole ``nn.Module``), or holds no tensors.
    """
    source = Path(path)
    if not source.is_file():
        what = "is a directory" if source.is_dir() else "does not exist"
        raise CheckpointError(
            f"--input {str(source)!r} {what}; pass the path of a .pt/.pth file written by "
            "torch.save."
        )
    try:
        raw = torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _UNSUPPORTED_GLOBAL.search(str(exc))
        if found is None:
            raise _not_a_checkpoint(source, exc) from exc
        raise CheckpointError(
            f"--input {str(source)!r} holds a pickled Python object ({found.group(1)}; a whole "
            "nn.Module saved with torch.save(model)?). Checkpoints are loaded with "
            "weights_only=True, which refuses pickled objects because unpickling can run "
            f"arbitrary code. {_SAVE_STATE_DICT_HINT}"
        ) from exc
    except Exception as exc:  # torch raises KeyError, EOFError, RuntimeError... on junk
        raise _not_a_checkpoint(source, exc) from exc
    key, state = _find_state_dict(raw, source)
    tensors: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    _flatten(state, "", tensors, skipped)
    if not tensors:
        raise CheckpointError(
            f"--input {str(source)!r} holds no tensors under {key or 'the top level'!r} "
            f"({len(skipped)} non-tensor entries); expected a state_dict."
        )
    if skipped:
        logger.info("checkpoint loader: %s: skipped %d non-tensor entries", source, len(skipped))
    return Checkpoint(source, raw, key, tensors, skipped)


def save_checkpoint(
    checkpoint: Checkpoint, tensors: Mapping[str, torch.Tensor], path: str | os.PathLike[str]
) -> Path:
    """Write ``checkpoint`` to ``path`` with the tensors named in ``tensors`` replaced.

    Everything else (other container keys such as an optimizer state, non-tensor entries,
    the nesting) is written back unchanged, so the copy loads wherever the original did.
    The file is written to a temporary name next to ``path`` and renamed into place, so a
    failed write never leaves a half-written checkpoint. Returns the path written.
    """
    target = Path(path)
    state = (
        checkpoint.raw
        if checkpoint.container_key is None
        else checkpoint.raw[checkpoint.container_key]
    )
    new_state = _replace(state, "", dict(tensors))
    if checkpoint.container_key is None:
        new_raw: Any = new_state
    else:
        new_raw = _copy_mapping(checkpoint.raw)
        new_raw[checkpoint.container_key] = new_state
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        torch.save(new_raw, temp_name)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def _find_state_dict(raw: Any, source: Path) -> tuple[str | None, Mapping[str, Any]]:
    if not isinstance(raw, Mapping):
        raise CheckpointError(
            f"--input {str(source)!r} holds a {type(raw).__name__}, not a state_dict. "
            f"{_SAVE_STATE_DICT_HINT}"
        )
    for key in CONTAINER_KEYS:
        value = raw.get(key)
        if isinstance(value, Mapping) and _has_tensor(value):
            return key, value
    if _has_tensor(raw):
        return None, raw
    keys = ", ".join(repr(k) for k in list(raw)[:10])
    raise CheckpointError(
        f"--input {str(source)!r} has no tensors: found keys [{keys}]; expected a state_dict "
        f"or a dict with one of the keys {list(CONTAINER_KEYS)} holding one."
    )


def _has_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, Mapping):
        return any(_has_tensor(v) for v in value.values())
    return False


def _flatten(
    state: Mapping[str, Any], prefix: str, out: dict[str, torch.Tensor], skipped: list[str]
) -> None:
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            out[name] = value
        elif isinstance(value, Mapping) and _has_tensor(value):
            _flatten(value, f"{name}.", out, skipped)
        else:
            skipped.append(name)


def _replace(state: Mapping[str, Any], prefix: str, new: dict[str, torch.Tensor]) -> Any:
    copy = _copy_mapping(state)
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            if name in new:
                copy[key] = new[name]
        elif isinstance(value, Mapping) and _has_tensor(value):
            copy[key] = _replace(value, f"{name}.", new)
    return copy


def _copy_mapping(mapping: Mapping[str, Any]) -> Any:
    """A shallow copy of the same mapping type, keeping a state_dict's ``_metadata``."""
    try:
        copy = type(mapping)(mapping)
    except TypeError:
        copy = dict(mapping)
    metadata = getattr(mapping, "_metadata", None)
    if metadata is not None:
        copy._metadata = metadata
    return copy


def _not_a_checkpoint(source: Path, exc: BaseException) -> CheckpointError:
    detail = _UNPICKLER_DETAIL.search(str(exc))
    text = detail.group(1) if detail else _first_line(exc)
    return CheckpointError(
        f"--input {str(source)!r} is not a PyTorch checkpoint torch.load can read "
        f"({type(exc).__name__}: {text}). Pass a file written by torch.save "
        "(safetensors and numpy files are not supported)."
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "no message"
