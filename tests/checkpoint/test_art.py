"""art-therapy pictures: valid PNGs, gold only where there are fractures, seams placed at
the fracture's spot, the same file always the same picture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from runtime.checkpoint import CheckpointError, render_art, scan_tensors
from runtime.checkpoint._art import FIGURE_IN, tiles_from_scan
from tests.checkpoint._models import build

WIDTH_PX, HEIGHT_PX = int(FIGURE_IN[0] * 130), int(FIGURE_IN[1] * 130)


def _gold_pixels(path: Path) -> int:
    """Pixels of saturated gold: strong red, middling green, little blue."""
    rgb = imread(path)[:, :, :3]
    r, g, b = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    return int(np.sum((r > 0.6) & (g > 0.4) & (g < 0.8) & (b < 0.4) & (r - b > 0.4)))


@pytest.fixture
def clean_path(tmp_path: Path) -> Path:
    path = tmp_path / "clean.pt"
    torch.save(build("transformer", 32, 0).state_dict(), path)
    return path


@pytest.fixture
def broken_path(tmp_path: Path) -> Path:
    state = build("transformer", 32, 0).state_dict()
    state["encoder.layers.0.linear1.weight"][3, 4] = float("nan")
    state["encoder.layers.1.linear2.weight"][5, 6] = 40.0
    state["head.weight"] *= 1e6
    state["encoder.layers.0.linear2.weight"][2] = 0.0
    path = tmp_path / "broken.pt"
    torch.save(state, path)
    return path


def test_scan_picture_is_a_png_with_gold_only_when_broken(
    tmp_path: Path, clean_path: Path, broken_path: Path
) -> None:
    clean = render_art(clean_path, tmp_path / "clean.png")
    broken = render_art(broken_path, tmp_path / "broken.png")
    for result in (clean, broken):
        assert (result.width_px, result.height_px) == (WIDTH_PX, HEIGHT_PX)
        assert imread(result.path).shape[:2] == (HEIGHT_PX, WIDTH_PX)
        assert result.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert clean.fractures == 0 and broken.fractures == 4
    assert clean.tiles == broken.tiles == len(build("transformer", 32, 0).state_dict())
    assert _gold_pixels(clean.path) < 50  # an unbroken bowl: no seams, no legend lines
    assert _gold_pixels(broken.path) > 2000


def test_same_file_same_picture_changed_file_different(tmp_path: Path, clean_path: Path) -> None:
    first = render_art(clean_path, tmp_path / "a.png").path.read_bytes()
    second = render_art(clean_path, tmp_path / "b.png").path.read_bytes()
    assert first == second
    other = tmp_path / "other.pt"
    torch.save(build("transformer", 32, 1).state_dict(), other)
    assert render_art(other, tmp_path / "c.png").path.read_bytes() != first


def test_seams_sit_where_the_fractures_are() -> None:
    state = {
        "a.weight": torch.randn(64, 64, generator=torch.Generator().manual_seed(0)) * 0.05,
        "b.weight": torch.randn(64, 64, generator=torch.Generator().manual_seed(1)) * 0.05,
        "c.weight": torch.randn(64, 64, generator=torch.Generator().manual_seed(2)) * 0.05,
    }
    state["a.weight"][0, 0] = float("nan")
    state["b.weight"][63, 63] = float("nan")
    state["c.weight"][10] = 0.0
    tiles = {t.name: t for t in tiles_from_scan(scan_tensors(state))}
    (top_left,) = tiles["a.weight"].seams
    (bottom_right,) = tiles["b.weight"].seams
    (dead_row,) = tiles["c.weight"].seams
    assert (top_left.u, top_left.v) == (0.5 / 64, 0.5 / 64)
    assert (bottom_right.u, bottom_right.v) == (63.5 / 64, 63.5 / 64)
    assert (dead_row.kind, dead_row.v) == ("dead_unit", 10.5 / 64)


def test_repair_log_picture(tmp_path: Path) -> None:
    lines = [
        json.dumps({"step": s, "module": m, "nonfinite": s % 3, "outliers": 5 + s % 7})
        for s in range(0, 200, 20)
        for m in ("blocks.0.mlp", "blocks.1.attn", "head")
    ]
    lines.append(
        json.dumps({"tensor": "enc.weight", "kind": "dead_unit", "index": [3], "step": 90})
    )
    log = tmp_path / "repairs.jsonl"
    log.write_text("\n".join(lines) + '\n{"step": 200, "modu', encoding="utf-8")  # torn
    result = render_art(log, tmp_path / "log.png")
    assert result.source_kind == "repair_log" and result.tiles == 4
    assert imread(result.path).shape[:2] == (HEIGHT_PX, WIDTH_PX)
    assert _gold_pixels(result.path) > 2000
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    quiet = render_art(empty, tmp_path / "empty.png")
    assert quiet.tiles == 0 and _gold_pixels(quiet.path) < 50


def test_bad_outputs_and_inputs(tmp_path: Path, clean_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"must end in \.png"):
        render_art(clean_path, tmp_path / "art.jpg")
    with pytest.raises(CheckpointError, match="does not exist"):
        render_art(tmp_path / "missing.pt", tmp_path / "art.png")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a checkpoint")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        render_art(junk, tmp_path / "art.png")
    assert not (tmp_path / "art.png").exists()
