"""art-therapy's front door: tell a checkpoint from a repair log, seed, draw, report.

A file is a checkpoint when it starts like one (a zip archive, as ``torch.save`` writes, or
a legacy pickle), a repair log when its first non-blank character is ``{``; otherwise the
``.jsonl``/``.ndjson``/``.json`` suffix decides, and anything else is tried as a checkpoint.
The drawing is seeded from a SHA-256 of the file's bytes, so the same file always gives the
same picture and a changed file a different one.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from runtime.checkpoint._art import draw_repair_log, draw_scan
from runtime.checkpoint._detect import ScanConfig, scan_tensors
from runtime.checkpoint._errors import CheckpointError
from runtime.checkpoint._load import load_checkpoint
from runtime.checkpoint._repair_log import read_repair_log

_LOG_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class ArtResult:
    """What was drawn: the PNG, its size in pixels, the input's kind, tiles and fractures."""

    path: Path
    width_px: int
    height_px: int
    source_kind: str
    tiles: int
    fractures: int


def render_art(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: ScanConfig | None = None,
) -> ArtResult:
    """Draw ``source`` (checkpoint or JSONL repair log) as a kintsugi PNG at ``output``."""
    path = Path(source)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise CheckpointError(
            f"--input {str(path)!r} {what}; pass a checkpoint (.pt) or a repair log (.jsonl)."
        )
    target = Path(output)
    if target.suffix.lower() != ".png":
        raise CheckpointError(
            f"-o {str(target)!r} must end in .png (art-therapy writes a PNG image); "
            f"e.g. -o {target.with_suffix('.png').name}."
        )
    if target.exists() and target.resolve() == path.resolve():
        raise CheckpointError(f"-o {str(target)!r} is the --input file; give a new .png path.")
    seed = file_seed(path)
    if sniff_kind(path) == "repair_log":
        log = read_repair_log(path)
        draw_repair_log(log, target, seed)
        tiles = len({r.tensor for r in log.records})
        kind, fractures = "repair_log", log.repairs
    else:
        checkpoint = load_checkpoint(path)
        scan = scan_tensors(checkpoint.tensors, config, checkpoint.skipped)
        draw_scan(scan, target, path.name, seed)
        kind, tiles, fractures = "checkpoint", len(scan.tensors), scan.count
    width, height = png_size(target)
    return ArtResult(target, width, height, kind, tiles, fractures)


def sniff_kind(path: Path) -> str:
    """``"checkpoint"`` or ``"repair_log"``, from the first bytes and then the suffix."""
    with path.open("rb") as handle:
        head = handle.read(64)
    if head.startswith((b"PK\x03\x04", b"\x80")):
        return "checkpoint"
    if head.lstrip().startswith(b"{"):
        return "repair_log"
    return "repair_log" if path.suffix.lower() in _LOG_SUFFIXES else "checkpoint"


def file_seed(path: Path) -> int:
    """A 64-bit seed from the SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return int.from_bytes(digest.digest()[:8], "big")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    with path.open("rb") as handle:
        header = handle.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n" or header[12:16] != b"IHDR":
        raise CheckpointError(f"{str(path)!r} was written but is not a PNG.")
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)
